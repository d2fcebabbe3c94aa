"""An asynchronous client for OpenAI-compatible chat-completions endpoints.

One :class:`ModelSpec` per ``[[model]]`` table of the models file. The client enforces, per
model, a concurrency limit and a requests-per-minute limit, a timeout per request (covering
the whole exchange, so a server that trickles bytes cannot hang a run), and retries with
exponential backoff and seeded jitter on 429, 5xx, timeouts, dropped connections and
unreadable bodies, honouring ``Retry-After``.

The API key is read from the environment variable the models file names. It is sent only in
the ``Authorization`` header; every text this module hands back (raw bodies, error messages)
passes through :func:`redact` first, so the key can never reach the store, a log or an error.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import os
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from personax.errors import BadInput

MODEL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9\-]*$")
MAX_RETRY_AFTER = 600.0
"""Longest ``Retry-After`` obeyed (seconds); a longer one is waited for this long, then retried."""
_RETRYABLE_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


@dataclass(frozen=True)
class ModelSpec:
    """One model of the models file. ``api_key`` holds the key read from ``api_key_env``."""

    name: str
    base_url: str
    model: str
    api_key_env: str | None = None
    concurrency: int = 8
    requests_per_minute: float | None = None
    timeout: float = 120.0
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    temperature: float | None = 0.0
    seed: int | None = None
    send_seed: bool = True
    max_tokens: int | None = 1500
    api_key: str | None = field(default=None, repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        """Everything about the model that may be stored (never the key itself)."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "api_key_env": self.api_key_env,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
        }


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "base_url": (str,),
    "model": (str,),
    "api_key_env": (str,),
    "concurrency": (int,),
    "requests_per_minute": (int, float),
    "timeout": (int, float),
    "max_retries": (int,),
    "backoff_base": (int, float),
    "backoff_max": (int, float),
    "temperature": (int, float),
    "seed": (int,),
    "send_seed": (bool,),
    "max_tokens": (int,),
}
_REQUIRED = ("name", "base_url", "model")


def load_models(
    path: str | os.PathLike[str], environ: dict[str, str] | None = None
) -> list[ModelSpec]:
    """Read a models file (TOML, ``[[model]]`` tables). BadInput names the model and field."""
    env = os.environ if environ is None else environ
    p = Path(path)
    if not p.is_file():
        raise BadInput(f"{p}: no such models file.")
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"{p}: not a valid TOML file ({exc}).") from exc
    tables = doc.get("model")
    if not isinstance(tables, list) or not tables:
        raise BadInput(f"{p}: no [[model]] tables; add at least one model.")
    specs: list[ModelSpec] = []
    for index, table in enumerate(tables, start=1):
        label = f"model #{index}"
        if not isinstance(table, dict):
            raise BadInput(f"{p}: {label} is not a [[model]] table.")
        if isinstance(table.get("name"), str):
            label = f"model '{table['name']}'"
        for key in _REQUIRED:
            if key not in table:
                raise BadInput(f"{p}: {label} is missing the field '{key}'.")
        for key, value in table.items():
            if key not in _FIELD_TYPES:
                raise BadInput(
                    f"{p}: {label} has an unknown field '{key}'; known fields: "
                    f"{', '.join(_FIELD_TYPES)}."
                )
            types = _FIELD_TYPES[key]
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                raise BadInput(f"{p}: {label} field '{key}' has the wrong type ({value!r}).")
            # TOML allows nan and inf; a NaN timeout or rate passes every comparison below.
            if isinstance(value, float) and not math.isfinite(value):
                raise BadInput(f"{p}: {label} field '{key}' must be a finite number ({value}).")
        name = table["name"]
        if not MODEL_NAME_RE.match(name) or name == "final":
            raise BadInput(
                f"{p}: {label} field 'name' must be lower-case letters, digits and '-' "
                "(it becomes the <llm> column prefix) and not 'final'."
            )
        if not table["base_url"].startswith(("http://", "https://")):
            raise BadInput(f"{p}: {label} field 'base_url' must start with http:// or https://.")
        for key in ("concurrency", "max_tokens"):
            if key in table and table[key] < 1:
                raise BadInput(f"{p}: {label} field '{key}' must be positive ({table[key]}).")
        if "max_retries" in table and table["max_retries"] < 0:
            raise BadInput(f"{p}: {label} field 'max_retries' must not be negative.")
        for key in ("requests_per_minute", "timeout", "backoff_max"):
            if key in table and table[key] <= 0:
                raise BadInput(f"{p}: {label} field '{key}' must be positive ({table[key]}).")
        # A rate that spaces requests over a day apart (1e-300 per minute) would wait forever.
        if table.get("requests_per_minute", 1.0) < MIN_REQUESTS_PER_MINUTE:
            raise BadInput(
                f"{p}: {label} field 'requests_per_minute' is {table['requests_per_minute']}, "
                f"below the slowest rate a run can keep (one request a day, "
                f"{MIN_REQUESTS_PER_MINUTE:.6f} per minute)."
            )
        if "backoff_base" in table and table["backoff_base"] < 0:
            raise BadInput(f"{p}: {label} field 'backoff_base' must not be negative.")
        api_key = None
        key_env = table.get("api_key_env")
        if key_env:
            api_key = env.get(key_env)
            if not api_key:
                raise BadInput(
                    f"{p}: {label} field 'api_key_env' names the environment variable "
                    f"{key_env}, which is not set."
                )
        fields = {
            k: (float(v) if k in ("timeout", "backoff_base", "backoff_max") else v)
            for k, v in table.items()
        }
        specs.append(ModelSpec(**fields, api_key=api_key))
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput(f"{p}: model name '{dupes[0]}' appears more than once.")
    return specs


