"""Single-pass reader of vasprun.xml (placeholder while the split lands)."""

from __future__ import annotations

from pathlib import Path

from dkluq_cli.vasp.files import open_bytes


def xml_complete(path: Path) -> bool:
    """Whether the (decompressed) XML ends with its closing ``</modeling>`` tag."""
    tail = b""
    with open_bytes(path) as fh:
        while chunk := fh.read(1 << 20):
            tail = (tail + chunk)[-512:]
    return b"</modeling>" in tail
