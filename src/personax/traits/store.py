"""The trait store: one SQLite file (WAL) holding every request, raw response and parsed answer.

A *cell* is (person id, model, prompt version, repeat index). A cell that has an *answer*
(status ok, format_failure or refusal — the model replied, so it was paid for) is never
requested again. A cell whose last request failed without a reply (status error: network,
timeouts, 5xx after all retries) has no answer and is retried by the next run.

Durability: each answer is committed in its own transaction together with its request rows,
the moment it arrives. SQLite's WAL journal makes every commit atomic, so killing the process
at any instant (Ctrl-C, crash, ``kill -9``) leaves the store consistent and keeps every
committed answer. ``synchronous=NORMAL`` is used: a process kill loses nothing committed; only
an operating-system crash or power loss could drop the last few commits (they are re-asked).

Tables: ``meta``, ``prompts``, ``models``, ``people``, ``planned`` (cells a run set out to
fill, so ``status`` can count pending cells), ``requests`` (one row per HTTP attempt),
``answers`` (one row per answered cell) and ``scores`` (five rows per ok answer).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from personax.errors import BadInput

SCHEMA_VERSION = "1"
ANSWER_STATUSES = ("ok", "format_failure", "refusal")
# Columns of TraitStore.answers(); the dataset build reads them by name.
ANSWER_COLUMNS = ("id", "model", "prompt_version", "repeat", "status", "trait", "score", "description", "scale")  # fmt: skip

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prompts (
    version TEXT PRIMARY KEY, name TEXT NOT NULL, answer TEXT NOT NULL,
    levels INTEGER NOT NULL, insufficient INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, description TEXT NOT NULL, first_seen REAL NOT NULL);
CREATE TABLE IF NOT EXISTS people (id TEXT PRIMARY KEY, name TEXT NOT NULL, context TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS planned (
    id TEXT NOT NULL, model TEXT NOT NULL, prompt_version TEXT NOT NULL, repeat INTEGER NOT NULL,
    PRIMARY KEY (id, model, prompt_version, repeat));
CREATE TABLE IF NOT EXISTS requests (
    request_id INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL, model TEXT NOT NULL, prompt_version TEXT NOT NULL, repeat INTEGER NOT NULL,
    attempt INTEGER NOT NULL, started_at REAL NOT NULL, latency_s REAL NOT NULL,
    http_status INTEGER, status TEXT NOT NULL, error TEXT,
    request_json TEXT NOT NULL, response_text TEXT);
CREATE INDEX IF NOT EXISTS requests_cell ON requests (id, model, prompt_version, repeat);
CREATE TABLE IF NOT EXISTS answers (
    id TEXT NOT NULL, model TEXT NOT NULL, prompt_version TEXT NOT NULL, repeat INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'format_failure', 'refusal')),
    reason TEXT, scale INTEGER NOT NULL, content TEXT, finish_reason TEXT,
    latency_s REAL NOT NULL, attempts INTEGER NOT NULL,
    prompt_tokens INTEGER, completion_tokens INTEGER, answered_at REAL NOT NULL,
    request_id INTEGER NOT NULL REFERENCES requests (request_id),
    PRIMARY KEY (id, model, prompt_version, repeat));
CREATE TABLE IF NOT EXISTS scores (
    id TEXT NOT NULL, model TEXT NOT NULL, prompt_version TEXT NOT NULL, repeat INTEGER NOT NULL,
    trait TEXT NOT NULL, score INTEGER NOT NULL, raw TEXT NOT NULL, description TEXT NOT NULL,
    PRIMARY KEY (id, model, prompt_version, repeat, trait));
"""


def _schema_tables() -> frozenset[str]:
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(_SCHEMA)
        return frozenset(r[0] for r in db.execute("SELECT name FROM sqlite_master"))
    finally:
        db.close()


# Tables and indexes of a personax store (sqlite_sequence comes with AUTOINCREMENT).
_SCHEMA_OBJECTS = _schema_tables()


