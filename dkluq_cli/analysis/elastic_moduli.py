"""Bulk and shear moduli of an elastic tensor (Voigt, Reuss, Hill) and Born stability.

The formulas are pymatgen's ``ElasticTensor.k_voigt``, ``k_reuss``, ``g_voigt``, ``g_reuss`` and
their Hill averages, written for stacks of 6 × 6 Voigt tensors (engineering shear) so that
every joint posterior draw of the tensor gets its own moduli. Born stability is the general
criterion: the 6 × 6 tensor positive definite (the per-crystal-system inequalities are special
cases of it).
"""

from __future__ import annotations

import numpy as np

#: The moduli :func:`moduli` returns, in report order.
MODULI: tuple[str, ...] = ("B_V", "B_R", "B_VRH", "G_V", "G_R", "G_VRH")


def moduli(c: np.ndarray) -> dict[str, np.ndarray]:
    """Voigt, Reuss and Hill bulk (B) and shear (G) moduli of tensors ``c`` (..., 6, 6).

    Reuss bounds come from the compliance ``S = C⁻¹``; a singular tensor gives NaN there.

    Returns:
        ``{name: (...,)}`` for the names in :data:`MODULI`, in the unit of ``c``.
    """
    c = np.asarray(c, dtype=np.float64)
    diag = c[..., [0, 1, 2], [0, 1, 2]].sum(-1)
    off = c[..., 0, 1] + c[..., 0, 2] + c[..., 1, 2]
    shear = c[..., [3, 4, 5], [3, 4, 5]].sum(-1)
    b_v = (diag + 2.0 * off) / 9.0
    g_v = (diag - off + 3.0 * shear) / 15.0
    s = _inverse(c)
    s_diag = s[..., [0, 1, 2], [0, 1, 2]].sum(-1)
    s_off = s[..., 0, 1] + s[..., 0, 2] + s[..., 1, 2]
    s_shear = s[..., [3, 4, 5], [3, 4, 5]].sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        b_r = 1.0 / (s_diag + 2.0 * s_off)
        g_r = 15.0 / (4.0 * s_diag - 4.0 * s_off + 3.0 * s_shear)
    return {
        "B_V": b_v,
        "B_R": b_r,
        "B_VRH": (b_v + b_r) / 2.0,
        "G_V": g_v,
        "G_R": g_r,
        "G_VRH": (g_v + g_r) / 2.0,
    }


def _inverse(c: np.ndarray) -> np.ndarray:
    """Inverses of a stack of matrices; NaN where one is singular."""
    flat = c.reshape(-1, 6, 6)
    out = np.full_like(flat, np.nan)
    for k, m in enumerate(flat):
        try:
            out[k] = np.linalg.inv(m)
        except np.linalg.LinAlgError:
            continue  # a singular draw has no compliance: NaN, counted by the caller
    return out.reshape(c.shape)


def born_stable(c: np.ndarray) -> np.ndarray:
    """Whether each tensor of ``c`` (..., 6, 6) is positive definite (Born stability)."""
    c = np.asarray(c, dtype=np.float64)
    return np.linalg.eigvalsh((c + np.swapaxes(c, -1, -2)) / 2.0)[..., 0] > 0.0


__all__ = ["MODULI", "born_stable", "moduli"]
