"""Atomic, non-clobbering file output.

Every file dkluq writes goes through :func:`atomic_write`: the content lands in a temporary
file in the destination folder and is renamed over the final name only when complete, so an
interrupted run never leaves a half-written file. Existing files are only replaced when the
caller passes ``force=True``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dkluq_cli.errors import OutputError


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent or ".")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if dest.exists() and not force:
            raise OutputError(f"output {dest} appeared while writing", hint="pass --force")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
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
