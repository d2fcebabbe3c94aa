"""Trait-inference client throughput against the local OpenAI-compatible server.

Starts ``tests/traits/fake_llm_server.py`` in its own process (50 ms simulated latency), then:

1. ``personax`` end to end: ``run_inference`` with one model at concurrency 64 — requests,
   retries machinery, parsing, one SQLite WAL commit per answer — completions per second;
2. the same requests through bare ``aiohttp`` and ``httpx`` loops (no retries, no parsing, no
   store) at the same concurrency: the reference ceiling of this machine and server, and the
   library personax did not pick;
3. client overhead per request: CPU seconds of this process per completed request in each
   (the server's CPU is in another process and not counted).

Usage: ``python benchmarks/infer.py [--cells 3000] [--latency 0.05] [--concurrency 64]``.
Goal (issue 5): at least 200 completions/s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import pandas as pd

from personax.traits.client import ModelSpec
from personax.traits.prompts import get_format
from personax.traits.runner import run_inference
from personax.traits.store import TraitStore

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "traits" / "fake_llm_server.py"
RAW_FORMAT = get_format("number-l3-inc")


def start_server(latency: float) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"the fake server did not start: {line!r}")
    return proc, int(line.split()[1])


def _figures(cells: int, wall: float, cpu: float) -> dict[str, float]:
    return {
        "completions": cells,
        "seconds": wall,
        "per_second": cells / wall,
        "cpu_ms_per_request": 1e3 * cpu / cells,
    }


def bench_personax(base_url: str, cells: int, concurrency: int) -> dict[str, float]:
    roster = pd.DataFrame(
        {
            "id": [f"b{i:06d}" for i in range(cells)],
            "name": [f"Bench Person {i}" for i in range(cells)],
            "context": "NBA",
        }
    )
    model = ModelSpec("bench", base_url, "fake-bench", concurrency=concurrency, timeout=30.0)
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, t0 = time.process_time(), time.perf_counter()
        summary = run_inference(
            Path(tmp) / "s.sqlite", roster, [model], get_format("number-l3-inc")
        )
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        with TraitStore(Path(tmp) / "s.sqlite") as store:
            latency = store.answer_log()["latency_s"].to_numpy()
    if summary.ok != cells:
        raise RuntimeError(f"expected {cells} ok answers, got {summary}")
    return {
        **_figures(cells, wall, cpu),
        "request_latency_p50_ms": 1e3 * float(np.percentile(latency, 50)),
        "request_latency_p90_ms": 1e3 * float(np.percentile(latency, 90)),
    }


def _raw_body(i: int) -> dict:
    return {"model": "fake-raw", "messages": RAW_FORMAT.messages(f"Raw Person {i}", "NBA")}


def _measure_raw(cells: int, concurrency: int, open_client, send_one) -> dict[str, float]:
    """Time ``cells`` requests sent by ``concurrency`` workers; ``open_client()`` is an async
    context manager giving a client, ``send_one(client, i)`` sends request ``i``."""

    async def go() -> None:
        async with open_client() as client:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(cells):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    await send_one(client, queue.get_nowait())

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    cpu0, t0 = time.process_time(), time.perf_counter()
    asyncio.run(go())
    return _figures(cells, time.perf_counter() - t0, time.process_time() - cpu0)


def bench_raw_httpx(base_url: str, cells: int, concurrency: int) -> dict[str, float]:
    def open_client() -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        return httpx.AsyncClient(base_url=base_url + "/", limits=limits, timeout=30.0)

    async def send_one(client: httpx.AsyncClient, i: int) -> None:
        response = await client.post("chat/completions", json=_raw_body(i))
        response.raise_for_status()
        json.loads(response.text)

    return _measure_raw(cells, concurrency, open_client, send_one)


def bench_raw_aiohttp(base_url: str, cells: int, concurrency: int) -> dict[str, float]:
    def open_client() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

    async def send_one(session: aiohttp.ClientSession, i: int) -> None:
        async with session.post(base_url + "/chat/completions", json=_raw_body(i)) as response:
            response.raise_for_status()
            json.loads(await response.text())

    return _measure_raw(cells, concurrency, open_client, send_one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    proc, port = start_server(args.latency)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        bench_raw_aiohttp(base_url, min(500, args.cells), args.concurrency)  # warm-up
        ours = bench_personax(base_url, args.cells, args.concurrency)
        raw = bench_raw_aiohttp(base_url, args.cells, args.concurrency)
        raw_httpx = bench_raw_httpx(base_url, min(args.cells, 1000), args.concurrency)
    finally:
        proc.terminate()
        proc.wait(10)
    ceiling = args.concurrency / args.latency
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_1min": os.getloadavg()[0],
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "ideal_per_second": ceiling,
        "personax": ours,
        "raw_aiohttp": raw,
        "raw_httpx": raw_httpx,
        "personax_vs_raw_aiohttp_throughput": ours["per_second"] / raw["per_second"],
        "personax_vs_raw_httpx_throughput": ours["per_second"] / raw_httpx["per_second"],
    }
    print(f"machine: {result['machine']} (1-min load average {result['load_average_1min']:.1f})")
    print(
        f"server latency {args.latency * 1e3:.0f} ms, concurrency {args.concurrency}: ideal {ceiling:.0f}/s"
    )
    for name in ("personax", "raw_aiohttp", "raw_httpx"):
        r = result[name]
        print(
            f"{name:>11}: {r['completions']} completions in {r['seconds']:.2f} s = "
            f"{r['per_second']:.0f}/s; client CPU {r['cpu_ms_per_request']:.2f} ms/request"
        )
    print(
        f"personax request latency seen by the client: p50 {ours['request_latency_p50_ms']:.1f} ms, "
        f"p90 {ours['request_latency_p90_ms']:.1f} ms (the server sleeps {args.latency * 1e3:.0f} ms)"
    )
    print(
        f"personax / raw aiohttp throughput: {result['personax_vs_raw_aiohttp_throughput']:.2f}; "
        f"personax / raw httpx: {result['personax_vs_raw_httpx_throughput']:.2f}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
