"""Train / validation / test splits of a table's rows: seeded random, or read from JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dkluq_cli.errors import TableError


@dataclass
class Splits:
    """Row indices (0-based, into the input table) of each split."""

    train: list[int]
    val: list[int]
    test: list[int]

    def to_dict(self) -> dict[str, list[int]]:
        """Plain dict for ``splits.json``."""
        return {"train": self.train, "val": self.val, "test": self.test}


def make_splits(n: int, val_fraction: float, test_fraction: float, seed: int) -> Splits:
    """Seeded random train/val/test split of ``n`` rows.

    Raises:
        TableError: Too few rows for the requested fractions.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise TableError(
            f"--val-fraction {val_fraction} and --test-fraction {test_fraction} must be in [0, 1) "
            "and sum below 1"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    n_test = round(n * test_fraction)
    n_train = n - n_val - n_test
    if n_train < 2 or n_val < 1:
        raise TableError(
            f"{n} rows are too few to train with a validation split "
            f"({n_train} train, {n_val} validation)",
            hint="use a larger table (at least ~20 rows)",
        )
    return Splits(
        train=sorted(perm[:n_train].tolist()),
        val=sorted(perm[n_train : n_train + n_val].tolist()),
        test=sorted(perm[n_train + n_val :].tolist()),
    )


def splits_from_dict(data: dict[str, Any], n: int, source: str = "split file") -> Splits:
    """Validate split indices read from JSON.

    Raises:
        TableError: Missing keys, indices out of range, overlapping or empty splits.
    """
    try:
        sp = Splits(
            train=[int(i) for i in data["train"]],
            val=[int(i) for i in data["val"]],
            test=[int(i) for i in data.get("test", [])],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TableError(
            f"{source}: needs integer lists 'train' and 'val' (and optional 'test')"
        ) from exc
    all_idx = sp.train + sp.val + sp.test
    if any(i < 0 or i >= n for i in all_idx):
        raise TableError(f"{source}: row index out of range for a table of {n} rows")
    if len(set(all_idx)) != len(all_idx):
        raise TableError(f"{source}: a row appears in more than one split")
    if len(sp.train) < 2 or not sp.val:
        raise TableError(f"{source}: train needs ≥ 2 rows and val ≥ 1")
    return sp