def redact(text: str, secrets: tuple[str | None, ...]) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass(frozen=True)
class Attempt:
    """One HTTP exchange (or failed try) with a model."""

    attempt: int
    started_at: float
    latency: float
    http_status: int | None
    body: str | None  # raw response body, redacted
    error: str | None  # short reason when the exchange failed, redacted
    retryable: bool
    retry_after: float | None = None


@dataclass(frozen=True)
class Completion:
    """The outcome of asking one model once (after retries)."""

    ok: bool
    content: str | None
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    attempts: tuple[Attempt, ...]
    error: str | None = None
    # The provider said the model refused (OpenAI's ``message.refusal``), whatever its wording.
    refused: bool = False

    @property
    def final(self) -> Attempt:
        return self.attempts[-1]


class RateLimiter:
    """Evenly spaced request starts: at most ``per_minute`` per 60 s, no bursts.

    Hand-written because it is four lines; spacing (instead of a bucket) keeps providers'
    per-second sub-limits happy too.
    """

    def __init__(self, per_minute: float | None) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(
    spec: ModelSpec, attempt: int, rng: random.Random, retry_after: float | None
) -> float:
    """Delay before retry number ``attempt`` (0-based): the server's ``Retry-After`` when it
    sent one (up to :data:`MAX_RETRY_AFTER`), else exponential backoff with jitter in
    [ceiling / 2, ceiling], ceiling = min(backoff_max, backoff_base * 2**attempt)."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    ceiling = min(spec.backoff_max, spec.backoff_base * (2.0**attempt))
    return ceiling * (0.5 + 0.5 * rng.random())


class ModelClient:
    """Sends chat-completion requests to one model, with that model's limits."""

    def __init__(self, spec: ModelSpec, concurrency: int | None = None) -> None:
        self.spec = spec
        self.concurrency = concurrency or spec.concurrency
        self.limiter = RateLimiter(spec.requests_per_minute)
        headers = {"Content-Type": "application/json"}
        if spec.api_key:
            headers["Authorization"] = f"Bearer {spec.api_key}"
        self._url = spec.base_url.rstrip("/") + "/chat/completions"
        # aiohttp rather than httpx: its pool and C parser cost ~0.2 ms of CPU per request
        # against ~3 ms for httpx at concurrency 64 (benchmarks/infer.py), which decides
        # whether 2 shared cores keep up with hundreds of completions per second.
        self._http = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=spec.timeout),
            connector=aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=0),
            raise_for_status=False,
        )
        self._secrets = (spec.api_key,)

    async def aclose(self) -> None:
        await self._http.close()

    def request_body(self, messages: list[dict[str, str]], seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.spec.model, "messages": messages}
        if self.spec.temperature is not None:
            body["temperature"] = self.spec.temperature
        if self.spec.max_tokens is not None:
            body["max_tokens"] = self.spec.max_tokens
        if self.spec.send_seed and seed is not None:
            body["seed"] = seed
        return body

    async def _exchange(self, payload: bytes, attempt: int) -> Attempt:
        started = time.time()
        await self.limiter.wait()
        t0 = time.perf_counter()
        try:
            async with self._http.post(self._url, data=payload) as response:
                status = response.status
                raw = await response.read()
                retry_header = response.headers.get("Retry-After")
        except asyncio.TimeoutError:
            return Attempt(attempt, started, time.perf_counter() - t0, None, None, "timeout", True)
        except aiohttp.ClientError as exc:
            reason = redact(f"connection error ({type(exc).__name__})", self._secrets)
            return Attempt(attempt, started, time.perf_counter() - t0, None, None, reason, True)
        latency = time.perf_counter() - t0
        text = redact(raw.decode("utf-8", errors="replace"), self._secrets)
        if status == 200:
            return Attempt(attempt, started, latency, status, text, None, False)
        return Attempt(
            attempt,
            started,
            latency,
            status,
            text,
            f"HTTP {status}",
            status in _RETRYABLE_STATUS,
            parse_retry_after(retry_header),
        )

    def encode(self, messages: list[dict[str, str]], seed: int | None) -> str:
        """The exact JSON request body (what is sent is what the store keeps)."""
        return json.dumps(self.request_body(messages, seed))

    async def complete(
        self, messages: list[dict[str, str]], seed: int | None, rng: random.Random
    ) -> Completion:
        """Ask once, retrying transient failures; never raises for HTTP or network trouble."""
        return await self.send(self.encode(messages, seed), rng)

    async def send(self, request_json: str, rng: random.Random) -> Completion:
        """Send an encoded request body (see :meth:`encode`) with retries."""
        payload = request_json.encode()
        attempts: list[Attempt] = []
        for attempt in range(self.spec.max_retries + 1):
            result = await self._exchange(payload, attempt)
            if result.http_status == 200:
                decoded = _decode_completion(result.body or "")
                if decoded is not None:
                    attempts.append(result)
                    content, finish, p_tok, c_tok, refused = decoded
                    return Completion(
                        True, content, finish, p_tok, c_tok, tuple(attempts), refused=refused
                    )
                # A 200 whose body is not a chat completion: a proxy or server glitch; retry.
                result = Attempt(
                    result.attempt,
                    result.started_at,
                    result.latency,
                    200,
                    result.body,
                    "unreadable response body",
                    True,
                )
            attempts.append(result)
            if not result.retryable or attempt == self.spec.max_retries:
                break
            await asyncio.sleep(backoff_delay(self.spec, attempt, rng, result.retry_after))
        last = attempts[-1]
        return Completion(
            False,
            None,
            None,
            None,
            None,
            tuple(attempts),
            f"{last.error} after {len(attempts)} attempt(s)",
        )


