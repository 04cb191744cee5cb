"""Bias and variance: the predictor averaged over a subset of its random sources.

Averaging the predictor over independent copies of some sources (label noise, initialisation,
data, optimizer noise) and keeping the others gives the mean (ensembled, bagged) predictor; its
error is the bias, and the rest of the error is the variance over those sources
(docs/math/linear_system.md §5: "averaging over subsets of the DMFT noise variables").

In the exact closure of a linear model (docs/math/gaussian_data.md §5) every variable is a coefficient vector
over the Gaussian inputs, parameter side ``[1, primitives | ν(0..T) | noises]`` and data side
``[1, ω*, ω(0..T), eps]``. Two replicas that share every source except the averaged ones have
the same coefficient vectors (the responses are deterministic) and cross moments given by a
cross Gram matrix, in which an averaged source contributes only its mean:

* ``init``: the initial primitives of the weights and states have cross moment mean², not their
  second moment (the teacher's primitives are always shared);
* ``data``: independent data matrices give independent fields ν (zero cross block);
* ``label-noise``: independent ``eps`` (zero cross moment on the data side);
* ``noise``: independent ``gauss()`` noises of the update (zero cross block).

The ν block of the cross Gram is ``α C_g^ab``, with ``C_g^ab(t,s) = g(t)ᵀ G_d^ab g(s)`` and the ω
block of ``G_d^ab`` the cross ``C_θ^ab``: one causal pass like the closure itself. The observables
of the mean predictor (``mean()`` and ``test()``; ``train()`` has no mean predictor when the data
differ, so observables using it are left out) are ``<name>_bias``, and ``<name>_variance =
<name> - <name>_bias`` is the variance over the averaged sources for squared errors.
"""

from __future__ import annotations

import numpy as np

DATA_SOURCES = ("label-noise", "init", "data", "noise")  # what --average-over accepts


def mean_predictor(module, plan, model, values, data, nodes, weights, arrays: dict, sources) -> dict:
    """Observables of the mean predictor of a gaussian_data model in exact mode (module
    docstring); ``arrays`` are the coefficient histories of :func:`dmftc.solve._run_exact`."""
    THC, GC, ZH, WSC, C_th = arrays["THC"], arrays["GC"], arrays["ZH"], arrays["WSC"], arrays["C_th"]
    G0, prim_mean = arrays["G0"], arrays["prim_mean"]
    T, k = ZH.shape[0] - 1, ZH.shape[1]
    P1 = G0.shape[0]
    nu0, z0 = P1, P1 + T + 1
    teacher = model.spec.teacher.init.free_symbols if model.spec.teacher else set()
    G0ab = G0.copy()
    if "init" in sources:
        for j, p in enumerate(model.primitives):
            if p.symbol not in teacher:
                G0ab[1 + j, 1 + j] = prim_mean[j] ** 2
    shared_data, shared_noise = "data" not in sources, "noise" not in sources
    label = 0.0 if "label-noise" in sources else 1.0
    Cg = np.zeros((T + 1, T + 1))  # C_g between the replicas
    Cth = np.zeros_like(C_th)  # C_θ between the replicas, teacher first (shared: as in C_th)
    Cth[0], Cth[:, 0] = C_th[0], C_th[:, 0]

    def gram_param(v: np.ndarray) -> np.ndarray:
        out = np.zeros_like(v)
        out[..., :P1] = v[..., :P1] @ G0ab.T
        if shared_data:
            out[..., nu0:z0] = data.alpha * v[..., nu0:z0] @ Cg.T
        if shared_noise:
            out[..., z0:] = v[..., z0:]
        return out

    def gram_data(v: np.ndarray) -> np.ndarray:
        out = np.zeros_like(v)
        out[0] = v[0]
        out[1 : T + 3] = Cth @ v[1 : T + 3]
        out[-1] = label * v[-1]
        return out

    for t in range(T + 1):
        Cth[t + 1, 1 : t + 2] = THC[: t + 1] @ gram_param(THC[t])
        Cth[1 : t + 2, t + 1] = Cth[t + 1, 1 : t + 2]
        if shared_data:
            Cg[t, : t + 1] = GC[: t + 1] @ gram_data(GC[t])
            Cg[: t + 1, t] = Cg[t, : t + 1]

    cq, co = np.empty(k + 1), np.empty(k + 1)
    n_mean = len(plan.mean)
    Q, lq, cc = np.zeros((max(n_mean, 1), k + 1, k + 1)), np.zeros((max(n_mean, 1), k + 1)), np.zeros(max(n_mean, 1))
    module.mean_quadratic(values, Q, lq, cc)
    cp = np.zeros((plan.n_points, k + 2))  # the vectors of test(e at v), affine in (1, z, wstar)
    if plan.n_points:
        module.point_affine(values, cp)
    agg = np.zeros((T + 1, len(plan.train) + len(plan.test) + n_mean))
    obs = np.zeros((T + 1, len(plan.observables)))
    for t in range(T + 1):
        V = np.vstack([ZH[t], WSC])  # v = (z, wstar)
        second = V @ gram_param(V).T
        first = V[:, 0] + V[:, 1:P1] @ prim_mean
        for a, index in enumerate(plan.mean):
            agg[t, index] = cc[a] + lq[a] @ first + np.sum(Q[a] * second)
        module.theta_affine(t, values, cq, co)
        observed = co[0] * np.eye(1, V.shape[1])[0] + co[1:] @ ZH[t]
        q_obs = observed @ gram_param(observed)
        m_obs = observed @ gram_param(WSC)
        module.test_aggregates(q_obs, m_obs, C_th[0, 0], data.delta, data.rho, nodes, weights, values, agg[t])
        if plan.n_points:
            at = cp[:, :1] * np.eye(1, V.shape[1]) + cp[:, 1:] @ V
            module.test_at_points(
                np.sum(at * gram_param(at), axis=1),
                at @ gram_param(WSC),
                C_th[0, 0],
                data.delta,
                data.rho,
                nodes,
                weights,
                values,
                agg[t],
            )
        module.combine(agg[t], values, obs[t])
    return {
        o.name: obs[:, j] for j, o in enumerate(model.observables) if not any(a.kind == "train" for a in o.aggregates)
    }
