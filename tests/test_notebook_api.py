"""Issue 27.8: a notebook API — ``from dkluq_cli import train, load_model`` — whose functions are
the ones the commands call; the README's example runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import REPO, SAMPLE


def _readme_python_example() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### From Python") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_runs(tmp_path, monkeypatch):
    (tmp_path / "sample_data").symlink_to(SAMPLE, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    code = _readme_python_example()
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the README's own example
    model = namespace["model"]
    assert type(model).__name__ == "TrainedModel" and model.path.name == "srtio3.pt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample_data", "srtio3.pt"]


def test_the_package_face_is_lazy():
    code = (
        "import sys, dkluq_cli; assert dkluq_cli.__version__;"
        "assert 'torch' not in sys.modules, 'import dkluq_cli loaded torch';"
        "assert {'train', 'load_model', 'TrainedModel'} <= set(dir(dkluq_cli))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
    import dkluq_cli
    from dkluq_cli.analysis import trained_model

    assert dkluq_cli.train is trained_model.train
    assert dkluq_cli.load_model is trained_model.load_model
    with pytest.raises(AttributeError):
        dkluq_cli.no_such_thing  # noqa: B018


def test_train_writes_a_run_folder_only_when_asked(small_run, tmp_path, monkeypatch):
    from dkluq_cli import train
    from dkluq_cli.errors import DkluqError

    monkeypatch.chdir(tmp_path)
    table = pd.read_csv(small_run.parent / "si.csv")
    model = train(table, trend=2, restarts=0, device="cpu")
    assert model.run_dir is None and not list(tmp_path.iterdir())
    assert model.metrics["regime"]["head"] == "exact"
    run = train(table, output=tmp_path / "run", trend=2, restarts=0, device="cpu")
    assert (tmp_path / "run" / "model.pt").is_file() and run.path == tmp_path / "run" / "model.pt"
    kept = pd.read_csv(tmp_path / "run" / "table.csv")  # a DataFrame's rows are kept
    assert len(kept) == len(table)
    with pytest.raises(DkluqError, match="unknown training option"):
        train(table, kernal="rbf")


def test_the_commands_print_what_the_functions_return(invoke, small_run, tmp_path):
    from dkluq_cli import load_model

    model = load_model(small_run)
    stats = model.eos(samples=30, points=15, seed=3).stats()
    r = invoke("eos", small_run, "--samples", "30", "--points", "15", "--seed", "3", "--json",
               "--no-plots", "-o", tmp_path / "eos")  # fmt: skip
    assert r.exit_code == 0, r.output
    printed = json.loads(r.stdout)
    for q, s in stats.items():
        assert printed[q]["mean"] == pytest.approx(s["mean"]) and printed[q]["std"] == s["std"]
    from dkluq_cli.analysis.scan_report import summarise

    mine = summarise(model.scan(points=9, points_2d=3))
    r = invoke("scan", small_run, "--points", "9", "--points-2d", "3", "--no-plots",
               "-o", tmp_path / "scan")  # fmt: skip
    assert r.exit_code == 0, r.output
    theirs = json.loads((tmp_path / "scan" / "scan_summary.json").read_text())
    for key in ("a", "energy", "std"):
        assert theirs["iso_minimum"][key] == pytest.approx(mine["iso_minimum"][key])
    table = pd.read_csv(small_run.parent / "si.csv")
    r = invoke("predict", small_run, small_run.parent / "si.csv", "-o", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    cli = pd.read_csv(tmp_path / "p.csv")
    api = model.predict(table)
    assert list(cli.columns) == list(api.columns)
    assert cli["energy_std_eV"].to_numpy() == pytest.approx(api["energy_std_eV"].to_numpy())
