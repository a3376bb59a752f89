"""Monomials of the strain coordinates, and group-averaged monomials evaluated fast.

A symmetric strain polynomial's basis function is the group average (Reynolds operator) of one
monomial, ``φ(x) = 1/|G| Σ_g m(A_g x)``. Evaluated as written (:func:`averaged_monomials`, the
definition, kept for choosing the basis at a few points), every row costs |G| images times every
basis function's powers and products. :func:`expansion_plan` prepares it once instead:

* when every map is a signed permutation (the cubic group's on Mandel strain), each average is
  a short sum over its monomial's orbit, ``Σ c_f x^f`` with exact coefficients, so only ``x``
  itself is evaluated;
* otherwise each image ``A_g x`` is evaluated and the values averaged.

Either way :class:`MonomialPlan` computes every monomial it needs by one multiplication of one
of lower degree (a product tree: one array operation per degree) and combines them with one
sparse matrix product.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse

#: Entries of a map at most this large are round-off zeros (a signed permutation's others).
SIGNED_PERMUTATION_TOL = 1e-14
#: Orbit coefficients below this fraction of their basis function's largest one are the
#: round-off of terms that cancel exactly (images with entries ±1 up to round-off); dropped.
COEFFICIENT_RTOL = 1e-12


def monomial_exponents(degree: int, n: int) -> np.ndarray:
    """Exponent rows of every monomial of total degree exactly ``degree`` in ``n`` variables."""
    combos = itertools.combinations_with_replacement(range(n), degree)
    return np.array([np.bincount(c, minlength=n) for c in combos], dtype=np.int64).reshape(-1, n)


def monomials(x: np.ndarray, exponents: np.ndarray) -> np.ndarray:
    """Values (n, p) of the monomials ``exponents`` (p, d) at ``x`` (n, d)."""
    top = int(exponents.max(initial=0))
    powers = x[:, :, None] ** np.arange(top + 1)  # (n, d, top + 1)
    cols = np.arange(x.shape[1])
    return np.prod(powers[:, cols, exponents], axis=2)


def averaged_monomials(
    x: np.ndarray, actions: np.ndarray, exponents: np.ndarray, chunk: int = 1024
) -> np.ndarray:
    """``1/|G| Σ_g m(A_g x)`` (n, p) for the monomials ``exponents`` (p, d), image by image."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    out = np.empty((len(x), len(exponents)))
    for s in range(0, len(x), chunk):
        xs = x[s : s + chunk]
        acc = np.zeros((len(xs), len(exponents)))
        for a in actions:
            acc += monomials(xs @ a.T, exponents)
        out[s : s + chunk] = acc / len(actions)
    return out


@dataclass(frozen=True)
class MonomialPlan:
    """Polynomials (p of them) as combinations of monomials evaluated by a product tree.

    Attributes:
        parent: (m,) row of the monomial each one extends by one factor (row 0 is the constant
            1, its own parent); rows are in increasing degree.
        var: (m,) the coordinate that factor is.
        levels: Row ranges ``(start, stop)`` of each degree ≥ 1.
        combine: (p, m) sparse (CSR) coefficients of the polynomials over the monomials.
        actions: (k, d, d) maps whose images the polynomials are averaged over, or None: the
            polynomials are then ``combine`` of the monomials of ``x`` itself.
    """

    parent: np.ndarray
    var: np.ndarray
    levels: tuple[tuple[int, int], ...]
    combine: scipy.sparse.csr_matrix
    actions: np.ndarray | None = None

    def evaluate(self, x: np.ndarray, chunk: int = 256) -> np.ndarray:
        """The polynomials' values (n, p) at ``x`` (n, d), ``chunk`` rows at a time."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        out = np.empty((self.combine.shape[0], len(x)))
        for s in range(0, len(x), chunk):
            xt = x[s : s + chunk].T
            if self.actions is None:
                out[:, s : s + chunk] = self.combine @ self._tree(xt)
                continue
            acc = np.zeros((self.combine.shape[0], xt.shape[1]))
            for a in self.actions:
                acc += self.combine @ self._tree(a @ xt)
            out[:, s : s + chunk] = acc / len(self.actions)
        return out.T

    def _tree(self, xt: np.ndarray) -> np.ndarray:
        """Every monomial's values (m, n) at the columns of ``xt`` (d, n)."""
        h = np.empty((len(self.parent), xt.shape[1]))
        h[0] = 1.0
        for start, stop in self.levels:
            np.multiply(h[self.parent[start:stop]], xt[self.var[start:stop]], out=h[start:stop])
        return h


