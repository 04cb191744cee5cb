"""The Cugliandolo–Kurchan equations of docs/math/gaussian_field.md §2, in plain numba.

For a flow ``dx/dt = c F(x) - mu(t) x + b gauss()`` on the sphere (``F = -grad H``, mobility
``c``, temperature ``T = b^2 / 2``), for ``t > t'``::

    dC(t,t')/dt = -mu C(t,t') + c [ ∫_0^t Σ(t,s) C(s,t') ds + ∫_0^t' D(t,s) R(t',s) ds
                                   + f_s'(m(t)) m(t') + β0 f'(C(t,0)) C(t',0) ]
    dR(t,t')/dt = -mu R(t,t') + c ∫_t'^t Σ(t,s) R(s,t') ds,              R(t'+, t') = c
    mu(t)       = T + c [ ∫_0^t (Σ C + D R)(t,s) ds + m f_s'(m) + β0 f'(C(t,0)) C(t,0) ]
    dm/dt       = -mu m + c [ f_s'(m) + ∫_0^t Σ(t,s) m(s) ds + β0 f'(C(t,0)) m(0) ]
    e(t)        = -∫_0^t D(t,s) R(t,s) ds - β0 f(C(t,0)) - f_s(m)

with ``Σ = f''(C) R`` and ``D = f'(C)``. ``β0 = 1 / T0`` is the inverse temperature of an
equilibrium start (0 for a uniform start; the β0 terms follow DYNAMITE's equations, with
``f`` rather than ``f'`` in the energy so that ``e = -f(1)/T`` in equilibrium).

Why plain numba and not generated code: the equations depend on the model only through
``f = xi`` and ``f_s = strength``, which the analysis guarantees are sums of terms ``c q^k``
(analyse.py, ``_check_covariance``). They are passed at run time as arrays of coefficients
and powers, so one compiled solver serves every model, is cached once by numba, and its
source can be read here. The model-specific parts (observables) stay in the generated module.

Two grids:

* :func:`uniform_steps`: uniform step ``h``, Heun's predictor-corrector in ``t`` (Euler
  predictor, trapezoidal corrector) with trapezoid memory integrals: second order in ``h``,
  so two step sizes and Richardson extrapolation give third order (tests/test_field_flow.py).
* the adaptive grid of Kim and Latz (:func:`adaptive_stage`, :func:`contract`): a window of
  ``N + 1`` times ``t_i = i h``; when it is full, every other time is dropped and ``h`` is
  doubled. It carries ``C`` and the integrated response ``Q(t,t') = ∫_t'^t R(t,s) ds``, whose
  equation follows from the one of ``R``::

      dQ(t,t')/dt = c - mu Q(t,t') + c ∫_t'^t f''(C(t,u)) Q(u,t') R(t,u) du

  Every memory integral is written as a Stieltjes integral ``∫ g d_sQ(t,s)``: the response
  varies on times of order one near the diagonal long after the grid is coarse, but its
  integral ``Q`` over a cell is what the equations need. Steps are BDF2 in ``t``; the new row is
  the fixed point of a Jacobi sweep, found by Anderson acceleration. Q at the two shortest
  separations is copied from the previous row (time-translation invariance, as Kim and Latz
  do) and C there interpolated from C(t,t) = 1. The first window is solved on the uniform grid
  with Heun. The grid is second order in its step while the step is small; once it is coarse,
  the cell next to the diagonal holds response mass concentrated at its diagonal end, which the
  trapezoid rule weights evenly: a bias of order step / t, that is 1 / window
  (docs/math/gaussian_field.md §5, eq. field-adaptive-bias). Only ``T = 0`` is handled: at
  ``T > 0`` the correlation also has a fast part near the diagonal, which a coarse grid cannot
  integrate against the response.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def polynomial(q, coefficients, powers, order):
    """f(q), f'(q) or f''(q) (``order`` 0, 1, 2) of f(q) = Σ_k coefficients[k] q^powers[k]."""
    value = 0.0
    for k in range(coefficients.shape[0]):
        p = powers[k]
        if order == 0:
            value += coefficients[k] * q**p
        elif order == 1:
            if p != 0.0:
                value += coefficients[k] * p * q ** (p - 1.0)
        elif p != 0.0 and p != 1.0:
            value += coefficients[k] * p * (p - 1.0) * q ** (p - 2.0)
    return value


