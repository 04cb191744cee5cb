"""The random inputs of solvers and simulators: antithetic and orthonormalised standard normals
(variance reduction, docs/math/gaussian_data.md §3) and samples of the language's laws."""

from __future__ import annotations

import numpy as np


def standard_normals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Antithetic standard normals along the last axis (the samples), each row scaled to unit
    second moment: exact mean 0 and variance 1 over the samples."""
    *rows, n = shape
    half = rng.standard_normal((*rows, n // 2))
    x = np.concatenate([half, -half], axis=-1)
    scale = np.sqrt(np.mean(x * x, axis=-1, keepdims=True))
    return np.ascontiguousarray(x / np.where(scale > 0, scale, 1.0))


def orthonormal_normals(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """``rows`` rows of n standard normals in antithetic pairs, made exactly orthonormal over
    the samples (mean of x_i x_j = δ_ij): their sample covariance is the identity, so the
    Gaussian inputs of the forward pass carry no sampling error in their second moments.
    Falls back to :func:`standard_normals` when there are not enough samples.

    The rows are Qᵀ of the thin QR factorisation A = QR (diag R > 0) of a Gaussian block A
    (n/2 x rows), computed as Cholesky QR applied twice: Qᵀ = L⁻¹Aᵀ with L Lᵀ = AᵀA, then the
    same again on Qᵀ to restore orthogonality lost to rounding. With n/2 ≥ 2 rows, A has
    condition number below 6, so this is Householder's Q to rounding, from matrix products."""
    from scipy.linalg import solve_triangular

    half = n // 2
    if rows == 0 or rows > half // 2:
        return standard_normals(rng, (rows, n))
    qt = rng.standard_normal((half, rows)).T
    for _ in range(2):
        lower = np.linalg.cholesky(qt @ qt.T)
        qt = solve_triangular(lower, qt, lower=True, check_finite=False)
    out = np.empty((rows, n))
    np.multiply(qt, np.sqrt(n / 2), out=out[:, :half])
    np.negative(out[:, :half], out=out[:, half:])
    return out


def primitives(rng: np.random.Generator, laws: tuple[str, ...], n: int, antithetic: bool) -> np.ndarray:
    """Samples of the model's independent random inputs, shape (n, P)."""
    out = np.empty((n, len(laws)))
    for j, law in enumerate(laws):
        if law == "normal":
            out[:, j] = standard_normals(rng, (n,)) if antithetic else rng.standard_normal(n)
        elif law == "rademacher":
            half = rng.choice([-1.0, 1.0], size=n // 2 if antithetic else n)
            out[:, j] = np.concatenate([half, -half]) if antithetic else half
        else:  # uniform on (0, 1)
            half = rng.random(n // 2 if antithetic else n)
            out[:, j] = np.concatenate([half, 1.0 - half]) if antithetic else half
    return out
