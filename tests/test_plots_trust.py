"""Issue 27.7: figures a reader can trust — what each shows is named, σ never swamps the curve it
qualifies, the legend lists what can be seen, titles stay on the image."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import dkluq_cli.plots.figure as figure


@pytest.fixture
def drawn(monkeypatch):
    """Every figure saved during the test, by file name."""
    figures = {}
    real = figure.save

    def keep(fig, path):
        figures[str(path).rsplit("/", 1)[-1]] = fig
        return real(fig, path)

    for module in ("train", "scan", "scan_maps", "eos", "suggest"):
        monkeypatch.setattr(f"dkluq_cli.plots.{module}.save", keep)
    return figures


def _texts(fig):
    out = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        out += [ax.get_title(), *(t.get_text() for t in ax.texts)]
    return " | ".join(out)


def _drawn(fig):
    """A renderer of ``fig`` as saved (constrained layout done)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _inside(fig):
    """Whether every title and suptitle lies within the image."""
    renderer = _drawn(fig)
    boxes = [ax.title for ax in fig.axes if ax.get_title()]
    boxes += [fig._suptitle] if fig._suptitle else []
    width = fig.bbox.width
    return all(
        t.get_window_extent(renderer).x0 >= -1 and t.get_window_extent(renderer).x1 <= width + 1
        for t in boxes
    )


def test_parity_names_its_split_and_n(small_run, tmp_path, drawn):
    from types import SimpleNamespace

    from dkluq_cli.cli.train_report import draw_figures
    from dkluq_cli.model.io import load_model
    from dkluq_cli.training.figures import figure_data

    sur = load_model(small_run)
    df = pd.read_csv(small_run.parent / "si.csv")
    x, y = df[list(sur.features)].to_numpy(float), df["energy_eV"].to_numpy(float)
    splits = json.loads((small_run / "splits.json").read_text())
    held = (np.arange(len(splits["train"])), *sur.predict(x[splits["train"]]))
    job = SimpleNamespace(run_dir=tmp_path, figures=figure_data(sur, x, y, splits, [], held))
    draw_figures(job)
    title = drawn["parity.png"].axes[0].get_title()
    assert "held out in cross-validation, fitted rows (n = 6)" in title
    assert "(n = 6)" in drawn["calibration.png"].axes[0].get_title()


# the scan reaches ±40 % around the Si parent so that the isotropic band would leave the plot
@pytest.fixture(scope="module")
def wide_scan(small_run):
    from dkluq_cli import load_model

    return load_model(small_run).scan(lattice_range=(0.6, 1.4), points=41, points_2d=5)


def test_the_isotropic_band_is_clipped_and_says_so(wide_scan, tmp_path, drawn):
    from dkluq_cli.analysis.scan_report import iso_minimum
    from dkluq_cli.plots.scan import plot_iso

    plot_iso(wide_scan, iso_minimum(wide_scan), tmp_path / "scan_iso.png")
    fig = drawn["scan_iso.png"]
    top = fig.axes[0]
    df = wide_scan.scan_iso
    mean, std = df["energy_mean_eV"].to_numpy(), df["energy_std_eV"].to_numpy()
    assert (mean - 2 * std).min() < top.get_ylim()[0]  # the band would reach further
    span = mean.max() - mean.min()
    assert top.get_ylim()[0] >= mean.min() - span and top.get_ylim()[1] <= mean.max() + span
    assert "clipped" in _texts(fig)
    assert _inside(fig)


def test_the_overview_says_where_the_scan_is_and_lists_what_is_seen(wide_scan, tmp_path, drawn):
    from dkluq_cli.plots.scan import plot_overview

    plot_overview(wide_scan, tmp_path / "wide.png")
    sigma = drawn["wide.png"].axes[1]
    assert "leave the training range" in sigma.get_title()
    labels = [t.get_text() for t in drawn["wide.png"].axes[0].get_legend().get_texts()]
    # a cubic crystal's point group: a, b, c give one curve, α, β, γ another
    assert labels == ["a, b, c", "α, β, γ", "a = b = c (iso)"], labels
    # the same scans on a model trained over a wider box stay inside it
    inside = replace(
        wide_scan, training_range=dict.fromkeys(wide_scan.training_range, (0.0, 1000.0))
    )
    plot_overview(inside, tmp_path / "inside.png")
    assert "stays inside the training range" in drawn["inside.png"].axes[1].get_title()
    assert _inside(drawn["wide.png"])


def test_inducing_and_history_figures(tmp_path, drawn):
    from dkluq_cli.plots.train import history_plot, inducing_plot

    rng = np.random.default_rng(0)
    inducing_plot(rng.normal(size=(50, 4)), rng.normal(size=(5, 4)), tmp_path / "i.png", of=5000)
    assert "50 of 5000 training rows" in drawn["i.png"].axes[0].get_title()
    epochs = np.arange(1, 41)
    history = pd.DataFrame(
        {"epoch": epochs, "loss": 20.0 * np.exp(-epochs / 5) - 2.0, "val_rmse": 1.0, "val_nll": 0.5}
    )
    history_plot(history, tmp_path / "h.png")
    fig = drawn["h.png"]
    _drawn(fig)
    ticks = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert ticks and all(re.fullmatch(r"[−-]?\d+(\.\d+)?", t) for t in ticks), ticks


def test_eos_title_fits(tmp_path, drawn):
    from dkluq_cli.plots.eos import eos_plot

    v = np.linspace(150.0, 180.0, 21)
    e = 0.01 * (v - 163.7) ** 2 - 43.4
    curves = {"volumes": v, "samples": np.zeros((0, 21)), "mean": e}
    stats = {
        "a0": {"mean": 5.4712345, "std": 0.0123456, "ci95": [5.45, 5.49]},
        "B0": {"mean": 96.123456, "std": 12345.678, "ci95": [50.0, 150.0]},
        "V0": {"mean": 163.7, "std": 0.5, "ci95": [163.0, 164.4]},
    }
    eos_plot(
        v,
        e,
        (e - 0.01, e + 0.01),
        curves=curves,
        stats=stats,
        eos_name="birch_murnaghan",
        path=tmp_path / "eos.png",
    )
    assert _inside(drawn["eos.png"])
