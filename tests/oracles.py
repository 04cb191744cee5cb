"""Closed forms used as ground truth (docs/math/gaussian_data.md §6, docs/math/gaussian_data.md §10).

Ridge regression trained by gradient descent (or flow) from w0 = m0 w* + normal(0, v0): every
curve is an integral over the spectrum of S = X^T X (X entries N(0, 1/d), n = alpha d), which is
alpha times a Marchenko-Pastur law of ratio 1/alpha. Only alpha > 1 is used (no atom at 0).
"""

import numpy as np
from scipy import integrate


def _mp_integral(f, alpha: float) -> float:
    """∫ f(s) dμ(s) for μ the spectral law of X^T X, alpha > 1."""
    gamma = 1 / alpha
    lo, hi = (1 - np.sqrt(gamma)) ** 2, (1 + np.sqrt(gamma)) ** 2
    # density sqrt((hi-x)(x-lo)) / (2 pi gamma x): integrate with the algebraic weight exactly
    value, _ = integrate.quad(
        lambda x: f(alpha * x) / (2 * np.pi * gamma * x),
        lo,
        hi,
        weight="alg",
        wvar=(0.5, 0.5),
        epsabs=1e-14,
        epsrel=1e-13,
        limit=200,
    )
    return value


def ridge_curves(alpha, lam, sigma, m0, v0, T, lr=None, dt=None, steps=None):
    """m, q, train and test loss at steps 0..T (or at ``steps``) of GD (``lr``) or at times k*dt
    of gradient flow (``dt``), teacher N(0, 1), labels hstar + sigma eps, square loss halved."""
    assert alpha > 1
    out = {key: [] for key in ("overlap", "sq_norm", "train_loss", "test_loss")}
    for t in range(T + 1) if steps is None else steps:
        if lr is not None:
            decay = lambda s: (1 - lr * (s + lam)) ** t  # noqa: E731
        else:
            decay = lambda s: np.exp(-(s + lam) * dt * t)  # noqa: E731
        f = lambda s: (1 - decay(s)) / (s + lam)  # noqa: E731  response to X^T y
        signal = lambda s: m0 * decay(s) + s * f(s)  # noqa: E731  coefficient of w*
        m = _mp_integral(signal, alpha)
        q = _mp_integral(lambda s: signal(s) ** 2 + v0 * decay(s) ** 2 + sigma**2 * s * f(s) ** 2, alpha)
        residual = _mp_integral(lambda s: s * ((signal(s) - 1) ** 2 + v0 * decay(s) ** 2), alpha) / alpha
        noise = sigma**2 * (_mp_integral(lambda s: (s * f(s) - 1) ** 2, alpha) / alpha + (1 - 1 / alpha))
        out["overlap"].append(m)
        out["sq_norm"].append(q)
        out["train_loss"].append((residual + noise) / 2)
        out["test_loss"].append((q - 2 * m + 1 + sigma**2) / 2)
    return {key: np.array(v) for key, v in out.items()}


def plrf_expected_loss(alpha, beta, nu, bsz, K, lr, v, T, seed):
    """The expected test loss of models/plrf_sgd.dmft at v latent coordinates (levels at the
    quantiles (i + 1/2) / v), given one draw of the feature matrix A: with the error
    e = Lam^(1/2) (A'w / sqrt(nu) - b), G = Lam^(1/2) A'A Lam^(1/2) / nu and a fresh batch of p
    Gaussian rows per step (E[XᵀX S XᵀX] = (p (p + 1) S + p tr(S) I) / v²), the second moments
    S = E[eeᵀ] follow S' = S - lr (GS + SG) + lr² G ((1 + 1/p) S + tr(S) I / (bsz nu v)) G. In the
    eigenbasis of G the diagonal closes on itself: the Volterra recursion of Paquette et al.
    (2024) with the spectrum of this A, exact in expectation over the data for the finite
    system, and independent of the DMFT code."""
    rng = np.random.default_rng(seed)
    d, p = round(nu * v), round(bsz * nu * v)
    k = 1 + (K - 1) * (np.arange(v) + 0.5) / v
    lam = k ** (-2 * alpha)
    A = rng.standard_normal((d, v)) / np.sqrt(v)
    G = np.sqrt(lam)[:, None] * (A.T @ A) * np.sqrt(lam)[None, :] / nu
    g, U = np.linalg.eigh(G)
    s = (U**2).T @ k ** (-2 * alpha - 2 * beta)  # diagonal of Uᵀ S(0) U, S(0) = diag(lam E b²)
    out = np.empty(T + 1)
    for t in range(T + 1):
        total = s.sum()
        out[t] = total / (2 * v)
        s = (1 - 2 * lr * g + lr**2 * (1 + 1 / p) * g**2) * s + lr**2 / (bsz * nu) * g**2 * total / v
    return out


