"""Issues 24.5 and 27.6: options declared once with one name each, choices from the module that
owns them, a bad value one error line and exit 1; help that matches the README."""

from __future__ import annotations

import re

import pytest

from dkluq_cli.cli.common import owned_choices
from tests.conftest import REPO, plain

COMMANDS = ("ingest", "train", "predict", "scan", "suggest", "eos")


def test_choices_are_the_owners():
    from dkluq_cli.analysis.eos import EOS_NAMES
    from dkluq_cli.analysis.suggest import STRATEGIES
    from dkluq_cli.model.svgp.gp import KERNELS
    from dkluq_cli.model.svgp.inducing import INIT_METHODS
    from dkluq_cli.model.svgp.resnet import ACTIVATIONS

    assert owned_choices("dkluq_cli.model.svgp.gp", "KERNELS") == KERNELS
    assert owned_choices("dkluq_cli.model.svgp.inducing", "INIT_METHODS") == INIT_METHODS
    assert owned_choices("dkluq_cli.model.svgp.resnet", "ACTIVATIONS") == tuple(ACTIVATIONS)
    assert owned_choices("dkluq_cli.analysis.eos", "EOS_NAMES") == tuple(EOS_NAMES)
    assert owned_choices("dkluq_cli.analysis.suggest", "STRATEGIES") == STRATEGIES
    with pytest.raises(LookupError):
        owned_choices("dkluq_cli.analysis.eos", "NO_SUCH_NAME")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["train", "t.csv", "--kernel", "cosine"], "'cosine' is not one of"),
        (["train", "t.csv", "--head", "gp"], "'gp' is not one of"),
        (["train", "t.csv", "--dropout", "2"], "--dropout"),
        (["predict", "m.pt", "x.csv", "--device", "gpu"], "'gpu' is not one of"),
        (["scan", "m.pt", "--lattice-range", "1.1", "0.9"], "LO must be smaller than HI"),
        (["scan", "m.pt", "--format", "jpg"], "'jpg' is not one of"),
        (["eos", "m.pt", "--lattice-range", "0", "1.1"], "factors must be > 0"),
        (["eos", "m.pt", "--eos", "polynomial"], "'polynomial' is not one of"),
        (["suggest", "m.pt", "--lattice-range", "1.1", "0.9"], "LO must be smaller than HI"),
        (["suggest", "m.pt", "--strategy", "greedy"], "'greedy' is not one of"),
        (["ingest", "runs", "-j", "0"], "--workers"),
    ],
)
def test_a_bad_value_is_one_error_line_and_exit_1(invoke, tmp_path, args, needle):
    r = invoke(*args)
    assert r.exit_code == 1, r.output
    err = plain(r.stderr)
    assert err.startswith("error:") and needle in err, err
    assert "hint:" in err and "╭" not in r.stderr and "Usage" not in r.output
    assert r.stdout == ""


@pytest.mark.parametrize("command", ["train", "scan", "eos", "suggest"])
def test_one_name_for_the_figures_flag(invoke, command):
    text = plain(invoke(command, "--help").output)
    assert "--plots --no-plots" in text
    assert not re.search(r"--plot\b|--no-plot\b", text)


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_flags_show_no_value_type(invoke, command):
    r = invoke(*([command] if command else []), "--help")
    assert r.exit_code == 0 and "<bool>" not in r.output


def test_train_help_marks_what_each_head_uses(invoke):
    text = invoke("train", "--help").output
    svgp = text[text.index("SVGP head only") :]
    exact = text[text.index("Exact head only") :]
    for option in ("--kernel", "--dropout", "--activation", "--epochs", "--inducing"):
        assert option in svgp, option
    assert "--kernel" not in text[: text.index("SVGP head only")]
    assert "--restarts" in exact and "--symmetry" in exact
    assert "Dropout probability" in plain(text) and "Activation function" in plain(text)


def test_defaults_are_shown_and_explained(invoke):
    assert "[default: (all cores)]" in plain(invoke("ingest", "--help").output)
    eos = plain(invoke("eos", "--help").output)
    assert "[default: 0.94, 1.06]" in eos and "±6 % in length" in eos
    assert "[default: 0.9, 1.1]" in plain(invoke("scan", "--help").output)


def test_readme_documents_the_options_help_shows():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for option in ("--dropout", "--activation", "--plots", "-j, --workers N"):
        assert option in readme, option
    assert "--no-plot " not in readme and "--plot " not in readme
