"""Atomic, non-clobbering file output.

Every file dkluq writes goes through :func:`atomic_write`: the content lands in a temporary
file in the destination folder and is renamed over the final name only when complete, so an
interrupted run never leaves a half-written file. Existing files are only replaced when the
caller passes ``force=True``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import tempfile
from collections.abc import Iterator
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


def write_json(path: Path, data: Any, *, force: bool = True) -> Path:
    """Write JSON atomically (NaN written as null; numpy scalars as numbers)."""
    return write_text(path, json.dumps(plain(data, nan_as_none=True), indent=2) + "\n", force=force)
