"""Training figures: each writes a non-empty file atomically, in the suffix's format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dkluq_cli.errors import OutputError, TableError
from dkluq_cli.plots.train import calibration_plot, history_plot, inducing_plot, parity_plot
from dkluq_cli.uq.metrics import (
    calibration_curve,
    miscalibration_area_from_curve,
    regression_metrics,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def preds():
    rng = np.random.default_rng(0)
    y = rng.normal(-40.0, 0.2, 300)  # eV
    std = rng.uniform(0.005, 0.02, 300)
    mean = y + rng.normal(0.0, 1.5 * std)
    return y, mean, std


def _metrics(y, mean, std) -> dict[str, float]:
    return regression_metrics(y, mean, std)


def _curve(label, y, mean, std):
    expected, observed = calibration_curve(y, mean, std)
    return (label, expected, observed, miscalibration_area_from_curve(expected, observed))


def _is_png(path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_MAGIC)


def _no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_parity_plot(tmp_path, preds):
    out = parity_plot(
        *preds, tmp_path / "parity.png", metrics=_metrics(*preds), unit="eV", title="test"
    )
    assert out == tmp_path / "parity.png"
    assert _is_png(out)
    assert _no_temp_files(tmp_path)


def test_calibration_plot_raw_and_calibrated(tmp_path, preds):
    y, m, s = preds
    curves = [_curve("calibrated", y, m, 1.5 * s), _curve("raw", y, m, s)]
    out = calibration_plot(curves, tmp_path / "calibration.png")
    assert _is_png(out)
    assert _is_png(calibration_plot(curves[1:], tmp_path / "calibration_only.png"))


def test_history_plot(tmp_path):
    epochs = np.arange(1, 31)
    history = pd.DataFrame(
        {
            "epoch": epochs,
            "loss": 5.0 / epochs,
            "val_rmse": 0.1 / np.sqrt(epochs),
            "val_nll": -1.0 - np.log(epochs),
            "seconds": np.full(30, 0.2),
        }
    )
    assert _is_png(history_plot(history, tmp_path / "history.png"))
    # negative ELBO loss and epochs without validation are fine too
    history["loss"] = -history["loss"]
    history.loc[::2, ["val_rmse", "val_nll"]] = np.nan
    assert _is_png(history_plot(history, tmp_path / "history_neg.png"))
    with pytest.raises(TableError, match="val_nll"):
        history_plot(history.drop(columns="val_nll"), tmp_path / "bad.png")


def test_inducing_plot(tmp_path):
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8))
    inducing = feats[rng.choice(200, 16, replace=False)] + 0.01
    color = feats[:, 0]
    assert _is_png(inducing_plot(feats, inducing, tmp_path / "inducing.png", color=color))
    assert _is_png(inducing_plot(feats[:, :1], inducing[:, :1], tmp_path / "inducing_1d.png"))
    with pytest.raises(TableError, match="inducing must have shape"):
        inducing_plot(feats, inducing[:, :3], tmp_path / "bad.png")


def test_format_from_suffix_and_replace(tmp_path, preds):
    svg = parity_plot(*preds, tmp_path / "parity.svg", metrics=_metrics(*preds))
    assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    pdf = parity_plot(*preds, tmp_path / "parity.pdf", metrics=_metrics(*preds))
    assert pdf.read_bytes().startswith(b"%PDF")
    before = pdf.read_bytes()
    parity_plot(
        *preds, tmp_path / "parity.pdf", metrics=_metrics(*preds), title="again"
    )  # existing file replaced
    after = pdf.read_bytes()
    assert after.startswith(b"%PDF")
    assert after != before
    with pytest.raises(OutputError, match="unknown format"):
        parity_plot(*preds, tmp_path / "parity.jpeg2", metrics=_metrics(*preds))
    assert not (tmp_path / "parity.jpeg2").exists()
    assert _no_temp_files(tmp_path)


def test_no_pyplot_figures_left_open(tmp_path, preds):
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    parity_plot(*preds, tmp_path / "p.png", metrics=_metrics(*preds))
    calibration_plot([_curve("model", *preds)], tmp_path / "c.png")
    assert len(plt.get_fignums()) == before
