"""``dkluq train``: fit the surrogate (exact GP or SN-ResNet + SVGP) and write a run folder."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Optional

import typer

from dkluq_cli.cli.common import (
    Device,
    Force,
    Plots,
    Seed,
    command,
    echo_result,
    err_console,
    one_of,
    owned_choices,
)
from dkluq_cli.training.config import EXACT_MAX_ROWS, HEADS, MAX_TREND, SYMMETRIES, TrainConfig

_D = TrainConfig()
"""The defaults: the CLI shows and uses exactly the library's."""

SVGP = "SVGP head only (tables above 2000 training rows, or --head svgp)"
"""The help panel of the options only the SVGP head uses."""
EXACT = "Exact head only (up to 2000 training rows)"
"""The help panel of the options only the exact head uses."""

Kernel = one_of(owned_choices("dkluq_cli.model.svgp.gp", "KERNELS"))
Init = one_of(owned_choices("dkluq_cli.model.svgp.inducing", "INIT_METHODS"))
Activation = one_of(owned_choices("dkluq_cli.model.svgp.resnet", "ACTIVATIONS"))


class _StopFlag:
    """Set by SIGINT/SIGTERM: training finishes the current epoch, saves and stops."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __call__(self) -> bool:
        return self.signal is not None

    def handler(self, signum: int, _frame: object) -> None:
        if self.signal is not None:  # second signal: stop hard
            raise KeyboardInterrupt
        self.signal = signum
        err_console().print(
            "[yellow]stopping after this epoch: saving the best state so far "
            "(press Ctrl-C again to abort without saving)[/]"
        )


def _check_fuzzifier(value: str) -> str:
    if value == "auto":
        return value
    try:
        number = float(value)
    except ValueError:
        raise typer.BadParameter(f"a number > 1 or 'auto', got {value!r}") from None
    if not number > 1.0:
        raise typer.BadParameter(f"must be > 1, got {value}")
    return value


def _check_trend(value: str) -> str:
    value = value.strip()
    if value != "auto" and value not in {str(d) for d in range(MAX_TREND + 1)}:
        raise typer.BadParameter(f"an integer 0-{MAX_TREND} or 'auto', got {value!r}")
    return value


@command
def train_cmd(
    table: Annotated[
        Optional[Path],
        typer.Argument(
            help="Table from `dkluq ingest` (CSV/Parquet) with feature and target columns.",
            readable=False,  # dkluq says "not readable" itself, in its one-line form
        ),
    ] = None,
    inducing: Annotated[
        int,
        typer.Option(
            "--inducing", "-m", min=1, help="Number of inducing points m.", rich_help_panel=SVGP
        ),
    ] = _D.inducing,
    features: Annotated[str, typer.Option(help="Comma-separated input columns.")] = ",".join(
        _D.features
    ),
    target: Annotated[
        str, typer.Option(help="Target column (energy_eV, energy_per_atom_eV, ...).")
    ] = _D.target,
    init: Annotated[
        Init,
        typer.Option(
            help="Initial inducing points: fuzzy c-means, k-means or random.", rich_help_panel=SVGP
        ),
    ] = _D.init,
    fuzzifier: Annotated[
        str,
        typer.Option(
            help="FCM fuzzifier m_f, or 'auto' (Schwämmle–Jensen rule).",
            callback=_check_fuzzifier,
            rich_help_panel=SVGP,
        ),
    ] = "auto",
    init_subset: Annotated[
        int,
        typer.Option(
            min=2, help="Rows clustered for the initial inducing points.", rich_help_panel=SVGP
        ),
    ] = _D.init_subset,
    head: Annotated[
        one_of(HEADS),
        typer.Option(
            help=f"GP head: exact (exact GP on the strain), svgp (SN-ResNet + sparse "
            f"variational GP), or auto (exact up to {EXACT_MAX_ROWS} training rows).",
        ),
    ] = _D.head,
    symmetry: Annotated[
        one_of(SYMMETRIES),
        typer.Option(
            help="Use the reference crystal's point group (auto: when the crystal is known "
            "from dkluq ingest's table.reference.vasp or --reference) or not (off).",
            rich_help_panel=EXACT,
        ),
    ] = _D.symmetry,
    reference: Annotated[
        Optional[Path],
        typer.Option(
            help="Structure file (POSCAR, CIF, ...) of the reference crystal (its lattice centres "
            "the strain; its point group makes symmetric cells predict alike); default the "
            "parent crystal dkluq ingest wrote beside the table (table.reference.vasp).",
            readable=False,
        ),
    ] = None,
    restarts: Annotated[
        int,
        typer.Option(min=0, help="L-BFGS restarts per polynomial degree.", rich_help_panel=EXACT),
    ] = _D.restarts,
    kernel: Annotated[
        Kernel, typer.Option(help="GP base kernel.", rich_help_panel=SVGP)
    ] = _D.kernel,
    trend: Annotated[
        str,
        typer.Option(
            help=f"Degree 0-{MAX_TREND} of the polynomial mean (0 = constant mean), or 'auto' "
            "(exact head: the degree with the best leave-one-out likelihood; svgp head: the "
            "highest degree <= 3 with 20 training rows per coefficient).",
            callback=_check_trend,
        ),
    ] = str(_D.trend),
    width: Annotated[
        int,
        typer.Option(min=1, help="Feature width W of the residual network.", rich_help_panel=SVGP),
    ] = _D.width,
    depth: Annotated[
        int, typer.Option(min=0, help="Residual blocks D.", rich_help_panel=SVGP)
    ] = _D.depth,
    dropout: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.9,
            help="Dropout probability inside each residual block (0 = none).",
            rich_help_panel=SVGP,
        ),
    ] = _D.dropout,
    activation: Annotated[
        Activation,
        typer.Option(help="Activation function of the residual blocks.", rich_help_panel=SVGP),
    ] = _D.activation,
    spectral_norm: Annotated[
        bool,
        typer.Option(
            "--spectral-norm/--no-spectral-norm",
            help="Soft spectral normalisation of every linear layer.",
            rich_help_panel=SVGP,
        ),
    ] = True,
    sn_coeff: Annotated[
        float, typer.Option(min=0.01, help="Spectral-norm bound c.", rich_help_panel=SVGP)
    ] = _D.sn_coeff,
    epochs: Annotated[
        int, typer.Option(min=1, help="Maximum epochs.", rich_help_panel=SVGP)
    ] = _D.epochs,
    batch_size: Annotated[
        Optional[int],
        typer.Option(
            min=2,
            help="Minibatch size (default auto: 256, halved on small tables to keep ≥ 8 steps "
            "per epoch, not below 32).",
            show_default=False,
            rich_help_panel=SVGP,
        ),
    ] = _D.batch_size,
    lr: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Adam learning rate of the network (cosine-decayed).",
            rich_help_panel=SVGP,
        ),
    ] = _D.lr,
    gp_lr: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Adam learning rate of the GP head and likelihood (cosine-decayed).",
            rich_help_panel=SVGP,
        ),
    ] = _D.gp_lr if _D.gp_lr is not None else _D.lr,
    warmup: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fraction of the steps with a linear learning-rate warm-up.",
            rich_help_panel=SVGP,
        ),
    ] = _D.warmup,
    ngd: Annotated[
        bool,
        typer.Option(
            "--ngd/--no-ngd",
            help="Natural-gradient steps for q(u).",
            rich_help_panel=SVGP,
        ),
    ] = _D.ngd,
    patience: Annotated[
        int, typer.Option(min=1, help="Early-stopping patience (epochs).", rich_help_panel=SVGP)
    ] = _D.patience,
    min_epochs: Annotated[
        Optional[int],
        typer.Option(
            min=0,
            help="No early stop before this epoch (default: half of --epochs).",
            show_default=False,
            rich_help_panel=SVGP,
        ),
    ] = _D.min_epochs,
    val_fraction: Annotated[
        float,
        typer.Option(
            help="Validation fraction (the exact head fits it too: leave-one-out calibrates)."
        ),
    ] = _D.val_fraction,
    test_fraction: Annotated[float, typer.Option(help="Test fraction.")] = _D.test_fraction,
    split_file: Annotated[
        Optional[Path], typer.Option(help="JSON with train/val/test row indices.", readable=False)
    ] = None,
    seed: Seed = _D.seed,
    device: Device = _D.device,
    double: Annotated[bool, typer.Option("--double", help="Train in float64.")] = False,
    threads: Annotated[
        int, typer.Option(min=0, help="torch threads (0 = torch default).")
    ] = _D.threads or 0,
    max_seconds: Annotated[
        Optional[float],
        typer.Option(help="Stop training after this many seconds.", rich_help_panel=SVGP),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option("-o", "--output", help="Run folder (default runs/<table>-<time>)."),
    ] = None,
    resume: Annotated[
        Optional[Path],
        typer.Option(
            help="Continue an interrupted run in this folder.", readable=False, rich_help_panel=SVGP
        ),
    ] = None,
    plots: Plots = True,
    force: Force = False,
    stop_after_epoch: Annotated[
        Optional[int], typer.Option(hidden=True, help="Simulate an interruption (tests).")
    ] = None,
) -> None:
    """Train a surrogate of the target over the lattice parameters; writes a run folder with
    model.pt, metrics and figures.

    Tables of up to 2000 training rows get the exact GP on the strain (from 5 rows), larger ones
    the SN-ResNet + SVGP of the paper; --head forces one. A run that fails leaves no folder.
    """
    from dkluq_cli.errors import InputError
    from dkluq_cli.training.run_dir import default_run_dir

    fuzz: str | float = fuzzifier if fuzzifier == "auto" else float(fuzzifier)
    trend_degree: str | int = trend if trend == "auto" else int(trend)
    if resume is None and table is None:
        raise InputError("no table given", hint="dkluq train TABLE.csv, or --resume RUN_DIR")
    if table is not None and resume is None and not table.exists():
        raise InputError(f"input table {table} does not exist", hint="check the path")
    options = {
        "features": [f.strip() for f in features.split(",") if f.strip()],
        "target": target,
        "inducing": inducing,
        "init": init,
        "fuzzifier": fuzz,
        "init_subset": init_subset,
        "head": head,
        "symmetry": symmetry,
        "restarts": restarts,
        "kernel": kernel,
        "trend": trend_degree,
        "width": width,
        "depth": depth,
        "dropout": dropout,
        "activation": activation,
        "spectral_norm": spectral_norm,
        "sn_coeff": sn_coeff,
        "ngd": ngd,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "gp_lr": gp_lr,
        "warmup": warmup,
        "patience": patience,
        "min_epochs": min_epochs,
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "seed": seed,
        "device": device,
        "double": double,
        "threads": threads or None,
        "max_seconds": max_seconds,
    }
    from dkluq_cli.model.device import resolve_device

    resolve_device(device)  # fail before reading anything
    run_dir = output or default_run_dir(table or "table")
    model = _train_with_progress(
        table,
        options,
        {
            "output": None if resume is not None else run_dir,
            "resume": resume,
            "reference": reference,
            "force": force,
            "split_file": split_file,
            "stop_after_epoch": stop_after_epoch,
        },
        plots=plots,
    )
    from dkluq_cli.cli.train_report import summary

    job = model.job
    summary(job)
    echo_result(str(job.run_dir / "model.pt"))
    if job.result.interrupted:
        raise typer.Exit(code=130)


def _train_with_progress(table, options, where, *, plots: bool):
    """:func:`dkluq_cli.analysis.trained_model.train` with Ctrl-C handling and progress drawn."""
    from dkluq_cli.analysis.trained_model import train
    from dkluq_cli.cli.progress import Steps
    from dkluq_cli.cli.train_report import draw_figures

    stop = _StopFlag()
    old = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, stop.handler)
    except ValueError:  # not in the main thread (e.g. some test runners): no handlers
        old = {}
    epochs = options["epochs"]
    try:
        with Steps("train") as steps:

            def on_epoch(p):
                info = f"loss {p.loss:.4g}  val RMSE {p.val_rmse:.4g}  val NLL {p.val_nll:.3f}"
                steps.count("epochs", p.epoch, epochs, info)

            return train(
                table,
                status=steps,
                progress=on_epoch,
                should_stop=stop,
                draw=draw_figures if plots else None,
                **where,
                **options,
            )
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
