"""The random inputs of solvers and simulators (docs/math/gaussian_data.md §5.1): randomised
quasi-Monte Carlo (scrambled Sobol points), antithetic pairs, whitening, and samples of the
language's laws."""

from __future__ import annotations

import numpy as np

# Dimensions of scipy's Sobol direction numbers (Joe & Kuo); coordinates past them are
# pseudo-random.
SOBOL_DIMENSIONS = 21201


def standard_normals(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Antithetic standard normals along the last axis (the samples), each row scaled to unit
    second moment: exact mean 0 and variance 1 over the samples."""
    *rows, n = shape
    half = rng.standard_normal((*rows, n // 2))
    x = np.concatenate([half, -half], axis=-1)
    scale = np.sqrt(np.mean(x * x, axis=-1, keepdims=True))
    return np.ascontiguousarray(x / np.where(scale > 0, scale, 1.0))


def sobol_uniforms(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    """``rows`` coordinates of n scrambled Sobol points, shape (rows, n), in (0, 1): one
    independent scrambling (Owen's, scipy's) per call, its seed drawn from ``rng``, so that
    independent calls give independent unbiased estimates. n should be a power of 2 (the
    points' balance); coordinates past :data:`SOBOL_DIMENSIONS` are pseudo-random."""
    from scipy.stats import qmc  # scipy.stats only when needed (start-up)

    out = np.empty((rows, n))
    d = min(rows, SOBOL_DIMENSIONS)
    if d:
        points = qmc.Sobol(d=d, scramble=True, seed=int(rng.integers(2**63))).random_base2(max(0, (n - 1).bit_length()))
        out[:d] = points[:n].T
    out[d:] = rng.random((rows - d, n))
    # a scrambled point is 0 with probability 2^-52: keep the normal quantile finite
    return np.clip(out, 2.0**-60, 1.0 - 2.0**-53, out=out)


def whiten(z: np.ndarray) -> np.ndarray:
    """The rows of z made exactly orthonormal over the samples (mean 0, mean of z_i z_j = δ_ij),
    in order: row i is a combination of rows 0..i (Gram–Schmidt), so a Sobol coordinate keeps
    its place. Cholesky whitening z ← L⁻¹z with L Lᵀ = z zᵀ/n, applied twice to restore the
    orthogonality lost to rounding. With fewer than 4 samples a row, rows are only centred and
    scaled."""
    from scipy.linalg import solve_triangular

    rows, n = z.shape
    z = z - z.mean(axis=1, keepdims=True)
    if rows == 0 or rows > n // 4:
        scale = np.sqrt(np.mean(z * z, axis=1, keepdims=True))
        return np.ascontiguousarray(z / np.where(scale > 0, scale, 1.0))
    for _ in range(2):
        lower = np.linalg.cholesky(z @ z.T / n)
        z = solve_triangular(lower, z, lower=True, check_finite=False)
    return np.ascontiguousarray(z)


def random_inputs(
    rng: np.random.Generator, sampling: str, n: int, uniform_rows: int, normal_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """``uniform_rows`` rows of uniforms on (0, 1) and ``normal_rows`` rows of standard normals
    over n samples, drawn together (docs/math/gaussian_data.md §5.1):

    * sobol: the coordinates of one scrambled Sobol point set, uniforms first, the normals from
      the normal quantile and whitened (:func:`whiten`);
    * antithetic: pairs (u, 1 - u) and (z, -z) over the two halves of the samples, whitened;
    * plain: independent draws.
    """
    from scipy.special import ndtri

    if sampling == "sobol":
        u = sobol_uniforms(rng, uniform_rows + normal_rows, n)
        return u[:uniform_rows], whiten(ndtri(u[uniform_rows:]))
    if sampling == "antithetic":  # (an odd last sample has no partner)
        u = rng.random((uniform_rows, (n + 1) // 2))
        z = rng.standard_normal((normal_rows, (n + 1) // 2))
        return np.concatenate([u, 1.0 - u], axis=1)[:, :n], whiten(np.concatenate([z, -z], axis=1)[:, :n])
    return rng.random((uniform_rows, n)), rng.standard_normal((normal_rows, n))


def law_samples(laws: tuple[str, ...], u: np.ndarray) -> np.ndarray:
    """Samples of the laws (normal, rademacher, uniform on (0, 1)) from uniforms u, one row per
    law; shape (n, len(laws)). Each map is odd about u = 1/2, so antithetic uniforms give
    antithetic samples."""
    from scipy.special import ndtri

    out = np.empty((u.shape[1], len(laws)))
    for j, law in enumerate(laws):
        out[:, j] = ndtri(u[j]) if law == "normal" else np.where(u[j] < 0.5, -1.0, 1.0) if law == "rademacher" else u[j]
    return out


def raw_moments(laws: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The means of the laws and the raw second-moment matrix of (1, law_1, ..., law_P)
    (independent laws: normal, rademacher, uniform on (0, 1), as :func:`law_samples`)."""
    means = np.array([0.5 if law == "uniform" else 0.0 for law in laws])
    G0 = np.outer(np.concatenate([[1.0], means]), np.concatenate([[1.0], means]))
    G0[np.arange(1, len(laws) + 1), np.arange(1, len(laws) + 1)] = [1 / 3 if law == "uniform" else 1.0 for law in laws]
    return means, G0


def primitives(rng: np.random.Generator, laws: tuple[str, ...], n: int, antithetic: bool) -> np.ndarray:
    """Samples of the model's independent random inputs, shape (n, P)."""
    u, _ = random_inputs(rng, "antithetic" if antithetic else "plain", n, len(laws), 0)
    return law_samples(laws, u)
