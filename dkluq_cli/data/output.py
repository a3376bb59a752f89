"""Atomic, non-clobbering file output, and the output folders of commands.

Every file dkluq writes goes through :func:`atomic_write`: the content lands in a temporary
file in the destination folder and is renamed over the final name only when complete, so an
interrupted run never leaves a half-written file. Existing files are only replaced when the
caller passes ``force=True``.

A command that writes a folder (``train``, ``scan``, ``eos``, ``suggest``, ...) writes it through
:func:`command_output`: into a hidden staging folder beside it, moved into place only when the
command succeeds, so a failed command leaves nothing half-written. The folder records which
files the command wrote (:func:`manifest_name`), and the next run of the same command there
removes exactly those before it moves its own in: a rerun leaves no stale file of the previous
one, and files that other commands or the user put there stay.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkluq_cli.errors import OutputError

_WRITE_ERRNOS = {
    errno.ENOSPC,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EDQUOT,
    errno.EFBIG,
}
"""Errors of the file system (not of the data) met while writing: reported as OutputError."""


def _under_a_file(folder: Path) -> bool:
    """Whether some ancestor of a missing ``folder`` is a file (``out.csv/x/y.csv``)."""
    return any(p.exists() and not p.is_dir() for p in folder.parents)


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Check that ``path`` may be written, before any expensive work starts.

    Args:
        path: Destination file.
        force: Allow replacing an existing file.

    Returns:
        The destination as a :class:`Path`.

    Raises:
        OutputError: The file exists and ``force`` is false, the folder is missing, or it is
            not writable.
    """
    dest = Path(path)
    if dest.is_dir():
        raise OutputError(f"output {dest} is a directory", hint="give a file name")
    if dest.exists() and not force:
        raise OutputError(f"output {dest} already exists", hint="pass --force to overwrite it")
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        if parent.exists() or _under_a_file(parent):
            raise OutputError(
                f"output folder {parent} is not a folder (a file is in the way)",
                hint="choose another path",
            )
        raise OutputError(
            f"output folder {parent} does not exist", hint="create it first or choose another path"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {parent} is not writable")
    return dest


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], *, force: bool = False, binary: bool = False
) -> Iterator[Path]:
    """Yield a temporary path in the destination folder; rename it to ``path`` on success.

    The body writes to the yielded path (e.g. ``df.to_csv(tmp)``). If the body raises, the
    temporary file is removed and the destination is untouched.

    Args:
        path: Final destination.
        force: Replace an existing destination.
        binary: Unused marker kept for readability at call sites writing binary data.

    Yields:
        The temporary file path to write to.
    """
    del binary
    dest = check_writable(path, force=force)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent or "."
        )
    except OSError as exc:  # e.g. a read-only file system, which root's os.access does not see
        raise OutputError(
            f"cannot write output {dest}: {exc.strerror or exc}",
            hint="choose a writable folder",
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        try:
            yield tmp
        except OSError as exc:
            if exc.errno not in _WRITE_ERRNOS:
                raise
            raise OutputError(f"cannot write output {dest}: {exc.strerror or exc}") from exc
        if dest.exists() and not force:
            raise OutputError(f"output {dest} appeared while writing", hint="pass --force")
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            raise OutputError(f"cannot write output {dest}: {exc.strerror or exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_text(path: str | os.PathLike[str], text: str, *, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Args:
        path: Destination file.
        text: Content.
        force: Replace an existing file.

    Returns:
        The destination path.
    """
    with atomic_write(path, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def prepare_output_dir(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Create an output folder, refusing a non-empty existing one unless ``force``.

    Args:
        path: Folder to create.
        force: Allow writing into an existing non-empty folder (files are replaced).

    Returns:
        The folder path.

    Raises:
        OutputError: The folder exists with content and ``force`` is false, or cannot be made.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise OutputError(
            f"output folder {out} already exists and is not empty",
            hint="pass --force to write into it, or choose another -o",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out}: {exc.strerror}") from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {out} is not writable")
    return out


def plain(obj: Any, *, nan_as_none: bool = False) -> Any:
    """Nested dicts, lists and tuples with numpy or torch arrays and scalars → plain Python
    (dict keys as strings, tuples as lists, arrays as nested lists); non-finite floats → None
    when ``nan_as_none`` (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): plain(v, nan_as_none=nan_as_none) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v, nan_as_none=nan_as_none) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, str | bytes):
        return plain(obj.tolist(), nan_as_none=nan_as_none)
    if nan_as_none and isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def manifest_name(command: str) -> str:
    """The file, inside an output folder, listing what ``command`` last wrote there."""
    return f".dkluq-{command}.json"


