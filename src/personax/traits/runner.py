"""`personax infer run`: ask every model about every person, K times, filling the store.

The run first records its plan (people, models, prompt version, planned cells) in the store,
then asks only the cells without an answer. Each model has its own pool of ``concurrency``
workers pulling cells from a queue, so memory stays flat for any roster size and one slow
provider never starves the others. Every reply is parsed and committed the moment it arrives.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from personax.atomic import check_parents_are_folders
from personax.data import read_table
from personax.data.table import roster_ids
from personax.errors import BadInput
from personax.traits.client import Completion, ModelClient, ModelSpec
from personax.traits.parse import ERROR, OK, REFUSAL, ParsedAnswer, parse_answer
from personax.traits.prompts import PromptFormat
from personax.traits.store import (
    AnswerRecord,
    Cell,
    RequestRecord,
    TraitStore,
    check_store_file,
)

ROSTER_COLUMNS = ("id", "name", "context")
MAX_REPEATS = 1000  # far more than a study asks each LLM; bounds the plan held in memory


def load_roster(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a roster (CSV/Parquet with ``id``, ``name``, ``context``); BadInput on bad input."""
    df = read_table(path)
    missing = [c for c in ROSTER_COLUMNS if c not in df.columns]
    if missing:
        raise BadInput(f"{path}: roster is missing the column(s) {', '.join(missing)}.")
    df = df[list(ROSTER_COLUMNS)].copy()
    if df.empty:
        raise BadInput(f"{path}: roster has no rows.")
    df["id"] = roster_ids(df["id"], path)
    no_name = df.index[df["name"].isna() | (df["name"].astype("string").str.strip() == "")]
    if len(no_name):
        raise BadInput(
            f"{path}: row {int(no_name[0]) + 1} (id '{df['id'][no_name[0]]}') has no name."
        )
    df["name"] = roster_text(df["name"])
    df["context"] = roster_text(df["context"])
    return df.reset_index(drop=True)


def roster_text(values: pd.Series) -> pd.Series:
    """A roster's name or context column as the prompt spells it: stripped text, "" where
    missing. A numeric column with a blank cell reads as floats; its whole numbers are
    written as the file wrote them ("2019", not "2019.0")."""
    if pd.api.types.is_float_dtype(values):
        values = values.map(
            lambda v: "" if pd.isna(v) else str(int(v)) if float(v).is_integer() else str(v)
        )
    return values.fillna("").astype(str).str.strip()


@dataclass(frozen=True)
class RunSummary:
    """What one run did."""

    planned: int
    already_answered: int
    asked: int
    ok: int
    format_failure: int
    refusal: int
    error: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CellResult:
    """Handed to the progress callback after each cell is stored."""

    cell: Cell
    status: str


def plan_cells(
    roster: pd.DataFrame, models: Sequence[ModelSpec], fmt: PromptFormat, repeats: int
) -> list[Cell]:
    """Every (person, model, repeat) for prompt ``fmt``, repeats innermost per person."""
    version = fmt.version
    return [
        Cell(pid, m.name, version, r)
        for pid in roster["id"]
        for m in models
        for r in range(repeats)
    ]


def cell_seed(base_seed: int, model: ModelSpec, repeat: int) -> int:
    """Seed sent to the provider: the model's own seed (or ``--seed``) plus the repeat index,
    so repeats are independent draws yet every run asks the same question the same way."""
    return (model.seed if model.seed is not None else base_seed) + repeat


def _jitter_rng(base_seed: int, cell: Cell) -> random.Random:
    # Seeded per cell (not per run) so backoff delays do not depend on task scheduling.
    return random.Random(f"{base_seed}|{cell.id}|{cell.model}|{cell.prompt_version}|{cell.repeat}")


def _records(
    completion: Completion, request_json: str, parsed: ParsedAnswer | None
) -> list[RequestRecord]:
    records = []
    for a in completion.attempts:
        final_ok = a is completion.final and completion.ok
        status = parsed.status if (final_ok and parsed is not None) else ERROR
        records.append(
            RequestRecord(
                a.attempt,
                a.started_at,
                a.latency,
                a.http_status,
                status,
                a.error,
                request_json,
                a.body,
            )
        )
    return records


def classify(completion: Completion, fmt: PromptFormat) -> ParsedAnswer | None:
    """Parsed answer of a completion (None when no reply came back)."""
    if not completion.ok:
        return None
    if completion.finish_reason == "content_filter":
        return ParsedAnswer(REFUSAL, "the provider's content filter stopped the reply")
    if completion.refused:
        return ParsedAnswer(REFUSAL, "the provider marked the reply as a refusal")
    return parse_answer(completion.content, fmt)


