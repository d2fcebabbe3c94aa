"""Aggregation (median of non-zero scores), agreement statistics and the evaluation tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from traits_helpers import make_roster

from personax.errors import BadInput
from personax.traits.aggregate import aggregate_median, aggregate_traits, combine_repeats
from personax.traits.agreement import exact_agreement, icc_agreement, krippendorff_alpha_ordinal
from personax.traits.client import ModelSpec
from personax.traits.evaluate import evaluate_store, plot_evaluation
from personax.traits.prompts import get_format
from personax.traits.runner import run_inference
from personax.traits.store import AnswerRecord, Cell, RequestRecord, TraitStore

NAN = np.nan


def test_aggregate_median_rule():
    scores = np.array(
        [
            [1, 2, 3],
            [0, 0, 0],  # every LLM said insufficient information
            [0, 2, 3],  # zeros are ignored, not counted as low
            [NAN, 3, 0],  # a missing answer is ignored too
            [NAN, NAN, NAN],
            [1, 3, 0],  # even number of non-zero scores: the mean of the middle two
        ]
    )
    out = aggregate_median(scores)
    np.testing.assert_array_equal(out, [2.0, NAN, 2.5, 3.0, NAN, 2.0])
    assert aggregate_median(np.empty((3, 0))).shape == (3,)
    assert np.isnan(aggregate_median(np.empty((3, 0)))).all()
    assert aggregate_median(pd.DataFrame({"a": [1, 0], "b": [3, 0]})).tolist()[0] == 2.0
    with pytest.raises(ValueError, match="2-D"):
        aggregate_median(np.array([1, 2, 3]))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from([0, 1, 2, 3, None]), min_size=3, max_size=3),
        min_size=1,
        max_size=20,
    )
)
def test_aggregate_median_matches_definition(rows):
    values = np.array([[NAN if v is None else v for v in row] for row in rows], dtype=float)
    out = aggregate_median(values)
    for row, got in zip(rows, out, strict=False):
        usable = sorted(v for v in row if v)
        if not usable:
            assert np.isnan(got)
        else:
            assert got == float(np.median(usable))


def test_combine_repeats_mode_with_median_tiebreak():
    assert combine_repeats([2, 2, 3]) == 2
    assert combine_repeats([0, 0, 3]) == 0  # mostly "insufficient information"
    assert combine_repeats([1, 3]) == 1  # tie, median 2 equidistant: lower
    assert combine_repeats([1, 2, 2, 3, 3]) == 3 or combine_repeats([1, 2, 2, 3, 3]) == 2
    assert combine_repeats([1, 2, 2, 3, 3]) == 2  # median 2 picks 2 among tied {2, 3}
    assert combine_repeats([3, 3, 1, 1, 2]) == 1  # median 2: tied 1 and 3 equidistant, lower
    with pytest.raises(ValueError):
        combine_repeats([])


@pytest.mark.parametrize("bad", [2.5, -1.0, np.inf, 7.2])
def test_aggregate_median_and_combine_repeats_refuse_non_levels(bad):
    # [2.5, 3] gave 2.75, [-1, 3] dropped the -1 as if it were 0, [2.7] truncated to 2.
    with pytest.raises(ValueError, match="is not a score level"):
        aggregate_median(np.array([[bad, 3.0]]))
    with pytest.raises(ValueError, match="is not a score level"):
        combine_repeats([bad, 3])
    with pytest.raises(ValueError, match="no level"):
        combine_repeats([NAN, 3])
    assert aggregate_median(np.array([[7.0, 1.0]])).tolist() == [4.0]  # a level of a 7-point scale


def _store_with(tmp_path, rows, version=None, scale=3):
    """A store with hand-written answers: rows of (id, model, repeat, levels dict or status)."""
    fmt = get_format("number-l3-inc" if scale == 3 else "number-l5-inc")
    version = version or fmt.version
    path = tmp_path / "s.sqlite"
    store = TraitStore(path, create=True)
    people = sorted({r[0] for r in rows})
    models = list(dict.fromkeys(r[1] for r in rows))
    store.register_run(
        {
            "version": version,
            "name": fmt.name,
            "answer": "number",
            "levels": scale,
            "insufficient": True,
        },
        [{"name": m} for m in models],
        pd.DataFrame({"id": people, "name": people, "context": ""}),
        [Cell(p, m, version, r) for p, m, r, _ in rows],
    )
    req = RequestRecord(0, 0.0, 0.2, 200, "ok", None, "{}", "{}")
    for pid, model, repeat, levels in rows:
        status = "ok" if isinstance(levels, dict) else levels
        lv = levels if isinstance(levels, dict) else {}
        store.record(
            Cell(pid, model, version, repeat),
            [req],
            AnswerRecord(
                status,
                "",
                scale,
                "{}",
                "stop",
                0.2,
                5,
                7,
                lv,
                {t: "" for t in lv},
                {t: "" for t in lv},
            ),
        )
    return store


def lv(o, c=1, e=1, a=1, n=1):
    return {"o": o, "c": c, "e": e, "a": a, "n": n}


def test_aggregate_traits_table(tmp_path):
    rows = [
        ("x", "chatgpt", 0, lv(1)),
        ("x", "chatgpt", 1, lv(3)),
        ("x", "chatgpt", 2, lv(3)),
        ("x", "gemini", 0, lv(2)),
        ("x", "llama", 0, lv(0)),
        ("y", "chatgpt", 0, lv(0)),
        ("y", "gemini", 0, lv(0)),
        ("y", "llama", 0, "refusal"),
        ("z", "chatgpt", 0, "format_failure"),
        ("z", "gemini", 0, lv(2, c=0)),
        ("z", "llama", 0, lv(3)),
    ]
    with _store_with(tmp_path, rows) as store:
        table = aggregate_traits(store)
    expected_cols = ["id"] + [f"{m}_{t}" for m in ("chatgpt", "gemini", "llama") for t in "ocean"]
    assert list(table.columns) == expected_cols + [f"final_{t}" for t in "ocean"]
    t = table.set_index("id")
    assert t.loc["x", "chatgpt_o"] == 3  # most common of 1, 3, 3
    assert t.loc["x", "final_o"] == 2.5  # median of 3, 2 (llama's 0 ignored)
    assert np.isnan(t.loc["y", "final_o"])  # all zero or missing
    assert pd.isna(t.loc["y", "llama_o"]) and pd.isna(t.loc["z", "chatgpt_o"])  # never imputed
    assert t.loc["z", "final_c"] == 1.0
    assert str(table["chatgpt_o"].dtype) == "Int64"


def test_aggregate_l5_keeps_levels_and_marks_scale(tmp_path):
    rows = [("x", "chatgpt", 0, lv(5)), ("x", "gemini", 0, lv(4))]
    with _store_with(tmp_path, rows, scale=5) as store:
        table = aggregate_traits(store)
    assert table["chatgpt_o"].tolist() == [5] and table["final_o"].tolist() == [4.5]
    assert table["scale"].tolist() == [5]


def test_aggregate_needs_one_prompt_version(tmp_path, llm_server):
    server = llm_server()
    path = tmp_path / "s.sqlite"
    models = [ModelSpec("m", server.base_url, "x", timeout=1.0)]
    with pytest.raises(BadInput, match="no such trait store"):
        TraitStore(path)
    run_inference(path, make_roster(3), models, get_format("number-l3-inc"))
    run_inference(path, make_roster(3), models, get_format("number-l3-exc"))
    with TraitStore(path) as store:
        with pytest.raises(BadInput, match="several prompt versions"):
            aggregate_traits(store)
        with pytest.raises(BadInput, match="no answers for prompt 'text-l3-inc'"):
            aggregate_traits(store, "text-l3-inc")
        assert len(aggregate_traits(store, "number-l3-exc")) == 3
        version = get_format("number-l3-inc").version
        assert len(aggregate_traits(store, version)) == 3


def test_icc_matches_shrout_fleiss_example():
    # Shrout & Fleiss (1979), Table 2: six targets, four judges; ICC(2,1) = 0.29.
    ratings = np.array(
        [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
        dtype=float,
    )
    assert icc_agreement(ratings) == pytest.approx(0.2898, abs=1e-3)
    assert icc_agreement(np.vstack([ratings, [[NAN, 1, 1, 1]]])) == pytest.approx(0.2898, abs=1e-3)
    assert np.isnan(icc_agreement(np.ones((5, 3))))  # no variance
    assert np.isnan(icc_agreement(ratings[:1]))


def test_krippendorff_alpha_edges():
    perfect = np.array([[1, 1], [2, 2], [3, 3], [2, 2]], dtype=float)
    assert krippendorff_alpha_ordinal(perfect, range(1, 4)) == pytest.approx(1.0)
    assert np.isnan(krippendorff_alpha_ordinal(np.array([[2, 2], [2, 2]], dtype=float)))
    assert np.isnan(krippendorff_alpha_ordinal(np.array([[1, NAN], [NAN, 2]], dtype=float)))
    assert np.isnan(krippendorff_alpha_ordinal(np.array([[1], [2]], dtype=float)))
    rng = np.random.default_rng(0)
    noise = rng.integers(1, 4, size=(300, 3)).astype(float)
    assert abs(krippendorff_alpha_ordinal(noise, range(1, 4))) < 0.1
    assert exact_agreement(perfect) == 1.0 and np.isnan(exact_agreement(np.array([[1.0, NAN]])))


def test_evaluation_tables_and_figure(tmp_path, llm_server):
    faults = {"Refuse": ["refuse"] * 10, "Prose": ["prose"]}
    server = llm_server(faults=faults)
    path = tmp_path / "s.sqlite"
    roster = make_roster(20, special={0: "Refuse", 1: "Prose"})
    models = [
        ModelSpec(n, server.base_url, f"fake-{n}", timeout=1.0)
        for n in ("chatgpt", "gemini", "llama")
    ]
    run_inference(path, roster, models, get_format("number-l3-inc"), repeats=3)
    run_inference(path, roster, models, get_format("text-l5-exc"), repeats=3)
    with TraitStore(path) as store:
        ev = evaluate_store(store)
    m = ev.models.set_index(["model", "prompt_version"])
    assert len(m) == 6 and (m["asked"] == 60).all()
    l3 = get_format("number-l3-inc").version
    row = m.loc[("chatgpt", l3)]
    assert row["refusal_rate"] == pytest.approx(3 / 60)
    assert row["format_failure_rate"] == pytest.approx(1 / 60)
    assert row["answered"] == 56 and row["failed"] == 4
    assert 0 < row["insufficient_rate"] < 0.3 and row["latency_p50_s"] > 0
    assert row["completion_tokens"] > 0
    assert len(ev.retest) == 2 * 3 * 5 and ev.retest["alpha_ordinal"].between(0, 1).all()
    assert len(ev.inter_model) == 2 * 5
    assert ev.inter_model["alpha_ordinal"].between(-1, 1).all()
    assert ev.inter_model["icc_2_1"].notna().all()
    assert set(ev.formats["prompt_version"]) == {l3, get_format("text-l5-exc").version}
    assert (ev.formats["variance_across_repeats"] >= 0).all()
    assert (ev.formats.query("prompt_version != @l3")["insufficient_rate"] == 0).all()
    plot_evaluation(ev, tmp_path / "ev.png")
    assert (tmp_path / "ev.png").read_bytes()[:4] == b"\x89PNG"


def test_two_insufficient_information_answers_are_no_agreement(tmp_path):
    # Three people every answer rated 0. The other two: chatgpt's repeats 1, 2 and 2, 3
    # (kept: 1 and 2), gemini's 3, 3. Exact agreement is 0 of 2 people, not 3 of 5, both
    # between chatgpt's repeats and between the models.
    rows = []
    for pid, first, second, other in [
        ("p0", 0, 0, 0),
        ("p1", 0, 0, 0),
        ("p2", 0, 0, 0),
        ("p3", 1, 2, 3),
        ("p4", 2, 3, 3),
    ]:
        rows += [(pid, "chatgpt", 0, lv(first)), (pid, "chatgpt", 1, lv(second))]
        rows += [(pid, "gemini", 0, lv(other)), (pid, "gemini", 1, lv(other))]
    with _store_with(tmp_path, rows) as store:
        ev = evaluate_store(store)
    inter = ev.inter_model.set_index("trait")
    assert inter.loc["o", "exact_agreement"] == 0.0 and inter.loc["o", "people"] == 2
    retest = ev.retest.set_index(["model", "trait"])
    assert retest.loc[("chatgpt", "o"), "exact_agreement"] == 0.0
    assert retest.loc[("chatgpt", "o"), "people"] == 2


def test_evaluation_of_single_repeat_single_model(tmp_path):
    with _store_with(
        tmp_path, [("x", "chatgpt", 0, lv(1)), ("y", "chatgpt", 0, "refusal")]
    ) as store:
        ev = evaluate_store(store)
    assert ev.retest.empty and ev.inter_model.empty and ev.formats.empty
    assert ev.models["refusal_rate"].tolist() == [0.5]


def _brute_force_mode(levels):
    values = sorted(levels)
    counts = {v: values.count(v) for v in set(values)}
    best = max(counts.values())
    tied = [v for v, c in counts.items() if c == best]
    median = float(np.median(values))
    return min(tied, key=lambda v: (abs(v - median), v))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=7), min_size=1, max_size=12))
def test_vectorised_repeats_rule_matches_the_definition(groups):
    from personax.traits.aggregate import most_common_levels

    long = pd.DataFrame(
        [(g, level) for g, levels in enumerate(groups) for level in levels],
        columns=["group", "score"],
    )
    got = most_common_levels(long, ["group"])
    assert [int(got[g]) for g in range(len(groups))] == [_brute_force_mode(x) for x in groups]


def test_mean_attempts_counts_the_attempts_of_earlier_runs_too(tmp_path, llm_server):
    # a cell that failed in one run and was answered in the next counted only the last attempt
    server = llm_server(faults={"Person 1": ["500", "500"]})
    models = [ModelSpec("m", server.base_url, "x", timeout=1.0, max_retries=1, backoff_base=0.01)]
    path = tmp_path / "s.sqlite"
    fmt = get_format("number-l3-inc")
    roster = make_roster(2)
    assert run_inference(path, roster, models, fmt).error == 1  # two attempts, both 500
    assert run_inference(path, roster, models, fmt).ok == 1  # answered at the first attempt
    with TraitStore(path) as store:
        row = evaluate_store(store).models.iloc[0]
    assert row["mean_attempts"] == pytest.approx((1 + 3) / 2)  # Person 0: 1; Person 1: 2 + 1


def test_evaluating_a_store_with_nothing_planned_is_bad_input(tmp_path):
    # It used to crash on an empty model table (KeyError 'fmt fail'), exit 1.
    path = tmp_path / "empty.sqlite"
    with TraitStore(path, create=True) as store:
        with pytest.raises(
            BadInput,
            match="holds no planned cells yet, so there is nothing to evaluate; fill it with",
        ):
            evaluate_store(store)