def check_store_file(path: str | os.PathLike[str], create: bool = False) -> None:
    """Raise BadInput unless ``path`` is a trait store (or, with ``create``, may become one).

    It only reads: a foreign SQLite file must not get personax tables or a WAL journal, and a
    command that only reads must not turn an empty file into a database. A file holding only
    some of the store's tables is a store killed while being created; ``create`` completes it.
    """
    p = Path(path)
    if not p.exists():
        if create:
            return
        raise BadInput(f"{p}: no such trait store.")
    if not p.is_file():
        raise BadInput(f"{p}: not a personax trait store (it is not a file).")
    if p.stat().st_size == 0:
        if create:
            return
        raise BadInput(f"{p}: not a personax trait store (the file is empty).")
    try:
        db = sqlite3.connect(p, isolation_level=None, timeout=30.0)  # a SELECT writes nothing
        try:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
            has_version = (
                "meta" in names
                and db.execute("SELECT 1 FROM meta WHERE key='schema_version'").fetchone()
            )
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"{p}: not a personax trait store ({exc}).") from exc
    foreign = sorted(n for n in names if n not in _SCHEMA_OBJECTS and not n.startswith("sqlite_"))
    if foreign:
        raise BadInput(f"{p}: not a personax trait store (it holds the table '{foreign[0]}').")
    if not create and not has_version:
        raise BadInput(f"{p}: not a personax trait store of schema {SCHEMA_VERSION}.")


