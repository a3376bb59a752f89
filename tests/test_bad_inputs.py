"""Every broken input a cluster leaves behind, walked through the real CLI.

Each :class:`Case` names its input, the exit code, a regex the single ``error:`` line must match
(it names the file and the cause) and, for ``ingest``, a regex the rejection reason must match.
For every case: no traceback, exactly one ``error:`` line (a ``hint:`` may follow), and nothing
left in the output folder (no partial output, no ``.*.tmp``) except what the case allows.

Committed inputs live in ``tests/bad_inputs/`` (listed in its README); the rest are made here in
``tmp_path``: models derived from one tiny model trained per module, FIFOs, symlink loops, paths
under a file, and "read-only" folders. Tests run as root, where ``chmod`` does not stop reads or
writes, so unreadable/read-only cases are simulated two ways: ``/sys`` (sysfs refuses new files
even to root) for a real failing write, and a monkeypatched ``os.access`` for what a normal user
sees after ``chmod 000``/``chmod 555``.
"""

from __future__ import annotations

import gzip
import os
import pickle
import re
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import BAD_INPUT_CASES, SAMPLE, TINY, TINY_CLI

BAD = Path(__file__).resolve().parent / "bad_inputs"
GOOD_RUN = SAMPLE / "vasp_runs" / "strain scan (batch 2)" / "run_02"
TRAIN_OPTS = [*TINY_CLI, "--no-plots"]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Ctx:
    """Paths a case builds its argv from."""

    tmp: Path
    out: Path  # the output folder, empty before the run unless setup puts files there
    model: Path
    models: dict[str, Path]
    table: Path  # 200 good rows
    monkeypatch: pytest.MonkeyPatch


@dataclass
class Case:
    id: str
    argv: Callable[[Ctx], list]
    pattern: str  # the error line (or, with code 0, a warning line) must match this
    code: int = 1
    rejected: str | None = None  # ingest: regex the rejected.csv reason must match
    allowed: tuple[str, ...] = ()  # files the command may leave in ctx.out
    setup: Callable[[Ctx], None] | None = None
    marks: list = field(default_factory=list)


# --------------------------------------------------------------------------- builders


def _fifo(ctx: Ctx, name: str) -> Path:
    p = ctx.tmp / name
    os.mkfifo(p)
    return p


def _under_file(ctx: Ctx, name: str) -> Path:
    blocker = ctx.tmp / "a_file"
    blocker.write_text("I am a file, not a folder\n")
    return blocker / name


def _tree(ctx: Ctx, *committed: str, good: bool = False) -> Path:
    root = ctx.tmp / "tree"
    root.mkdir(exist_ok=True)
    for name in committed:
        shutil.copytree(BAD / "vasp" / name, root / name)
    if good:
        shutil.copytree(GOOD_RUN, root / "good")
    return root


def _loop_tree(ctx: Ctx) -> Path:
    root = ctx.tmp / "tree"
    (root / "loop").mkdir(parents=True)
    (root / "loop" / "back").symlink_to(root / "loop", target_is_directory=True)
    return root


def _dangling_tree(ctx: Ctx) -> Path:
    root = ctx.tmp / "tree"
    (root / "dangling").mkdir(parents=True)
    (root / "dangling" / "OUTCAR").symlink_to(ctx.tmp / "deleted_by_scratch_cleanup")
    return root


def _fifo_tree(ctx: Ctx) -> Path:
    root = ctx.tmp / "tree"
    (root / "fifo").mkdir(parents=True)
    os.mkfifo(root / "fifo" / "OUTCAR")
    return root


