"""``dkluq train``: fit the SN-ResNet + SVGP surrogate and write a run directory."""

from __future__ import annotations

import signal
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from dkluq_cli.cli.common import Device, command, echo_result, err_console, show_progress
from dkluq_cli.training.config import EXACT_MAX_ROWS, MAX_TREND, TrainConfig

_D = TrainConfig()
"""The defaults: the CLI shows and uses exactly the library's."""


class Kernel(str, Enum):
    matern12 = "matern12"
    matern32 = "matern32"
    matern52 = "matern52"
    rbf = "rbf"


class Head(str, Enum):
    auto = "auto"
    exact = "exact"
    svgp = "svgp"


class Symmetry(str, Enum):
    auto = "auto"
    off = "off"


class Init(str, Enum):
    fcm = "fcm"
    kmeans = "kmeans"
    random = "random"


class Activation(str, Enum):
    relu = "relu"
    elu = "elu"
    silu = "silu"
    tanh = "tanh"


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
        int, typer.Option("--inducing", "-m", min=1, help="Number of inducing points m.")
    ] = _D.inducing,
    features: Annotated[str, typer.Option(help="Comma-separated input columns.")] = ",".join(
        _D.features
    ),
    target: Annotated[
        str, typer.Option(help="Target column (energy_eV, energy_per_atom_eV, ...).")
    ] = _D.target,
    init: Annotated[
        Init, typer.Option(help="Initial inducing points: fuzzy c-means, k-means or random.")
    ] = Init.fcm,
    fuzzifier: Annotated[
        str,
        typer.Option(
            help="FCM fuzzifier m_f, or 'auto' (Schwämmle–Jensen rule).",
            callback=_check_fuzzifier,
        ),
    ] = "auto",
    init_subset: Annotated[
        int, typer.Option(min=2, help="Rows clustered for the initial inducing points.")
    ] = _D.init_subset,
    head: Annotated[
        Head,
        typer.Option(
            help=f"GP head: exact (exact GP on the strain), svgp (SN-ResNet + sparse "
            f"variational GP), or auto (exact up to {EXACT_MAX_ROWS} training rows).",
        ),
    ] = Head(_D.head),
    symmetry: Annotated[
        Symmetry,
        typer.Option(
            help="Exact head: use the reference crystal's point group (auto: when the crystal "
            "is known from the ingest sidecar or --reference) or not (off)."
        ),
    ] = Symmetry(_D.symmetry),
    reference: Annotated[
        Optional[Path],
        typer.Option(
            help="POSCAR of the reference crystal (its lattice centres the strain; its point "
            "group makes symmetric cells predict alike); default the ingest sidecar's.",
            readable=False,
        ),
    ] = None,
    restarts: Annotated[
        int, typer.Option(min=0, help="Exact head: L-BFGS restarts per polynomial degree.")
    ] = _D.restarts,
    kernel: Annotated[Kernel, typer.Option(help="GP base kernel.")] = Kernel(_D.kernel),
    trend: Annotated[
        str,
        typer.Option(
            help=f"Degree 0-{MAX_TREND} of the polynomial mean (0 = constant mean), or 'auto' "
            "(exact head: the degree with the best leave-one-out likelihood; svgp head: the "
            "highest degree <= 3 with 20 training rows per coefficient).",
            callback=_check_trend,
        ),
    ] = str(_D.trend),
    width: Annotated[int, typer.Option(min=1, help="Feature width W.")] = _D.width,
    depth: Annotated[int, typer.Option(min=0, help="Residual blocks D.")] = _D.depth,
    dropout: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Dropout in residual blocks.")
    ] = _D.dropout,
    activation: Annotated[
        Activation, typer.Option(help="Activation of the residual blocks.")
    ] = Activation(_D.activation),
    spectral_norm: Annotated[
        bool,
        typer.Option("--spectral-norm/--no-spectral-norm", help="Soft spectral normalisation."),
    ] = True,
    sn_coeff: Annotated[float, typer.Option(min=0.01, help="Spectral-norm bound c.")] = _D.sn_coeff,
    epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs.")] = _D.epochs,
    batch_size: Annotated[
        Optional[int],
        typer.Option(
            min=2,
            help="Minibatch size (default auto: 256, halved on small tables to keep ≥ 8 steps "
            "per epoch, not below 32).",
            show_default=False,
        ),
    ] = _D.batch_size,
    lr: Annotated[
        float, typer.Option(min=0.0, help="Adam learning rate of the network (cosine-decayed).")
    ] = _D.lr,
    gp_lr: Annotated[
        float,
        typer.Option(
            min=0.0, help="Adam learning rate of the GP head and likelihood (cosine-decayed)."
        ),
    ] = _D.gp_lr if _D.gp_lr is not None else _D.lr,
    warmup: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Fraction of the steps with a linear learning-rate warm-up."
        ),
    ] = _D.warmup,
    ngd: Annotated[
        bool, typer.Option("--ngd/--no-ngd", help="Natural-gradient steps for q(u).")
    ] = _D.ngd,
    patience: Annotated[
        int, typer.Option(min=1, help="Early-stopping patience (epochs).")
    ] = _D.patience,
    min_epochs: Annotated[
        Optional[int],
        typer.Option(
            min=0,
            help="No early stop before this epoch (default: half of --epochs).",
            show_default=False,
        ),
    ] = _D.min_epochs,
    val_fraction: Annotated[float, typer.Option(help="Validation fraction.")] = _D.val_fraction,
    test_fraction: Annotated[float, typer.Option(help="Test fraction.")] = _D.test_fraction,
    split_file: Annotated[
        Optional[Path], typer.Option(help="JSON with train/val/test row indices.", readable=False)
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for python, numpy and torch.")] = _D.seed,
    device: Annotated[Device, typer.Option(help="Compute device.")] = Device.auto,
    double: Annotated[bool, typer.Option("--double", help="Train in float64.")] = False,
    threads: Annotated[
        int, typer.Option(min=0, help="torch threads (0 = torch default).")
    ] = _D.threads or 0,
    max_seconds: Annotated[
        Optional[float], typer.Option(help="Stop training after this many seconds.")
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option("-o", "--output", help="Run directory (default runs/<table>-<time>)."),
    ] = None,
    resume: Annotated[
        Optional[Path],
        typer.Option(help="Continue an interrupted run in this folder.", readable=False),
    ] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the figures.")] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty run directory.")
    ] = False,
    stop_after_epoch: Annotated[
        Optional[int], typer.Option(hidden=True, help="Simulate an interruption (tests).")
    ] = None,
) -> None:
    """Train the deep-kernel GP on a lattice-energy table; writes model.pt, metrics and plots."""
    from dkluq_cli.errors import InputError
    from dkluq_cli.training.run_dir import default_run_dir

    fuzz: str | float = fuzzifier if fuzzifier == "auto" else float(fuzzifier)
    trend_degree: str | int = trend if trend == "auto" else int(trend)
    if resume is None and table is None:
        raise InputError("no table given", hint="dkluq train TABLE.csv, or --resume RUN_DIR")
    if table is not None and resume is None and not table.exists():
        raise InputError(f"input table {table} does not exist", hint="check the path")
    feature_list = [f.strip() for f in features.split(",") if f.strip()]
    cfg = TrainConfig(
        features=feature_list,
        target=target,
        inducing=inducing,
        init=init.value,
        fuzzifier=fuzz,
        init_subset=init_subset,
        head=head.value,
        symmetry=symmetry.value,
        restarts=restarts,
        kernel=kernel.value,
        trend=trend_degree,
        width=width,
        depth=depth,
        dropout=dropout,
        activation=activation.value,
        spectral_norm=spectral_norm,
        sn_coeff=sn_coeff,
        ngd=ngd,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        gp_lr=gp_lr,
        warmup=warmup,
        patience=patience,
        min_epochs=min_epochs,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        device=device.value,
        double=double,
        threads=threads or None,
        max_seconds=max_seconds,
    )
    from dkluq_cli.model.device import resolve_device

    resolve_device(cfg.device)  # fail before reading anything
    crystal = None
    if reference is not None:
        from dkluq_cli.crystal.structure_io import read_poscar

        crystal = read_poscar(reference)
    run_dir = resume if resume is not None else (output or default_run_dir(table or "table"))
    job = _run_with_progress(
        table,
        cfg,
        run_dir,
        {
            "force": force,
            "split_file": split_file,
            "resume": resume is not None,
            "plots": plots,
            "stop_after_epoch": stop_after_epoch,
            "crystal": crystal,
        },
    )
    from dkluq_cli.cli.train_report import draw_figures, summary

    job.files.extend(draw_figures(job))
    summary(job)
    echo_result(str(job.run_dir / "model.pt"))
    if job.result.interrupted:
        raise typer.Exit(code=130)


def _run_with_progress(table, cfg, run_dir, options):
    from rich.progress import (
        BarColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from dkluq_cli.training.job import run_training

    stop = _StopFlag()
    old = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, stop.handler)
    except ValueError:  # not in the main thread (e.g. some test runners): no handlers
        old = {}
    bar = Progress(
        TextColumn("[bold]train[/]"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console(),
        disable=not show_progress(),
        transient=False,
    )
    task = bar.add_task("train", total=cfg.epochs, info="")

    def on_epoch(p):
        if not bar.live.is_started:  # start at the first epoch: input errors come bare
            bar.start()
        bar.update(
            task,
            completed=p.epoch,
            info=f"loss {p.loss:.4g}  val RMSE {p.val_rmse:.4g}  val NLL {p.val_nll:.3f}",
        )

    try:
        try:
            return run_training(
                table, cfg, Path(run_dir), progress=on_epoch, should_stop=stop, **options
            )
        finally:
            if bar.live.is_started:
                bar.stop()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
