"""``dkluq suggest``: the next structures to compute with DFT."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dkluq_cli.cli.common import Device, command, echo_result, err_console

if TYPE_CHECKING:
    from dkluq_cli.analysis.suggest import Suggestion


@command
def suggest_cmd(
    model: Annotated[
        Path,
        typer.Argument(help="model.pt from `dkluq train` (or its run folder).", readable=False),
    ],
    n: Annotated[
        int, typer.Option("--n", "-n", min=1, help="Number of structures to propose.")
    ] = 20,
    lattice_range: Annotated[
        Optional[tuple[float, float]],
        typer.Option(
            help="Box: every lattice parameter in [LO, HI] × the reference value (default "
            "0.9 1.1; 0.95 1.05 with --for elastic|eos, where runs near the cell teach most).",
            metavar="LO HI",
        ),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option(
            help="batch: greedy max. variance conditioned on earlier picks (high σ and diverse); "
            "max-std: the N largest σ; random: uniform in the box.",
            metavar="batch|max-std|random",
        ),
    ] = "batch",
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Output folder (one sub-folder per candidate).",
            readable=False,
        ),
    ] = Path("next_runs"),
    reference: Annotated[
        Optional[Path],
        typer.Option(
            help="POSCAR whose species and fractional coordinates go into the new POSCARs (and "
            "whose lattice centres the box); default: the model's reference crystal.",
            readable=False,
        ),
    ] = None,
    pool: Annotated[int, typer.Option(min=16, help="Sobol candidate pool size.")] = 4096,
    fix_angles: Annotated[
        bool, typer.Option("--fix-angles", help="Keep α, β, γ at the reference.")
    ] = False,
    for_: Annotated[
        str,
        typer.Option(
            "--for",
            help="What the runs should teach: energy (σ of the energy), elastic (the "
            "components of C) or eos (a0 and B0): picks that shrink that posterior variance.",
            metavar="energy|elastic|eos",
        ),
    ] = "energy",
    until_width: Annotated[
        Optional[float],
        typer.Option(
            help="With --for elastic|eos: stop once every expected 95 % half-width is at most "
            "PCT % of its value (--n is then the most picks).",
            metavar="PCT",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the pool / random points.")] = 0,
    device: Annotated[Device, typer.Option(help="Compute device.")] = Device.auto,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write suggest.png.")] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Write into an existing non-empty folder.")
    ] = False,
) -> None:
    """Propose the next N structures for DFT: POSCAR folders plus candidates.csv."""
    from dkluq_cli.analysis.centre import choose_centre, require_atoms
    from dkluq_cli.analysis.grids import check_lattice_range
    from dkluq_cli.analysis.lattice_model import load_lattice_model
    from dkluq_cli.analysis.suggest import STRATEGIES, suggest, summary, write_suggestion
    from dkluq_cli.data.output import prepare_output_dir
    from dkluq_cli.errors import DkluqError

    if strategy not in STRATEGIES:
        raise DkluqError(
            f"unknown --strategy {strategy!r}", hint=f"choose one of {', '.join(STRATEGIES)}"
        )
    if lattice_range is None:
        lattice_range = (0.9, 1.1) if for_ == "energy" else (0.95, 1.05)
    check_lattice_range(lattice_range)
    surrogate = load_lattice_model(model, device.value, "suggest")
    ref = choose_centre(surrogate, reference, match_composition=True, command="suggest")
    crystal = require_atoms(ref)
    out = prepare_output_dir(output, force=force)
    console = err_console()
    console.print(
        f"box: {lattice_range[0]:g}–{lattice_range[1]:g} × {ref.source} "
        f"({', '.join(f'{v:.4g}' for v in ref.params)})"
    )
    sug = suggest(
        surrogate,
        ref.params,
        n,
        lattice_range=lattice_range,
        strategy=strategy,
        pool_size=pool,
        fix_angles=fix_angles,
        seed=seed,
        progress=lambda msg: console.print(f"[dim]{msg}[/]"),
        target=for_,
        until_width=until_width,
        n_atoms=ref.n_atoms,
    )
    if sug.quantities:
        _print_widths(console, sug, until_width)
    if len(sug.params) == 0:
        return
    files = write_suggestion(sug, crystal, out, target=surrogate.target, unit=surrogate.target_unit)
    stale = sorted(
        p.name
        for p in out.glob("cand_*")
        if p.is_dir() and p.name not in {f.parent.name for f in files[1:]}
    )
    s = summary(sug)
    unit = surrogate.target_unit
    console.print(
        f"{s['n']} candidates ({strategy}) → {out}: σ mean {s['mean_std']:.4g} {unit}, max "
        f"{s['max_std']:.4g} {unit}; σ given the higher-ranked picks mean "
        f"{s['mean_std_given_previous']:.4g} {unit}; min. pairwise distance "
        f"{s['min_pairwise_distance']:.3f} (box units)"
    )
    if stale:
        console.print(
            f"[yellow]{len(stale)} older candidate folder(s) from a previous run remain in {out} "
            f"({stale[0]} …): remove them before running DFT on the whole folder[/]"
        )
    echo_result(str(files[0]))
    if plot:
        from dkluq_cli.plots.suggest import suggest_plot

        figure = suggest_plot(
            sug.volume,
            sug.std,
            sug.std_given_previous,
            sug.pool_volume,
            sug.pool_std,
            sug.strategy,
            out / "suggest.png",
            unit=unit,
        )
        echo_result(str(figure))


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
