"""``dkluq eos``: equation of state with uncertainty from joint posterior samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from dkluq_cli.cli.common import (
    Device,
    EosName,
    EosRange,
    Force,
    ModelPath,
    Plots,
    Reference,
    claim_output,
    command,
    echo_result,
    err_console,
    output_folder,
)


@command
def eos_cmd(
    model: ModelPath,
    lattice_range: EosRange = (0.94, 1.06),
    eos: EosName = "birch-murnaghan",
    points: Annotated[int, typer.Option(min=7, help="Points along the line.")] = 41,
    samples: Annotated[
        int, typer.Option(min=10, help="Joint posterior samples, each fitted with the EOS.")
    ] = 400,
    reference: Reference = None,
    output: Annotated[Optional[Path], output_folder("eos")] = None,
    json_out: Annotated[
        bool,
        typer.Option("--json", help="Print the result as one JSON object on stdout."),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the posterior samples.")] = 0,
    device: Device = "auto",
    plots: Plots = True,
    force: Force = False,
) -> None:
    """Fit an EOS to posterior samples along the isotropic line: a0, V0, B0, E0 with σ and 95 % CI.

    Writes eos.json, eos_line.csv, eos_samples.csv and eos.png into eos/ next to the model
    (replaced on every rerun) or -o DIR.
    """
    from dkluq_cli.analysis.eos import QUANTITIES, UNITS
    from dkluq_cli.analysis.eos_report import eos_curves, write_eos
    from dkluq_cli.analysis.trained_model import load_model
    from dkluq_cli.cli.progress import Steps

    trained = load_model(model, device)
    claim = claim_output(model, output, "eos", force=force)
    with claim as out, Steps("eos") as steps:
        steps(f"{samples} joint posterior samples along the line, an EOS fitted to each")
        res = trained.eos(
            reference=reference,
            lattice_range=lattice_range,
            points=points,
            samples=samples,
            eos=eos,
            seed=seed,
        )
        files = write_eos(res, out.staging)
        stats = res.stats()
        if plots:
            from dkluq_cli.plots.eos import eos_plot

            steps("drawing eos.png")
            curves = eos_curves(res)
            band = res.sample_band()
            files.append(
                eos_plot(
                    res.volumes,
                    res.mean,
                    band,
                    curves=curves,
                    stats=stats,
                    eos_name=res.eos,
                    path=out.staging / "eos.png",
                )
            )
    console = err_console()
    console.print(
        f"{res.eos} fitted to {len(res.fits)} of {samples} joint posterior samples along "
        f"{res.scales[0]:g}–{res.scales[-1]:g} × {res.reference_source}"
        + (f" ({res.tally.summary()})" if res.n_failed else "")
    )
    if res.n_out_of_domain:
        console.print(
            f"[yellow]{res.n_out_of_domain} of {len(res.scales)} points of the line lie outside "
            "the training domain: the fit there rests on extrapolation[/]"
        )
    for q in QUANTITIES:
        s = stats[q]
        console.print(
            f"  {q} = {s['mean']:.6g} ± {s['std']:.3g} {UNITS[q]}  "
            f"(95 %: {s['ci95'][0]:.6g} – {s['ci95'][1]:.6g})"
        )
    if json_out:
        echo_result(json.dumps(stats))
    else:
        for f in files:
            echo_result(str(out.final(f)))
