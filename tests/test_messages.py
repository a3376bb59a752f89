"""Issue 27.5: progress on every long step (reported by the core through a plain callback), a
summary that names the rows it fitted, tables that fit the terminal, a clear column hint."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd

from dkluq_cli.data.table import require_columns
from dkluq_cli.errors import TableError
from tests.conftest import SAMPLE, plain


def test_a_missing_target_names_the_option_and_the_close_column(invoke, tmp_path):
    table = tmp_path / "t.csv"
    pd.read_csv(SAMPLE / "srtio3_cubic.csv").drop(columns=["energy_per_atom_eV"]).to_csv(
        table, index=False
    )
    r = invoke("train", table, "--target", "energy_per_atom_eV", "-o", tmp_path / "run")
    assert r.exit_code == 1
    err = plain(r.stderr)
    assert "has no column 'energy_per_atom_eV' to train on (--target)" in err
    assert "hint: did you mean 'energy_eV' for 'energy_per_atom_eV'?" in err
    assert "closest" not in err and not (tmp_path / "run").exists()


def test_column_hints_read_as_sentences():
    df = pd.DataFrame({"a": [1.0], "alpah": [90.0], "energy": [1.0]})
    try:
        require_columns(df, ["alpha", "zeta"], source="t.csv")
    except TableError as exc:
        assert exc.message == "t.csv: missing column(s) alpha, zeta"
        assert exc.hint == "did you mean 'alpah' for 'alpha'?"
    else:
        raise AssertionError("no error")


def _job(run):
    metrics = json.loads((run / "metrics.json").read_text())
    surrogate = SimpleNamespace(target_unit="eV")
    result = SimpleNamespace(surrogate=surrogate, interrupted=False)
    return SimpleNamespace(metrics=metrics, result=result, run_dir=run, figures=None)


def test_the_summary_table_fits_80_columns(small_run, capsys, monkeypatch):
    from dkluq_cli.cli.train_report import summary

    monkeypatch.setenv("COLUMNS", "80")
    summary(_job(small_run))
    err = capsys.readouterr().err
    table = [line for line in err.splitlines() if "│" in line or "┃" in line]
    assert table and all(len(line) <= 80 for line in table)
    assert "…" not in "\n".join(table)
    assert "coverage_95" in err and "meV/atom" in err and "held out" in err


def test_a_table_in_a_log_file_keeps_every_column(capsys, monkeypatch):
    from rich.table import Table

    from dkluq_cli.cli.common import print_table

    monkeypatch.delenv("COLUMNS", raising=False)
    t = Table()
    for k in range(12):
        t.add_column(f"column_{k}")
    t.add_row(*[f"value_{k:04d}" for k in range(12)])
    print_table(t)
    err = capsys.readouterr().err
    assert "…" not in err and "value_0011" in err


def test_long_steps_report_through_a_plain_callback(small_run):
    from dkluq_cli import load_model
    from dkluq_cli.analysis.centre import choose_centre
    from dkluq_cli.analysis.suggest import suggest

    model = load_model(small_run)
    said: list[str] = []
    centre = choose_centre(model.surrogate)
    suggest(model.surrogate, centre.params, 3, pool_size=64, progress=said.append)
    assert any("pool" in m for m in said) and any("greedy" in m for m in said), said
    said.clear()
    model.scan(points=5, points_2d=3, progress=said.append)
    assert any("grid points" in m for m in said), said


def test_the_status_line_draws_each_step(monkeypatch):
    from rich.console import Console

    import dkluq_cli.cli.progress as progress

    console = Console(force_terminal=True, width=100, record=True)
    monkeypatch.setattr(progress, "err_console", lambda: console)
    with progress.Steps("train") as steps:
        steps("fitting the exact GP on 6 rows")
        steps.count("epochs", 3, 10, "loss 1.0")
        assert [t.description for t in steps.progress.tasks] == ["epochs"]
        assert steps.progress.tasks[0].completed == 3
    assert steps.progress is None
