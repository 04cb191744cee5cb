"""The spectral solver of linear data models (docs/math/gaussian_data.md §5.2).

When the exact Gaussian closure applies (§5: an affine site map with coefficients shared by all
coordinates, an affine loss gradient and label, no mini-batches), the finite system is linear in
the data matrix's singular directions: with X = U diag(σ) Vᵀ, every direction j of the parameter
space carries its own small linear recursion (eq. glm-mode), driven by the components of the
teacher, the primitives, the label noise and the all-ones vectors along V and U. Observables and
two-time functions are averages over the directions, i.e. integrals over the Marchenko–Pastur
law of the eigenvalues s = σ² of XᵀX (a Gauss rule, :mod:`dmftc.runtime.quadrature`).

Only the K steps written are computed. Between them a direction advances step by step, O(T ·
nodes · D³) in all (D = coordinates + primitives + 3), or, when no coefficient depends on the
step, by binary powering, O(K log T · nodes · D³); the two-time functions cost O(K² · nodes ·
D²). Ridge GD to T = 10⁴ and a flow to t = 10⁴ (10⁶ steps) take about 30 s each
(benchmarks/results_data.md), against O(T³) for the closure. The closure and this solver agree
to rounding (tests/test_spectral_data.py).

Layout of a direction's vector v: the coordinates z (k), the inputs e = (1, primitives) along V
(P1), the label noise ε̃ and the all-ones vector õ along U. Its raw second moments Σ are
propagated; e, ε̃ and õ are constant in time.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dmftc.runtime.quadrature import marchenko_pastur
from dmftc.runtime.random import raw_moments
from dmftc.runtime.stepping import MAX_MAGNITUDE, advance, diagnose, progress_task


def not_spectral_because(plan, model) -> str | None:
    """Why the spectral solver does not apply to a model; None when it does."""
    if not plan.exact:
        return "the model is not linear: " + "; ".join(plan.not_exact_because)
    if plan.mixture or model.spec.data_kind != "gaussian":
        return "the data are not isotropic Gaussian (a mixture)"
    return None


def output_steps(steps: int, log_steps: int | None) -> np.ndarray:
    """Step 0 and ``log_steps`` distinct log-spaced steps up to ``steps`` (all steps when None)."""
    if log_steps is None or log_steps >= steps:
        return np.arange(steps + 1)
    points = log_steps
    while True:  # rounding merges the first points: ask for more until log_steps are distinct
        grid = np.unique(np.round(np.geomspace(1, steps, points)).astype(np.int64))
        if len(grid) >= log_steps:
            return np.concatenate([[0], grid[-log_steps:]])
        points += log_steps - len(grid)


@njit(cache=True)
def _step_matrix(t, sigma, k, A, bq, dd, gam, P):
    """P with v(t+1) = P v(t) for one direction: z <- A z + bq σ g̃ + d e_0 (eq. glm-mode)."""
    D = P.shape[0]
    P[:, :] = 0.0
    for i in range(D):
        P[i, i] = 1.0
    for i in range(k):
        for j in range(k):
            P[i, j] = A[t, i, j]
        P[i, k] += dd[t, i]
        for j in range(D):
            P[i, j] += bq[t, i] * sigma * gam[j]


@njit(cache=True)
def _gradient_vector(t, sigma, k, P1, cq, coef, E0, gam):
    """g̃ = γ · v: a_h σ θ̃ + a_y (c_h σ w̃* + c_e ε̃ + c_0 õ) + a_0 õ, θ = cq[0] + cq[1:] . z."""
    a_h, a_y, a_0, c_h, c_e, c_0 = coef[0], coef[1], coef[2], coef[3], coef[4], coef[5]
    gam[:] = 0.0
    for i in range(k):
        gam[i] = a_h * sigma * cq[t, i + 1]
    gam[k] += a_h * sigma * cq[t, 0]
    for j in range(P1):
        gam[k + j] += a_y * c_h * sigma * E0[k, j]
    gam[k + P1] = a_y * c_e
    gam[k + P1 + 1] = a_y * c_0 + a_0


@njit(cache=True)
def _matmul(a, b, out):
    """out = a b for the small matrices of a direction (loops beat BLAS calls at this size)."""
    n, m = a.shape[0], b.shape[1]
    for i in range(n):
        for j in range(m):
            acc = 0.0
            for l in range(a.shape[1]):
                acc += a[i, l] * b[l, j]
            out[i, j] = acc


@njit(cache=True)
def _matvec(a, x, out):
    for i in range(a.shape[0]):
        acc = 0.0
        for l in range(a.shape[1]):
            acc += a[i, l] * x[l]
        out[i] = acc


@njit(cache=True)
def _theta_vector(t, k, cq, u):
    u[:] = 0.0
    for i in range(k):
        u[i] = cq[t, i + 1]
    u[k] = cq[t, 0]


@njit(cache=True)
def _step_noise(t, k, Cn, N):
    """N = the noise's contribution to Σ in one step (z block: Cn Cnᵀ)."""
    N[:, :] = 0.0
    for i in range(k):
        for j in range(k):
            acc = 0.0
            for n in range(Cn.shape[2]):
                acc += Cn[t, i, n] * Cn[t, j, n]
            N[i, j] = acc


