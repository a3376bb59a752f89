"""The results of one ingest, kept on disk (SQLite) in walk order and read back sorted by run.

A run's result travels as a :data:`Record` of plain strings and numbers, made once where the run
is read (:func:`encode`): its row as JSON and its final structure already written as an extxyz
frame. The store, the ``--update`` sidecar and every output are filled from records only, so a
table does not depend on where or when each run was read. Memory stays flat in the number of
runs: the store lives in a temporary file and outputs are streamed from it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkluq_cli.ingest.vasp.result import COMPOSITION, RunResult

Record = tuple[str, str, str, str, int, str, "str | None", "str | None"]
"""``(run, source, category, reason, unconverged, formula, row JSON, extxyz frame)``."""

_SCHEMA = """
CREATE TABLE results (
    seq INTEGER PRIMARY KEY, run BLOB, source BLOB, problem INT, category TEXT, reason TEXT,
    unconverged INT, formula TEXT, row TEXT, xyz TEXT, sig TEXT
);
CREATE TABLE cache (run BLOB PRIMARY KEY, sig TEXT, record TEXT);
"""
_OTHER_FORMULA = "row IS NOT NULL AND :formula IS NOT NULL AND formula != :formula"
_ACCEPTED = f"row IS NOT NULL AND (unconverged = 0 OR :inc) AND NOT ({_OTHER_FORMULA})"
# a row of another composition than --formula is rejected for that, whatever else it has
_CATEGORY = f"CASE WHEN {_OTHER_FORMULA} THEN :composition ELSE category END"
_REASON = f"CASE WHEN {_OTHER_FORMULA} THEN formula || ', not ' || :formula ELSE reason END"


@dataclass(frozen=True)
class Selection:
    """Which readings become table rows.

    Attributes:
        include_unconverged: Keep unconverged runs (flagged in ``converged_*``).
        formula: Keep only runs of this reduced formula (``None``: every composition); the
            others are rejected with category :data:`~dkluq_cli.ingest.vasp.result.COMPOSITION`.
    """

    include_unconverged: bool = False
    formula: str | None = None

    def params(self) -> dict[str, Any]:
        return {
            "inc": int(self.include_unconverged),
            "formula": self.formula,
            "composition": COMPOSITION,
        }


def _key(text: str) -> bytes:
    """Sort key of a name: UTF-8 bytes order as Python orders strings (code points)."""
    return text.encode("utf-8", "surrogatepass")


def encode(result: RunResult) -> Record:
    """A run's result as a :data:`Record` (where the run was read)."""
    row = None if result.row is None else json.dumps(result.row)
    xyz = None if result.frame is None else result.frame.extxyz()
    formula = "" if result.row is None else str(result.row["formula"])
    return (
        result.run,
        result.source,
        result.category or "",
        result.reason or "",
        int(bool(result.unconverged)),
        formula,
        row,
        xyz,
    )


class ResultStore:
    """Records of one ingest in a temporary SQLite file, removed by :meth:`close`."""

    def __init__(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="dkluq-ingest-")
        self._db = sqlite3.connect(Path(self._dir) / "results.sqlite")
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE;"
            " PRAGMA cache_size=-8192;" + _SCHEMA
        )
        self._indexed = False
        self._closer = weakref.finalize(self, _remove, self._db, self._dir)

    def add(self, seq: int, record: Record, sig: str | None, *, problem: bool = False) -> None:
        """Keep one record (``seq``: its place in the walk, which breaks ties between names)."""
        run, source, category, reason, unconv, formula, row, xyz = record
        self._db.execute(
            "INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                seq,
                _key(run),
                _key(source),
                int(problem),
                category,
                reason,
                unconv,
                formula,
                row,
                xyz,
                sig,
            ),
        )

    def add_problem(self, seq: int, result: RunResult) -> None:
        """Keep a tree problem (a rejection found by the walk, not by a reader)."""
        self.add(seq, encode(result), None, problem=True)

    def load_cache(self, entries: Iterator[tuple[str, str, str]]) -> int:
        """Keep ``(run, signature, record JSON)`` of a previous ingest; returns how many."""
        rows = ((_key(run), sig, rec) for run, sig, rec in entries)
        before = self._db.total_changes
        self._db.executemany("INSERT OR REPLACE INTO cache VALUES (?,?,?)", rows)
        return self._db.total_changes - before

    def cached(self, run: str, sig: str) -> Record | None:
        """The previous record of ``run`` when its files' signature is unchanged."""
        found = self._db.execute(
            "SELECT record FROM cache WHERE run = ? AND sig = ?", (_key(run), sig)
        ).fetchone()
        if found is None:
            return None
        try:
            record = tuple(json.loads(found[0]))
        except ValueError:  # a damaged sidecar line: the run is read again
            return None
        return record if len(record) == 8 else None  # type: ignore[return-value]

    def _index(self) -> None:
        """Index the names once all records are in: sorted reads then walk the index instead
        of sorting the records themselves in memory."""
        if not self._indexed:
            self._db.execute("CREATE INDEX by_run ON results (run, source, problem, seq)")
            self._indexed = True

    def rows(self, keep: Selection) -> Iterator[tuple[dict[str, Any], str]]:
        """Accepted ``(row, extxyz frame)``, sorted by run."""
        self._index()
        q = f"SELECT row, xyz FROM results WHERE {_ACCEPTED} ORDER BY run, seq"
        for row, xyz in self._db.execute(q, keep.params()):
            yield json.loads(row), xyz

    def rejected(self, keep: Selection) -> Iterator[dict[str, str]]:
        """Rejected ``{run, source, category, reason}``, sorted by run and source."""
        self._index()
        q = (
            f"SELECT run, source, {_CATEGORY}, {_REASON} FROM results"
            f" WHERE NOT ({_ACCEPTED}) ORDER BY run, source, problem DESC, seq"
        )
        for run, source, category, reason in self._db.execute(q, keep.params()):
            yield {
                "run": run.decode("utf-8", "surrogatepass"),
                "source": source.decode("utf-8", "surrogatepass"),
                "category": category,
                "reason": reason,
            }

    def counts(self, keep: Selection) -> tuple[int, Counter, Counter]:
        """``(accepted, rejected by category, accepted by reduced formula)``."""
        params = keep.params()
        comps = Counter(
            dict(
                self._db.execute(
                    f"SELECT formula, count(*) FROM results WHERE {_ACCEPTED} GROUP BY formula",
                    params,
                )
            )
        )
        cats = Counter(
            dict(
                self._db.execute(
                    f"SELECT {_CATEGORY} AS cat, count(*) FROM results"
                    f" WHERE NOT ({_ACCEPTED}) GROUP BY cat",
                    params,
                )
            )
        )
        return sum(comps.values()), cats, comps

    def records(self) -> Iterator[tuple[str, str, Record]]:
        """``(run, signature, record)`` of every run read or reused (not tree problems), by run."""
        self._index()
        q = (
            "SELECT run, sig, source, category, reason, unconverged, formula, row, xyz"
            " FROM results WHERE problem = 0 ORDER BY run, seq"
        )
        for run, sig, source, category, reason, unconv, formula, row, xyz in self._db.execute(q):
            name = run.decode("utf-8", "surrogatepass")
            src = source.decode("utf-8", "surrogatepass")
            yield name, sig, (name, src, category, reason, unconv, formula, row, xyz)

    def close(self) -> None:
        """Remove the temporary file."""
        self._closer()


def _remove(db: sqlite3.Connection, folder: str) -> None:
    db.close()
    shutil.rmtree(folder, ignore_errors=True)
