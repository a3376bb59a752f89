"""``dkluq suggest``: the next structures to compute with DFT."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dkluq_cli.cli.common import (
    BoxRange,
    Device,
    Force,
    ModelPath,
    Plots,
    Reference,
    Strategy,
    SuggestFor,
    claim_output,
    command,
    echo_result,
    err_console,
    output_folder,
)

if TYPE_CHECKING:
    from dkluq_cli.analysis.suggest import Suggestion


@command
def suggest_cmd(
    model: ModelPath,
    n: Annotated[
        int, typer.Option("--n", "-n", min=1, help="Number of structures to propose.")
    ] = 20,
    lattice_range: BoxRange = None,
    strategy: Strategy = "batch",
    output: Annotated[Optional[Path], output_folder("suggest")] = None,
    reference: Reference = None,
    pool: Annotated[int, typer.Option(min=16, help="Sobol candidate pool size.")] = 4096,
    fix_angles: Annotated[
        bool, typer.Option("--fix-angles", help="Keep α, β, γ at the reference.")
    ] = False,
    for_: SuggestFor = "energy",
    until_width: Annotated[
        Optional[float],
        typer.Option(
            help="With --for elastic|eos: stop once every expected 95 % half-width is at most "
            "PCT % of its value (--n is then the most picks).",
            metavar="PCT",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the pool / random points.")] = 0,
    device: Device = "auto",
    plots: Plots = True,
    force: Force = False,
) -> None:
    """Propose the next N structures for DFT: POSCAR folders plus candidates.csv.

    Writes into suggest/ next to the model (replaced on every rerun, stale candidate folders
    included) or -o DIR. With --for elastic|eos the picks shrink the posterior variance of the
    elastic constants (or a0 and B0), and the expected interval widths are printed after each.
    """
    from dkluq_cli.analysis.centre import choose_centre, require_atoms
    from dkluq_cli.analysis.lattice_model import load_lattice_model
    from dkluq_cli.analysis.suggest import suggest, summary, write_suggestion
    from dkluq_cli.cli.progress import Steps

    if lattice_range is None:
        lattice_range = (0.9, 1.1) if for_ == "energy" else (0.95, 1.05)
    surrogate = load_lattice_model(model, device, "suggest")
    ref = choose_centre(surrogate, reference, match_composition=True, command="suggest")
    crystal = require_atoms(ref)
    console = err_console()
    console.print(
        f"box: {lattice_range[0]:g}–{lattice_range[1]:g} × {ref.source} "
        f"({', '.join(f'{v:.4g}' for v in ref.params)})"
    )
    claim = claim_output(model, output, "suggest", force=force)
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
            target=for_,
            until_width=until_width,
            n_atoms=ref.n_atoms,
        )
        if sug.quantities:
            _print_widths(console, sug, until_width)
        if len(sug.params) == 0:
            return
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
                    pool_volume=sug.pool_volume,
                    pool_std=sug.pool_std,
                    strategy=sug.strategy,
                    path=out.staging / "suggest.png",
                    unit=surrogate.target_unit,
                )
            )
    s = summary(sug)
    unit = surrogate.target_unit
    console.print(
        f"{s['n']} candidates ({strategy}) → {out.folder}: σ mean {s['mean_std']:.4g} {unit}, max "
        f"{s['max_std']:.4g} {unit}; σ given the higher-ranked picks mean "
        f"{s['mean_std_given_previous']:.4g} {unit}; min. pairwise distance "
        f"{s['min_pairwise_distance']:.3f} (box units)"
    )
    echo_result(str(out.final(files[0])))
    if plots:
        echo_result(str(out.final(files[-1])))


def _print_widths(console: Any, sug: Suggestion, until_width: float | None) -> None:
    """The expected 95 % half-width of every quantity before the picks and after each."""
    names = sug.quantities
    console.print(
        "expected 95 % half-widths (% of the value): " + " ".join(f"{q:>7}" for q in names)
    )
    for k, row in enumerate(sug.widths):
        label = "now" if k == 0 else f"after pick {k}"
        console.print(f"  {label:>13}: " + " ".join(f"{v:7.2f}" for v in row))
    if until_width is not None:
        last = sug.widths[-1]
        if (last <= until_width).all():
            console.print(
                f"every half-width within {until_width:g} % after {len(sug.params)} pick(s)"
            )
        elif (sug.floor > until_width).any():
            console.print(
                "[yellow]the model's trend truncation alone keeps "
                + ", ".join(q for q, v in zip(names, sug.floor, strict=True) if v > until_width)
                + f" wider than {until_width:g} %: more runs will not narrow them; retrain "
                "(the exact head, or --trend 4 for the SVGP) first[/]"
            )
        else:
            console.print(
                f"[yellow]--n {len(sug.params)} picks leave "
                + ", ".join(q for q, v in zip(names, last, strict=True) if v > until_width)
                + f" wider than {until_width:g} %: raise --n[/]"
            )