@njit(cache=True)
def _sandwich(P, S, N, work, out):
    """out = N + P S Pᵀ."""
    _matmul(P, S, work)
    _matmul(work, P.T, out)
    out += N


@njit(cache=True)
def _advance_steps(t0, t1, sigma, k, P1, A, bq, dd, Cn, cq, coef, E0, Sig, Phi, psi, kick, m):
    """Steps t0..t1-1 one by one (coefficients that depend on the step): Σ <- P Σ Pᵀ + noise,
    Φ <- P Φ, ψ <- P ψ + bq, and the kick of the output at t0 (bq(t0) entering z(t0 + 1))."""
    P, N, work, tmp, gam = m[0], m[1], m[2], m[3][0], m[4][0]
    for t in range(t0, t1):
        _gradient_vector(t, sigma, k, P1, cq, coef, E0, gam)
        _step_matrix(t, sigma, k, A, bq, dd, gam, P)
        _step_noise(t, k, Cn, N)
        _sandwich(P, Sig, N, work, m[5])
        Sig[:, :] = m[5]
        _matmul(P, Phi, work)
        Phi[:, :] = work
        _matvec(P, psi, tmp)
        psi[:] = tmp
        if t == t0:
            kick[:] = 0.0
        else:
            _matvec(P, kick, tmp)
            kick[:] = tmp
        for i in range(k):
            psi[i] += bq[t, i]
            if t == t0:
                kick[i] = bq[t, i]


@njit(cache=True)
def _one_more(P, N, RP, RS, RN, work, T1):
    """(Pᶜ, Sᶜ, Nᶜ) -> (P Pᶜ, I + P Sᶜ, N + P Nᶜ Pᵀ): the sums of _advance_power one step further."""
    _matmul(P, RP, T1)
    RP[:, :] = T1
    _matmul(P, RS, T1)
    RS[:, :] = T1
    for i in range(P.shape[0]):
        RS[i, i] += 1.0
    _sandwich(P, RN, N, work, T1)
    RN[:, :] = T1


@njit(cache=True)
def _advance_power(n, sigma, k, P1, A, bq, dd, Cn, cq, coef, E0, Sig, Phi, psi, kick, m):
    """n steps of a step-independent map at once, by binary powering: (Pʲ, Σ_{i<j} Pⁱ,
    Σ_{i<j} Pⁱ N Pⁱᵀ) for j = n − 1 (the kick), then j = n. O(log n) products instead of n."""
    P, N, work, tmp, gam = m[0], m[1], m[2], m[3][0], m[4][0]
    RP, RS, RN, T1 = m[5], m[6], m[7], m[8]
    _gradient_vector(0, sigma, k, P1, cq, coef, E0, gam)
    _step_matrix(0, sigma, k, A, bq, dd, gam, P)
    _step_noise(0, k, Cn, N)
    D = P.shape[0]
    RP[:, :] = 0.0
    RS[:, :] = 0.0
    RN[:, :] = 0.0
    for i in range(D):
        RP[i, i] = 1.0
    j = n - 1
    for bit in range(62, -1, -1):
        if j >> bit == 0:
            continue
        # double: (Pᶜ, Sᶜ, Nᶜ) -> (P²ᶜ, Sᶜ + Pᶜ Sᶜ, Nᶜ + Pᶜ Nᶜ Pᶜᵀ)
        _matmul(RP, RS, T1)
        RS += T1
        _sandwich(RP, RN, RN, work, T1)
        RN[:, :] = T1
        _matmul(RP, RP, T1)
        RP[:, :] = T1
        if (j >> bit) & 1:
            _one_more(P, N, RP, RS, RN, work, T1)
    # the kick of the output at the start: P^(n-1) bq
    for i in range(D):
        acc = 0.0
        for l in range(k):
            acc += RP[i, l] * bq[0, l]
        kick[i] = acc
    _one_more(P, N, RP, RS, RN, work, T1)  # j = n
    _sandwich(RP, Sig, RN, work, T1)
    Sig[:, :] = T1
    Phi[:, :] = RP
    _matvec(RP, psi, tmp)
    for i in range(D):
        acc = 0.0
        for l in range(k):
            acc += RS[i, l] * bq[0, l]
        psi[i] = tmp[i] + acc


