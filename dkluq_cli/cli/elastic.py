"""``dkluq elastic``: the elastic tensor with intervals from joint posterior draws of the surface."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dkluq_cli.cli.common import Device, command, echo_result, err_console

if TYPE_CHECKING:
    import numpy as np

    from dkluq_cli.analysis.elastic import ElasticResult


def default_output(model: Path) -> Path:
    """``<run folder>/elastic`` next to the model."""
    return (model if model.is_dir() else model.parent) / "elastic"


@command
def elastic_cmd(
    model: Annotated[
        Path,
        typer.Argument(help="model.pt from `dkluq train` (or its run folder).", readable=False),
    ],
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
            help="POSCAR whose lattice starts the zero-stress search (and gives the atoms per "
            "cell); default: the model's reference crystal, else the centre of the training "
            "domain.",
            readable=False,
        ),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "-o",
            "--output",
            help="Output folder (elastic.json, elastic.csv, elastic.png); default: "
            "<run folder>/elastic, replacing this command's earlier output there.",
            readable=False,
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print elastic.json's object on stdout.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the posterior draws.")] = 0,
    device: Annotated[Device, typer.Option(help="Compute device.")] = Device.auto,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write elastic.png.")] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Write into an existing non-empty -o folder.")
    ] = False,
) -> None:
    """Elastic tensor C (GPa, Voigt, engineering shear) with σ and 95 % intervals; B, G, Born stability."""
    from dkluq_cli.analysis.centre import choose_centre
    from dkluq_cli.analysis.elastic import elastic_analysis, parse_cell
    from dkluq_cli.analysis.elastic_report import eos_bulk_modulus, write_elastic
    from dkluq_cli.analysis.lattice_model import load_lattice_model
    from dkluq_cli.data.output import prepare_output_dir

    surrogate = load_lattice_model(model, device.value, "elastic")
    centre = choose_centre(surrogate, reference, match_composition=True, command="elastic")
    cell = None if at is None else parse_cell(at, centre.params)
    if output is None:
        out = prepare_output_dir(default_output(model), force=True)
    else:
        out = prepare_output_dir(output, force=force)
    res = elastic_analysis(
        surrogate,
        centre.params,
        at=cell,
        max_strain=max_strain,
        n_samples=samples,
        seed=seed,
        n_atoms=centre.n_atoms,
        source=centre.source,
    )
    res.eos, res.eos_note = eos_bulk_modulus(surrogate, centre.params, centre.n_atoms)
    files = write_elastic(res, out)
    if plot:
        from dkluq_cli.plots.elastic import elastic_plot

        files.append(
            elastic_plot(
                res.components(),
                res.significant(),
                res.lines,
                res.tensor_of_mean,
                res.volume,
                out / "elastic.png",
                title=f"elastic constants at {_cell(res.at)}",
            )
        )
    _print_summary(res)
    if json_out:
        echo_result(json.dumps(res.report()))
    else:
        for f in files:
            echo_result(str(f))


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
