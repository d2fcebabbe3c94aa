"""The OpenAI-compatible client against a real local server with injected faults."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from traits_helpers import write_models

from personax.errors import BadInput
from personax.traits.client import (
    ModelClient,
    ModelSpec,
    RateLimiter,
    backoff_delay,
    load_models,
    parse_retry_after,
)
from personax.traits.prompts import get_format

FMT = get_format("number-l3-inc")


def spec(server, **kw) -> ModelSpec:
    options = {"timeout": 0.5, "backoff_base": 0.01, "backoff_max": 0.2, "max_retries": 3}
    options.update(kw)
    return ModelSpec("m", server.base_url, "fake-m", **options)


def ask(model: ModelSpec, name: str, seed: int = 0):
    async def go():
        client = ModelClient(model)
        try:
            return await client.complete(FMT.messages(name, "NBA"), seed, random.Random(0))
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_models_file_is_read(tmp_path, llm_server):
    server = llm_server()
    path = write_models(tmp_path / "m.toml", server, concurrency=3, requests_per_minute=600)
    specs = load_models(path, environ={})
    assert [s.name for s in specs] == ["chatgpt", "gemini"]
    assert specs[0].concurrency == 3 and specs[0].requests_per_minute == 600


@pytest.mark.parametrize(
    "body, message",
    [
        ('[[model]]\nname = "a"\nmodel = "x"\n', "model 'a' is missing the field 'base_url'"),
        (
            '[[model]]\nbase_url = "http://h/v1"\nmodel = "x"\n',
            "model #1 is missing the field 'name'",
        ),
        (
            '[[model]]\nname = "a"\nbase_url = "http://h/v1"\nmodel = "x"\napi_key_env = "NOPE_KEY"\n',
            "model 'a' field 'api_key_env' names the environment variable NOPE_KEY, which is not set",
        ),
        (
            '[[model]]\nname = "a"\nbase_url = "http://h/v1"\nmodel = "x"\ntemprature = 1\n',
            "unknown field 'temprature'",
        ),
        (
            '[[model]]\nname = "a"\nbase_url = "http://h/v1"\nmodel = "x"\nconcurrency = "8"\n',
            "field 'concurrency' has the wrong type",
        ),
        (
            '[[model]]\nname = "a"\nbase_url = "http://h/v1"\nmodel = "x"\nconcurrency = 0\n',
            "'concurrency' must be positive",
        ),
        (
            '[[model]]\nname = "Chat GPT"\nbase_url = "http://h/v1"\nmodel = "x"\n',
            "field 'name' must be",
        ),
        ('[[model]]\nname = "a"\nbase_url = "h/v1"\nmodel = "x"\n', "'base_url' must start with"),
        (
            '[[model]]\nname = "a"\nbase_url = "http://h/v1"\nmodel = "x"\n' * 2,
            "'a' appears more than once",
        ),
        ("name = 1\n", "no [[model]] tables"),
        ("model = [1, 2]\n", "model #1 is not a [[model]] table"),
        (
            '[[model]]\nname = "a"\nbase_url = "http://h/v1"\nmodel = "x"\nmax_retries = -1\n',
            "'max_retries' must not be negative",
        ),
        ("[[model]\n", "not a valid TOML file"),
        # a positive but tiny rate spaced requests ~1e301 s apart: the run hung
        (
            '[[model]]\nname = "a"\nbase_url = "http://h/v1"\nmodel = "x"\nrequests_per_minute = 1e-300\n',
            "'requests_per_minute' is 1e-300, below the slowest rate a run can keep",
        ),
        *(
            (
                f'[[model]]\nname = "a"\nbase_url = "http://h/v1"\nmodel = "x"\n{key} = {value}\n',
                f"model 'a' field '{key}' must be a finite number",
            )
            for key, value in [
                ("timeout", "nan"),
                ("temperature", "nan"),
                ("requests_per_minute", "inf"),
                ("backoff_max", "+inf"),
                ("backoff_base", "inf"),
            ]
        ),
    ],
)
def test_models_file_errors_name_model_and_field(tmp_path, body, message):
    path = tmp_path / "models.toml"
    path.write_text(body)
    with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_models(path, environ={})


def test_missing_models_file(tmp_path):
    with pytest.raises(BadInput, match="no such models file"):
        load_models(tmp_path / "absent.toml")


def test_retry_after_parsing():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < parse_retry_after(future) <= 31


def test_backoff_is_exponential_capped_and_seeded():
    s = ModelSpec("m", "http://h/v1", "x", backoff_base=1.0, backoff_max=8.0)
    first = [backoff_delay(s, a, random.Random(7), None) for a in range(6)]
    again = [backoff_delay(s, a, random.Random(7), None) for a in range(6)]
    assert first == again
    for attempt, delay in enumerate(first):
        ceiling = min(8.0, 2.0**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(s, 0, random.Random(0), 3.0) == 3.0  # Retry-After wins
    assert backoff_delay(s, 0, random.Random(0), 100.0) == 100.0  # even beyond backoff_max
    assert backoff_delay(s, 0, random.Random(0), 1e6) == 600.0  # up to ten minutes


def test_plain_answer(llm_server):
    server = llm_server()
    result = ask(spec(server), "Ann Plain")
    assert result.ok and len(result.attempts) == 1 and result.completion_tokens > 0
    assert '"openness"' in result.content


def test_429_retry_after_is_honoured(llm_server):
    server = llm_server(faults={"Busy": ["429", "429"]}, retry_after="0.2")
    t0 = time.perf_counter()
    result = ask(spec(server, backoff_max=1.0), "Busy Bee")
    elapsed = time.perf_counter() - t0
    assert result.ok and [a.http_status for a in result.attempts] == [429, 429, 200]
    assert result.attempts[0].retry_after == pytest.approx(0.2)
    assert elapsed >= 0.4  # two waits of Retry-After, not the 10 ms backoff


@pytest.mark.parametrize("fault", ["500", "hang", "garbage", "drop"])
def test_transient_faults_are_retried(llm_server, fault):
    server = llm_server(faults={"Flaky": [fault]})
    result = ask(spec(server, timeout=0.3), "Flaky Fred")
    assert result.ok and len(result.attempts) == 2
    assert not result.attempts[0].http_status == 200 or result.attempts[0].error
    assert server.counts["Flaky Fred|fake-m"] == 2


def test_a_reply_in_parts_or_without_a_choice_is_answered_once_not_retried(llm_server):
    server = llm_server(faults={"Parts": ["parts"], "Empty": ["nochoice"]})
    whole = ask(spec(server), "Parts Pat", seed=1)
    parted = ask(spec(server), "Parts Pat", seed=1)  # the fault list is used up: a plain reply
    assert len(whole.attempts) == 1 and whole.content == parted.content
    empty = ask(spec(server, max_retries=5), "Empty Em")
    assert empty.ok and empty.content is None and len(empty.attempts) == 1
    assert server.counts["Empty Em|fake-m"] == 1


def test_persistent_failure_is_bounded(llm_server):
    server = llm_server(faults={"Down": ["500"] * 50})
    result = ask(spec(server, max_retries=4), "Down Dan")
    assert not result.ok and "HTTP 500 after 5 attempt(s)" == result.error
    assert server.counts["Down Dan|fake-m"] == 5


@pytest.mark.parametrize("status", ["400", "401", "404"])
def test_client_errors_are_not_retried(llm_server, status):
    server = llm_server(faults={"Lost": [status] * 5})
    result = ask(spec(server, max_retries=5), "Lost Lou")
    assert not result.ok and len(result.attempts) == 1
    assert (
        result.final.http_status == int(status)
        and result.error == f"HTTP {status} after 1 attempt(s)"
    )


def test_connection_refused_is_an_error_not_an_exception():
    result = ask(
        ModelSpec("m", "http://127.0.0.1:9/v1", "x", max_retries=1, backoff_base=0.0, timeout=0.5),
        "Nobody",
    )
    assert not result.ok and "connection error" in result.error and len(result.attempts) == 2


def test_api_key_is_sent_but_redacted_from_everything_returned(llm_server):
    key = "sk-test-" + "7" * 24
    server = llm_server(faults={"Echo": ["500", "echo-auth"]})
    result = ask(spec(server, api_key=key), "Echo Ella")
    assert f"Bearer {key}" in server.auth_headers
    texts = [result.content or ""] + [(a.body or "") + (a.error or "") for a in result.attempts]
    assert all(key not in t for t in texts)
    assert "header was Bearer ***" in result.content
    assert key not in repr(spec(server, api_key=key))


def test_rate_limiter_spaces_requests():
    async def go():
        limiter = RateLimiter(per_minute=1200)  # one per 50 ms
        t0 = time.monotonic()
        await asyncio.gather(*(limiter.wait() for _ in range(5)))
        return time.monotonic() - t0

    assert asyncio.run(go()) >= 0.19


def test_requests_per_minute_and_concurrency_are_enforced(llm_server):
    server = llm_server(latency=0.05)
    model = spec(server, concurrency=3)

    async def go():
        client = ModelClient(model)
        try:
            await asyncio.gather(
                *(
                    client.complete(FMT.messages(f"P{i}", ""), 0, random.Random(i))
                    for i in range(12)
                )
            )
        finally:
            await client.aclose()

    asyncio.run(go())
    assert server.max_inflight <= 3
    server.reset_counts()
    model = spec(server, concurrency=8, requests_per_minute=600)  # 100 ms apart
    asyncio.run(go())
    gaps = [b - a for a, b in zip(server.arrivals, server.arrivals[1:], strict=False)]
    assert min(gaps) > 0.07


@pytest.mark.parametrize(
    ("finish", "usage"),
    [
        (["stop"], {}),
        ("stop", {"prompt_tokens": 10**23, "completion_tokens": 2**63}),
        ("stop", {"prompt_tokens": True, "completion_tokens": -5}),
        ({"a": 1}, ["not", "a", "dict"]),
    ],
)
def test_malformed_reply_fields_are_dropped_not_stored(finish, usage):
    # These go into typed SQLite columns; a list or a number beyond int64 crashed the run.
    import json

    from personax.traits.client import _decode_completion

    choice = {"message": {"content": "hi"}, "finish_reason": finish}
    decoded = _decode_completion(json.dumps({"choices": [choice], "usage": usage}))
    assert decoded == ("hi", finish if isinstance(finish, str) else None, None, None, False)


@pytest.mark.parametrize(
    ("message", "refused"),
    [
        ({"content": None, "refusal": "This request may violate our usage policies."}, True),
        ({"content": "", "refusal": "  "}, False),  # an empty refusal field says nothing
        ({"content": "{}", "refusal": "x"}, False),  # content given: it is what is classified
    ],
)
def test_a_structured_refusal_is_a_refusal_whatever_its_wording(message, refused):
    # OpenAI's message.refusal was classified by its text, and this wording read as a format
    # failure
    import json

    from personax.traits.client import Completion, _decode_completion
    from personax.traits.prompts import get_format
    from personax.traits.runner import classify

    decoded = _decode_completion(json.dumps({"choices": [{"message": message}]}))
    assert decoded[-1] is refused
    completion = Completion(True, decoded[0], decoded[1], None, None, (), refused=decoded[-1])
    status = classify(completion, get_format("number-l3-inc")).status
    assert (status == "refusal") is refused


@pytest.mark.parametrize(
    ("body", "decoded"),
    [
        # The reply as a list of parts: its text parts, joined (it used to be retried forever).
        (
            {"choices": [{"message": {"content": [{"type": "text", "text": '{"O": '}, "3}"]}}]},
            ('{"O": 3}', None, None, None, False),
        ),
        # A completion with no choice, or a choice without a message: an empty answer, stored.
        ({"choices": []}, (None, None, None, None, False)),
        (
            {"choices": [{"finish_reason": "content_filter"}]},
            (None, "content_filter", None, None, False),
        ),
        ({"choices": [{"message": {"content": 3}}]}, (None, None, None, None, False)),
        # Not a chat completion at all: None, which the client retries.
        ({"error": "busy"}, None),
        ({"choices": "none"}, None),
    ],
)
def test_every_chat_completion_shape_decodes_and_only_non_completions_are_retried(body, decoded):
    import json

    from personax.traits.client import _decode_completion

    assert _decode_completion(json.dumps(body)) == decoded
    assert _decode_completion("<html>bad gateway</html>") is None