def _good_text(name: str) -> str:
    with gzip.open(GOOD_RUN / name, "rt", encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _truncated_gzip_tree(ctx: Ctx) -> Path:
    root = ctx.tmp / "tree"
    (root / "cut_gz").mkdir(parents=True)
    raw = (GOOD_RUN / "OUTCAR.gz").read_bytes()
    (root / "cut_gz" / "OUTCAR.gz").write_bytes(raw[: len(raw) // 2])
    return root


def _no_energy_tree(ctx: Ctx) -> Path:
    """A real OUTCAR whose energy lines were destroyed: must never give a finite energy."""
    root = ctx.tmp / "tree"
    (root / "no_energy").mkdir(parents=True)
    text = _good_text("OUTCAR.gz")
    kept = [ln for ln in text.splitlines(keepends=True) if "energy" not in ln.lower()]
    (root / "no_energy" / "OUTCAR").write_text("".join(kept))
    shutil.copy(GOOD_RUN / "POSCAR", root / "no_energy" / "POSCAR")
    return root


def _deny_access(ctx: Ctx, target: Path, mode: int) -> None:
    """What a non-root user sees after chmod: os.access says no for ``target``."""
    real = os.access

    def access(path, m, *a, **k):
        if Path(path) == target and m & mode:
            return False
        return real(path, m, *a, **k)

    ctx.monkeypatch.setattr(os, "access", access)


def _sys_writable_but_refusing() -> bool:
    """sysfs: os.access says yes to root, but creating a file fails (a true read-only folder)."""
    import tempfile

    if not Path("/sys").is_dir():
        return False
    try:
        fd, name = tempfile.mkstemp(dir="/sys")
    except OSError:
        return True
    os.close(fd)
    os.unlink(name)
    return False


NO_SYSFS = pytest.mark.skipif(
    not _sys_writable_but_refusing(), reason="no read-only /sys to write into on this machine"
)


def _preexisting(name: str, text: str = "precious\n") -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (ctx.out / name).write_text(text)

    return setup


def _train(src: str | Callable[[Ctx], Path], *extra) -> Callable[[Ctx], list]:
    def argv(ctx: Ctx) -> list:
        path = src(ctx) if callable(src) else BAD / src
        return ["train", path, *TRAIN_OPTS, "-o", ctx.out / "run", *extra]

    return argv


def _predict(
    model: str | Callable[[Ctx], Path] | None = None,
    src: str | Callable[[Ctx], Path] | None = None,
    out: Callable[[Ctx], Path] | None = None,
) -> Callable[[Ctx], list]:
    def argv(ctx: Ctx) -> list:
        m = ctx.model if model is None else (model(ctx) if callable(model) else ctx.models[model])
        s = ctx.table if src is None else (src(ctx) if callable(src) else BAD / src)
        o = out(ctx) if out else ctx.out / "pred.csv"
        return ["predict", m, s, "-o", o]

    return argv


def _ingest(src: Callable[[Ctx], Path], out: Callable[[Ctx], Path] | None = None):
    def argv(ctx: Ctx) -> list:
        return ["ingest", src(ctx), "-o", out(ctx) if out else ctx.out / "table.csv", "-j", "1"]

    return argv


SIDECAR = "table.ingest.jsonl.gz"  # what every ingest read, for the next --update


def _ingest_reject(case_id: str, run: str, reason: str, **kw) -> Case:
    return Case(
        case_id,
        _ingest(lambda ctx: _tree(ctx, run)),
        r"no run was accepted \(1 rejected; reasons in .*table\.rejected\.csv\)",
        rejected=reason,
        allowed=("table.rejected.csv", SIDECAR),
        **kw,
    )


def _analysis(cmd: str, model: str | None, *extra, reference: str | None = None):
    def argv(ctx: Ctx) -> list:
        m = ctx.model if model is None else ctx.models[model]
        ref = ["--reference", BAD / reference] if reference else []
        return [cmd, m, *ref, "-o", ctx.out / "res", *extra]

    return argv


def _dup_rows(ctx: Ctx) -> Path:
    df = pd.read_csv(ctx.table)
    p = ctx.tmp / "dups.csv"
    pd.concat([df, df.iloc[:25]]).to_csv(p, index=False)
    return p


# --------------------------------------------------------------------------- the corpus

CASES: list[Case] = [
    # ---- train: broken tables
    Case("train-empty-file", _train("empty.csv"), r"empty\.csv is empty"),
    Case("train-whitespace-only", _train("whitespace_only.csv"), r"whitespace_only\.csv is empty"),
    Case("train-header-only", _train("header_only.csv"), r"header_only\.csv has no rows"),
    Case("train-binary-noise", _train("noise.csv"), r"noise\.csv is not UTF-8"),
    Case("train-latin1", _train("latin1.csv"), r"latin1\.csv is not UTF-8 text \(byte \d+\)"),
    Case("train-utf16", _train("utf16.csv"), r"utf16\.csv is not UTF-8"),
    Case(
        "train-missing-column", _train("missing_column.csv"), r"missing_column\.csv.*missing.*gamma"
    ),
    Case(
        "train-renamed-columns",
        _train("renamed_columns.csv"),
        r"renamed_columns\.csv: missing column\(s\) alpha",
    ),
    Case(
        "train-renamed-target",
        _train("renamed_columns.csv", "--features", "a,b,c"),
        r"renamed_columns\.csv has no column 'energy_eV' to train on \(--target\)",
    ),
    Case(
        "train-nan",
        _train("nan_feature.csv"),
        r"nan_feature\.csv: column 'alpha' has 1 non-numeric or non-finite value\(s\), first at data row 2",
    ),
    Case(
        "train-inf",
        _train("inf_target.csv"),
        r"inf_target\.csv: column 'energy_eV' .* non-finite .* row 3 \(inf\)",
    ),
    Case(
        "train-string-in-number",
        _train("string_in_number.csv"),
        r"string_in_number\.csv: column 'b' .* row 1 \('3\.9 Å'\)",
    ),
    Case("train-empty-cell", _train("empty_cell.csv"), r"empty_cell\.csv: column 'c' .* row 2"),
    Case("train-one-row", _train("one_row.csv"), r"one_row\.csv has only 1 row\(s\)"),
    Case(
        "train-constant-target",
        _train("constant_target.csv"),
        r"target 'energy_eV' is constant",
    ),
    Case(
        "train-mixed-compositions",
        _train("mixed_compositions.csv"),
        r"mixed_compositions\.csv mixes 2 compositions \(BaTiO3, SrTiO3\)",
    ),
    Case("train-ragged-rows", _train("ragged_rows.csv"), r"cannot parse table .*ragged_rows\.csv"),
    Case(
        "train-duplicate-column-names",
        _train("duplicate_column_names.csv"),
        r"duplicate_column_names\.csv has duplicated column name\(s\): 'a'",
    ),
    Case(
        "train-duplicated-rows-warn",
        _train(_dup_rows),
        r"dups\.csv: 25 duplicated row\(s\)",
        code=0,
        allowed=("run",),
    ),
    # ---- train: split files
    Case(
        "train-split-not-json",
        lambda c: [*_train(lambda c: c.table)(c), "--split-file", BAD / "split_not_json.json"],
        r"split file .*split_not_json\.json is not valid JSON",
    ),
    Case(
        "train-split-out-of-range",
        lambda c: [*_train(lambda c: c.table)(c), "--split-file", BAD / "split_out_of_range.json"],
        r"split_out_of_range\.json: row index out of range for a table of 200 rows",
    ),
    Case(
        "train-split-overlap",
        lambda c: [*_train(lambda c: c.table)(c), "--split-file", BAD / "split_overlap.json"],
        r"split_overlap\.json: a row appears in more than one split",
    ),
    Case(
        "train-split-missing",
        lambda c: [*_train(lambda c: c.table)(c), "--split-file", c.tmp / "nosplit.json"],
        r"split file .*nosplit\.json does not exist",
    ),
    # ---- train: paths
    Case(
        "train-nonexistent",
        _train(lambda c: c.tmp / "never_written.csv"),
        r"never_written\.csv does not exist",
    ),
    Case(
        "train-path-under-a-file",
        _train(lambda c: _under_file(c, "t.csv")),
        r"a_file/t\.csv does not exist",
    ),
    Case("train-folder-as-table", _train(lambda c: c.tmp), r"is a folder, not a table"),
    Case("train-fifo-table", _train(lambda c: _fifo(c, "pipe.csv")), r"pipe\.csv is not a regular"),
    Case(
        "train-unreadable-table",
        _train(lambda c: c.tmp / "locked.csv"),
        r"locked\.csv is not readable \(permission denied\)",
        setup=lambda c: (
            shutil.copy(c.table, c.tmp / "locked.csv"),
            _deny_access(c, c.tmp / "locked.csv", os.R_OK),
        ),
    ),
    Case(
        "train-output-under-a-file",
        lambda c: ["train", c.table, *TRAIN_OPTS, "-o", _under_file(c, "run")],
        r"cannot create output folder .*a_file/run: Not a directory",
    ),
    Case(
        "train-output-readonly-sysfs",
        lambda c: ["train", c.table, *TRAIN_OPTS, "-o", "/sys/dkluq_run"],
        r"cannot create output folder /sys/dkluq_run: (Permission denied|Operation not permitted)",
        marks=[NO_SYSFS],
    ),
    Case(
        "train-output-readonly-chmod",
        lambda c: ["train", c.table, *TRAIN_OPTS, "-o", c.out / "run"],
        r"output folder .* is not writable",
        setup=lambda c: _deny_access(c, c.out, os.W_OK),
    ),
    Case(
        "train-nonempty-run-dir",
        lambda c: ["train", c.table, *TRAIN_OPTS, "-o", c.out],
        r"output folder .* already exists and is not empty",
        setup=_preexisting("notes.txt"),
    ),
    Case(
        "train-resume-not-a-run",
        lambda c: ["train", "--resume", c.out],
        r"cannot be resumed: config\.json is missing",
    ),
    # ---- predict: bad model files
    Case("predict-model-other-version", _predict("v999"), r"v999\.pt has model format version 999"),
    Case("predict-model-truncated", _predict("truncated"), r"truncated\.pt: truncated"),
    Case("predict-model-zero-bytes", _predict("zero"), r"zero\.pt: truncated"),
    Case(
        "predict-model-pickle-code",
        _predict("evil"),
        r"refusing to load .*evil\.pt: it contains pickled objects that could run code",
    ),
    Case(
        "predict-model-plain-pickle",
        _predict("plain_pickle"),
        r"refusing to load .*plain_pickle\.pt: .*could run code",
    ),
    Case(
        "predict-model-text-file",
        _predict(lambda c: BAD / "model_text.pt"),
        r"model_text\.pt",
    ),
    Case(
        "predict-model-folder",
        _predict(lambda c: c.tmp),
        r"is a folder without model\.pt",
    ),
    Case(
        "predict-model-nonexistent",
        _predict(lambda c: c.tmp / "gone.pt"),
        r"model file .*gone\.pt does not exist",
    ),
    Case(
        "predict-model-feature-names-differ",
        _predict("bohr_features"),
        r"lacks the model's feature column\(s\) a_bohr, b_bohr, c_bohr",
    ),
    # ---- predict: bad inputs
    Case(
        "predict-input-missing-columns",
        _predict(src="predict_missing_angles.csv"),
        r"predict_missing_angles\.csv lacks the model's feature column\(s\) alpha, beta, gamma",
    ),
    Case(
        "predict-input-lengths-in-nm",
        _predict(src="predict_lengths_in_nm.csv"),
        r"predict_lengths_in_nm\.csv: values look like different units .*a \(median 0\.39",
    ),
    Case(
        "predict-input-angles-in-radians",
        _predict(src="predict_angles_in_radians.csv"),
        r"predict_angles_in_radians\.csv: values look like different units .*alpha",
    ),
    Case(
        "predict-input-nan",
        _predict(src="nan_feature.csv"),
        r"nan_feature\.csv: column 'alpha' .* non-finite",
    ),
    Case(
        "predict-input-binary-poscar",
        _predict(src="POSCAR_noise"),
        r"cannot read .*POSCAR_noise as a POSCAR: (binary data|not UTF-8)",
    ),
    Case(
        "predict-input-poscar-count-mismatch",
        _predict(src="POSCAR_counts_mismatch"),
        r"POSCAR_counts_mismatch as a POSCAR: atom counts 3 add up to 3 atoms but only 2 coordinate",
    ),
    Case(
        "predict-input-poscar-garbage-text",
        _predict(src="POSCAR_not_a_poscar"),
        r"POSCAR_not_a_poscar as a POSCAR: only 2 line\(s\)",
    ),
    Case(
        "predict-input-empty-contcar",
        _predict(src="CONTCAR_empty"),
        r"CONTCAR_empty as a POSCAR: empty file",
    ),
    Case("predict-input-fifo", _predict(src=lambda c: _fifo(c, "in.csv")), r"in\.csv is not a"),
    Case(
        "predict-input-symlink-loop-tree",
        _predict(src=_loop_tree),
        r"no usable VASP run found under .*tree \(1 rejected\)",
    ),
    Case(
        "predict-input-nonexistent",
        _predict(src=lambda c: c.tmp / "nope.csv"),
        r"nope\.csv does not exist",
    ),
    # ---- predict: outputs
    Case(
        "predict-output-missing-folder",
        _predict(out=lambda c: c.tmp / "no_such_dir" / "p.csv"),
        r"output folder .*no_such_dir does not exist",
    ),
    Case(
        "predict-output-under-a-file",
        _predict(out=lambda c: _under_file(c, "p.csv")),
        r"output folder .*a_file is not a folder",
    ),
    Case(
        "predict-output-exists-no-force",
        _predict(),
        r"output .*pred\.csv already exists",
        setup=_preexisting("pred.csv"),
    ),
    Case(
        "predict-output-readonly-sysfs",
        _predict(out=lambda c: Path("/sys/dkluq_pred.csv")),
        r"cannot write output /sys/dkluq_pred\.csv: (Permission denied|Operation not permitted)",
        marks=[NO_SYSFS],
    ),
    Case(
        "predict-output-readonly-chmod",
        _predict(),
        r"output folder .* is not writable",
        setup=lambda c: _deny_access(c, c.out, os.W_OK),
    ),
    # ---- ingest: broken VASP files become rejections with a reason
    _ingest_reject("ingest-zero-byte-outcar", "empty_outcar", r"OUTCAR: empty file \(0 bytes\)"),
    _ingest_reject("ingest-noise-outcar", "noise_outcar", r"OUTCAR"),
    _ingest_reject("ingest-noise-vasprun", "noise_vasprun", r"vasprun\.xml"),
    _ingest_reject("ingest-noise-poscar-only", "noise_poscar_only", r"no energy"),
    _ingest_reject("ingest-latin1-oszicar", "latin1_oszicar", r"OSZICAR"),
    _ingest_reject("ingest-poscar-count-mismatch", "mismatched_contcar", r"CONTCAR"),
    _ingest_reject("ingest-truncated-vasprun", "truncated_vasprun", r"vasprun\.xml"),
    _ingest_reject("ingest-text-named-gz", "not_gzip", r"OUTCAR\.gz: corrupt gz data"),
    Case(
        "ingest-truncated-gzip",
        _ingest(_truncated_gzip_tree),
        r"no run was accepted",
        rejected=r"OUTCAR\.gz: corrupt gz data",
        allowed=("table.rejected.csv", SIDECAR),
    ),
    Case(
        "ingest-energy-lines-destroyed",
        _ingest(_no_energy_tree),
        r"no run was accepted",
        rejected=r"OUTCAR",
        allowed=("table.rejected.csv", SIDECAR),
    ),
    Case(
        "ingest-symlink-loop",
        _ingest(_loop_tree),
        r"no run was accepted",
        rejected=r"symbolic link loop",
        allowed=("table.rejected.csv", SIDECAR),
    ),
    Case(
        "ingest-dangling-symlink",
        _ingest(_dangling_tree),
        r"no run was accepted",
        rejected=r"broken symbolic link",
        allowed=("table.rejected.csv", SIDECAR),
    ),
    Case(
        "ingest-fifo-named-outcar",
        _ingest(_fifo_tree),
        r"no run was accepted",
        rejected=r"OUTCAR: not a regular file",
        allowed=("table.rejected.csv", SIDECAR),
    ),
    Case(
        "ingest-empty-tree",
        _ingest(lambda c: _tree(c)),
        r"no VASP output files found under .*tree",
    ),
    Case(
        "ingest-nonexistent",
        _ingest(lambda c: c.tmp / "scratch_purged"),
        r"input path .*scratch_purged does not exist",
    ),
    Case(
        "ingest-output-missing-folder",
        _ingest(lambda c: _tree(c, good=True), out=lambda c: c.tmp / "nodir" / "t.csv"),
        r"output folder .*nodir does not exist",
    ),
    Case(
        "ingest-output-exists-no-force",
        _ingest(lambda c: _tree(c, good=True)),
        r"output .*table\.extxyz already exists",
        setup=_preexisting("table.extxyz"),
    ),
    Case(
        "ingest-output-readonly-sysfs",
        _ingest(lambda c: _tree(c, good=True), out=lambda c: Path("/sys/dkluq_table.csv")),
        r"cannot write output /sys/dkluq_table\.rejected\.csv: (Permission denied|Operation not permitted)",
        marks=[NO_SYSFS],
    ),
    Case(
        "ingest-keeps-good-runs",
        _ingest(lambda c: _tree(c, "noise_outcar", "truncated_vasprun", good=True)),
        r"^$",
        code=0,
        rejected=r"(OUTCAR|vasprun\.xml)",
        allowed=(
            "table.csv",
            "table.extxyz",
            "table.rejected.csv",
            SIDECAR,
            "table.reference.vasp",
        ),
    ),
    # ---- scan / suggest / eos (skipped while the subcommand is missing or a stub)
    Case("scan-model-truncated", _analysis("scan", "truncated"), r"truncated"),
    Case(
        "scan-reference-binary-poscar",
        _analysis("scan", None, reference="POSCAR_noise"),
        r"POSCAR_noise",
    ),
    Case(
        "suggest-model-pickle-code",
        _analysis("suggest", "evil"),
        r"could run code",
    ),
    Case(
        "suggest-reference-count-mismatch",
        _analysis("suggest", None, reference="POSCAR_counts_mismatch"),
        r"POSCAR_counts_mismatch",
    ),
    Case("eos-model-other-version", _analysis("eos", "v999"), r"format version 999"),
    Case(
        "eos-output-under-a-file",
        lambda c: ["eos", c.model, "-o", _under_file(c, "eos_out")],
        r"a_file/eos_out",
    ),
]


# --------------------------------------------------------------------------- fixtures


class _Evil:
    """Unpickling this would create a marker file: the model loader must never do it."""

    marker: Path = Path("/nonexistent")

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> tuple[Path, Path]:
    """One tiny model per module (3 epochs, 8 inducing points, 200 sample rows)."""
    from dkluq_cli.training.config import TrainConfig
    from dkluq_cli.training.job import run_training

    base = tmp_path_factory.mktemp("tiny")
    table = base / "sample200.csv"
    pd.read_csv(SAMPLE / "srtio3_lattice_energy.csv").iloc[:200].to_csv(table, index=False)
    job = run_training(table, TrainConfig(**TINY), base / "run", plots=False)
    return job.run_dir / "model.pt", table


@pytest.fixture(scope="module")
def bad_models(tiny_model, tmp_path_factory) -> dict[str, Path]:
    """Damaged and hostile variants of the tiny model."""
    model, _ = tiny_model
    d = tmp_path_factory.mktemp("bad_models")
    good = torch.load(model, weights_only=True)
    out: dict[str, Path] = {}

    def save(name: str, data) -> None:
        out[name] = d / f"{name}.pt"
        torch.save(data, out[name])

    save("v999", {**good, "format_version": 999})
    save(
        "bohr_features", {**good, "features": ["a_bohr", "b_bohr", "c_bohr", *good["features"][3:]]}
    )
    _Evil.marker = d / "PWNED"
    save("evil", {**good, "config": {**good["config"], "payload": _Evil()}})
    out["plain_pickle"] = d / "plain_pickle.pt"
    out["plain_pickle"].write_bytes(pickle.dumps(_Evil()))
    raw = model.read_bytes()
    out["truncated"] = d / "truncated.pt"
    out["truncated"].write_bytes(raw[: len(raw) // 2])
    out["zero"] = d / "zero.pt"
    out["zero"].write_bytes(b"")
    return out


@pytest.fixture(scope="module", autouse=True)
def _report_count(request):
    """Put 'bad-input corpus: N cases' in the terminal summary (see conftest.py)."""
    request.config.stash[BAD_INPUT_CASES] = len(CASES)
    yield


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in _ANSI.sub("", text).splitlines() if ln.strip()]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else b"")
        for p in folder.rglob("*")
    }


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input(case: Case, invoke, tiny_model, bad_models, tmp_path, monkeypatch):
    model, table = tiny_model
    out = tmp_path / "out"
    out.mkdir()
    ctx = Ctx(tmp_path, out, model, bad_models, table, monkeypatch)
    if case.setup:
        case.setup(ctx)
    before = _snapshot(out)
    argv = case.argv(ctx)
    result = invoke(*argv)
    monkeypatch.undo()  # os.access and friends back before the checks
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert result.exit_code == case.code, (result.exit_code, everything)
    lines = _lines(result.stderr)
    errors = [ln for ln in lines if ln.startswith("error:")]
    if case.code == 0:
        assert errors == [], lines
        if case.pattern != "^$":
            assert any(re.search(case.pattern, ln) for ln in lines), lines
    else:
        assert len(errors) == 1, lines
        assert re.search(case.pattern, errors[0]), (case.pattern, errors[0])
        follow = lines[lines.index(errors[0]) + 1 :]
        assert all(ln.startswith("hint:") for ln in follow), follow
    # nothing written but what the case allows; what was there is untouched; no temp files
    after = _snapshot(out)
    temps = [p for p in after if Path(p).name.startswith(".") and p.endswith(".tmp")]
    assert not temps, temps
    for name, data in before.items():
        assert after.get(name) == data, f"{name} was changed"
    new = {p.split("/")[0] for p in after} - {p.split("/")[0] for p in before}
    assert new <= set(case.allowed), new
    if case.rejected:
        rej = pd.read_csv(out / "table.rejected.csv")
        assert len(rej) >= 1
        for reason in rej["reason"]:
            assert re.search(case.rejected, str(reason)), reason
            assert "internal error" not in str(reason)
    assert not (bad_models["evil"].parent / "PWNED").exists(), "a model file ran code"
    if case.code == 0 and "table.csv" in case.allowed:
        assert len(pd.read_csv(out / "table.csv")) == 1  # the good run is kept


def test_corpus_is_large_and_documented():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    committed = sorted(
        str(p.relative_to(BAD)) for p in BAD.rglob("*") if p.is_file() and p.name != "README.md"
    )
    missing = [name for name in committed if name not in readme]
    assert not missing, f"tests/bad_inputs/README.md does not list {missing}"
    assert stat.S_ISDIR(BAD.stat().st_mode)