@njit(cache=True)
def finite(x):
    return not (math.isnan(x) or math.isinf(x))


# --------------------------------------------------------------------------------- uniform grid


@njit(cache=True)
def _trapezoid_weight(s, first, last):
    return 0.5 if s == first or s == last else 1.0


@njit(cache=True)
def _multiplier_and_energy(n, h, C, R, m, c, temperature, beta0, fc, fp, sc, sp):
    """mu(t_n) and e(t_n) from row n (trapezoid rule over s = 0..n, R(t,t) = R(t+,t) = c)."""
    radial = 0.0
    energy = 0.0
    if n > 0:
        for s in range(n + 1):
            w = _trapezoid_weight(s, 0, n)
            q = C[n, s]
            d1 = polynomial(q, fc, fp, 1)
            radial += w * (polynomial(q, fc, fp, 2) * q + d1) * R[n, s]
            energy += w * d1 * R[n, s]
    c0 = C[n, 0]
    mu = temperature + c * (h * radial + m[n] * polynomial(m[n], sc, sp, 1) + beta0 * polynomial(c0, fc, fp, 1) * c0)
    e = -h * energy - beta0 * polynomial(c0, fc, fp, 0) - polynomial(m[n], sc, sp, 0)
    return mu, e


@njit(cache=True)
def _time_derivatives(n, h, C, R, m, mu, c, beta0, fc, fp, sc, sp, sigma, dee, dC, dR):
    """dC(t_n, t_j)/dt_n and dR(t_n, t_j)/dt_n for j <= n (the limits from t > t'), and dm/dt."""
    for s in range(n + 1):
        sigma[s] = polynomial(C[n, s], fc, fp, 2) * R[n, s]
        dee[s] = polynomial(C[n, s], fc, fp, 1)
    field = polynomial(m[n], sc, sp, 1)
    initial = beta0 * dee[0]
    for j in range(n + 1):
        # ∫_0^t Σ(t,s) C(s,t') ds, C symmetric
        memory_c = 0.0
        if n > 0:
            for s in range(n + 1):
                cs = C[s, j] if s >= j else C[j, s]
                memory_c += _trapezoid_weight(s, 0, n) * sigma[s] * cs
        # ∫_0^t' D(t,s) R(t',s) ds
        noise = 0.0
        if j > 0:
            for s in range(j + 1):
                noise += _trapezoid_weight(s, 0, j) * dee[s] * R[j, s]
        # ∫_t'^t Σ(t,s) R(s,t') ds
        memory_r = 0.0
        if n > j:
            for s in range(j, n + 1):
                memory_r += _trapezoid_weight(s, j, n) * sigma[s] * R[s, j]
        dC[j] = -mu[n] * C[n, j] + c * (h * (memory_c + noise) + field * m[j] + initial * C[j, 0])
        dR[j] = -mu[n] * R[n, j] + c * h * memory_r
    memory_m = 0.0
    if n > 0:
        for s in range(n + 1):
            memory_m += _trapezoid_weight(s, 0, n) * sigma[s] * m[s]
    return -mu[n] * m[n] + c * (field + h * memory_m + initial * m[0])


@njit(cache=True)
def uniform_start(c, temperature, beta0, fc, fp, sc, sp, m0, C, R, m, mu, e):
    """Row 0: C(0,0) = 1, R(0+,0) = c, m(0) = m0."""
    C[0, 0] = 1.0
    R[0, 0] = c
    m[0] = m0
    mu[0], e[0] = _multiplier_and_energy(0, 1.0, C, R, m, c, temperature, beta0, fc, fp, sc, sp)


