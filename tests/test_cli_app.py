"""The CLI app: help, version, global options, the error convention, fast start-up."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from dkluq_cli import __version__
from tests.conftest import plain


def test_help_lists_subcommands(invoke):
    result = invoke("--help")
    assert result.exit_code == 0
    text = plain(result.output)
    for sub in ("ingest", "train", "predict", "scan"):
        assert sub in text


def test_version(invoke):
    result = invoke("--version")
    assert result.exit_code == 0
    assert plain(result.output) == f"dkluq {__version__}"


@pytest.mark.parametrize("sub", ["ingest", "train", "predict", "scan"])
def test_subcommand_help(invoke, sub):
    result = invoke(sub, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in plain(result.output)


def test_missing_input_is_one_line_error(invoke, tmp_path):
    missing = tmp_path / "no_such_runs"
    result = invoke("ingest", missing, "-o", tmp_path / "t.csv")
    assert result.exit_code == 1
    err = plain(result.stderr)
    assert err.startswith("error:")
    assert "no_such_runs" in err and "does not exist" in err
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""


def test_verbose_and_quiet_conflict(invoke):
    result = invoke("-v", "-q", "ingest", "--help")
    # --help is eager; a real invocation must refuse the pair
    result = invoke("-v", "-q", "ingest", "x")
    assert result.exit_code == 1
    assert plain(result.stderr).startswith("error:") and "-v and -q" in plain(result.stderr)


def test_unexpected_error_exits_2_without_stack(invoke, monkeypatch, tmp_path):
    import dkluq_cli.cli.common as common

    def boom():
        raise RuntimeError("kaboom")

    wrapped = common.command(boom)
    common.state.traceback = False
    with pytest.raises(SystemExit) as exc:
        try:
            wrapped()
        except Exception as e:  # typer.Exit is a click exception subclass
            raise SystemExit(getattr(e, "exit_code", 99)) from e
    assert exc.value.code == 2


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys, time; t=time.perf_counter();"
        "from dkluq_cli.cli.app import app;"
        "from typer.testing import CliRunner; r=CliRunner().invoke(app, ['--help']);"
        "assert r.exit_code == 0, r.output;"
        "heavy=[m for m in ('torch','gpytorch','pymatgen','ase','matplotlib','pandas') if m in sys.modules];"
        "print(heavy); print(time.perf_counter()-t)"
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "[]", f"--help imported {lines[0]}"
    # generous bound for a loaded 2-core CI box; measured ~0.3 s on an idle one
    assert wall < 5.0


def test_python_dash_m(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "dkluq_cli", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"dkluq {__version__}"
