"""A real OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

It speaks plain HTTP/1.1 with keep-alive over asyncio streams (no web framework), answers
``POST /v1/chat/completions`` with a deterministic Big Five JSON answer derived from the
person's name, the model and the request seed, and can inject faults per person:

``faults`` maps a substring of the person's name to a list of actions applied to that person's
successive requests (per model); once the list is used up the server answers normally.
Actions: ``ok``, ``429`` (with ``Retry-After``), any other status code such as ``500`` or
``401``, ``hang`` (never answers),
``garbage`` (HTTP 200 with a non-JSON body), ``nochoice`` (a completion with no choice),
``parts`` (the answer as a list of content parts), ``drop`` (closes the connection without a reply),
``refuse`` (a polite refusal), ``prose`` (text without the JSON object), ``fence`` (the JSON
inside a ```json fence with prose around it), ``outofscale`` (a score of 7), ``filter``
(empty content with finish_reason ``content_filter``), ``echo-auth`` (puts the received
Authorization header into the reply, to prove the client redacts it).

``GET /stats`` returns the request counts per ``name|model``. Use in-process
(:class:`FakeLLMServer`, started in a background thread) or as a subprocess:
``python fake_llm_server.py --latency 0.05`` prints ``PORT <n>`` and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sys
import threading
import time
from collections import Counter

TRAIT_KEYS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
WORDS = {
    3: ("low", "medium", "high"),
    5: ("very low", "low", "medium", "high", "very high"),
}
_NAME_RE = re.compile(r"^Name: (.*)$", re.MULTILINE)


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def expected_levels(name: str, model: str, seed: int, levels: int, inc: bool) -> dict[str, int]:
    """The levels the server answers: a per-person base shared by all models, a model-specific
    change now and then, and a seed (repeat) change now and then; 0 for some with ``inc``."""
    out = {}
    for key in TRAIT_KEYS:
        level = 1 + int(_unit(name, key) * levels)
        if _unit(name, key, model) < 0.25:
            level = 1 + int(_unit(name, key, model, "m") * levels)
        if _unit(name, key, model, seed) < 0.15:
            level = min(
                levels, max(1, level + (1 if _unit(name, key, model, seed, "d") < 0.5 else -1))
            )
        if inc and _unit(name, key, "insufficient") < 0.08:
            level = 0
        out[key] = level
    return out


def _answer_content(request: dict, action: str, auth: str) -> tuple[str, str]:
    messages = request.get("messages") or []
    user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
    match = _NAME_RE.search(user)
    name = match.group(1) if match else "?"
    levels = 5 if "very high" in user else 3
    text = "one of these words" in user
    inc = "insufficient information" in user
    seed = request.get("seed", 0)
    if action == "refuse":
        return "I'm sorry, but I can't help with assessing the personality of real people.", "stop"
    if action == "prose":
        return f"{name} seems to be a balanced person overall, with many strengths.", "stop"
    if action == "filter":
        return "", "content_filter"
    found = expected_levels(name, str(request.get("model")), seed, levels, inc)
    obj = {}
    for key, level in found.items():
        if action == "outofscale" and key == "openness":
            score: object = 7
        elif text:
            score = "insufficient information" if level == 0 else WORDS[levels][level - 1]
        else:
            score = level
        obj[key] = {"score": score, "description": f"{name}: public behaviour about {key}."}
    body = json.dumps(obj)
    if action == "fence":
        body = f"Here is my analysis.\n```json\n{body}\n```\nI hope this helps."
    if action == "echo-auth":
        obj["openness"]["description"] = f"header was {auth}"
        body = json.dumps(obj)
    return body, "stop"


class FakeLLMServer:
    """The server; ``start()`` runs it in a daemon thread, ``stop()`` shuts it down."""

    def __init__(
        self,
        latency: float = 0.0,
        faults: dict[str, list[str]] | None = None,
        retry_after: str = "0.05",
        hang_seconds: float = 3600.0,
    ) -> None:
        self.latency = latency
        self.faults = faults or {}
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.counts: Counter[str] = Counter()
        self.log: list[tuple[str, str, str]] = []  # (name, model, action) in arrival order
        self.auth_headers: set[str] = set()
        self.inflight = 0
        self.max_inflight = 0
        self.arrivals: list[float] = []  # monotonic arrival time of every chat request
        self.port = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[asyncio.Task] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.log.clear()
            self.arrivals.clear()
            self.max_inflight = 0

    def _action(self, name: str, model: str) -> str:
        with self._lock:
            key = f"{name}|{model}"
            index = self.counts[key]
            self.counts[key] += 1
            self.arrivals.append(time.monotonic())
            action = "ok"
            for token, actions in self.faults.items():
                if token in name:
                    action = actions[index] if index < len(actions) else "ok"
                    break
            self.log.append((name, model, action))
            return action

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "GET" and path.endswith("/stats"):
                    with self._lock:
                        payload = json.dumps(dict(self.counts)).encode()
                    self._write(writer, 200, payload)
                    await writer.drain()
                    continue
                if method != "POST" or not path.endswith("/chat/completions"):
                    self._write(writer, 404, b'{"error": "not found"}')
                    await writer.drain()
                    continue
                request = json.loads(body)
                auth = headers.get("authorization", "")
                if auth:
                    self.auth_headers.add(auth)
                messages = request.get("messages") or []
                user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
                match = _NAME_RE.search(user)
                name = match.group(1) if match else "?"
                action = self._action(name, str(request.get("model")))
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
                try:
                    if self.latency:
                        await asyncio.sleep(self.latency)
                    if action == "hang":
                        await asyncio.sleep(self.hang_seconds)
                        return
                finally:
                    self.inflight -= 1
                if action == "drop":
                    writer.transport.abort()
                    return
                if action == "429":
                    self._write(
                        writer, 429, b'{"error": "rate limited"}', {"Retry-After": self.retry_after}
                    )
                elif action.isdigit():  # any other status, e.g. 500, 401
                    self._write(writer, int(action), b'{"error": "injected"}')
                elif action == "garbage":
                    self._write(writer, 200, b"<html>upstream proxy error</html>")
                elif action == "nochoice":
                    self._write(writer, 200, b'{"object": "chat.completion", "choices": []}')
                else:
                    content, finish = _answer_content(request, action, auth)
                    # "parts": the same answer as a list of content parts, split mid-way
                    middle = len(content) // 2
                    parts = [{"type": "text", "text": content[:middle]}, content[middle:]]
                    reply = {
                        "id": "fake",
                        "object": "chat.completion",
                        "model": request.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {
                                    "role": "assistant",
                                    "content": parts if action == "parts" else content,
                                },
                                "finish_reason": finish,
                            }
                        ],
                        "usage": {
                            "prompt_tokens": len(user) // 4,
                            "completion_tokens": len(content) // 4,
                        },
                    }
                    self._write(writer, 200, json.dumps(reply).encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._conns.discard(task)
            writer.close()

    @staticmethod
    def _write(
        writer: asyncio.StreamWriter, status: int, payload: bytes, extra: dict | None = None
    ) -> None:
        reason = {
            200: "OK",
            404: "Not Found",
            429: "Too Many Requests",
            500: "Internal Server Error",
        }
        head = [
            f"HTTP/1.1 {status} {reason.get(status, 'Status')}",
            "Content-Type: application/json",
        ]
        head.append(f"Content-Length: {len(payload)}")
        for k, v in (extra or {}).items():
            head.append(f"{k}: {v}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)

    async def serve(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=512)
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> FakeLLMServer:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.serve())
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--faults", default="{}", help="JSON: name substring -> list of actions")
    args = parser.parse_args(argv)
    server = FakeLLMServer(latency=args.latency, faults=json.loads(args.faults))

    async def forever() -> None:
        await server.serve(args.port)
        print(f"PORT {server.port}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(forever())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