def two_layer_linear_dmft(nu, alpha, gamma0, lr, T, sigma=0.0, tol=1e-13):
    """Test and train loss at steps 0..T-1 of models/two_layer_linear_gd.dmft from a DMFT derived by
    hand for that network (not by dmftc's rule per matrix use): three single-site processes (a
    hidden unit, an input coordinate, a sample) whose correlations and responses are T x T
    matrices, solved by fixed-point iteration at every horizon 1..T in turn (causality makes each
    converge to rounding). Hidden unit: w(t+1) = w(t) + lr g0 chi(t) + (lr g0)^2 sum_(s<t) C_u(t,s)
    w(s), chi = GP(C_u) + R_uxi w / sqrt(nu). Input coordinate: v = beta - xi / (g0 sqrt(nu)) -
    K u with K = lr C_w (s < t) + R_wchi / g0, u = psi + R_D v, psi = GP(C_D / alpha). Sample:
    D = phi + sigma eps + R_vu D / alpha, phi = GP(C_v)."""
    state = None
    for n in range(1, T + 1):
        eye, ones = np.eye(n), np.ones((n, n))
        past = np.tril(ones, -1)  # s < t

        def grow(A, fill):  # the previous horizon's matrix in the top-left corner
            B = fill(n)
            B[: A.shape[0], : A.shape[1]] = A
            return B

        if state is None:
            Cw, Rwx, RD, CD = ones.copy(), lr * gamma0 * past, eye.copy(), ones * (1 + 1 / (gamma0**2 * nu)) + sigma**2
        else:
            Cw0, Rwx0, RD0, CD0 = state
            Cw = grow(Cw0, lambda k: np.full((k, k), Cw0[-1, -1]))
            Rwx = grow(Rwx0, lambda k: lr * gamma0 * np.tril(np.ones((k, k)), -1))
            RD = grow(RD0, np.eye)
            CD = grow(CD0, lambda k: np.full((k, k), CD0[-1, -1]))
        for _ in range(500):
            K = lr * Cw * past + Rwx / gamma0
            M = np.linalg.inv(eye + K @ RD)
            Cb = ones + Cw / (gamma0**2 * nu)  # the teacher and the initial output
            Cv = M @ (Cb + K @ (CD / alpha) @ K.T) @ M.T
            Rvu = -M @ K
            Rux = -RD @ M / (gamma0 * np.sqrt(nu))
            Apsi, Ab = eye - RD @ M @ K, RD @ M
            Cu = Apsi @ (CD / alpha) @ Apsi.T + Ab @ Cb @ Ab.T
            A = lr * gamma0 * Rux / np.sqrt(nu) + (lr * gamma0) ** 2 * Cu * past
            G = np.linalg.inv(eye - past @ A)
            Cw_new = G @ (ones + (lr * gamma0) ** 2 * past @ Cu @ past.T) @ G.T
            Rwx_new = lr * gamma0 * G @ past
            Q = np.linalg.inv(eye - Rvu / alpha)
            CD_new = Q @ (Cv + sigma**2 * ones) @ Q.T
            change = max(np.abs(Cw_new - Cw).max(), np.abs(CD_new - CD).max(), np.abs(Q - RD).max())
            Cw, Rwx, CD, RD = Cw_new, Rwx_new, CD_new, Q
            if change < tol * (1 + np.abs(CD).max()):
                break
        state = (Cw, Rwx, RD, CD)
    return {"test_loss": np.diag(Cv) + sigma**2, "train_loss": np.diag(CD)}
