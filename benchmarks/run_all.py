"""Run every ``benchmarks/bench_*.py`` and write ``benchmarks/results/README.md`` from their results.

Scripts are discovered by glob (so bench_scan.py, bench_active_learning.py and later ones join
automatically), run one after another in fresh interpreters with ``OMP_NUM_THREADS=1``, with
``--quick`` passed through and ``--out`` pointing at the results folder. A failing script does not
stop the others; its exit code and stderr tail are listed in the README.

The README is generated: a header with the machine, a run log, the headline numbers computed from
the JSON results (ratios against DUE and the baselines), then every script's own Markdown fragment
(``<name>.md``). The block between ``<!-- analysis -->`` and ``<!-- /analysis -->`` is for the
human-written "where dkluq wins and where it loses" analysis; it is copied over unchanged when
the README is regenerated.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/run_all.py            # full (make bench)
    python benchmarks/run_all.py --quick                      # make bench-quick
    python benchmarks/run_all.py --report-only                # rebuild README.md only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, fmt, machine_info, md_table

HERE = Path(__file__).resolve().parent
ANALYSIS_OPEN = "<!-- analysis -->"
ANALYSIS_CLOSE = "<!-- /analysis -->"
ANALYSIS_PLACEHOLDER = (
    "_Where dkluq wins and where it loses, with the numbers above: written by hand after the "
    "full run._"
)
#: Fragments in this order first; any other ``*.md`` fragment follows alphabetically.
ORDER = [
    "train",
    "fig1",
    "fig3",
    "methods",
    "scaling",
    "ingest",
    "scan",
    "exact_speed",
    "active_learning",
]


def discover(pattern: str = "bench_*.py") -> list[Path]:
    """Benchmark scripts next to this file, sorted by name."""
    return sorted(HERE.glob(pattern))


def run_scripts(scripts: list[Path], out: Path, quick: bool) -> list[dict[str, Any]]:
    """Run each script; return its name, exit code, seconds and stderr tail."""
    log = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    for script in scripts:
        cmd = [sys.executable, str(script), "--out", str(out), *(["--quick"] if quick else [])]
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, env=env, cwd=HERE.parent, stderr=subprocess.PIPE, text=True, check=False
        )
        secs = time.perf_counter() - t0
        entry = {"script": script.name, "rc": proc.returncode, "seconds": secs}
        if proc.returncode != 0:
            entry["stderr_tail"] = proc.stderr[-1500:]
            print(proc.stderr[-1500:], file=sys.stderr)
        print(f"   rc {proc.returncode}, {secs:.0f} s", flush=True)
        log.append(entry)
    return log


def _load(out: Path, name: str) -> dict[str, Any] | None:
    path = out / f"{name}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def headline(out: Path) -> list[str]:
    """Numbers-based summary lines computed from the JSON results."""
    lines: list[str] = []
    tr = _load(out, "train")
    if tr:
        comp = {r["run"]: r for r in tr.get("due_comparison", [])}
        ours = tr["due_comparison"][-1] if tr.get("due_comparison") else None
        pub = comp.get("DUE, published (another machine)")
        here = comp.get("DUE recipe here, raw σ")
        if ours and pub:
            lines.append(
                f"- dkluq's RMSE ({tr['scored_on']} set) is {ours['rmse_meV_atom'] / pub['rmse_meV_atom']:.3g}× "
                f"DUE's published {pub['rmse_meV_atom']} meV/atom"
                + (
                    f" and {ours['rmse_meV_atom'] / here['rmse_meV_atom']:.3g}× DUE's recipe run here"
                    if here
                    else ""
                )
                + f"; miscalibration area {fmt(ours['miscal_area'])} vs {pub['miscal_area']} published"
                + (f" / {fmt(here['miscal_area'])} here" if here else "")
                + f"; coverage_95 {fmt(ours['coverage_95'])} vs {pub['coverage_95']:.2f}"
                + (f" / {fmt(here['coverage_95'])}" if here else "")
                + f"; training {fmt(ours['seconds'])} s vs {pub['seconds']:.0f} s"
                + (f" / {fmt(here['seconds'])} s." if here else ".")
            )
        checks = tr.get("target_checks", [])
        if checks:
            met = sum(c["met"] == "met" for c in checks)
            missed = [
                f"{c['target']} ({c['scored_on']}: {fmt(c['value'])})"
                for c in checks
                if c["met"] != "met"
            ]
            lines.append(
                f"- Issue-5 targets: {met}/{len(checks)} checks met"
                + (f"; missed: {'; '.join(missed)}." if missed else ".")
            )
        reach = tr.get("time_to_due_rmse", {})
        for key in ("draw", "val"):
            if key in reach:
                h = reach[key]
                lines.append(
                    f"- dkluq reaches DUE's final {key} RMSE ({fmt(h['level'])} meV/atom) "
                    + (
                        f"after {fmt(h['seconds'])} s (epoch {h['epoch']})."
                        if h["epoch"]
                        else "never within its run."
                    )
                )
    me = _load(out, "methods")
    if me:
        for rows in me.get("tables", {}).values():
            ref = next((r for r in rows if r["method"] == "dkluq (FCM init)"), None)
            if not ref:
                continue
            others = [r for r in rows if not r["method"].startswith("dkluq")]
            parts = []
            for r in others:
                parts.append(
                    f"{r['method']} RMSE ×{ref['rmse_meV_atom'] / r['rmse_meV_atom']:.2f}, "
                    f"NLL {ref['nll'] - r['nll']:+.2f}, AUROC {ref['ood_auroc'] - r['ood_auroc']:+.2f}"
                )
            lines.append(
                f"- Methods, {ref['n_train']} training structures — dkluq relative to each baseline "
                "(RMSE ratio dkluq/baseline, NLL and AUROC differences dkluq−baseline): "
                + "; ".join(parts)
                + "."
            )
    f1 = _load(out, "fig1")
    if f1:
        lines.append(
            "- Fig. 1: σ outside/inside the data = "
            + ", ".join(f"{f['ratio_outside_inside']:.2f} (m={f['inducing']})" for f in f1["fits"])
            + f"; check σ out/in > {f1['sigma_growth_threshold']:g}: "
            + (
                "not applied (quick mode)."
                if not f1.get("sigma_check_applied", True)
                else "passed."
                if f1["sigma_growth_ok"]
                else "**failed**."
            )
        )
    sc = _load(out, "scaling")
    if sc:
        got = {(r["method"], r["n"]): r for r in sc["rows"] if r.get("status") == "measured"}
        big = max((n for (m, n) in got if m == "dkl"), default=None)
        gp_big = max((n for (m, n) in got if m == "exact_gp"), default=None)
        if big:
            lines.append(
                f"- Scaling: DKL ran one epoch at N={big:,} in {fmt(got[('dkl', big)]['seconds_per_epoch'])} s; "
                + (
                    f"the exact GP's largest size was N={gp_big:,} ({fmt(got[('exact_gp', gp_big)]['seconds_per_epoch'])} s per MLL+backward)."
                    if gp_big
                    else "the exact GP ran at no size."
                )
            )
    ex = _load(out, "exact_speed")
    if ex:
        parts = []
        for model in ex["models"]:
            runs = {r["code"]: r for r in ex["runs"] if r["model"] == model["name"]}
            ours = runs.get("this tree")
            base = next((r for c, r in runs.items() if c != "this tree"), None)
            if ours:
                parts.append(
                    f"{model['name']} {fmt(ours['rows_per_s_wall']['median'])} rows/s"
                    + (f" (baseline {fmt(base['rows_per_s_wall']['median'])})" if base else "")
                )
        missed = list(
            dict.fromkeys(
                f"{t['model']} {t['target'].split(' (')[0]}"
                for t in ex["targets"]
                if t["met"] != "met"
            )
        )
        lines.append(
            "- Exact head predict, 10^5 lattices, one thread (wall medians): "
            + "; ".join(parts)
            + (f"; missed: {'; '.join(missed)}." if missed else "; all targets met.")
        )
    return lines


def preserved_analysis(readme: Path) -> str:
    """The analysis block of an existing README (placeholder when none)."""
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        m = re.search(
            re.escape(ANALYSIS_OPEN) + r"\n?(.*?)\n?" + re.escape(ANALYSIS_CLOSE), text, re.S
        )
        if m:
            return m.group(1)
    return ANALYSIS_PLACEHOLDER


def write_readme(out: Path, log: list[dict[str, Any]] | None, quick: bool | None) -> Path:
    """Assemble README.md from the fragments and JSON files in ``out``."""
    readme = out / "README.md"
    analysis = preserved_analysis(readme)
    m = machine_info()
    log_path = out / "run_all.json"
    if log is None and log_path.is_file():
        saved = json.loads(log_path.read_text(encoding="utf-8"))
        log, quick = saved.get("log"), saved.get("quick")
    frags = {p.stem: p for p in out.glob("*.md") if p.name != "README.md"}
    names = [n for n in ORDER if n in frags] + sorted(n for n in frags if n not in ORDER)
    parts = [
        "# dkluq benchmark results",
        "",
        "Generated by `benchmarks/run_all.py` from the JSON/Markdown files the benchmark scripts "
        "wrote in this folder; do not edit by hand except inside the analysis block.",
        "",
        f"Machine (of this README's generation): {m['cpu_model']}, {m['cpu_count']} CPUs "
        f"({m['cpus_usable']} usable), torch {m['torch']}, gpytorch {m['gpytorch']}, "
        f"{m['torch_threads']} torch thread(s), OMP_NUM_THREADS={m['omp_num_threads']}, "
        f"Python {m['python']}, {m['date']}. Each section names the machine it was measured on.",
    ]
    if quick is not None:
        parts.append("")
        parts.append(
            "**Mode: quick (tiny sizes, smoke test; numbers are not meaningful).**"
            if quick
            else "Mode: full."
        )
    if log:
        parts += ["", "## Run log", ""]
        parts.append(
            md_table(log, [("script", "script"), ("rc", "exit code"), ("seconds", "seconds")])
        )
        failed = [e for e in log if e["rc"] != 0]
        for e in failed:
            parts += [
                "",
                f"`{e['script']}` failed; stderr tail:",
                "",
                "```",
                e.get("stderr_tail", "").strip(),
                "```",
            ]
    lines = headline(out)
    if lines:
        parts += ["", "## Headline numbers (computed)", "", *lines]
    parts += [
        "",
        "## Where dkluq wins and where it loses",
        "",
        ANALYSIS_OPEN,
        analysis,
        ANALYSIS_CLOSE,
    ]
    for name in names:
        body = frags[name].read_text(encoding="utf-8").strip()
        parts += ["", re.sub(r"^# ", "## ", body, count=1)]
    readme.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return readme


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks (unless ``--report-only``) and write the README."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    ap.add_argument("--only", nargs="*", default=None, help="script names to run (substring)")
    ap.add_argument("--report-only", action="store_true", help="only rebuild README.md")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    log = None
    if not args.report_only:
        scripts = discover()
        if args.only:
            scripts = [s for s in scripts if any(o in s.name for o in args.only)]
        log = run_scripts(scripts, args.out, args.quick)
        (args.out / "run_all.json").write_text(
            json.dumps({"quick": args.quick, "log": log}, indent=2) + "\n", encoding="utf-8"
        )
    readme = write_readme(args.out, log, args.quick if log is not None else None)
    print(f"wrote {readme}")
    return 0 if not log or all(e["rc"] == 0 for e in log) else 1


if __name__ == "__main__":
    raise SystemExit(main())
