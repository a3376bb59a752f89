"""A trained model as a notebook holds it: :func:`train`, :func:`load_model` and
:class:`TrainedModel` (``predict``, ``scan``, ``eos``, ``elastic``), the package face's API.

    from dkluq_cli import load_model, train

    model = train("table.csv")              # or a DataFrame; a run folder only with output=
    table = model.predict(structures)       # DataFrame, the columns of `dkluq predict`
    model.eos().stats()["a0"]               # what `dkluq eos` prints

The CLI commands call these same functions; they only add options, printing and figures.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkluq_cli.analysis.centre import choose_centre
from dkluq_cli.analysis.elastic import ElasticResult, elastic_analysis, parse_cell
from dkluq_cli.analysis.elastic_report import eos_bulk_modulus
from dkluq_cli.analysis.eos import EosResult, eos_analysis
from dkluq_cli.analysis.predict import frame_of, predict_frame
from dkluq_cli.analysis.scan import DEFAULT_PAIR, ScanResult, run_scan
from dkluq_cli.crystal.lattice import parse_pair
from dkluq_cli.crystal.structure_io import crystal_of
from dkluq_cli.errors import DkluqError
from dkluq_cli.model.device import resolve_device
from dkluq_cli.model.io import load_model as load_surrogate
from dkluq_cli.model.io import save_model
from dkluq_cli.training.config import TrainConfig
from dkluq_cli.training.job import TrainJob, run_training

if TYPE_CHECKING:
    import pandas as pd

    from dkluq_cli.model.surrogate import Surrogate

PathLike = str | os.PathLike[str]


class TrainedModel:
    """A trained surrogate with the questions users ask of it.

    Attributes:
        surrogate: The model itself (:class:`~dkluq_cli.model.surrogate.Surrogate`).
        path: The model file it was loaded from or saved to, or None.
        job: The training job that made it in this session (metrics, splits, history), or
            None for a loaded model.
    """

    def __init__(
        self, surrogate: Surrogate, path: Path | None = None, job: TrainJob | None = None
    ) -> None:
        self.surrogate = surrogate
        self.path = path
        self.job = job

    @property
    def target(self) -> str:
        """The target column (``energy_eV``)."""
        return self.surrogate.target

    @property
    def features(self) -> tuple[str, ...]:
        """The input columns."""
        return tuple(self.surrogate.features)

    @property
    def metrics(self) -> dict[str, Any] | None:
        """The training run's ``metrics.json`` contents (None for a loaded model)."""
        return None if self.job is None else self.job.metrics

    @property
    def run_dir(self) -> Path | None:
        """The run folder training wrote, or None."""
        return None if self.job is None else self.job.run_dir

    def __repr__(self) -> str:
        where = f", {self.path}" if self.path else ""
        return (
            f"TrainedModel({self.target} of {', '.join(self.features)}, "
            f"head {self.surrogate.head.kind}{where})"
        )

    def predict(
        self, inputs: Any, *, batch_size: int = 8192, allow_other_compositions: bool = False
    ) -> pd.DataFrame:
        """Mean, calibrated σ, 95 % bounds, ``in_domain`` and ``domain_reason`` for each row or
        structure.

        Args:
            inputs: A DataFrame with the feature columns; a pymatgen ``Structure`` or ASE
                ``Atoms`` (or a list of them); or a path: a table, any structure file ASE or
                pymatgen reads, a folder of them, or a VASP run tree.
            batch_size: Rows per forward pass.
            allow_other_compositions: Predict rows of another composition than the model's
                (flagged out of domain) instead of refusing them.

        Returns:
            The input table (structures: one row each, named in ``structure``) with the
            columns ``dkluq predict`` writes.
        """
        frame, source = frame_of(inputs)
        return predict_frame(
            self.surrogate,
            frame,
            source=source,
            batch_size=batch_size,
            allow_other_compositions=allow_other_compositions,
        )

    def scan(
        self,
        *,
        reference: Any = None,
        at: str | dict[str, float] | None = None,
        lattice_range: tuple[float, float] = (0.9, 1.1),
        points: int = 101,
        points_2d: int | None = None,
        pairs: Sequence[str | tuple[str, str]] = (DEFAULT_PAIR,),
        batch_size: int = 8192,
        progress: Callable[[str], None] | None = None,
    ) -> ScanResult:
        """Energy ± σ on the 1-D, isotropic and 2-D grids around the reference crystal
        (``dkluq scan``; :func:`dkluq_cli.analysis.scan_report.summarise` gives its summary).

        Args:
            reference: Structure file of the centre; default the model's reference crystal,
                else the centre of the training domain.
            at: Single parameters overriding the centre, ``"a=3.9,alpha=90"`` or a dict.
            lattice_range: Relative factors ``(lo, hi)`` for lengths and angles alike.
            points: Points per axis of the 1-D and isotropic scans.
            points_2d: Points per axis of the 2-D maps (default ``points``).
            pairs: 2-D maps, ``"a,alpha"`` or ``("a", "alpha")``.
            batch_size: Grid points per forward pass.
            progress: Called with a one-line message as each step starts.
        """
        centre = choose_centre(self.surrogate, reference, at)
        pairs = [parse_pair(p) if isinstance(p, str) else tuple(p) for p in pairs]
        return run_scan(
            self.surrogate,
            centre,
            lattice_range=lattice_range,
            points=points,
            points_2d=points_2d,
            pairs=pairs,
            batch_size=batch_size,
            progress=progress,
        )

    def eos(
        self,
        *,
        reference: PathLike | None = None,
        lattice_range: tuple[float, float] = (0.94, 1.06),
        points: int = 41,
        samples: int = 400,
        eos: str = "birch-murnaghan",
        seed: int = 0,
    ) -> EosResult:
        """An equation of state fitted to joint posterior samples along the isotropic line
        (``dkluq eos``; ``.stats()`` gives a0, V0, B0, E0 with σ and 95 % intervals).

        Args:
            reference: Structure file of the centre; default as for :meth:`scan`.
            lattice_range: Scale factors of a, b, c.
            points: Points along the line.
            samples: Joint posterior samples, each fitted.
            eos: ``birch-murnaghan``, ``vinet`` or ``murnaghan``.
            seed: Seed of the samples.
        """
        centre = choose_centre(self.surrogate, reference, match_composition=True, command="eos")
        return eos_analysis(
            self.surrogate,
            centre.params,
            lattice_range=lattice_range,
            points=points,
            n_samples=samples,
            eos=eos,
            seed=seed,
            n_atoms=centre.n_atoms,
            reference_source=centre.source,
        )

    def elastic(
        self,
        *,
        reference: PathLike | None = None,
        at: str | None = None,
        max_strain: float = 0.03,
        samples: int = 1000,
        seed: int = 0,
    ) -> ElasticResult:
        """The elastic tensor with σ and 95 % intervals from joint posterior draws
        (``dkluq elastic``; ``.report()`` gives what ``elastic.json`` holds), with ``eos``'s B0
        beside it.

        Args:
            reference: Structure file whose lattice starts the zero-stress search; default as
                for :meth:`scan`.
            at: The cell (``a,b,c,alpha,beta,gamma`` or ``NAME=VALUE`` pairs) instead of the
                zero-stress one.
            max_strain: Largest strain of the stencil (engineering Voigt units).
            samples: Joint posterior draws of the surface.
            seed: Seed of the draws.
        """
        centre = choose_centre(self.surrogate, reference, match_composition=True, command="elastic")
        res = elastic_analysis(
            self.surrogate,
            centre.params,
            at=None if at is None else parse_cell(at, centre.params),
            max_strain=max_strain,
            n_samples=samples,
            seed=seed,
            n_atoms=centre.n_atoms,
            source=centre.source,
        )
        res.eos, res.eos_note = eos_bulk_modulus(self.surrogate, centre.params, centre.n_atoms)
        return res

    def save(self, path: PathLike, *, force: bool = False) -> Path:
        """Write the model file (``model.pt``) atomically; returns its path."""
        self.path = save_model(self.surrogate, path, force=force)
        return self.path


