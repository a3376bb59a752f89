"""``dkluq suggest``: the next structures to compute with DFT."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dkluq_cli.cli.common import (
    BoxRange,
    Device,
    Force,
    ModelPath,
    Plots,
    Reference,
    Strategy,
    command,
    default_output,
    echo_result,
    err_console,
    output_folder,
)


@command
def suggest_cmd(
    model: ModelPath,
    n: Annotated[
        int, typer.Option("--n", "-n", min=1, help="Number of structures to propose.")
    ] = 20,
    lattice_range: BoxRange = (0.9, 1.1),
    strategy: Strategy = "batch",
    output: Annotated[Optional[Path], output_folder("suggest")] = None,
    reference: Reference = None,
    pool: Annotated[int, typer.Option(min=16, help="Sobol candidate pool size.")] = 4096,
    fix_angles: Annotated[
        bool, typer.Option("--fix-angles", help="Keep α, β, γ at the reference.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the pool / random points.")] = 0,
    device: Device = "auto",
    plots: Plots = True,
    force: Force = False,
) -> None:
    """Propose the next N structures for DFT: POSCAR folders plus candidates.csv.

    Writes into suggest/ next to the model (replaced on every rerun, stale candidate folders
    included) or -o DIR.
    """
    from dkluq_cli.analysis.centre import choose_centre, require_atoms
    from dkluq_cli.analysis.lattice_model import load_lattice_model
    from dkluq_cli.analysis.suggest import suggest, summary, write_suggestion
    from dkluq_cli.cli.progress import Steps
    from dkluq_cli.data.output import command_output

    surrogate = load_lattice_model(model, device, "suggest")
    ref = choose_centre(surrogate, reference, match_composition=True, command="suggest")
    crystal = require_atoms(ref)
    out_dir = output if output is not None else default_output(model, "suggest")
    console = err_console()
    console.print(
        f"box: {lattice_range[0]:g}–{lattice_range[1]:g} × {ref.source} "
        f"({', '.join(f'{v:.4g}' for v in ref.params)})"
    )
    claim = command_output(out_dir, "suggest", force=force, owned=output is None)
    with claim as out, Steps("suggest") as steps:
        sug = suggest(
            surrogate,
            ref.params,
            n,
            lattice_range=lattice_range,
            strategy=strategy,
            pool_size=pool,
            fix_angles=fix_angles,
            seed=seed,
            progress=steps,
        )
        steps("writing the POSCARs")
        files = write_suggestion(
            sug, crystal, out.staging, target=surrogate.target, unit=surrogate.target_unit
        )
        if plots:
            from dkluq_cli.plots.suggest import suggest_plot

            files.append(
                suggest_plot(
                    sug.volume,
                    sug.std,
                    sug.std_given_previous,
                    sug.pool_volume,
                    sug.pool_std,
                    sug.strategy,
                    out.staging / "suggest.png",
                    unit=surrogate.target_unit,
                )
            )
    s = summary(sug)
    unit = surrogate.target_unit
    console.print(
        f"{s['n']} candidates ({strategy}) → {out_dir}: σ mean {s['mean_std']:.4g} {unit}, max "
        f"{s['max_std']:.4g} {unit}; σ given the higher-ranked picks mean "
        f"{s['mean_std_given_previous']:.4g} {unit}; min. pairwise distance "
        f"{s['min_pairwise_distance']:.3f} (box units)"
    )
    echo_result(str(out.final(files[0])))
    if plots:
        echo_result(str(out.final(files[-1])))