class _StoreLock:
    """An exclusive lock on ``<store>.lock`` so two runs never ask the same cells at once.

    The kernel drops the lock when the process dies, even by ``kill -9``.
    """

    def __init__(self, store_path: Path) -> None:
        # Next to the file itself: a second run through a symlink or another spelling of the
        # path must meet the same lock.
        real = store_path.resolve()
        self.path = real.with_name(real.name + ".lock")
        self._fh = None

    def __enter__(self) -> _StoreLock:
        self._fh = open(self.path, "a+")  # noqa: SIM115 — held for the whole run
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._fh.close()
            raise BadInput(
                f"{self.path.with_suffix('')}: another `personax infer run` is using this store."
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._fh is not None
        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()


async def _run_async(
    store: TraitStore,
    people: dict[str, tuple[str, str]],
    models: Sequence[ModelSpec],
    fmt: PromptFormat,
    todo: list[Cell],
    seed: int,
    concurrency: int | None,
    progress: Callable[[CellResult], None] | None,
) -> dict[str, int]:
    counts = {"ok": 0, "format_failure": 0, "refusal": 0, "error": 0}
    by_model: dict[str, list[Cell]] = {m.name: [] for m in models}
    for cell in todo:
        by_model[cell.model].append(cell)
    clients = {m.name: ModelClient(m, concurrency) for m in models}
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="personax-store")

    async def ask(client: ModelClient, cell: Cell) -> None:
        name, context = people[cell.id]
        messages = fmt.messages(name, context)
        seed_sent = cell_seed(seed, client.spec, cell.repeat)
        request_json = client.encode(messages, seed_sent)
        completion = await client.send(request_json, _jitter_rng(seed, cell))
        parsed = classify(completion, fmt)
        answer = None
        if parsed is not None:
            answer = AnswerRecord(
                status=parsed.status,
                reason=parsed.reason,
                scale=fmt.levels,
                content=completion.content,
                finish_reason=completion.finish_reason,
                latency_s=completion.final.latency,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                levels=parsed.levels,
                raw=parsed.raw,
                descriptions=parsed.descriptions,
            )
        # Commit on the writer thread: a slow disk (WAL checkpoints fsync) then stalls only the
        # writer, never the event loop, and each answer still gets its own transaction.
        # Shielded: a reply that came back is paid for, so cancelling this task (Ctrl-C, another
        # task's failure) must not cancel its queued commit; shutdown(wait=True) runs it.
        commit = writer.submit(
            store.record, cell, _records(completion, request_json, parsed), answer
        )
        await asyncio.shield(asyncio.wrap_future(commit))
        status = parsed.status if parsed is not None else ERROR
        counts[status] += 1
        if progress is not None:
            progress(CellResult(cell, status))

    async def worker(client: ModelClient, queue: asyncio.Queue[Cell]) -> None:
        while True:
            try:
                cell = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await ask(client, cell)

    tasks: list[asyncio.Task[None]] = []
    try:
        for m in models:
            queue: asyncio.Queue[Cell] = asyncio.Queue()
            for cell in by_model[m.name]:
                queue.put_nowait(cell)
            n_workers = min(clients[m.name].concurrency, len(by_model[m.name]))
            tasks += [asyncio.create_task(worker(clients[m.name], queue)) for _ in range(n_workers)]
        await asyncio.gather(*tasks)
    finally:
        # On any failure (or Ctrl-C) stop the other workers before closing what they use.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in clients.values():
            await client.aclose()
        # Let every commit already queued finish before the store is closed (e.g. after Ctrl-C).
        writer.shutdown(wait=True)
    return counts


def check_run_options(repeats: int, concurrency: int | None) -> None:
    """BadInput for a repeat count or a concurrency :func:`run_inference` cannot use (the CLI
    checks them before it draws its progress bar)."""
    if not 1 <= repeats <= MAX_REPEATS:
        # The plan is a list of every cell: a huge count would fill memory before any request.
        raise BadInput(f"--repeats must be from 1 to {MAX_REPEATS} (got {repeats}).")
    if concurrency is not None and concurrency < 1:
        raise BadInput(f"--concurrency must be at least 1 (got {concurrency}).")


def run_inference(
    store_path: str | os.PathLike[str],
    roster: pd.DataFrame,
    models: Sequence[ModelSpec],
    fmt: PromptFormat,
    repeats: int = 1,
    concurrency: int | None = None,
    seed: int = 0,
    progress: Callable[[CellResult], None] | None = None,
    on_plan: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Fill the store with every missing cell; returns what was done.

    ``on_plan(planned, to_ask)`` is called once the plan is known (for a progress bar).
    """
    check_run_options(repeats, concurrency)
    path = Path(store_path)
    check_parents_are_folders(path, "--store")
    path.parent.mkdir(parents=True, exist_ok=True)
    check_store_file(path, create=True)  # a foreign file gets no lock file next to it either
    with _StoreLock(path), TraitStore(path, create=True) as store:
        cells = plan_cells(roster, models, fmt, repeats)
        store.register_run(
            {
                "version": fmt.version,
                "name": fmt.name,
                "answer": fmt.answer,
                "levels": fmt.levels,
                "insufficient": fmt.insufficient,
            },
            [m.describe() for m in models],
            roster,
            cells,
        )
        answered = store.answered_cells(fmt.version)
        todo = [c for c in cells if c not in answered]
        if on_plan is not None:
            on_plan(len(cells), len(todo))
        people = {
            pid: (name, context)
            for pid, name, context in roster[["id", "name", "context"]].itertuples(
                index=False, name=None
            )
        }
        counts = asyncio.run(
            _run_async(store, people, models, fmt, todo, seed, concurrency, progress)
        )
    return RunSummary(
        planned=len(cells),
        already_answered=len(cells) - len(todo),
        asked=len(todo),
        ok=counts[OK],
        format_failure=counts["format_failure"],
        refusal=counts[REFUSAL],
        error=counts[ERROR],
    )
