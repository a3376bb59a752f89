"""Where a vasprun.xml stops being usable, and a copy of it cut at its last complete ionic step.

A killed run's XML only stops: the parser complains at the end of the data. A damaged one
breaks before its end (an edited byte, NUL padding, two runs written into one file). What the
libraries keep of either depends on them: lxml 6.2 drops every parser event of the chunk in
which an XML breaks (6.1 kept them), a truncated document's ``close()`` ends every open element,
and ASE fails on a step cut inside its energy block. So every reader of a killed or damaged
file reads a copy that ends after its last complete ``</calculation>`` (before the damage),
and both libraries see whole ionic steps only.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from dkluq_cli.ingest.vasp.files import open_bytes

CHUNK = 1 << 20
"""Bytes read (and fed to an XML parser) at a time; the same in every reader, so an XML breaks
in the same feed in each."""
_END = b"</calculation>"


class XmlEnd(NamedTuple):
    """How a vasprun.xml ends.

    Attributes:
        broken: Where it is malformed before its end (a damaged file): ``(byte offset of the
            start of the breaking line in the decompressed data, where)``, ``where`` reading
            like ``"line 528 (error parsing attribute name)"``; ``None`` when it is not.
        complete: Whether it parses up to a closing ``</modeling>`` tag.
    """

    broken: tuple[int, str] | None
    complete: bool


def xml_end(path: Path) -> XmlEnd:
    """Parse the (decompressed) file once, for where it breaks and whether it is complete."""
    from lxml import etree

    parser = etree.XMLPullParser()
    tail = b""
    lines = 1
    with open_bytes(path) as fh:
        while chunk := fh.read(CHUNK):
            tail = (tail + chunk)[-512:]
            lines += chunk.count(b"\n")
            try:
                parser.feed(chunk)
            except etree.XMLSyntaxError as exc:
                return _broken(path, exc)
    try:
        parser.close()
    except etree.XMLSyntaxError as exc:
        # the parser may hold back the end of the data until close(): an error there on the
        # last line is a file that stops (killed), one on an earlier line is damage
        return _broken(path, exc) if exc.position[0] < lines else XmlEnd(None, False)
    return XmlEnd(None, b"</modeling>" in tail)


def _broken(path: Path, exc) -> XmlEnd:
    line = exc.position[0]
    what = str(exc.msg).split(", line ")[0]
    return XmlEnd((line_start(path, line), f"line {line} ({what})"), False)


def line_start(path: Path, line: int) -> int:
    """Byte offset of the start of 1-based ``line`` in the decompressed file."""
    offset = seen = 0
    with open_bytes(path) as fh:
        while chunk := fh.read(CHUNK):
            start = 0
            while seen < line - 1 and (nl := chunk.find(b"\n", start)) >= 0:
                seen, start = seen + 1, nl + 1
            if seen == line - 1:
                return offset + start
            offset += len(chunk)
    return offset


def last_step_end(path: Path, limit: int | None = None) -> int | None:
    """Byte offset just after the last ``</calculation>`` that ends before ``limit``, or ``None``."""
    found, offset, keep = None, 0, b""
    with open_bytes(path) as fh:
        while chunk := fh.read(CHUNK):
            data = keep + chunk
            base = offset - len(keep)
            if limit is not None:
                data = data[: max(0, limit - base)]
            at = data.rfind(_END)
            if at >= 0:
                found = base + at + len(_END)
            offset += len(chunk)
            if limit is not None and offset >= limit:
                break
            keep = data[-(len(_END) - 1) :]
    return found


@contextmanager
def steps_copy(path: Path, limit: int | None = None) -> Iterator[Path | None]:
    """A temporary decompressed copy of ``path`` up to the end of its last complete ionic step
    (before byte ``limit``), or ``None`` when no step is complete."""
    end = last_step_end(path, limit)
    if end is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="dkluq-") as tmp:
        cut = Path(tmp) / "vasprun.xml"
        with open_bytes(path) as src, cut.open("wb") as dst:
            shutil.copyfileobj(_Prefix(src, end), dst)
        yield cut


class _Prefix:
    """The first ``size`` bytes of a binary stream, as a readable stream."""

    def __init__(self, fh, size: int):
        self.fh, self.left = fh, size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data
