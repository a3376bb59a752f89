"""Walk trees of VASP run folders, yielding each run folder as it is found.

Folders are walked depth first with :func:`os.scandir` (each folder's entries in name order),
following symbolic links to folders but visiting each real folder once: a folder is known by its
device and inode, so a link back to an ancestor (a loop) or a second link to the same folder
becomes a tree problem, as does a folder that cannot be listed. Tree problems are yielded as
rejected entries, never raised, so one bad corner never ends the walk. Nothing is listed up
front: the walk holds one folder listing per level of depth, plus the identity of each folder
seen.

A folder holding the output files of several calculations (``vasprun.xml.relax1`` and
``vasprun.xml.relax2``, ``OUTCAR.3.90`` and ``OUTCAR.3.95``) gives one run per calculation
(:meth:`~dkluq_cli.ingest.vasp.files.RunFiles.calculations`). Each run comes with the signature
of its files (name, size in bytes, modification time in ns), which ``ingest --update`` compares
to decide whether the run changed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from dkluq_cli.errors import InputError
from dkluq_cli.ingest.vasp.files import RunFiles, classify
from dkluq_cli.ingest.vasp.result import RunResult

TREE_PROBLEM = "folder problem"

Found = tuple[RunFiles, str] | RunResult
"""What the walk yields: ``(run, signature)``, or a tree problem as a rejected entry."""


def _rel_name(path: Path, root: Path, prefix: str) -> str:
    rel = path.relative_to(root).as_posix() if path != root else ""
    if rel in ("", "."):
        return prefix or root.resolve().name or str(root)
    return f"{prefix}/{rel}" if prefix else rel


def _stamp(name: str, entry_or_path) -> str:
    """One file's part of a signature: ``name<TAB>size<TAB>mtime_ns`` (or the stat error)."""
    try:
        st = (
            entry_or_path.stat()
            if isinstance(entry_or_path, os.DirEntry)
            else os.stat(entry_or_path)
        )
    except OSError as exc:
        return f"{name}\t!{exc.errno}"
    return f"{name}\t{st.st_size}\t{st.st_mtime_ns}"


def discover(roots: Sequence[str | os.PathLike[str]]) -> Iterator[Found]:
    """Find the run folders under ``roots``, as a stream.

    Args:
        roots: Folders (walked recursively) or single files. With one root, run names are
            paths relative to it; with several, each is prefixed by its root's folder name.

    Returns:
        An iterator of ``(RunFiles, signature)`` and tree problems, in walk order.

    Raises:
        InputError: A root does not exist (checked before the walk starts).
    """
    root_paths = [Path(r) for r in roots]
    for root in root_paths:
        if not root.exists() and not root.is_symlink():
            raise InputError(f"input path {root} does not exist", hint="check the path")
    return _discover(root_paths)


def _discover(root_paths: list[Path]) -> Iterator[Found]:
    seen: dict[tuple[int, int], str] = {}
    # a file root is named after its folder, so "outputs/OUTCAR.gz" stays informative
    names = [(r if r.is_dir() else r.parent).resolve().name or str(r) for r in root_paths]
    use_prefix = len(root_paths) > 1
    for root, rname in zip(root_paths, names, strict=True):
        prefix = rname if use_prefix else ""
        if root.is_dir():
            yield from _walk(root, prefix, seen)
        else:
            yield _single_file(root, prefix)


def _single_file(root: Path, prefix: str) -> Found:
    name = f"{prefix}/{root.name}" if prefix else root.name
    found = classify(root.name)
    run = RunFiles(name=name, directory=str(root.parent))
    if found is None:
        # a single file with another name: read it by its content's likely kind
        if not root.name.lower().endswith((".xml", ".xml.gz")):
            return RunResult(
                name,
                root.name,
                category=TREE_PROBLEM,
                reason=f"{root.name}: not a VASP output file name (vasprun.xml, OUTCAR, OSZICAR, CONTCAR, POSCAR)",
            )
        found = ("vasprun", "")
    run.add(found[0], found[1], str(root))
    return run, _stamp(root.name, root)


def _problem(name: str, reason: str) -> RunResult:
    return RunResult(name, "", category=TREE_PROBLEM, reason=reason)


def _walk(root: Path, prefix: str, seen: dict[tuple[int, int], str]) -> Iterator[Found]:
    # depth first, children in name order: (folder, identities of its ancestors)
    stack: list[tuple[Path, frozenset]] = [(root, frozenset())]
    while stack:
        folder, ancestors = stack.pop()
        name = _rel_name(folder, root, prefix)
        try:
            st = os.stat(folder)
        except OSError as exc:
            yield _problem(name, f"cannot resolve: {exc}")
            continue
        ident = (st.st_dev, st.st_ino)
        if ident in ancestors:
            real = os.path.realpath(folder)
            yield _problem(
                name,
                f"symbolic link loop: {folder} points back to its ancestor {real}; not followed",
            )
            continue
        if ident in seen:
            yield _problem(
                name, f"same folder as {seen[ident]} (reached through a symbolic link); read once"
            )
            continue
        seen[ident] = name
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield _problem(name, f"cannot list folder {folder}: {exc.strerror or exc}")
            continue
        run = RunFiles(name=name, directory=str(folder))
        stamps: dict[str, str] = {}
        subdirs: list[Path] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                subdirs.append(Path(entry.path))
                continue
            found = classify(entry.name)
            if found is not None:
                run.add(found[0], found[1], entry.path)
                stamps[entry.path] = _stamp(entry.name, entry)
        if run.files:
            for calc in run.calculations():
                mine = calc.paths()
                yield calc, "\n".join(st for path, st in stamps.items() if path in mine)
        inner = ancestors | {ident}
        stack.extend((sub, inner) for sub in reversed(subdirs))
