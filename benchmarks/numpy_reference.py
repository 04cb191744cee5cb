"""A straightforward NumPy implementation of the causal forward pass (docs/math/gaussian_data.md §3), for
comparison with dmftc's generated solver. Not part of the package.

Logistic regression with sign labels by gradient descent with a ridge penalty, zero start,
Monte-Carlo data side with Jacobian responses, deterministic parameter side (the GD site map is
affine: R_θ(t, s) needs no sampling). The same equations as dmftc, written the way one would
write them in a notebook: vectorised over samples, plain Cholesky rows, no variance reduction.
"""

from __future__ import annotations

import numpy as np


def logistic_gd_forward_pass(alpha=3.0, lr=0.5, lam=0.1, T=50, M=20000, seed=0, dtype=np.float64):
    """The test loss at every step. The per-sample arrays (inputs, θ, g and the Jacobian history)
    are in ``dtype``, the two-time matrices in float64: with float32 the same random numbers, so
    the difference from the float64 pass is the rounding of the samples alone."""
    rng = np.random.default_rng(seed)
    wstar = rng.standard_normal(M).astype(dtype)
    xi_data = rng.standard_normal((T + 2, M)).astype(dtype)
    xi_param = rng.standard_normal((T + 1, M)).astype(dtype)
    w = np.zeros(M, dtype)
    C_th, L_th = np.zeros((T + 2, T + 2)), np.zeros((T + 2, T + 2))
    C_g, L_g = np.zeros((T + 1, T + 1)), np.zeros((T + 1, T + 1))
    R_th, R_g, R_gs = np.zeros((T + 1, T + 1)), np.zeros((T + 1, T + 1)), np.zeros(T + 1)
    TH, G = np.zeros((T + 1, M), dtype), np.zeros((T + 1, M), dtype)
    DG = np.zeros((T + 1, T + 1, M), dtype)  # ∂g(r)/∂ω(s)
    dth = np.zeros((T + 1, T + 1))  # ∂θ(t)/∂ν(s), deterministic
    C_th[0, 0] = wstar @ wstar / M
    L_th[0, 0] = np.sqrt(C_th[0, 0])
    y = np.sign(L_th[0, 0] * xi_data[0])
    test_loss = np.zeros(T + 1)

    def extend(C, L, i, scale):
        for j in range(i):
            L[i, j] = (scale * C[i, j] - L[i, :j] @ L[j, :j]) / L[j, j] if L[j, j] > 0 else 0.0
        d = scale * C[i, i] - L[i, :i] @ L[i, :i]
        L[i, i] = np.sqrt(d) if d > 1e-6 * scale * C[i, i] and d > 0 else 0.0

    def f(v):  # a coefficient vector in the samples' precision
        return np.asarray(v, dtype)

    for t in range(T + 1):
        TH[t] = w
        C_th[t + 1, 1 : t + 2] = C_th[1 : t + 2, t + 1] = TH[: t + 1] @ TH[t] / M
        C_th[t + 1, 0] = C_th[0, t + 1] = wstar @ TH[t] / M
        extend(C_th, L_th, t + 1, 1.0)
        R_th[t, :t] = dth[t, :t]
        h = f(L_th[t + 1, : t + 2]) @ xi_data[: t + 2] + f(R_th[t, :t]) @ G[:t]
        sig = 1 / (1 + np.exp(y * h))
        G[t] = -y * sig
        gh = sig * (1 - sig)
        C_g[t, : t + 1] = C_g[: t + 1, t] = G[: t + 1] @ G[t] / M
        for s in range(t + 1):
            DG[t, s] = gh * ((s == t) + f(R_th[t, s:t]) @ DG[s:t, s])
        R_g[t, : t + 1] = DG[t, : t + 1].mean(axis=1, dtype=np.float64)
        R_gs[t] = (G[t] @ xi_data[0] / M - R_g[t, : t + 1] @ L_th[1 : t + 2, 0]) / L_th[0, 0]
        extend(C_g, L_g, t, alpha)
        # test loss by Monte Carlo over a fresh pair (h, h*), in float64 for both precisions
        q, m, rho = C_th[t + 1, t + 1], C_th[t + 1, 0], C_th[0, 0]
        fresh, fresh_star = xi_data[-1].astype(np.float64), xi_param[0].astype(np.float64)
        hs = np.sqrt(rho) * fresh_star
        hf = m / np.sqrt(rho) * fresh_star + np.sqrt(max(q - m * m / rho, 0)) * fresh
        test_loss[t] = np.mean(np.log1p(np.exp(-np.sign(hs) * hf)))
        if t == T:
            break
        nu = f(L_g[t, : t + 1]) @ xi_param[: t + 1]
        q_field = nu + alpha * (f(R_g[t, : t + 1]) @ TH[: t + 1]) + dtype(alpha * R_gs[t]) * wstar
        # GD with ridge: w' = (1 - lr lam) w - lr q, so ∂θ(t+1)/∂ν(s) is deterministic
        for s in range(t + 1):
            dq = (s == t) + alpha * R_g[t, s + 1 : t + 1] @ dth[s + 1 : t + 1, s]
            dth[t + 1, s] = (1 - lr * lam) * dth[t, s] - lr * dq
        w = dtype(1 - lr * lam) * w - dtype(lr) * q_field
    return test_loss
