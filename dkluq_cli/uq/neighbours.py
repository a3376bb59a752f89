"""Distance from a point to the nearest training row, in the model's standardised coordinates.

A prediction far from every training row rests on the kernel's and the polynomial's guess
rather than on data, even inside the training box: in six dimensions most of a box lies far from
any of a hundred rows. :class:`Neighbours` keeps the training rows' coordinates (and the point
group's maps, under which a row and its images are the same cell) and measures, for any point,
the distance to the nearest row or image. Its :attr:`Neighbours.limit` is where ``in_domain``
(:mod:`dkluq_cli.uq.domain`) stops: the split-conformal :data:`LEVEL` quantile of the training
rows' leave-one-out distances (each row to the nearest *other* row), so a fresh point drawn like
the training rows lies within it with probability at least :data:`LEVEL` (a fresh point has all
n rows to be near, a left-out row only n − 1). With fewer than ``1 / (1 − LEVEL)`` rows that
quantile is the largest distance, which a fresh point exceeds with probability up to
``1 / (n + 1)``; so the limit is at least the :data:`LEVEL` quantile of the distance of
:data:`PROBES` points spread uniformly over the rows' bounding box: a region counts as a hole
only when it is among the farthest hundredth of the box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dkluq_cli.crystal.point_group import coordinate_images

#: Share of fresh points drawn like the training rows that lie within the limit (at least).
LEVEL = 0.99
#: Most training rows kept (a seeded random subset of larger tables).
MAX_ROWS = 5000
#: Uniform points over the rows' bounding box whose distances set the limit's floor.
PROBES = 4000


@dataclass
class Neighbours:
    """Training rows (standardised model coordinates) and the nearest-row distance limit.

    Attributes:
        rows: (m, d) training rows' coordinates.
        actions: (k, d, d) the point group's maps of the coordinates, or None.
        limit: Largest nearest-row distance of an in-domain point (coordinate units).
    """

    rows: np.ndarray
    actions: np.ndarray | None
    limit: float
    _tree: Any = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_rows(
        cls, u: np.ndarray, actions: np.ndarray | None = None, seed: int = 0, widen: float = 0.0
    ) -> Neighbours:
        """The neighbours of training coordinates ``u`` (n, d): the limit is the larger of their
        leave-one-out distances' :data:`LEVEL` split-conformal quantile and the :data:`LEVEL`
        quantile of uniform probes of their bounding box, widened on each side by ``widen`` times
        its width (infinite for a single row); ``seed`` draws the probes and the subset of
        tables above :data:`MAX_ROWS` rows."""
        u = np.atleast_2d(np.asarray(u, dtype=np.float64))
        if len(u) > MAX_ROWS:
            u = u[np.sort(np.random.default_rng(seed).choice(len(u), MAX_ROWS, replace=False))]
        acts = None if actions is None else np.asarray(actions, dtype=np.float64)
        out = cls(u, acts, math.inf)
        if len(u) > 1:
            loo = np.sort(out.leave_one_out())
            rank = min(len(loo), math.ceil(LEVEL * (len(loo) + 1)))
            lo, hi = u.min(axis=0), u.max(axis=0)
            pad = widen * (hi - lo)
            rng = np.random.default_rng(seed)
            probes = rng.uniform(lo - pad, hi + pad, (PROBES, u.shape[1]))
            floor = float(np.quantile(out.distance(probes), LEVEL))
            out.limit = max(float(loo[rank - 1]), floor)
        return out

    def _index(self) -> tuple[Any, np.ndarray, int]:
        """KD-tree over every row's images, the row each image belongs to, images per row."""
        imgs = coordinate_images(self.rows, self.actions)
        n, k, d = imgs.shape
        if self._tree is None:
            from scipy.spatial import cKDTree

            self._tree = cKDTree(imgs.reshape(n * k, d))
        return self._tree, np.repeat(np.arange(n), k), k

    def distance(self, u: np.ndarray) -> np.ndarray:
        """Distance (n,) from each point of ``u`` (n, d) to the nearest training row or image."""
        u = np.atleast_2d(np.asarray(u, dtype=np.float64))
        if not len(self.rows):
            return np.full(len(u), math.inf)
        tree, _, _ = self._index()
        dist, _ = tree.query(u, k=1)
        return np.asarray(dist, dtype=np.float64).reshape(len(u))

    def leave_one_out(self) -> np.ndarray:
        """Distance (m,) from each training row to the nearest *other* row or its images."""
        tree, owner, k = self._index()
        m = len(self.rows)
        # among the k + 1 nearest images at most k are the row's own
        dist, idx = tree.query(self.rows, k=min(k + 1, m * k))
        dist, idx = np.atleast_2d(dist), np.atleast_2d(idx)
        other = owner[idx] != np.arange(m)[:, None]
        return np.where(other, dist, np.inf).min(axis=1)

    def ratio(self, u: np.ndarray) -> np.ndarray:
        """Nearest-row distance of ``u`` over :attr:`limit` (> 1: beyond the limit)."""
        return self.distance(u) / self.limit

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (for the model file)."""
        return {
            "rows": self.rows.tolist(),
            "actions": None if self.actions is None else self.actions.tolist(),
            "limit": self.limit,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Neighbours | None:
        """Inverse of :meth:`to_dict`; None for nothing stored."""
        if not data:
            return None
        acts = data.get("actions")
        rows = np.asarray(data["rows"], dtype=np.float64)
        return cls(
            rows.reshape(len(rows), -1),
            None if acts is None else np.asarray(acts, dtype=np.float64),
            float(data["limit"]),
        )


__all__ = ["LEVEL", "MAX_ROWS", "PROBES", "Neighbours"]