def expansion_plan(actions: np.ndarray, exponents: np.ndarray) -> MonomialPlan:
    """The plan evaluating ``1/|G| Σ_g m_j(A_g x)`` for each row ``j`` of ``exponents``.

    When every map is a signed permutation (one non-zero entry per row, as the cubic group's
    on Mandel strain), each average is expanded into the monomials of its orbit, so ``x`` is
    evaluated once; otherwise each image ``A_g x`` is evaluated by the product tree.

    Args:
        actions: (k, d, d) linear maps of the coordinates.
        exponents: (p, d) exponents of the averaged monomials.
    """
    acts = np.ascontiguousarray(actions, dtype=np.float64)
    exps = np.ascontiguousarray(exponents, dtype=np.int64)
    return _plan(acts.tobytes(), acts.shape, exps.tobytes(), exps.shape)


@functools.lru_cache(maxsize=32)
def _plan(
    acts_bytes: bytes, acts_shape: tuple, exps_bytes: bytes, exps_shape: tuple
) -> MonomialPlan:
    acts = np.frombuffer(acts_bytes, dtype=np.float64).reshape(acts_shape)
    exps = np.frombuffer(exps_bytes, dtype=np.int64).reshape(exps_shape)
    mono = [tuple(int(v) for v in e) for e in exps]
    if len(acts) == 1 and np.array_equal(acts[0], np.eye(acts_shape[1])):
        return _assemble([{m: 1.0} for m in mono], acts_shape[1])
    big = np.abs(acts) > SIGNED_PERMUTATION_TOL
    if not (big.sum(axis=2) == 1).all():
        return replace(_assemble([{m: 1.0} for m in mono], acts_shape[1]), actions=acts.copy())
    # (A x)_i = s_i x_π(i): m_e(A x) = Π_i s_i^{e_i} · x^f with f_π(i) = e_i
    perm = np.argmax(big, axis=2)
    sign = np.take_along_axis(acts, perm[:, :, None], axis=2)[:, :, 0]
    terms = []
    for e in exps:
        orbit: dict[tuple[int, ...], float] = {}
        for pi, si in zip(perm, sign, strict=True):
            f = np.bincount(pi, weights=e, minlength=len(e)).astype(np.int64)
            key = tuple(int(v) for v in f)
            orbit[key] = orbit.get(key, 0.0) + float(np.prod(si**e))
        top = max(abs(c) for c in orbit.values())
        terms.append(
            {k: c / len(acts) for k, c in orbit.items() if abs(c) > COEFFICIENT_RTOL * top}
        )
    return _assemble(terms, acts_shape[1])


def _assemble(terms: list[dict[tuple[int, ...], float]], d: int) -> MonomialPlan:
    """Product tree over every monomial the terms use, and the terms as a sparse matrix."""
    degree = max((sum(m) for term in terms for m in term), default=0)
    support: list[list[tuple[int, ...]]] = [[] for _ in range(degree + 1)]
    seen: set[tuple[int, ...]] = set()
    for term in terms:
        for mono in term:
            if mono not in seen:
                seen.add(mono)
                support[sum(mono)].append(mono)
    # each monomial's parent, degree by degree from the top, preferring one already needed
    needed = [list(s) for s in support]
    have = [set(s) for s in support]
    parents: dict[tuple[int, ...], tuple[tuple[int, ...], int]] = {}
    for t in range(degree, 0, -1):
        for mono in needed[t]:
            options = [v for v in range(d) if mono[v] > 0]
            lower = [tuple(m - (i == v) for i, m in enumerate(mono)) for v in options]
            pick = next((i for i, low in enumerate(lower) if low in have[t - 1]), 0)
            parents[mono] = (lower[pick], options[pick])
            if lower[pick] not in have[t - 1]:
                have[t - 1].add(lower[pick])
                needed[t - 1].append(lower[pick])
    zero = tuple([0] * d)
    order = [zero] + [m for t in range(1, degree + 1) for m in needed[t] if m != zero]
    row = {m: i for i, m in enumerate(order)}
    parent = np.array([0] + [row[parents[m][0]] for m in order[1:]], dtype=np.int64)
    var = np.array([0] + [parents[m][1] for m in order[1:]], dtype=np.int64)
    levels, start = [], 1
    for t in range(1, degree + 1):
        levels.append((start, start + len(needed[t])))
        start += len(needed[t])
    rows = np.array([row[m] for term in terms for m in term], dtype=np.int64)
    coef = np.array([c for term in terms for c in term.values()], dtype=np.float64)
    indptr = np.concatenate([[0], np.cumsum([len(term) for term in terms])]).astype(np.int64)
    combine = scipy.sparse.csr_matrix((coef, rows, indptr), shape=(len(terms), len(order)))
    return MonomialPlan(parent, var, tuple(levels), combine)