def load_model(path: PathLike, device: str = "auto") -> TrainedModel:
    """Load ``model.pt`` (or the run folder holding it) onto ``auto``, ``cpu`` or ``cuda``."""
    model = Path(path)
    surrogate = load_surrogate(model, resolve_device(device))
    return TrainedModel(surrogate, model / "model.pt" if model.is_dir() else model)


def train(
    table: PathLike | pd.DataFrame | None = None,
    *,
    output: PathLike | None = None,
    reference: Any = None,
    force: bool = False,
    split_file: PathLike | None = None,
    resume: PathLike | None = None,
    status: Callable[[str], None] | None = None,
    progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    draw: Callable[[TrainJob], list[Path]] | None = None,
    stop_after_epoch: int | None = None,
    **options: Any,
) -> TrainedModel:
    """Train a model on a table, writing a run folder only when ``output`` is given.

    Args:
        table: A CSV/Parquet file or a DataFrame with the feature and target columns.
        output: Run folder to write (``model.pt``, metrics, splits ...); None writes nothing.
        reference: The reference crystal: a structure file, pymatgen ``Structure`` or ASE
            ``Atoms``; default the parent crystal ingest left beside the table (``<table>.reference.vasp``).
        force: Replace an existing run folder.
        split_file: JSON with ``train``/``val``/``test`` row indices.
        resume: An interrupted run folder to continue (``table`` and ``options`` then come
            from it).
        status: Called with a one-line message as each step starts.
        progress: Called after every SVGP epoch (:class:`dkluq_cli.training.fit_svgp.Progress`).
        should_stop: Polled after every epoch; True saves a checkpoint and stops.
        draw: Draws the figures into the run folder before it is committed (the CLI's).
        stop_after_epoch: Simulate an interruption (tests).
        **options: Any :class:`~dkluq_cli.training.config.TrainConfig` field (``head``,
            ``seed``, ``epochs``, ``device`` ...).

    Raises:
        DkluqError: An unknown option, or any error of the table or the fit.
    """
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise DkluqError(
            f"unknown training option(s) {', '.join(unknown)}",
            hint=f"options are TrainConfig fields: {', '.join(sorted(known))}",
        )
    crystal = None if reference is None else crystal_of(reference)
    run_dir = Path(resume) if resume is not None else (None if output is None else Path(output))
    job = run_training(
        None if resume is not None or table is None else _as_table(table),
        TrainConfig(**options),
        run_dir,
        force=force,
        split_file=None if split_file is None else Path(split_file),
        resume=resume is not None,
        plots=draw is not None,
        progress=progress,
        status=status,
        should_stop=should_stop,
        stop_after_epoch=stop_after_epoch,
        crystal=crystal,
        draw=draw,
    )
    path = None if job.run_dir is None else job.run_dir / "model.pt"
    return TrainedModel(job.result.surrogate, path, job)


def _as_table(table: PathLike | pd.DataFrame) -> Path | pd.DataFrame:
    return Path(table) if isinstance(table, str | os.PathLike) else table


__all__ = ["TrainedModel", "load_model", "train"]