@dataclass(frozen=True)
class Cell:
    """One (person, model, prompt version, repeat) to be asked."""

    id: str
    model: str
    prompt_version: str
    repeat: int


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP attempt, as stored (texts already redacted by the client)."""

    attempt: int
    started_at: float
    latency_s: float
    http_status: int | None
    status: str
    error: str | None
    request_json: str
    response_text: str | None


@dataclass(frozen=True)
class AnswerRecord:
    """The parsed outcome of an answered cell."""

    status: str
    reason: str
    scale: int
    content: str | None
    finish_reason: str | None
    latency_s: float
    prompt_tokens: int | None
    completion_tokens: int | None
    levels: dict[str, int]
    raw: dict[str, str]
    descriptions: dict[str, str]


@dataclass(frozen=True)
class CellCounts:
    """Progress of the planned cells of one model and prompt version."""

    model: str
    prompt_version: str
    planned: int
    done: int  # ok answers
    failed: int  # answered but unusable (format failure or refusal); never re-asked
    errored: int  # asked, no answer yet (network/5xx after retries); re-asked by the next run
    pending: int  # never asked

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class TraitStore:
    """A trait store file. ``TraitStore(path)`` opens an existing store (BadInput when absent);
    ``TraitStore(path, create=True)`` creates it when needed. Use as a context manager."""

    def __init__(self, path: str | os.PathLike[str], create: bool = False) -> None:
        self.path = Path(path)
        check_store_file(self.path, create)  # before any PRAGMA or write
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # check_same_thread=False: a run commits from one writer thread while the event
            # loop thread waits; the two never use the connection at the same time.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            if create:
                # Every statement is idempotent; the version row goes last, so a store killed
                # while being created is simply completed by the next run.
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
                )
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"{self.path}: not a personax trait store ({exc}).") from exc
        if row is None or row[0] != SCHEMA_VERSION:
            raise BadInput(f"{self.path}: not a personax trait store of schema {SCHEMA_VERSION}.")

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TraitStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self):
        return _Transaction(self._db)

    # -- writing -----------------------------------------------------------------------------
    def register_run(
        self,
        prompt: dict[str, object],
        models: Sequence[dict[str, object]],
        people: pd.DataFrame,
        cells: Iterable[Cell],
    ) -> None:
        """Record the prompt, models, people and planned cells of a run (one transaction)."""
        now = time.time()
        with self._transaction():
            self._refuse_changed_identities(models, people)
            self._db.execute(
                "INSERT OR IGNORE INTO prompts VALUES (?, ?, ?, ?, ?)",
                (
                    prompt["version"],
                    prompt["name"],
                    prompt["answer"],
                    prompt["levels"],
                    int(bool(prompt["insufficient"])),
                ),
            )
            for model in models:
                self._db.execute(
                    "INSERT INTO models VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                    "description=excluded.description",
                    (model["name"], json.dumps(model, sort_keys=True), now),
                )
            self._db.executemany(
                "INSERT INTO people VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "name=excluded.name, context=excluded.context",
                people[["id", "name", "context"]].itertuples(index=False, name=None),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO planned VALUES (?, ?, ?, ?)",
                ((c.id, c.model, c.prompt_version, c.repeat) for c in cells),
            )

    def _refuse_changed_identities(
        self, models: Sequence[dict[str, object]], people: pd.DataFrame
    ) -> None:
        """Stored answers belong to the person and the model they were asked about: a roster
        that gives an answered id another name or context, or a models file that points an
        answered model name at another model, would silently inherit them — refuse instead."""
        for model in models:
            row = self._db.execute(
                "SELECT description FROM models WHERE name = ? AND EXISTS "
                "(SELECT 1 FROM answers WHERE answers.model = models.name)",
                (model["name"],),
            ).fetchone()
            if row is not None:
                before, now_model = json.loads(row[0]).get("model"), model.get("model")
                if before is not None and now_model is not None and before != now_model:
                    raise BadInput(
                        f"{self.path}: model '{model['name']}' was answered by '{before}', but "
                        f"the models file now points it at '{now_model}'; give the new "
                        "model its own name (or use a new store)."
                    )
        answered = {
            pid: (name, context)
            for pid, name, context in self._db.execute(
                "SELECT id, name, context FROM people WHERE EXISTS "
                "(SELECT 1 FROM answers WHERE answers.id = people.id)"
            )
        }
        if not answered:
            return
        for pid, name, context in people[["id", "name", "context"]].itertuples(index=False):
            if pid in answered and answered[pid] != (name, context):
                was_name, was_context = answered[pid]
                raise BadInput(
                    f"{self.path}: id '{pid}' was asked about as '{was_name}' ({was_context}), "
                    f"but the roster now says '{name}' ({context}); ids must keep naming the "
                    "same person (use a new id or a new store)."
                )

    def answered_cells(self, prompt_version: str | None = None) -> set[Cell]:
        """Cells that have an answer (never to be requested again)."""
        query = "SELECT id, model, prompt_version, repeat FROM answers"
        args: tuple = ()
        if prompt_version is not None:
            query += " WHERE prompt_version = ?"
            args = (prompt_version,)
        return {Cell(*row) for row in self._db.execute(query, args)}

    def record(
        self, cell: Cell, requests: Sequence[RequestRecord], answer: AnswerRecord | None
    ) -> bool:
        """Store the attempts of one cell and, if the model replied, its answer — atomically.

        Returns False (and stores nothing) when the cell already has an answer, so a cell can
        never hold two answers even if two writers raced.
        """
        key = (cell.id, cell.model, cell.prompt_version, cell.repeat)
        with self._transaction():
            if (
                answer is not None
                and self._db.execute(
                    "SELECT 1 FROM answers WHERE id=? AND model=? AND prompt_version=? AND repeat=?",
                    key,
                ).fetchone()
            ):
                return False
            last_id = None
            for r in requests:
                cur = self._db.execute(
                    "INSERT INTO requests (id, model, prompt_version, repeat, attempt, started_at,"
                    " latency_s, http_status, status, error, request_json, response_text)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        *key,
                        r.attempt,
                        r.started_at,
                        r.latency_s,
                        r.http_status,
                        r.status,
                        r.error,
                        r.request_json,
                        r.response_text,
                    ),
                )
                last_id = cur.lastrowid
            if answer is None:
                return True
            self._db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *key,
                    answer.status,
                    answer.reason,
                    answer.scale,
                    answer.content,
                    answer.finish_reason,
                    answer.latency_s,
                    len(requests),
                    answer.prompt_tokens,
                    answer.completion_tokens,
                    time.time(),
                    last_id,
                ),
            )
            self._db.executemany(
                "INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (*key, t, level, answer.raw[t], answer.descriptions[t])
                    for t, level in answer.levels.items()
                ),
            )
        return True

    # -- reading (public API used by the dataset build) -----------------------------------
    def answers(self, prompt_version: str | None = None) -> pd.DataFrame:
        """Parsed scores of the ok answers: one row per person × model × repeat × trait.

        Columns ``id, model, prompt_version, repeat, status, trait, score, description``
        (plus ``scale``, the format's number of levels). ``score`` is the stored level:
        0 = insufficient information, 1..scale.
        """
        query = (
            "SELECT s.id, s.model, s.prompt_version, s.repeat, a.status, s.trait, s.score,"
            " s.description, a.scale FROM scores s JOIN answers a USING"
            " (id, model, prompt_version, repeat) WHERE a.status = 'ok'"
        )
        args: tuple = ()
        if prompt_version is not None:
            query += " AND s.prompt_version = ?"
            args = (prompt_version,)
        query += " ORDER BY s.id, s.model, s.prompt_version, s.repeat, s.trait"
        df = pd.DataFrame(self._db.execute(query, args).fetchall(), columns=list(ANSWER_COLUMNS))
        return df.astype({"id": "string", "repeat": "int64", "score": "int64", "scale": "int64"})

    def answer_log(self) -> pd.DataFrame:
        """One row per answered cell: status, reason, latency, attempts, tokens."""
        return pd.read_sql_query(
            "SELECT id, model, prompt_version, repeat, status, reason, scale, finish_reason,"
            " latency_s, attempts, prompt_tokens, completion_tokens, answered_at FROM answers"
            " ORDER BY id, model, prompt_version, repeat",
            self._db,
        )

    def request_log(self) -> pd.DataFrame:
        """One row per HTTP attempt (without the request and response texts)."""
        return pd.read_sql_query(
            "SELECT request_id, id, model, prompt_version, repeat, attempt, started_at,"
            " latency_s, http_status, status, error FROM requests ORDER BY request_id",
            self._db,
        )

    def raw_responses(self) -> pd.DataFrame:
        """Every stored request body and raw response text."""
        return pd.read_sql_query(
            "SELECT request_id, id, model, prompt_version, repeat, attempt, request_json,"
            " response_text FROM requests ORDER BY request_id",
            self._db,
        )

    def models(self, prompt_version: str | None = None) -> list[str]:
        """Model names known to the store, in the order they were first used (only those
        planned for ``prompt_version`` when given)."""
        if prompt_version is None:
            rows = self._db.execute("SELECT name FROM models ORDER BY first_seen, rowid")
        else:
            rows = self._db.execute(
                "SELECT name FROM models WHERE name IN (SELECT model FROM planned WHERE"
                " prompt_version = ?) ORDER BY first_seen, rowid",
                (prompt_version,),
            )
        return [r[0] for r in rows]

    def prompt_versions(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT version FROM prompts ORDER BY rowid")]

    def people(self, prompt_version: str | None = None) -> pd.DataFrame:
        """``id, name, context`` of the people asked about (for ``prompt_version`` if given)."""
        query, args = "SELECT id, name, context FROM people", ()
        if prompt_version is not None:
            query += " WHERE id IN (SELECT id FROM planned WHERE prompt_version = ?)"
            args = (prompt_version,)
        df = pd.read_sql_query(query + " ORDER BY id", self._db, params=args)
        return df.astype({"id": "string"})

    def cell_counts(self) -> list[CellCounts]:
        """Done / failed / errored / pending planned cells per model and prompt version."""
        rows = self._db.execute(
            """
            SELECT p.model, p.prompt_version, COUNT(*),
                   SUM(a.status = 'ok'),
                   SUM(a.status IN ('format_failure', 'refusal')),
                   SUM(a.status IS NULL AND EXISTS (SELECT 1 FROM requests r WHERE r.id = p.id
                       AND r.model = p.model AND r.prompt_version = p.prompt_version
                       AND r.repeat = p.repeat))
            FROM planned p LEFT JOIN answers a USING (id, model, prompt_version, repeat)
            GROUP BY p.model, p.prompt_version ORDER BY p.model, p.prompt_version
            """
        ).fetchall()
        out = []
        for model, version, planned, done, failed, errored in rows:
            done, failed, errored = int(done or 0), int(failed or 0), int(errored or 0)
            out.append(
                CellCounts(
                    model,
                    version,
                    planned,
                    done,
                    failed,
                    errored,
                    planned - done - failed - errored,
                )
            )
        return out


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
