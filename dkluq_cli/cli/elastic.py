"""``dkluq elastic``: the elastic tensor with intervals from joint posterior draws of the surface."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dkluq_cli.cli.common import (
    Device,
    Force,
    ModelPath,
    Plots,
    claim_output,
    command,
    echo_result,
    err_console,
    output_folder,
)

if TYPE_CHECKING:
    import numpy as np

    from dkluq_cli.analysis.elastic import ElasticResult


@command
def elastic_cmd(
    model: ModelPath,
    at: Annotated[
        Optional[str],
        typer.Option(
            help="The cell: a,b,c,alpha,beta,gamma (Å, degrees), or NAME=VALUE pairs changing "
            "the centre; default: the zero-stress cell of the posterior mean.",
            metavar="CELL",
        ),
    ] = None,
    max_strain: Annotated[
        float,
        typer.Option(help="Largest strain of the stencil (engineering Voigt units)."),
    ] = 0.03,
    samples: Annotated[
        int, typer.Option(min=10, help="Joint posterior draws of the energy surface.")
    ] = 1000,
    reference: Annotated[
        Optional[Path],
        typer.Option(
            help="Structure file whose lattice starts the zero-stress search (and gives the "
            "atoms per cell); default: the model's reference crystal, else the centre of the "
            "training domain.",
            readable=False,
        ),
    ] = None,
    output: Annotated[Optional[Path], output_folder("elastic")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print elastic.json's object on stdout.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the posterior draws.")] = 0,
    device: Device = "auto",
    plots: Plots = True,
    force: Force = False,
) -> None:
    """Elastic tensor C (GPa, Voigt, engineering shear) with σ and 95 % intervals; B, G, Born stability.

    Writes elastic.json, elastic.csv and elastic.png into elastic/ next to the model (replaced
    on every rerun) or -o DIR.
    """
    from dkluq_cli.analysis.elastic_report import write_elastic
    from dkluq_cli.analysis.trained_model import load_model
    from dkluq_cli.cli.progress import Steps

    trained = load_model(model, device)
    claim = claim_output(model, output, "elastic", force=force)
    with claim as out, Steps("elastic") as steps:
        steps(f"{samples} joint posterior draws of the surface on the strain stencil")
        res = trained.elastic(
            reference=reference, at=at, max_strain=max_strain, samples=samples, seed=seed
        )
        files = write_elastic(res, out.staging)
        if plots:
            from dkluq_cli.plots.elastic import elastic_plot

            steps("drawing elastic.png")
            files.append(
                elastic_plot(
                    res.components(),
                    res.significant(),
                    res.lines,
                    tensor=res.tensor_of_mean,
                    volume=res.volume,
                    path=out.staging / "elastic.png",
                    title=f"elastic constants at {_cell(res.at)}",
                )
            )
    _print_summary(res)
    if json_out:
        echo_result(json.dumps(res.report()))
    else:
        for f in files:
            echo_result(str(out.final(f)))


def _cell(params: np.ndarray) -> str:
    return ", ".join(f"{v:.4f}" for v in params)


def _print_summary(res: ElasticResult) -> None:
    console = err_console()
    where = res.how
    if res.search is not None:
        where += f" ({res.search.steps} Newton steps from {res.source})"
        if not res.search.converged:
            where += ", NOT converged"
    console.print(f"cell: {_cell(res.at)} (Å, °; V = {res.volume:.3f} Å³), {where}")
    stress = ", ".join(f"{v:.3g}" for v in res.stress)
    console.print(f"  stress of the mean there: {stress} GPa")
    if res.outside_box:
        console.print(
            f"[yellow]{res.outside_box} of {len(res.stencil.strains)} stencil points lie outside "
            "the training box: the intervals there rest on extrapolation[/]"
        )
    stats = res.components()
    console.print(f"C (GPa) from {len(res.draws)} joint posterior draws, mean ± σ (95 %):")
    for name in res.significant():
        s = stats[name]
        console.print(
            f"  {name} = {s['mean']:8.2f} ± {s['std']:.2f}  ({s['ci95'][0]:.2f} – {s['ci95'][1]:.2f})"
        )
    mods = res.moduli()
    for name in ("B_VRH", "G_VRH"):
        s = mods[name]
        console.print(
            f"  {name} = {s['mean']:8.2f} ± {s['std']:.2f}  ({s['ci95'][0]:.2f} – {s['ci95'][1]:.2f})"
        )
    if res.eos is not None:
        b0 = res.eos
        console.print(
            f"  eos B0 = {b0['mean']:.2f} ± {b0['std']:.2f}  ({b0['ci95'][0]:.2f} – "
            f"{b0['ci95'][1]:.2f}) beside B_VRH"
        )
    else:
        console.print(f"  eos B0: not available ({res.eos_note})")
    console.print(
        f"  Born stability: probability {res.stable_probability:.3f} (C positive definite)"
    )
