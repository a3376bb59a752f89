"""``dkluq eos``: equation of state with uncertainty from joint posterior samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from dkluq_cli.cli.common import Device, command, echo_result, err_console


@command
def eos_cmd(
    model: Annotated[
        Path,
        typer.Argument(help="model.pt from `dkluq train` (or its run folder).", readable=False),
    ],
    lattice_range: Annotated[
        tuple[float, float],
        typer.Option(help="Scale factors of a, b, c along the isotropic line.", metavar="LO HI"),
    ] = (0.94, 1.06),
    eos: Annotated[
        str,
        typer.Option(
            "--eos",
            help="Equation of state (fitted by pymatgen).",
            metavar="birch-murnaghan|vinet|murnaghan",
        ),
    ] = "birch-murnaghan",
    points: Annotated[int, typer.Option(min=7, help="Points along the line.")] = 41,
    samples: Annotated[
        int, typer.Option(min=10, help="Joint posterior samples, each fitted with the EOS.")
    ] = 400,
    reference: Annotated[
        Optional[Path],
        typer.Option(
            help="POSCAR whose lattice is the centre of the line; default: the model's reference "
            "crystal, else the centre of the training domain (midpoint of each training range).",
            readable=False,
        ),
    ] = None,
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Output folder (eos.json, CSVs, eos.png).", readable=False
        ),
    ] = Path("eos_out"),
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the result as one JSON object on stdout.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the posterior samples.")] = 0,
    device: Annotated[Device, typer.Option(help="Compute device.")] = Device.auto,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write eos.png.")] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Write into an existing non-empty folder.")
    ] = False,
) -> None:
    """Fit an EOS to posterior samples along the isotropic line: a0, V0, B0, E0 with σ and 95 % CI."""
    from dkluq_cli.analysis.centre import choose_centre
    from dkluq_cli.analysis.eos import QUANTITIES, UNITS, eos_analysis, pymatgen_eos_name
    from dkluq_cli.analysis.eos_report import eos_curves, write_eos
    from dkluq_cli.analysis.grids import check_lattice_range
    from dkluq_cli.analysis.lattice_model import load_lattice_model
    from dkluq_cli.data.output import prepare_output_dir

    pymatgen_eos_name(eos)
    check_lattice_range(lattice_range)
    surrogate = load_lattice_model(model, device.value, "eos")
    ref = choose_centre(surrogate, reference, match_composition=True, command="eos")
    out = prepare_output_dir(output, force=force)
    res = eos_analysis(
        surrogate,
        ref.params,
        lattice_range=lattice_range,
        points=points,
        n_samples=samples,
        eos=eos,
        seed=seed,
        n_atoms=ref.n_atoms,
        reference_source=ref.source,
    )
    files = write_eos(res, out)
    stats = res.stats()
    if plot:
        from dkluq_cli.plots.eos import eos_plot

        curves = eos_curves(res)
        band = res.sample_band()
        files.append(eos_plot(res.volumes, res.mean, band, curves, stats, res.eos, out / "eos.png"))
    console = err_console()
    console.print(
        f"{res.eos} fitted to {len(res.fits)} of {samples} joint posterior samples along "
        f"{res.scales[0]:g}–{res.scales[-1]:g} × {ref.source}"
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
            echo_result(str(f))
