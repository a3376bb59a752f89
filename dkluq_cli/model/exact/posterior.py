"""The exact head's posterior at new points, in chunks of bounded size.

With training coordinates ``X`` (n × d), the Cholesky factor ``L`` of the training covariance
and ``α = K⁻¹ y``, the latent posterior at points ``Z`` is

    mean = K(X, Z)ᵀ α,        var = k(Z, Z) − ‖L⁻¹ K(X, Z)‖²        (per column),

and ``K(X, Z)`` is the group-averaged Matérn plus the polynomial kernel
(:mod:`dkluq_cli.model.exact.kernel`). Here that arithmetic runs as a few large array operations
per chunk of points:

* the Matérn's group images are taken of the training rows once (``A_g X``, scaled by the
  lengthscales), so a chunk's distances to all ``|G| n`` images are one matrix product, its
  Matérn one pass of element-wise operations, and the group average one sum;
* the polynomial part is one product of the training rows' weighted basis ``Φ_X W`` with the
  chunk's basis values (:meth:`dkluq_cli.crystal.strain.StrainPolynomial.design`);
* the variance is one triangular solve per chunk.

Chunks hold at most :data:`MAX_ENTRIES` kernel entries, so the memory of predictions does not
grow with the number of points (a joint or cross-covariance holds only its own result).
:class:`FixedPoints` keeps ``L⁻¹ K(X, Z)`` of a fixed set of points, so that each covariance
column that ``suggest``'s conditioning asks for is one matrix-vector product.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor

from dkluq_cli.crystal.strain import StrainPolynomial
from dkluq_cli.model.exact.kernel import InvariantMatern, PolynomialKernel

#: Kernel entries (images × points) of one chunk; a few buffers of this size are live at once.
MAX_ENTRIES = 1 << 20
#: Points per chunk at most (and at least, whatever the number of images).
CHUNK_RANGE = (32, 1024)
#: ``L⁻¹ K(X, Z)`` of a :class:`FixedPoints` is kept up to this many entries; beyond, each
#: covariance column recomputes it chunk by chunk.
FIXED_MAX_ENTRIES = 1 << 25
_SQRT5 = math.sqrt(5.0)


class MaternImages:
    """The group-averaged Matérn 5/2 as products against group images of one set of rows.

    ``k(a, b) = s² / |G| Σ_g m(‖(A_g a − b) / ℓ‖)``: equal to :class:`InvariantMatern`'s
    ``k(a, b)`` (its metric commutes with every ``A_g`` and the group holds every inverse).

    Args:
        matern: The fitted kernel module.
    """

    def __init__(self, matern: InvariantMatern) -> None:
        with torch.no_grad():
            self.actions = matern.actions.detach().to(torch.float64)
            # √5 / ℓ per coordinate: distances come out as the Matérn's s = √5 r / ℓ (ℓ taken
            # in the module's own precision, so the kernel is the module's to round-off)
            inv_ls = torch.exp(-matern.log_lengthscale.detach())[matern.blocks]
            self.scale = _SQRT5 * inv_ls.to(torch.float64)
            self.weight = float(matern.outputscale) / len(self.actions) / 3.0
        self._work: tuple | None = None

    @property
    def order(self) -> int:
        """Number of group images |G|."""
        return len(self.actions)

    def images(self, a: Tensor) -> Tensor:
        """Scaled images of rows ``a`` (n × d), image-major, each row augmented to
        ``[A_g a, ‖A_g a‖², 1]`` (|G| · n × d + 2) for :meth:`block`."""
        img = torch.matmul(a * self.scale, self.actions.transpose(1, 2)).reshape(-1, a.shape[1])
        return torch.cat([img, (img * img).sum(-1, keepdim=True), torch.ones_like(img[:, :1])], 1)

    def block(self, img: Tensor, b: Tensor) -> Tensor:
        """``k(a, b)`` (n_a × n_b) from the images of ``a`` (:meth:`images`) and rows ``b``."""
        bs = b * self.scale
        # ‖u − v‖² = ‖u‖² + ‖v‖² − 2 u·v as one product of the augmented rows
        rhs = torch.cat([-2.0 * bs, torch.ones_like(bs[:, :1]), (bs * bs).sum(-1, keepdim=True)], 1)
        grouped = self.order > 1
        dist, spare = self._workspace(len(img), len(b), b) if grouped else (None, None)
        dist = torch.mm(img, rhs.T, out=dist).clamp_min_(5e-30)
        out = _matern52_3(dist, spare)
        if grouped:
            out = out.view(self.order, -1, len(b)).sum(0)
        return out.mul_(self.weight)

    def _workspace(self, rows: int, cols: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """Two (rows × cols) buffers, kept between chunks: reallocating blocks of this size
        for every chunk costs more than the arithmetic on them."""
        key = (rows, cols, like.device, like.dtype)
        if self._work is None or self._work[0] != key:
            self._work = (key, like.new_empty((rows, cols)), like.new_empty((rows, cols)))
        return self._work[1], self._work[2]

    def diagonal(self, a: Tensor) -> Tensor:
        """``k(a_i, a_i)`` (n,)."""
        s = a * self.scale
        diff = s[None, :, :] - torch.matmul(s, self.actions.transpose(1, 2))
        return _matern52_3((diff * diff).sum(-1).clamp_min_(0.0)).sum(0).mul_(self.weight)


def _matern52_3(sq: Tensor, spare: Tensor | None = None) -> Tensor:
    """``3 (1 + s + s²/3) e^{−s} = ((s + 3/2)² + 3/4) e^{−s}`` of squared distances ``s²``, in
    place (the factor 3 saves a pass; callers fold 1/3 into the amplitude); ``spare``: a
    buffer of the same shape for ``e^{−s}``."""
    spare = torch.empty_like(sq) if spare is None else spare
    if sq.device.type == "cpu" and sq.is_contiguous():
        # numpy's vectorised sqrt and exp are faster than torch's float64 ones on CPU; the
        # arrays share memory, so this is the same in-place computation
        s, e = sq.numpy(), spare.numpy()
        np.sqrt(s, out=s)
        np.negative(s, out=e)
        np.exp(e, out=e)
        s += 1.5
        s *= s
        s += 0.75
        s *= e
        return sq
    sq.sqrt_()
    torch.exp(sq.neg(), out=spare)
    return sq.add_(1.5).square_().add_(0.75).mul_(spare)


class ExactPosterior:
    """Mean, variance, joint and cross-covariance of the fitted exact GP at new points.

    Args:
        x: (n, d) training coordinates.
        phi: (n, p) their basis values.
        chol: Lower Cholesky factor of the training covariance (noise included).
        alpha: ``K⁻¹ y`` (n,).
        basis: The polynomial basis.
        kernels: The fitted Matérn and polynomial kernel modules.
    """

    def __init__(
        self,
        x: Tensor,
        phi: Tensor,
        chol: Tensor,
        alpha: Tensor,
        basis: StrainPolynomial,
        kernels: tuple[InvariantMatern, PolynomialKernel],
    ) -> None:
        matern, poly = kernels
        self.basis = basis
        self.chol, self.alpha = chol, alpha
        self.matern = MaternImages(matern)
        with torch.no_grad():
            self.weights = poly.weights().detach().to(torch.float64)
            self.phi_w = phi * self.weights
            self.train_images = self.matern.images(x)
        self.n = len(x)

    # -- pieces ---------------------------------------------------------------------------
    def design(self, z: Tensor) -> Tensor:
        """Basis values (m, p) at ``z`` (m × d)."""
        if self.basis.degree < 0:
            return z.new_zeros((len(z), 0))
        phi = self.basis.design(z.detach().cpu().numpy())
        return torch.as_tensor(phi, dtype=torch.float64, device=z.device)

    def chunks(self, m: int, images: int | None = None) -> Iterator[slice]:
        """Slices of ``range(m)`` holding at most :data:`MAX_ENTRIES` kernel entries against
        ``images`` rows (default the training rows' images)."""
        rows = images if images is not None else self.matern.order * self.n
        lo, hi = CHUNK_RANGE
        step = int(min(hi, max(lo, MAX_ENTRIES // max(rows, 1))))
        for s in range(0, m, step):
            yield slice(s, min(s + step, m))

    def train_cross(self, z: Tensor, phi: Tensor) -> Tensor:
        """Prior covariance ``K(X, z)`` (n × m) of one chunk."""
        ks = self.matern.block(self.train_images, z)
        if phi.shape[1]:
            ks.addmm_(self.phi_w, phi.T)
        return ks

    def prior(self, za: Tensor, pa: Tensor, zb: Tensor, pb: Tensor) -> Tensor:
        """Prior covariance ``k(za, zb)`` (m_a × m_b), in column chunks."""
        img = self.matern.images(za)
        out = za.new_empty((len(za), len(zb)))
        for c in self.chunks(len(zb), len(img)):
            out[:, c] = self.matern.block(img, zb[c])
        if pa.shape[1]:
            out.addmm_(pa * self.weights, pb.T)
        return out

    def prior_variance(self, z: Tensor, phi: Tensor) -> Tensor:
        """Prior variance ``k(z_i, z_i)`` (m,)."""
        return self.matern.diagonal(z) + (phi * phi) @ self.weights

    def solve(self, ks: Tensor) -> Tensor:
        """``L⁻¹ K(X, z)``."""
        return torch.linalg.solve_triangular(self.chol, ks, upper=False)

    # -- what the head answers --------------------------------------------------------------
    @torch.no_grad()
    def mean_variance(self, z: Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Latent mean and variance (m,) at ``z`` (m × d)."""
        mean, var = z.new_empty(len(z)), z.new_empty(len(z))
        for c in self.chunks(len(z)):
            zc = z[c]
            phi = self.design(zc)
            ks = self.train_cross(zc, phi)
            mean[c] = ks.T @ self.alpha
            v = self.solve(ks)
            var[c] = (self.prior_variance(zc, phi) - (v * v).sum(0)).clamp_min_(0.0)
        return mean.cpu().numpy(), var.cpu().numpy()

    @torch.no_grad()
    def solved(self, z: Tensor, phi: Tensor) -> tuple[Tensor, Tensor]:
        """``L⁻¹ K(X, z)`` (n × m) and the latent mean (m,), in chunks."""
        out, mean = z.new_empty((self.n, len(z))), z.new_empty(len(z))
        for c in self.chunks(len(z)):
            ks = self.train_cross(z[c], phi[c])
            mean[c] = ks.T @ self.alpha
            out[:, c] = self.solve(ks)
        return out, mean

    @torch.no_grad()
    def joint(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """Latent mean (m) and covariance (m × m) at ``z``."""
        phi = self.design(z)
        v, mean = self.solved(z, phi)
        cov = self.prior(z, phi, z, phi) - v.T @ v
        return mean, (cov + cov.T) / 2.0

    @torch.no_grad()
    def cross_covariance(self, za: Tensor, zb: Tensor) -> Tensor:
        """Latent covariance (m_a × m_b) between ``za`` and ``zb``."""
        pa, pb = self.design(za), self.design(zb)
        return self.prior(za, pa, zb, pb) - self.solved(za, pa)[0].T @ self.solved(zb, pb)[0]

    def fixed_points(self, z: Tensor) -> FixedPoints:
        """The posterior at a fixed set of points, ready for covariance columns."""
        return FixedPoints(self, z)


class FixedPoints:
    """The latent posterior at fixed points ``Z``: variances (``variance``, (m,) float64 array),
    and any covariance column.

    Keeps ``V = L⁻¹ K(X, Z)`` (up to :data:`FIXED_MAX_ENTRIES` entries), so the column of
    ``Z_j`` is ``k(Z, Z_j) − Vᵀ V_j``: a prior column against one point's images and one
    matrix-vector product.

    Args:
        post: The head's posterior.
        z: (m, d) the points.
    """

    def __init__(self, post: ExactPosterior, z: Tensor) -> None:
        self.post, self.z = post, z
        with torch.no_grad():
            self.phi = post.design(z)
            keep = post.n * len(z) <= FIXED_MAX_ENTRIES
            self.v = post.solved(z, self.phi)[0] if keep else None
            if self.v is not None:
                sq = (self.v * self.v).sum(0)
            else:
                sq = z.new_empty(len(z))
                for c in post.chunks(len(z)):
                    v = post.solved(z[c], self.phi[c])[0]
                    sq[c] = (v * v).sum(0)
            self.variance = (post.prior_variance(z, self.phi) - sq).clamp_min_(0.0).cpu().numpy()

    @torch.no_grad()
    def column(self, j: int) -> np.ndarray:
        """``Cov[f(Z), f(Z_j)]`` (m,)."""
        post, z, phi = self.post, self.z, self.phi
        prior = post.prior(z[j : j + 1], phi[j : j + 1], z, phi)[0]
        if self.v is not None:
            return (prior - self.v.T @ self.v[:, j]).cpu().numpy()
        vj = post.solved(z[j : j + 1], phi[j : j + 1])[0][:, 0]
        out = prior.clone()
        for c in post.chunks(len(z)):
            out[c] -= post.solved(z[c], phi[c])[0].T @ vj
        return out.cpu().numpy()
