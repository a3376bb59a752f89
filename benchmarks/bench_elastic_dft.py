"""Elastic constants from real DFT (issue 26): GPAW PBE SrTiO3, each batch checked on the other.

``../shared/dft`` (skipped, with a message, when absent): the exact head with the cubic reference
crystal (``dkluq train --reference``) on each batch's in-range rows, each seed dropping a
different 10 %; ``dkluq elastic`` (1000 draws) for C11, C12, C44 with 95 % intervals; whether
each batch's intervals hold the other batch's values (train on one, check on the other); and
B_VRH beside ``dkluq eos``'s B0 on the same model and the README's B0 ≈ 168 GPa. Energies only:
the second batch's stresses carry a Pulay offset (its README), so they are not compared.
Writes ``elastic_dft.{json,md}``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_elastic_dft.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    LATTICE,
    REPO,
    add_common_args,
    machine_info,
    machine_line,
    md_table,
    single_thread,
    write_results,
)
from bench_elastic import SEEDS, fit

#: ``../shared/dft`` beside the checkout (a worktree one level deeper finds it further up).
DFT = next(
    (p / "shared" / "dft" for p in REPO.parents if (p / "shared" / "dft").is_dir()),
    REPO.parent / "shared" / "dft",
)


def dft(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd

    from dkluq_cli.analysis.elastic import elastic_analysis
    from dkluq_cli.analysis.elastic_report import eos_bulk_modulus

    rows = []
    centre = np.array([3.95, 3.95, 3.95, 90.0, 90.0, 90.0])
    for batch, name in (("b1", "srtio3_gpaw_pbe.csv"), ("b2", "srtio3_gpaw_pbe_b2.csv")):
        df = pd.read_csv(DFT / name)
        df = df[df["set"] == "in"]
        x, y = df[LATTICE].to_numpy(float), df["energy_eV"].to_numpy(float)
        for seed in SEEDS[:1] if args.quick else SEEDS:
            keep = np.sort(np.random.default_rng(seed).permutation(len(x))[: int(0.9 * len(x))])
            sur = fit(x[keep], y[keep], seed, "auto", "auto", True)
            res = elastic_analysis(sur, centre, n_samples=1000, seed=seed)
            comps, mods = res.components(), res.moduli()
            b0, _ = eos_bulk_modulus(sur, centre, None)
            row = {"batch": batch, "seed": seed, "rows": len(keep), "a": float(res.at[0])}
            for k in ("C11", "C12", "C44"):
                row[k], row[f"{k}_ci95"] = comps[k]["mean"], comps[k]["ci95"]
            row["B_VRH"], row["B_VRH_ci95"] = mods["B_VRH"]["mean"], mods["B_VRH"]["ci95"]
            row["G_VRH"] = mods["G_VRH"]["mean"]
            row["B0_eos"] = None if b0 is None else b0["mean"]
            rows.append(row)
            print(
                batch,
                seed,
                {k: round(row[k], 1) for k in ("C11", "C12", "C44", "B_VRH")},
                flush=True,
            )
    for row in rows:
        other = [r for r in rows if r["batch"] != row["batch"]]
        inside = [
            all(row[f"{k}_ci95"][0] <= o[k] <= row[f"{k}_ci95"][1] for k in ("C11", "C12", "C44"))
            for o in other
        ]
        row["covers_other_batch"] = float(np.mean(inside)) if inside else None
    return {"rows": rows, "readme_B0_GPa": 168.0}


def render_dft(res: dict[str, Any], machine: dict[str, Any]) -> str:
    rows = res["rows"]
    table = []
    for batch in ("b1", "b2"):
        sel = [r for r in rows if r["batch"] == batch]
        line: dict[str, Any] = {"batch": batch, "seeds": len(sel), "rows": sel[0]["rows"]}
        for k in ("a", "C11", "C12", "C44", "B_VRH", "G_VRH", "B0_eos", "covers_other_batch"):
            v = [r[k] for r in sel if r[k] is not None]
            line[k] = f"{np.median(v):.3g} [{min(v):.3g}–{max(v):.3g}]"
        for k in ("C11", "C12", "C44"):
            hw = [100 * (r[f"{k}_ci95"][1] - r[f"{k}_ci95"][0]) / 2 / r[k] for r in sel]
            line[f"{k}_hw"] = f"{np.median(hw):.1f}"
        table.append(line)
    cols = [
        ("batch", "batch"),
        ("seeds", "seeds"),
        ("rows", "rows"),
        ("a", "zero-stress a (Å)"),
        ("C11", "C11"),
        ("C11_hw", "± %"),
        ("C12", "C12"),
        ("C12_hw", "± %"),
        ("C44", "C44"),
        ("C44_hw", "± %"),
        ("B_VRH", "B_VRH"),
        ("B0_eos", "eos B0"),
        ("G_VRH", "G_VRH"),
        ("covers_other_batch", "95 % intervals cover the other batch (fraction)"),
    ]
    return "\n".join(
        [
            "## Elastic constants from real GPAW PBE energies (bench_elastic_dft.py)",
            "",
            "Exact head with the cubic reference crystal on each batch's in-range rows (each seed "
            "drops a different 10 %); GPa, median [min–max] over seeds; ± is the 95 % half-width in %. "
            f"README: cubic PBE B0 ≈ {res['readme_B0_GPa']:.0f} GPa.",
            "",
            md_table(table, cols),
            "",
            machine_line(machine),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    args = ap.parse_args(argv)
    if not DFT.is_dir():
        print(f"skipped: {DFT} not found")
        return 0
    single_thread()
    machine = machine_info()
    res = dft(args)
    data = {**res, "machine": machine, "quick": args.quick}
    write_results(args.out, "elastic_dft", data, render_dft(res, machine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