@njit(cache=True)
def uniform_steps(n0, n1, h, c, temperature, beta0, fc, fp, sc, sp, C, R, m, mu, e):
    """Heun steps t_n -> t_{n+1} for n = n0..n1-1 (rows 0..n0 known). Returns -1, or the first
    row whose values are not finite."""
    N = C.shape[0]
    sigma = np.empty(N)
    dee = np.empty(N)
    dC0 = np.empty(N)
    dR0 = np.empty(N)
    dC1 = np.empty(N)
    dR1 = np.empty(N)
    for n in range(n0, n1):
        dm0 = _time_derivatives(n, h, C, R, m, mu, c, beta0, fc, fp, sc, sp, sigma, dee, dC0, dR0)
        # predictor (Euler)
        for j in range(n + 1):
            C[n + 1, j] = C[n, j] + h * dC0[j]
            R[n + 1, j] = R[n, j] + h * dR0[j]
        C[n + 1, n + 1] = 1.0
        R[n + 1, n + 1] = c
        m[n + 1] = m[n] + h * dm0
        mu[n + 1], e[n + 1] = _multiplier_and_energy(n + 1, h, C, R, m, c, temperature, beta0, fc, fp, sc, sp)
        # corrector (trapezoid in t)
        dm1 = _time_derivatives(n + 1, h, C, R, m, mu, c, beta0, fc, fp, sc, sp, sigma, dee, dC1, dR1)
        for j in range(n + 1):
            C[n + 1, j] = C[n, j] + 0.5 * h * (dC0[j] + dC1[j])
            R[n + 1, j] = R[n, j] + 0.5 * h * (dR0[j] + dR1[j])
        m[n + 1] = m[n] + 0.5 * h * (dm0 + dm1)
        mu[n + 1], e[n + 1] = _multiplier_and_energy(n + 1, h, C, R, m, c, temperature, beta0, fc, fp, sc, sp)
        if not (
            finite(mu[n + 1])
            and finite(e[n + 1])
            and finite(m[n + 1])
            and finite(C[n + 1, 0])
            and abs(C[n + 1, 0]) < 1e100
        ):
            return n + 1
    return -1


# -------------------------------------------------------------------------------- adaptive grid
#
# Storage on the window: C full and symmetric; QT[j, i] = Q(t_i, t_j) for i >= j (a row of QT is
# a column of Q, read along i); DQ[j, l] = Q(t_j, t_{l+1}) - Q(t_j, t_l) for l < j.


@njit(cache=True)
def integrated_response(R, h, QT):
    """QT[j, i] = Q(t_i, t_j) = ∫_{t_j}^{t_i} R(t_i, s) ds by the trapezoid rule (R(t,t) = c)."""
    N = R.shape[0]
    for i in range(N):
        QT[i, i] = 0.0
        acc = 0.0
        for j in range(i - 1, -1, -1):
            acc += 0.5 * h * (R[i, j] + R[i, j + 1])
            QT[j, i] = acc


@njit(cache=True)
def increments(QT, n, DQ):
    """DQ[j, l] = Q(t_j, t_{l+1}) - Q(t_j, t_l) for l < j <= n."""
    for j in range(n + 1):
        for l in range(j):
            DQ[j, l] = QT[l + 1, j] - QT[l, j]


