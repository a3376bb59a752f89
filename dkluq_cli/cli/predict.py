"""``dkluq predict``: energy mean ± σ for new structures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dkluq_cli.cli.common import Device, command, echo_result, err_console


@command
def predict_cmd(
    model: Annotated[
        Path,
        typer.Argument(help="model.pt from `dkluq train` (or its run folder).", readable=False),
    ],
    inputs: Annotated[
        Path,
        typer.Argument(
            help="Table (CSV/Parquet), a POSCAR/CONTCAR, or a VASP run tree.", readable=False
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Predictions CSV (or .parquet).")
    ] = Path("predictions.csv"),
    device: Annotated[Device, typer.Option(help="Compute device.")] = Device.auto,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per forward pass.")] = 8192,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing output.")] = False,
    allow_other_compositions: Annotated[
        bool,
        typer.Option(
            "--allow-other-compositions",
            help="Predict rows whose formula is not the model's (flagged out of domain, with "
            "the reason) instead of refusing them.",
        ),
    ] = False,
) -> None:
    """Predict the target with a calibrated σ, 95 % bounds and an in-domain flag for each row."""
    from dkluq_cli.analysis.predict import load_inputs, output_columns, predict_frame, summarise
    from dkluq_cli.data.output import check_writable
    from dkluq_cli.data.table import write_table
    from dkluq_cli.model.device import resolve_device
    from dkluq_cli.model.io import load_model

    check_writable(output, force=force)
    surrogate = load_model(model, resolve_device(device.value))
    df = load_inputs(inputs)
    out = predict_frame(
        surrogate,
        df,
        source=str(inputs),
        batch_size=batch_size,
        allow_other_compositions=allow_other_compositions,
    )
    write_table(out, output, force=force)
    s = summarise(out, surrogate.target)
    cols = output_columns(surrogate.target)
    console = err_console()
    msg = (
        f"{s['n']} rows → {output}: {s['n_in_domain']} in the training domain, "
        f"mean {cols['std']} {s['mean_std']:.4g} {surrogate.target_unit}"
    )
    if "metrics" in s:
        m = s["metrics"]
        msg += (
            f"; against the {surrogate.target} column: RMSE {m['rmse']:.4g}, "
            f"coverage_95 {m['coverage_95']:.3f}, NLL {m['nll']:.3f}"
        )
    console.print(msg)
    n_out = s["n"] - s["n_in_domain"]
    if n_out:
        first = next(r for r in out["domain_reason"] if r)
        console.print(
            f"[yellow]{n_out} row(s) outside the training domain (domain_reason column; e.g. "
            f"{first}): treat their predictions as extrapolation and check them with DFT[/]"
        )
    echo_result(str(output))