@njit(cache=True)
def spectral_pass(
    s_nodes, w_nodes, alpha, A, bq, Cn, dd, cq, coef, E0, G0, out, invariant, S0, S1, S2, RGK, CTH, CG, RTH, RGN, K
):
    """Accumulate, over the nodes of the spectral rule, at the output steps ``out[:K]``: the raw
    second moments of v (S0: over all directions; S1, S2: over the directions of U, weighted by
    σ and s), RGK (Σ_{s<t} of the kernel of R_g: the teacher response), and C_θ, C_g (paired
    directions), R_θ and the kernel of R_g between output steps. Between outputs the state
    advances step by step, or, when no coefficient depends on the step (``invariant``), by
    binary powering. Returns the number of outputs before a blow-up (a direction's weighted
    moments past MAX_MAGNITUDE: the sums from there on are incomplete), or K."""
    k = A.shape[1]
    P1 = G0.shape[0]
    D = k + P1 + 2
    m = np.zeros((9, D, D))  # work matrices of the advance functions
    Sig = np.empty((D, D))
    Phi = np.empty((D, D))
    gam = np.empty(D)
    u = np.empty(D)
    psi = np.empty(D)
    kick = np.empty(D)
    tmp = np.empty(D)
    y_theta = np.zeros((K, D))  # E[v(t) θ(t_b)] for the outputs b passed
    y_grad = np.zeros((K, D))  # E[v(t) g̃(t_b)]
    y_kick = np.zeros((K, D))  # Φ(t, t_b + 1) bq(t_b)
    for q in range(s_nodes.shape[0]):
        s = s_nodes[q]
        sigma = math.sqrt(max(s, 0.0))
        w = w_nodes[q]
        paired = s > 0.0  # a direction of V with a partner along U (the atom at 0 has none)
        wn = w / alpha if paired else 0.0  # its weight in averages over the n samples
        # initial moments: z(0) = E0[:k] . e, e with raw moments G0, ε̃ and õ unit and independent
        Sig[:, :] = 0.0
        for a in range(P1):
            for b in range(P1):
                Sig[k + a, k + b] = G0[a, b]
        Sig[k + P1, k + P1] = 1.0
        Sig[k + P1 + 1, k + P1 + 1] = 1.0
        for i in range(k):
            for b in range(P1):
                acc = 0.0
                for a in range(P1):
                    acc += E0[i, a] * G0[a, b]
                Sig[i, k + b] = acc
                Sig[k + b, i] = acc
        for i in range(k):
            for j in range(k):
                acc = 0.0
                for a in range(P1):
                    acc += E0[i, a] * Sig[k + a, j]
                Sig[i, j] = acc
        psi[:] = 0.0
        kick[:] = 0.0
        t = 0
        for a in range(K):
            if out[a] > t:
                for i in range(D):
                    for j in range(D):
                        Phi[i, j] = 1.0 if i == j else 0.0
                if invariant:
                    _advance_power(out[a] - t, sigma, k, P1, A, bq, dd, Cn, cq, coef, E0, Sig, Phi, psi, kick, m)
                else:
                    _advance_steps(t, out[a], sigma, k, P1, A, bq, dd, Cn, cq, coef, E0, Sig, Phi, psi, kick, m)
                t = out[a]
            largest = 0.0
            for i in range(D):
                largest = max(largest, abs(Sig[i, i]))
            if not largest * max(w, 1e-300) < MAX_MAGNITUDE:
                K = a  # this node and the later ones stop before this output
                break
            for i in range(D):
                for j in range(D):
                    S0[a, i, j] += w * Sig[i, j]
                    S1[a, i, j] += wn * sigma * Sig[i, j]
                    S2[a, i, j] += wn * s * Sig[i, j]
            row = 0 if invariant else t  # a step-independent map has one row of coefficients
            _theta_vector(row, k, cq, u)
            RGK[a] += wn * s * np.dot(u, psi)
            _gradient_vector(row, sigma, k, P1, cq, coef, E0, gam)
            # bring the earlier outputs' vectors to t, then record the pairs (a, b)
            for b in range(a):
                _matvec(Phi, y_theta[b], tmp)
                y_theta[b] = tmp
                _matvec(Phi, y_grad[b], tmp)
                y_grad[b] = tmp
                if b < a - 1:
                    _matvec(Phi, y_kick[b], tmp)
                    y_kick[b] = tmp
                else:  # started after its output step: carried by the advance
                    y_kick[b] = kick
                CTH[a, b] += w * np.dot(u, y_theta[b])
                CG[a, b] += wn * np.dot(gam, y_grad[b])
                RTH[a, b] += w * np.dot(u, y_kick[b])
                RGN[a, b] += wn * s * np.dot(u, y_kick[b])
            _matvec(Sig, u, y_theta[a])
            _matvec(Sig, gam, y_grad[a])
            CTH[a, a] += w * np.dot(u, y_theta[a])
            CG[a, a] += wn * np.dot(gam, y_grad[a])
    return K