@dataclass(frozen=True)
class StagedFolder:
    """Where a command writes (:attr:`staging`) and where its files end up (:attr:`folder`)."""

    staging: Path
    folder: Path

    def final(self, path: str | os.PathLike[str]) -> Path:
        """Where a file written under :attr:`staging` will be once the command succeeds."""
        return self.folder / Path(path).relative_to(self.staging)


@contextlib.contextmanager
def command_output(
    folder: str | os.PathLike[str],
    command: str,
    *,
    force: bool = False,
    owned: bool = False,
    derived_go_too: bool = False,
) -> Iterator[StagedFolder]:
    """Stage one command's output folder; on success it replaces that command's previous output.

    The body writes into :attr:`StagedFolder.staging` (a hidden folder beside ``folder``). When
    it returns, the files that ``command`` recorded in ``folder`` last time are removed and the
    staged files moved in, with a new record (:func:`manifest_name`). When it raises, the staged
    files and any parent folders created here are removed and ``folder`` is as it was.

    Args:
        folder: The output folder.
        command: The command's name (``"scan"``): whose previous output is replaced.
        force: Write into a folder that exists and is not empty (``-o DIR --force``).
        owned: The folder is the command's own default place (``<run>/scan``): its previous
            output there is replaced without ``force``.
        derived_go_too: Subfolders holding another command's record (outputs computed from
            what is being replaced, e.g. ``<run>/eos`` when a model is retrained) are removed
            too.

    Yields:
        The staging folder and the final one.

    Raises:
        OutputError: ``folder`` is a file, exists with content (neither ``force`` nor
            ``owned``), or cannot be created or written.
    """
    dest = Path(folder)
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"output {dest} exists and is not a folder", hint="choose another -o")
    if dest.is_dir() and not (force or owned) and any(dest.iterdir()):
        raise OutputError(
            f"output folder {dest} already exists and is not empty",
            hint="pass --force to replace it, or choose another -o",
        )
    parent = dest.parent
    if _under_a_file(dest):
        raise OutputError(f"cannot create output folder {dest}: Not a directory")
    for folder in (dest, parent):
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"output folder {folder} is not writable")
    created = [d for d in (parent, *parent.parents) if not d.exists()]
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{command}-", dir=parent))
    except OSError as exc:
        _remove_empty(created)
        raise OutputError(
            f"cannot create output folder {dest}: {exc.strerror or exc}",
            hint="choose a writable folder",
        ) from exc
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; the folder is the user's
    staged = StagedFolder(staging=staging, folder=dest)
    try:
        yield staged
        written = sorted(
            p.relative_to(staging).as_posix() for p in staging.rglob("*") if not p.is_dir()
        )
        record = {"command": command, "files": written}
        (staging / manifest_name(command)).write_text(json.dumps(record, indent=1) + "\n")
        _commit(staged, command, derived_go_too=derived_go_too)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise


def _commit(staged: StagedFolder, command: str, *, derived_go_too: bool) -> None:
    """Replace ``command``'s previous output in the final folder by the staged files."""
    dest, staging = staged.folder, staged.staging
    try:
        if not dest.exists():
            os.replace(staging, dest)
            return
        for rel in _recorded(dest, command):
            _remove_file(dest / rel, dest)
        if derived_go_too:
            for sub in dest.iterdir():
                if sub.is_dir() and any(sub.glob(manifest_name("*"))):
                    shutil.rmtree(sub)
        _merge(staging, dest)
        shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise OutputError(f"cannot write output folder {dest}: {exc.strerror or exc}") from exc


def _recorded(folder: Path, command: str) -> list[str]:
    """The files ``command`` recorded writing in ``folder`` (none without a readable record)."""
    try:
        record = json.loads((folder / manifest_name(command)).read_text(encoding="utf-8"))
        files = [str(f) for f in record["files"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [f for f in files if not Path(f).is_absolute() and ".." not in Path(f).parts]


def _remove_file(path: Path, root: Path) -> None:
    """Remove a file and the folders under ``root`` that it leaves empty."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    for d in path.parents:
        if d == root or root not in d.parents:
            break
        try:
            d.rmdir()
        except OSError:
            break


def _merge(source: Path, dest: Path) -> None:
    """Move every file under ``source`` to the same place under ``dest`` (replacing)."""
    for item in source.iterdir():
        target = dest / item.name
        if item.is_dir() and not item.is_symlink():
            if target.exists() and not target.is_dir():
                target.unlink()
            target.mkdir(exist_ok=True)
            _merge(item, target)
        else:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(item, target)


def _remove_empty(folders: list[Path]) -> None:
    """Remove folders, innermost first, while they are empty."""
    for d in folders:
        try:
            d.rmdir()
        except OSError:
            return


def write_json(path: Path, data: Any, *, force: bool = True) -> Path:
    """Write JSON atomically (NaN written as null; numpy scalars as numbers)."""
    return write_text(path, json.dumps(plain(data, nan_as_none=True), indent=2) + "\n", force=force)