@njit(cache=True)
def contract(C, QT, DQ, m, mu):
    """Keep every other time of the window: t_i <- t_{2i} for i <= N/2."""
    N = C.shape[0] - 1
    for i in range(N // 2 + 1):
        for j in range(N // 2 + 1):
            C[i, j] = C[2 * i, 2 * j]
            QT[i, j] = QT[2 * i, 2 * j]
        m[i] = m[2 * i]
        mu[i] = mu[2 * i]
    increments(QT, N // 2, DQ)


@njit(cache=True)
def _write_row(i, x, C, QT, m):
    """Row i from its unknowns ``x`` (n = i - 2): ``x[j] = C(t_i, t_j)`` and ``x[n + j] =
    Q(t_i, t_j)`` for j < n, ``x[2n] = m(t_i)``. C at the two shortest separations is the
    parabola through C(t_i, t_i) = 1 and the unknowns at separations 3 and 4: at T = 0 the
    correlation is smooth across the diagonal. (Copying it from the previous row, as Q is, let
    C(t, t - h) drift away from 1 beyond t = 1e4, and the grid broke down near t = 1e6.)"""
    n = i - 2
    for j in range(n):
        C[i, j] = C[j, i] = x[j]
        QT[j, i] = x[n + j]
    m[i] = x[2 * n]
    C[i, i - 1] = C[i - 1, i] = 0.5 + x[n - 1] - 0.5 * x[n - 2]
    C[i, i - 2] = C[i - 2, i] = 1.0 / 6.0 + 4.0 / 3.0 * x[n - 1] - 0.5 * x[n - 2]


@njit(cache=True)
def _row_map(i, h, C, QT, DQ, m, mu, c, fc, fp, sc, sp, f1, f2, dq, weights, averages, x, out):
    """One Jacobi sweep of the BDF2 equations of row i at the unknowns ``x`` (layout of
    :func:`_write_row`): each unknown solved for with the others held, into ``out``. Sets
    ``mu[i]``."""
    n = i - 2
    _write_row(i, x, C, QT, m)
    for l in range(i + 1):
        f1[l] = polynomial(C[i, l], fc, fp, 1)
        f2[l] = polynomial(C[i, l], fc, fp, 2)
    for l in range(i):
        dq[l] = QT[l + 1, i] - QT[l, i]
    radial = 0.0
    for l in range(i):
        radial += 0.5 * (f2[l] * C[i, l] + f1[l] + f2[l + 1] * C[i, l + 1] + f1[l + 1]) * dq[l]
    field = polynomial(m[i], sc, sp, 1)
    mu[i] = c * (-radial + m[i] * field)
    # BDF2: (3 X_i - 4 X_{i-1} + X_{i-2}) / 2h = right side; the part of the last memory
    # cell proportional to X_i itself, c f''(1) Q(i,i-1) X_i / 2, is moved to the left
    denominator = 1.5 / h + mu[i] - 0.5 * c * f2[i] * QT[i - 1, i]
    # trapezoid weights of the Stieltjes sums over u < t_i: Σ_l weights[l] g(u_l)
    for l in range(i):
        weights[l] = 0.5 * (dq[l] + (dq[l - 1] if l > 0 else 0.0)) * f2[l]
        averages[l] = 0.5 * (f1[l] + f1[l + 1])
    for j in range(n):
        # C: -∫_0^t f''(C(t,u)) C(u,t') d_uQ(t,u) - ∫_0^t' f'(C(t,u)) d_uQ(t',u) + f_s' m(t')
        memory = 0.0
        for l in range(i):
            memory += weights[l] * C[j, l]
        noise = 0.0
        for l in range(j):
            noise += averages[l] * DQ[j, l]
        rhs = (4.0 * C[i - 1, j] - C[i - 2, j]) / (2.0 * h) + c * (-memory - noise + field * m[j])
        out[j] = rhs / denominator
        # Q: ∫_t'^t f''(C(t,u)) Q(u,t') d_uQ(t,u), split at the midpoint u_mid: near t the
        # response Q(t,.) varies fast (plain Stieltjes sum); near t' it is Q(.,t') that varies
        # fast, so integrate by parts against Φ(u) = ∫_{u_mid}^u f''(C(t,v)) d_vQ(t,v)
        mid = (i + j) // 2
        memory = 0.0
        for l in range(mid, i - 1):
            memory += 0.5 * (f2[l] * QT[j, l] + f2[l + 1] * QT[j, l + 1]) * dq[l]
        memory += 0.5 * f2[i - 1] * QT[j, i - 1] * dq[i - 1]
        phi = 0.0
        for l in range(mid - 1, j - 1, -1):
            phi_next = phi - 0.5 * (f2[l] + f2[l + 1]) * dq[l]
            memory -= 0.5 * (phi + phi_next) * (QT[j, l + 1] - QT[j, l])
            phi = phi_next
        rhs = (4.0 * QT[j, i - 1] - QT[j, i - 2]) / (2.0 * h) + c - c * memory
        out[n + j] = rhs / denominator
    memory = 0.0
    for l in range(i - 1):
        memory += 0.5 * (f2[l] * m[l] + f2[l + 1] * m[l + 1]) * dq[l]
    memory += 0.5 * f2[i - 1] * m[i - 1] * dq[i - 1]
    out[2 * n] = ((4.0 * m[i - 1] - m[i - 2]) / (2.0 * h) + c * (field - memory)) / denominator


ANDERSON_DEPTH = 8  # differences kept by the Anderson acceleration of a row


@njit(cache=True)
def _anderson(x, f, x_old, f_old, dX, dF, gram, rhs, sweeps, relaxation):
    """One step of Anderson acceleration towards the fixed point x = G(x), in place, given the
    residual f = G(x) - x: ``x <- x + β f - Σ_k γ_k (ΔX_k + β ΔF_k)`` with γ minimising
    |f - ΔF γ| over the last ``dX.shape[0]`` differences (β = ``relaxation``; ``sweeps`` steps
    taken so far)."""
    depth, size = dX.shape[0], x.shape[0]
    if sweeps > 0:
        slot = (sweeps - 1) % depth
        for k in range(size):
            dX[slot, k] = x[k] - x_old[k]
            dF[slot, k] = f[k] - f_old[k]
    x_old[:] = x
    f_old[:] = f
    used = min(sweeps, depth)
    gamma = np.zeros(used)
    if used > 0:
        scale = 0.0
        for a in range(used):
            rhs[a] = np.dot(dF[a, :size], f)
            for b in range(a + 1):
                gram[a, b] = gram[b, a] = np.dot(dF[a, :size], dF[b, :size])
            scale = max(scale, gram[a, a])
        for a in range(used):
            gram[a, a] += 1e-12 * scale  # the differences can be nearly collinear
        gamma = np.linalg.solve(gram[:used, :used].copy(), rhs[:used].copy())
    for k in range(size):
        x[k] += relaxation * f[k]
        for a in range(used):
            x[k] -= gamma[a] * (dX[a, k] + relaxation * dF[a, k])


@njit(cache=True)
def _adaptive_row(i, h, C, QT, DQ, m, mu, c, fc, fp, sc, sp, tolerance, max_sweeps, relaxation, work):
    """Row i of the adaptive grid (rows < i known, uniform step h). Returns (energy, sweeps);
    the energy is NaN when the sweeps did not converge within max_sweeps.

    The row is the fixed point of the Jacobi sweep :func:`_row_map`, found by Anderson
    acceleration: damped sweeps alone slow down as the step grows (window 256: 19 sweeps a row at
    t = 5, 65 at t = 3e5; Anderson about 25 throughout), because the memory then outweighs the
    1.5 / h of the step and the aging dynamics is marginal."""
    f1, f2, dq, weights, averages, x, g, f, x_old, f_old, dX, dF, gram, rhs = work
    # Q at the shortest separations is copied from the previous row (time-translation invariance)
    for d in (1, 2):
        QT[i - d, i] = QT[i - 1 - d, i - 1]
    C[i, i] = 1.0
    QT[i, i] = 0.0
    n = i - 2
    size = 2 * n + 1
    for j in range(n):  # linear extrapolation as a first guess
        x[j] = 2.0 * C[i - 1, j] - C[i - 2, j]
        x[n + j] = 2.0 * QT[j, i - 1] - QT[j, i - 2]
    x[2 * n] = 2.0 * m[i - 1] - m[i - 2]
    sweeps = 0
    while True:
        _row_map(i, h, C, QT, DQ, m, mu, c, fc, fp, sc, sp, f1, f2, dq, weights, averages, x[:size], g[:size])
        change = 0.0
        for k in range(size):
            f[k] = g[k] - x[k]
            change = max(change, abs(f[k]))
        if not finite(change) or sweeps >= max_sweeps:
            return math.nan, sweeps + 1
        if change < tolerance:
            break
        _anderson(x[:size], f[:size], x_old[:size], f_old[:size], dX, dF, gram, rhs, sweeps, relaxation)
        sweeps += 1
    _write_row(i, g[:size], C, QT, m)
    for l in range(i):
        DQ[i, l] = QT[l + 1, i] - QT[l, i]
    energy = 0.0
    for l in range(i):
        energy += 0.5 * (polynomial(C[i, l], fc, fp, 1) + polynomial(C[i, l + 1], fc, fp, 1)) * DQ[i, l]
    return energy - polynomial(m[i], sc, sp, 0), sweeps


@njit(cache=True)
def adaptive_stage(i0, i1, h, c, fc, fp, sc, sp, tolerance, max_sweeps, relaxation, C, QT, DQ, m, mu, energies, sweeps):
    """Rows i0..i1 of the window at step h. Returns -1, or the first row that failed."""
    N = C.shape[0] - 1
    size = 2 * N + 1
    work = (
        np.empty(N + 1),
        np.empty(N + 1),
        np.empty(N),
        np.empty(N),
        np.empty(N),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty(size),
        np.empty((ANDERSON_DEPTH, size)),
        np.empty((ANDERSON_DEPTH, size)),
        np.empty((ANDERSON_DEPTH, ANDERSON_DEPTH)),
        np.empty(ANDERSON_DEPTH),
    )
    for i in range(i0, i1 + 1):
        energies[i], sweeps[i] = _adaptive_row(
            i, h, C, QT, DQ, m, mu, c, fc, fp, sc, sp, tolerance, max_sweeps, relaxation, work
        )
        if not (finite(energies[i]) and finite(mu[i]) and finite(m[i])):
            return i
    return -1