def _decode_completion(
    text: str,
) -> tuple[str | None, str | None, int | None, int | None, bool] | None:
    """(content, finish_reason, prompt_tokens, completion_tokens, refused) of a
    chat-completion body."""
    try:
        doc = json.loads(text)
        choices = doc["choices"]
        if not isinstance(choices, list):
            return None
        usage = doc.get("usage") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not a chat completion at all (a proxy's HTML page, say): retried
    # A well-formed completion with no choice (a filtered reply) is an answer with no
    # content, stored and classified like one; asking again would spend tokens for nothing.
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    content = _content_text(message.get("content"))
    # Some providers put the refusal in a separate field; keep it as the content, and the fact
    # that it is one (its wording need not match any refusal phrase).
    refused = False
    if not content and isinstance(message.get("refusal"), str) and message["refusal"].strip():
        content, refused = message["refusal"], True
    # The reply is stored as it came, but these fields go into typed SQLite columns: a
    # malformed value (a list, a number beyond int64) is dropped rather than crashing the run.
    finish = choice.get("finish_reason")
    return (
        content,
        finish if isinstance(finish, str) else None,
        _token_count(usage, "prompt_tokens"),
        _token_count(usage, "completion_tokens"),
        refused,
    )


def _content_text(content: object) -> str | None:
    """A message's content as text: some servers send a list of parts
    (``[{"type": "text", "text": ...}, ...]``), whose text parts are the reply, joined."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part if isinstance(part, str) else part.get("text")
            for part in content
            if isinstance(part, (str, dict))
        ]
        return "".join(t for t in texts if isinstance(t, str))
    return None


INT64_MAX = 2**63 - 1
MIN_REQUESTS_PER_MINUTE = 1 / (24 * 60)  # one request a day


def _token_count(usage: object, field: str) -> int | None:
    value = usage.get(field) if isinstance(usage, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX:
        return value
    return None
