"""``dkluq predict``: energy mean ± σ for new structures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dkluq_cli.cli.common import (
    BatchSize,
    Device,
    ModelPath,
    command,
    echo_result,
    err_console,
)


@command
def predict_cmd(
    model: ModelPath,
    inputs: Annotated[
        Path,
        typer.Argument(
            help="A table (CSV/Parquet); a structure file ASE or pymatgen reads (POSCAR, CIF, "
            "extxyz, ...) or a folder of them; or a VASP run tree.",
            readable=False,
        ),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Predictions CSV (or .parquet).")
    ] = Path("predictions.csv"),
    device: Device = "auto",
    batch_size: BatchSize = 8192,
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
    """Predict the target with a calibrated σ, 95 % bounds and an in-domain flag for each row;
    structures are named in a structure column."""
    from dkluq_cli.analysis.predict import output_columns, summarise
    from dkluq_cli.analysis.trained_model import load_model
    from dkluq_cli.data.output import check_writable
    from dkluq_cli.data.table import write_table

    check_writable(output, force=force)
    trained = load_model(model, device)
    surrogate = trained.surrogate
    out = trained.predict(
        inputs, batch_size=batch_size, allow_other_compositions=allow_other_compositions
    )
    write_table(out, output, force=force)
    s = summarise(out, surrogate.target)
    cols = output_columns(surrogate.target)
    console = err_console()
    msg = (
        f"{s['n']} rows → {output}: {s['n_in_domain']} in the training domain, "
        f"mean {cols['std']} {s['mean_std']:.4g} {surrogate.target_unit}"
    )
    compared = s.get("n_compared", s["n"])
    which = f" ({compared} of {s['n']} rows have a value)" if compared < s["n"] else ""
    if "metrics" in s:
        m = s["metrics"]
        msg += (
            f"; against the {surrogate.target} column{which}: RMSE {m['rmse']:.4g}, "
            f"coverage_95 {m['coverage_95']:.3f}, NLL {m['nll']:.3f}"
        )
    elif "n_compared" in s:
        msg += f"; the {surrogate.target} column has {compared} value(s), too few to compare"
    console.print(msg)
    n_out = s["n"] - s["n_in_domain"]
    if n_out:
        first = next(r for r in out["domain_reason"] if r)
        console.print(
            f"[yellow]{n_out} row(s) outside the training domain (domain_reason column; e.g. "
            f"{first}): treat their predictions as extrapolation and check them with DFT[/]"
        )
    echo_result(str(output))
