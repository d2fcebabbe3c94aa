"""Prompt grid and the JSON answer contract."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personax.errors import BadInput
from personax.traits.parse import FORMAT_FAILURE, OK, REFUSAL, STATUSES, parse_answer
from personax.traits.prompts import (
    DEFAULT_PROMPT,
    FORMATS,
    TEXT_LEVEL_WORDS,
    format_of_version,
    get_format,
)

KEYS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


def answer(scores, descriptions=None) -> str:
    return json.dumps(
        {
            k: {"score": s, "description": (descriptions or {}).get(k, f"about {k}")}
            for k, s in zip(KEYS, scores, strict=False)
        }
    )


def test_grid_has_eight_named_formats_and_default():
    assert len(FORMATS) == 8
    assert DEFAULT_PROMPT == "number-l3-inc"
    for name in ("number-l3-inc", "number-l3-exc", "number-l5-inc", "text-l3-exc", "text-l5-exc"):
        assert get_format(name).name == name
    with pytest.raises(BadInput, match="number-l9-inc"):
        get_format("number-l9-inc")


def test_versions_are_stable_distinct_and_resolvable():
    versions = {f.version for f in FORMATS.values()}
    assert len(versions) == 8
    fmt = get_format("text-l5-exc")
    assert fmt.version == get_format("text-l5-exc").version
    assert fmt.version.startswith("text-l5-exc-") and len(fmt.version.rsplit("-", 1)[1]) == 8
    assert format_of_version(fmt.version) is fmt
    with pytest.raises(BadInput):
        format_of_version("nonsense-1234")


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_messages_carry_person_contract_and_scale(name):
    fmt = get_format(name)
    system, user = fmt.messages("Ada Example", "Premier League")
    text = system["content"] + user["content"]
    assert "Ada Example" in user["content"] and "Premier League" in user["content"]
    assert all(k in text for k in KEYS) and "JSON" in text
    assert ("insufficient information" in text) == fmt.insufficient
    if fmt.answer == "text":
        assert all(f'"{w}"' in text for w in TEXT_LEVEL_WORDS[fmt.levels])


def test_text_words_map_onto_levels():
    fmt = get_format("text-l5-inc")
    assert [fmt.level_of_word(w) for w in TEXT_LEVEL_WORDS[5]] == [1, 2, 3, 4, 5]
    assert fmt.level_of_word("  Very_High ") == 5
    assert fmt.level_of_word("Insufficient Information") == 0
    assert get_format("text-l5-exc").level_of_word("insufficient information") is None
    assert get_format("text-l3-inc").level_of_word("very high") is None


def test_plain_fenced_and_prose_answers_parse_the_same():
    fmt = get_format("number-l3-inc")
    body = answer([1, 2, 3, 0, 2])
    for text in (
        body,
        f"```json\n{body}\n```",
        f"Sure! Here it is:\n{body}\nThanks.",
        f"```\n{body}```",
    ):
        parsed = parse_answer(text, fmt)
        assert parsed.status == OK
        assert parsed.levels == {"o": 1, "c": 2, "e": 3, "a": 0, "n": 2}
        assert parsed.descriptions["o"] == "about openness"


@pytest.mark.parametrize(
    "text, fmt, status",
    [
        (answer([1, 2, 3, 4, 2]), "number-l3-inc", FORMAT_FAILURE),  # out of scale
        (answer([1, 2, 3, -1, 2]), "number-l3-inc", FORMAT_FAILURE),
        (answer([1, 2, 3, 0, 2]), "number-l3-exc", FORMAT_FAILURE),  # 0 not offered
        (answer([1, 2, 5, 4, 2]), "number-l5-exc", OK),
        (answer([1, 2, True, 1, 2]), "number-l3-inc", FORMAT_FAILURE),  # bool is no score
        (answer([1, 2, 2.5, 1, 2]), "number-l3-inc", FORMAT_FAILURE),
        (answer([1, 2, 2.0, 1, "3"]), "number-l3-inc", OK),
        (answer([1, 2, None, 1, 2]), "number-l3-inc", FORMAT_FAILURE),
        (answer(["low", "high", "medium", "low", "high"]), "text-l3-exc", OK),
        (answer(["low", "high", "huge", "low", "high"]), "text-l3-exc", FORMAT_FAILURE),
        (answer([1, 2, 3, 1, 2]), "text-l3-inc", FORMAT_FAILURE),  # numbers in a text format
        (
            json.dumps({"openness": {"score": 1, "description": "x"}}),
            "number-l3-inc",
            FORMAT_FAILURE,
        ),
        ("", "number-l3-inc", FORMAT_FAILURE),
        ("The person is balanced.", "number-l3-inc", FORMAT_FAILURE),
        ("{not json at all", "number-l3-inc", FORMAT_FAILURE),
        ("I'm sorry, but I can't help with that request.", "number-l3-inc", REFUSAL),
        ("As an AI, I do not make judgements about real people.", "text-l3-inc", REFUSAL),
        # typographic apostrophes and further phrasings (they read as format failures)
        ("I\u2019m sorry, but I can\u2019t help with that.", "number-l3-inc", REFUSAL),
        ("I\u2019m unable to assess a real person.", "number-l3-inc", REFUSAL),
        ("I won\u2019t speculate about real people.", "number-l3-inc", REFUSAL),
        ("I apologize, but I'm not comfortable rating anyone.", "number-l3-inc", REFUSAL),
    ],
)
def test_contract_violations_and_refusals(text, fmt, status):
    assert parse_answer(text, get_format(fmt)).status == status


def test_a_valid_answer_beside_an_off_scale_one_is_not_taken_as_final():
    # the valid draft was returned as the answer although the final one was off the scale
    fmt = get_format("number-l3-inc")
    draft, final = answer([1, 2, 3, 1, 2]), answer([1, 2, 4, 1, 2])
    for text in (f"Draft: {draft}\nFinal: {final}", f"{final}\nCorrected: {draft}"):
        parsed = parse_answer(text, fmt)
        assert parsed.status == FORMAT_FAILURE and "not guessed" in parsed.reason
    # an echoed template has placeholders, not scores: the answer beside it stands
    template = answer(["<1-3>"] * 5)
    assert parse_answer(f"Format: {template}\nAnswer: {draft}", fmt).status == OK
    # text formats keep the valid answer (a placeholder word cannot be told from a score)
    words = get_format("text-l3-exc")
    valid = answer(["low", "high", "medium", "low", "high"])
    echoed = answer(["low|medium|high"] * 5)
    assert parse_answer(f"{echoed}\n{valid}", words).status == OK


def test_description_saying_i_cannot_is_not_a_refusal():
    text = answer([1, 2, 3, 1, 2], {"openness": "I cannot say much, but she tries new things."})
    assert parse_answer(text, get_format("number-l3-inc")).status == OK


def test_description_must_be_text_and_nothing_is_imputed():
    bad = json.loads(answer([1, 2, 3, 1, 2]))
    bad["neuroticism"]["description"] = 3
    parsed = parse_answer(json.dumps(bad), get_format("number-l3-inc"))
    assert parsed.status == FORMAT_FAILURE and parsed.levels == {} and parsed.descriptions == {}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=5, max_size=5), st.text(max_size=40))
def test_any_valid_answer_round_trips_inside_prose(levels, noise):
    noise = noise.replace("{", "").replace("}", "").replace("`", "")
    parsed = parse_answer(f"{noise}\n{answer(levels)}\n{noise}", get_format("number-l3-inc"))
    assert parsed.status == OK
    assert list(parsed.levels.values()) == levels


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises(text):
    for fmt in FORMATS.values():
        assert parse_answer(text, fmt).status in STATUSES


def test_two_answers_with_different_scores_are_a_format_failure():
    # "Draft: {all 1} ... my final answer: {all 3}" was stored as ok with every score 1.
    fmt = get_format("number-l3-inc")
    draft, final = answer([1] * 5), answer([3] * 5)
    parsed = parse_answer(f"Draft: {draft}\nOn reflection, my final answer: {final}", fmt)
    assert parsed.status == FORMAT_FAILURE and "2 answers with different scores" in parsed.reason
    fenced = parse_answer(f"Draft: {draft}\n```json\n{final}\n```", fmt)
    assert fenced.status == FORMAT_FAILURE


def test_a_partial_correction_after_a_full_answer_is_a_format_failure():
    # "{all 2} Correction: {openness 3}" was stored as ok with openness 2.
    fmt = get_format("number-l3-inc")
    full = answer([2] * 5)
    correction = json.dumps({"openness": {"score": 3, "description": "more open"}})
    parsed = parse_answer(f"{full}\nCorrection, on reflection: {correction}", fmt)
    assert parsed.status == FORMAT_FAILURE
    assert "scores 'openness' 3 instead of 2" in parsed.reason
    # A partial echo that agrees, or one with a placeholder, changes nothing.
    agrees = json.dumps({"openness": {"score": 2, "description": "as said"}})
    placeholder = json.dumps({"openness": {"score": "<1-3>"}})
    for extra in (agrees, placeholder):
        parsed = parse_answer(f"{full}\nNote: {extra}", fmt)
        assert parsed.status == OK and parsed.levels["o"] == 2


def test_the_same_answer_twice_or_beside_a_template_parses():
    fmt = get_format("number-l3-inc")
    body = answer([1, 2, 3, 0, 2])
    template = answer(["<1-3>"] * 5)
    for text in (f"{body}\nAgain: {body}", f"Format: {template}\nAnswer: {body}"):
        parsed = parse_answer(text, fmt)
        assert parsed.status == OK and parsed.levels == {"o": 1, "c": 2, "e": 3, "a": 0, "n": 2}


@pytest.mark.parametrize(
    "text",
    [
        answer([1, 2, 3, 0, 2])[:-1] + ', "openness": {"score": 3, "description": "x"}}',
        answer([1, 2, 3, 0, 2])[:-1] + ', "Openness": {"score": 3, "description": "x"}}',
        '{"openness": {"score": 1, "score": 3}, '
        + answer([1, 2, 3, 0, 2])[1:].split(",", 2)[2].lstrip(),
    ],
)
def test_a_key_given_twice_is_a_format_failure(text):
    # json keeps the last value of a repeated key without a word: that is a guess.
    parsed = parse_answer(text, get_format("number-l3-inc"))
    assert parsed.status == FORMAT_FAILURE and "twice" in parsed.reason, (text, parsed)


def test_a_repeated_key_outside_the_answer_is_harmless():
    body = answer([1, 2, 3, 0, 2])
    text = '{"note": "a", "note": "b", ' + body[1:]
    parsed = parse_answer(text, get_format("number-l3-inc"))
    assert parsed.status == OK and parsed.levels["o"] == 1


@pytest.mark.parametrize(
    "runaway",
    [
        '{"a": ' * 5000,  # json recursed past Python's limit: RecursionError, not a failure
        "[" * 5000 + answer([1, 2, 3, 2, 1]) + "]" * 5000,
        "```json\n" + '{"x": ' * 5000 + "\n```",
    ],
)
def test_a_deeply_nested_reply_is_read_without_a_crash(runaway):
    fmt = get_format(DEFAULT_PROMPT)
    parsed = parse_answer(runaway, fmt)
    assert parsed.status in (OK, FORMAT_FAILURE)
    if "openness" in runaway:  # the answer inside the nest is still found
        assert parsed.status == OK and parsed.levels["o"] == 1


def test_a_runaway_reply_is_a_format_failure_unread():
    from personax.traits.parse import MAX_REPLY_CHARS

    fmt = get_format(DEFAULT_PROMPT)
    long_reply = answer([1, 2, 3, 2, 1]) + " " + "{" * MAX_REPLY_CHARS
    parsed = parse_answer(long_reply, fmt)
    assert parsed.status == FORMAT_FAILURE and "limit 100,000" in parsed.reason
    # just under the limit, an answer among the braces is read
    head = answer([1, 2, 3, 2, 1]) + " "
    fits = head + "x" * (MAX_REPLY_CHARS - len(head))
    assert len(fits) == MAX_REPLY_CHARS and parse_answer(fits, fmt).status == OK