def run_spectral(module, plan, model, values, data, nodes, weights, steps: int, out: np.ndarray, progress) -> dict:
    """Everything at the steps ``out`` (solve.py's array names: OBS and R_gs, C_th with the
    teacher first, R_th, C_g, R_g)."""
    T = steps
    k = len(plan.coordinates)
    P1 = 1 + len(plan.primitive_laws)
    _, G0 = raw_moments(plan.primitive_laws)
    E = np.zeros((k + 1, P1))
    module.initial_affine(values, E)
    # the coefficients at every step for a schedule, else once (row 0 serves every step)
    n_rows = T + 1 if plan.step_dependent else 1
    A = np.zeros((n_rows, k, k))
    bq = np.zeros((n_rows, k))
    Cn = np.zeros((n_rows, k, max(plan.n_noise, 1)))
    dd = np.zeros((n_rows, k))
    cq = np.zeros((n_rows, k + 1))
    co = np.zeros((n_rows, k + 1))
    for t in range(n_rows):
        module.site_affine(t, values, A[t], bq[t], Cn[t], dd[t])
        module.theta_affine(t, values, cq[t], co[t])
    coef = np.empty(6)
    module.data_affine(values, coef)
    a_h, a_y, a_0, c_h, c_e, c_0 = coef
    alpha = data.alpha
    rate = abs(a_h) * np.abs(bq).max() * np.abs(cq[:, 1:]).max(initial=0.0)
    rule = marchenko_pastur(alpha, max(alpha * rate * T, 10.0))  # rate in units of M = XᵀX / α
    D = k + P1 + 2
    K = len(out)
    S0, S1, S2 = (np.zeros((K, D, D)) for _ in range(3))
    RGK = np.zeros(K)
    CTH, CG, RTH, RGN = (np.zeros((K, K)) for _ in range(4))
    task = progress_task(progress, f"solving {model.name} (spectral, {len(rule.nodes)} nodes)", len(rule.nodes))
    stop = K  # the outputs before a blow-up
    for first in range(0, len(rule.nodes), 64):
        last = min(first + 64, len(rule.nodes))
        stop = spectral_pass(
            rule.nodes[first:last] * alpha,  # eigenvalues of XᵀX = α M, M of unit mean
            rule.weights[first:last],
            alpha,
            A,
            bq,
            Cn,
            dd,
            cq,
            coef,
            E,
            G0,
            out,
            not plan.step_dependent,
            S0,
            S1,
            S2,
            RGK,
            CTH,
            CG,
            RTH,
            RGN,
            stop,
        )
        advance(progress, task, last)

    # observables from the moments (docs/math/gaussian_data.md §5.2)
    unit = np.eye(D)
    wvec = np.concatenate([np.zeros(k), E[k], [0.0, 0.0]])
    eps, ones_n, ones_d = unit[k + P1], unit[k + P1 + 1], unit[k]
    n_mean = len(plan.mean)
    Q = np.zeros((max(n_mean, 1), k + 1, k + 1))
    lq = np.zeros((max(n_mean, 1), k + 1))
    cc = np.zeros(max(n_mean, 1))
    module.mean_quadratic(values, Q, lq, cc)
    basis = [unit[i] for i in range(k)] + [wvec]
    if plan.n_points:
        cp = np.zeros((plan.n_points, k + 2))
        module.point_affine(values, cp)
    OBS = np.zeros((K, len(plan.observables)))
    C_teacher = np.zeros(K)
    agg = np.zeros(len(plan.train) + len(plan.test) + len(plan.mean))
    train_values = np.empty(len(plan.train))
    for i, step in enumerate(out[: stop + 1]):  # the output of a blow-up included, to name its values
        s0, s1, s2 = S0[i], S1[i], S2[i]
        row = step if plan.step_dependent else 0  # the row of the coefficients
        agg[:] = 0.0
        m1 = np.array([ones_d @ s0 @ v for v in basis])
        m2 = np.array([[a @ s0 @ b for b in basis] for a in basis])
        for a in range(n_mean):
            agg[plan.mean[a]] = cc[a] + lq[a] @ m1 + np.sum(Q[a] * m2)
        uo = np.concatenate([co[row, 1:], [co[row, 0]], np.zeros(P1 + 1)])
        uq = np.concatenate([cq[row, 1:], [cq[row, 0]], np.zeros(P1 + 1)])
        C_teacher[i] = uq @ s0 @ wvec
        # train(): (h, h*, ε) over the samples, h = σ Θ̃ and h* = σ w̃* along U
        mean3 = np.array([uo @ s1 @ ones_n, wvec @ s1 @ ones_n, 0.0])
        raw = np.array(
            [
                [uo @ s2 @ uo, uo @ s2 @ wvec, uo @ s1 @ eps],
                [uo @ s2 @ wvec, wvec @ s2 @ wvec, wvec @ s1 @ eps],
                [uo @ s1 @ eps, wvec @ s1 @ eps, 1.0],
            ]
        )
        module.gaussian_expectation(0, mean3, raw - np.outer(mean3, mean3), nodes, weights, values, train_values)
        for a, index in enumerate(plan.train):
            agg[index] = train_values[a]
        rho = wvec @ s0 @ wvec
        module.test_aggregates(uo @ s0 @ uo, uo @ s0 @ wvec, rho, 1.0, 1.0, nodes, weights, values, agg)
        if plan.n_points:
            vecs = [
                cp[p, 0] * ones_d + cp[p, 1 : k + 1] @ np.eye(D)[:k] + cp[p, k + 1] * wvec for p in range(plan.n_points)
            ]
            q_at = np.array([v @ s0 @ v for v in vecs])
            m_at = np.array([v @ s0 @ wvec for v in vecs])
            module.test_at_points(q_at, m_at, rho, 1.0, 1.0, nodes, weights, values, agg)
        module.combine(agg, values, OBS[i])
    bad = np.flatnonzero(~np.all(np.abs(OBS[: stop + 1]) < MAX_MAGNITUDE, axis=1))
    if bad.size or stop < K:
        i = bad[0] if bad.size else stop
        values_at = [(f"the observable {name}", OBS[i, j]) for j, name in enumerate(plan.observables)]
        raise diagnose(model, int(out[i]), values_at)

    # two-time functions at the output steps; the directions of U without a partner along V
    # (n > d) add a constant, time-independent gradient (a_y ε + (a_y c_0 + a_0)) to C_g
    lower = np.tril_indices(K, -1)
    C_th = np.zeros((K + 1, K + 1))
    C_th[1:, 1:] = CTH + np.tril(CTH, -1).T
    C_th[0, 0] = S0[0] @ wvec @ wvec
    C_th[1:, 0] = C_th[0, 1:] = C_teacher
    C_g = CG + np.tril(CG, -1).T + max(0.0, 1 - 1 / alpha) * ((a_y * c_e) ** 2 + (a_y * c_0 + a_0) ** 2)
    R_th = np.zeros((K, K))
    R_th[lower] = RTH[lower]
    R_g = np.zeros((K, K))
    R_g[lower] = a_h**2 * RGN[lower]
    R_g[np.arange(K), np.arange(K)] = a_h
    return {
        "OBS": OBS,
        "C_th": C_th,
        "R_th": R_th,
        "C_g": C_g,
        "R_g": R_g,
        "R_gs": a_y * c_h * (1 + a_h * RGK),
        "nodes": int(len(rule.nodes)),
    }
