"""Shared fixtures: a CLI runner, ANSI stripping, paths to sample and shared data."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
SHARED_VASP = REPO.parent / "shared" / "vasp"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

os.environ.setdefault("MPLBACKEND", "Agg")


def plain(text: str) -> str:
    """Strip ANSI codes and rich box characters, and fold white space."""
    return " ".join(_ANSI.sub("", text).replace("│", " ").split())


def sample_xy(n_rows: int) -> tuple[object, object]:
    """The first ``n_rows`` of the sample table: lattice parameters (n × 6) and energy_eV (n,)."""
    import pandas as pd

    df = pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:n_rows]
    return (
        df[["a", "b", "c", "alpha", "beta", "gamma"]].to_numpy(float),
        df["energy_eV"].to_numpy(float),
    )


#: The smallest SVGP model worth training in a test of plumbing (seconds on one core): override
#: what a test depends on, e.g. ``tiny_config(epochs=20)``.
TINY = {
    "head": "svgp",
    "inducing": 8,
    "width": 16,
    "depth": 1,
    "epochs": 3,
    "batch_size": 64,
    "init_subset": 100,
    "device": "cpu",
    "threads": 1,
    "seed": 0,
}

#: :data:`TINY` as ``dkluq train`` options.
TINY_CLI = [
    *("--head", "svgp", "--inducing", str(TINY["inducing"]), "--width", str(TINY["width"])),
    *("--depth", str(TINY["depth"]), "--epochs", str(TINY["epochs"])),
    *("--batch-size", str(TINY["batch_size"]), "--init-subset", str(TINY["init_subset"])),
    *("--device", "cpu", "--seed", "0"),
]


@pytest.fixture
def tiny_config():
    """A factory of :data:`TINY` training configurations: ``tiny_config(**overrides)``."""
    from dkluq_cli.training.config import TrainConfig

    def make(**overrides):
        return TrainConfig(**{**TINY, **overrides})

    return make


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})


@pytest.fixture
def invoke(runner):
    """Invoke the real dkluq app in-process; returns the click Result."""
    from dkluq_cli.cli.app import app

    def _invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args])

    return _invoke


@pytest.fixture(scope="session")
def lattice_run(tmp_path_factory) -> Path:
    """A copy of the small committed model's run folder (tests/plumbing_model.py), for tests of
    the commands' plumbing; each test session gets its own copy to write next to."""
    from tests.plumbing_model import HERE

    run = tmp_path_factory.mktemp("plumbing") / "run"
    shutil.copytree(HERE, run)
    return run


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> Path:
    """Run folder of the model the defaults train on the whole sample table
    (tests/lattice_model.py): for the slow checks of what training achieves."""
    from tests.lattice_model import lattice_model_dir

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this run
    return lattice_model_dir(base)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """Run folder of ``dkluq ingest`` + ``dkluq train`` (defaults) on a 7-run Si EOS tree
    (tests/small_tables.py)."""
    from tests.small_tables import small_run_dir

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by the workers of this run
    return small_run_dir(base)


@pytest.fixture(scope="session")
def shared_vasp() -> Path:
    if not SHARED_VASP.is_dir():
        pytest.skip(
            f"shared VASP corpus not found at {SHARED_VASP} (only present on dev machines/CI)"
        )
    return SHARED_VASP


BAD_INPUT_CASES = pytest.StashKey[int]()
"""Set by tests/test_bad_inputs.py to the number of corpus cases; reported at the end."""


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print 'bad-input corpus: N cases (...)' when the corpus test ran."""
    del exitstatus
    n = config.stash.get(BAD_INPUT_CASES, None)
    if n is None:
        return
    outcome: dict[str, str] = {}
    for key in ("passed", "skipped", "xfailed", "xpassed", "failed", "error"):
        for rep in terminalreporter.stats.get(key, []):
            nodeid = getattr(rep, "nodeid", "")
            if "test_bad_input[" in nodeid and (key != "passed" or nodeid not in outcome):
                outcome[nodeid] = key
    outcomes: dict[str, int] = {}
    for key in outcome.values():
        outcomes[key] = outcomes.get(key, 0) + 1
    detail = ", ".join(f"{v} {k}" for k, v in sorted(outcomes.items()))
    terminalreporter.write_sep("-", f"bad-input corpus: {n} cases ({detail})")
