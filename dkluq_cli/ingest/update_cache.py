"""The ``ingest --update`` sidecar: each run's files' signature and its result, next to the table.

``table.ingest.jsonl.gz`` holds a header line (what the results depend on: the dkluq, pymatgen
and ASE versions, the energy kind, whether files were cross-checked) and one line per run:
``[run, signature, record...]`` (:data:`dkluq_cli.ingest.store.Record`). A run whose signature
(the name, size and modification time of each of its VASP files) is unchanged is reused as
is; any other run is read again. A sidecar written under other settings is ignored whole.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dkluq_cli import __version__
from dkluq_cli.data.output import atomic_write

logger = logging.getLogger(__name__)

FORMAT = 1
"""Version of the sidecar layout."""


def sidecar_path(table: Path) -> Path:
    """``table.csv`` → ``table.ingest.jsonl.gz`` (same folder)."""
    return table.with_name(f"{table.stem}.ingest.jsonl.gz")


def header(energy_kind: str, cross_check: bool) -> dict[str, Any]:
    """What a reused result depends on besides its run's files."""
    from importlib.metadata import PackageNotFoundError, version

    libs = {}
    for lib in ("pymatgen", "ase", "lxml"):
        try:
            libs[lib] = version(lib)
        except PackageNotFoundError:
            libs[lib] = None
    return {
        "dkluq_ingest_sidecar": FORMAT,
        "dkluq": __version__,
        **libs,
        "energy_kind": energy_kind,
        "cross_check": cross_check,
    }


def read_sidecar(path: Path, expected: dict[str, Any]) -> Iterator[tuple[str, str, str]] | None:
    """The ``(run, signature, record JSON)`` entries of a sidecar written under ``expected``.

    Returns:
        An iterator over the entries, or ``None`` (logged) when the sidecar is missing,
        unreadable, or was written under other settings.
    """
    if not path.is_file():
        logger.info("no %s yet: every run is read", path.name)
        return None
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            found = json.loads(fh.readline())
    except (OSError, EOFError, ValueError) as exc:
        logger.warning("ignoring %s (%s): every run is read", path, exc)
        return None
    if found != expected:
        changed = [
            k for k in expected if not isinstance(found, dict) or found.get(k) != expected[k]
        ]
        logger.info(
            "%s was written with other settings (%s): every run is read",
            path.name,
            ", ".join(changed),
        )
        return None
    return _entries(path)


def _entries(path: Path) -> Iterator[tuple[str, str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        try:
            fh.readline()
            for line in fh:
                run, sig, rest = line.split("\t", 2)
                yield json.loads(run), json.loads(sig), rest.rstrip("\n")
        except (OSError, EOFError, ValueError) as exc:
            logger.warning("%s is damaged (%s): the runs after that point are read", path, exc)


def write_sidecar(
    path: Path, head: dict[str, Any], entries: Iterator[tuple[str, str, Any]]
) -> None:
    """Write ``(run, signature, record)`` entries after ``head``, atomically."""
    with (
        atomic_write(path, force=True) as tmp,
        gzip.open(tmp, "wt", encoding="utf-8", compresslevel=1) as fh,
    ):
        fh.write(json.dumps(head) + "\n")
        for run, sig, record in entries:
            fh.write(f"{json.dumps(run)}\t{json.dumps(sig)}\t{json.dumps(record)}\n")
