"""The matrix family (``data online(dim = N)``): simulation, and the Dyson-Brownian-motion prediction.

A weight matrix W (N x N) is trained by mini-batch SGD on fresh samples of a linear teacher
(docs/math/matrix_sgd.md §4): every step draws B inputs x ~ N(0, I_N), labels from the
model's label rule with ``hstar = W* x``, and takes the model's update with the batch-mean
gradient ``∇W = (1/B) Σ_b g_b x_bᵀ`` (``g = ∂ℓ/∂h`` per output). W* is diagonal, its entries from
the teacher's law; W(0) has the per-entry law of ``weights``.

* :func:`simulate_matrix_sgd` records, at every step, the eigenvalues of WᵀW (of the first run,
  variable ``eigenvalues`` over (step, index)) and, averaged over runs, their mean, their
  variance and ``spacing_s2``, the second moment ``<s²>/<s>²`` of the unfolded spacings in the
  bulk (levels mapped through the semicircle law fitted to the step's mean and variance; the
  central half of the spacings), plus the model's ``mean()`` observables.
* :func:`predict_matrix_sgd` (``dmftc solve``) gives the leading order in ``lr`` of SGD near the
  teacher W* = c I, from the diffusion limit of :mod:`dmftc.sde`: the entries of δ = W − W* are
  independent Ornstein–Uhlenbeck processes, ``v(t) = v∞ + (v(0) − v∞) e^{−2κt}`` at ``t = k lr``,
  ``v∞ = lr E[g²] / (2 κ B)``, and the eigenvalues of ``WᵀW = c² + c(δ + δᵀ) + δᵀδ`` form a
  semicircle (Dyson Brownian motion, docs/math/matrix_sgd.md §3) of mean ``c² + N v`` and
  variance ``2 c² N v``, with the Wigner surmise ``<s²> = 4/π`` for the spacings. The next order
  in lr (multiplicative batch noise, the δᵀδ term) raises the variance by a few percent at the
  parameters of docs/math/matrix_sgd.md §4.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import sympy as sp

from dmftc.errors import SolverError
from dmftc.results.dataset import make_dataset, run_attributes
from dmftc.runtime.parameters import bad_value
from dmftc.symbolic.sde import derive_sde

log = logging.getLogger("dmftc")

SURMISE_S2 = 4 / math.pi  # Wigner surmise (β = 1): P(s) = (π s / 2) exp(-π s² / 4)


def matrix_size(model, params: dict) -> int:
    size = model.spec.data_args["dim"]
    value = float(size.subs(model.values(params)))
    if value < 2 or value != round(value):
        raise bad_value(model, params, f"the matrix size must be an integer >= 2, got {value:g}", size)
    return int(value)


def batch_count(model, params: dict) -> int:
    if model.spec.batch is None:
        return 1
    size = model.spec.batch.args[0]
    value = float(size.subs(model.values(params)))
    if value < 1 or value != round(value):
        raise bad_value(model, params, f"the batch size must be a positive integer, got {value:g}", size)
    return int(value)


# ---------------------------------------------------------------------------------- prediction


def solve(compiled, params: dict, options: dict, progress=None):
    """``dmftc solve``: the prediction of :func:`predict_matrix_sgd` (``options``: steps)."""
    return predict_matrix_sgd(compiled.model, params, steps=options["steps"])


def predict_matrix_sgd(model, params: dict, *, steps: int = 1000):
    """The leading-order Dyson-Brownian-motion prediction (module docstring) as a dataset."""
    values = model.values(params)
    N, B = matrix_size(model, params), batch_count(model, params)
    sde = derive_sde(model)
    W, Wstar = model.weights[0].symbol, model.spec.teacher.symbol
    c = model.spec.teacher.init
    offset = sp.expand(model.weights[0].init - Wstar)
    prims = [p.symbol for p in model.primitives]
    problems = []
    if sde.stationary_variance is None:
        problems.append("the update is not W - lr grad(W) or the label noise is not additive")
    if c.free_symbols & set(prims):
        problems.append("the teacher is not c I (its law is random)")
    if offset.has(Wstar) or not all(sp.diff(offset, p, 2) == 0 for p in prims):
        problems.append("W(0) - W* is not an affine map of independent inputs")
    if problems:
        raise SolverError(
            "the DBM prediction needs SGD near a teacher W* = c I: " + "; ".join(problems),
            kind="not-available",
            hint="'dmftc simulate' runs the model",
        )
    laws = {p.symbol: p for p in model.primitives}
    mean0 = float(offset.subs({p: laws[p].mean for p in prims}).subs(values))
    if abs(mean0) > 0:
        raise SolverError("the DBM prediction needs W(0) - W* centred", kind="not-available")
    v0 = (
        float(sum(sp.diff(offset, p) ** 2 * (laws[p].second_moment - laws[p].mean ** 2) for p in prims).subs(values))
        if prims
        else 0.0
    )
    rate = float(sp.diff(sp.diff(model.spec.loss, model.spec.h), model.spec.h).subs(values))
    v_inf = float(sde.stationary_variance.subs(values).subs(sde.batch_size, B))
    lr = params["lr"]
    t = np.arange(steps + 1) * lr
    v = v_inf + (v0 - v_inf) * np.exp(-2 * rate * t)
    c2 = float(c.subs(values)) ** 2
    observables = {
        "eigenvalue_mean": c2 + N * v,
        "eigenvalue_variance": 2 * c2 * N * v,
        "spacing_s2": np.full(steps + 1, SURMISE_S2),
    }
    observables |= _gaussian_entry_means(model, values, W, Wstar, float(c.subs(values)), N, v)
    attrs = run_attributes(
        kind="theory",
        model=model,
        params=params,
        settings={"steps": steps, "method": "dbm (leading order in lr)", "stationary_entry_variance": v_inf},
        timings={},
    )
    return make_dataset(observables, np.arange(steps + 1, dtype=float), attrs=attrs)


def _gaussian_entry_means(model, values, W, Wstar, c: float, N: int, v: np.ndarray) -> dict:
    """mean() observables with W = W* + sqrt(v) ξ entrywise, ξ ~ N(0, 1); W* = c on the
    diagonal (a fraction 1/N of the entries), 0 elsewhere."""
    xi, var = sp.Symbol("ξ"), sp.Symbol("v", nonnegative=True)
    out = {}
    for o in model.observables:
        subs = {}
        for a in o.aggregates:
            e = sp.expand(a.expr.subs(values).subs(W, Wstar + sp.sqrt(var) * xi))
            if not e.is_polynomial(xi):
                raise SolverError(
                    f"observable '{o.name}': the prediction needs mean() of a polynomial in {W}", kind="not-available"
                )
            poly = sp.Poly(e, xi)
            moment = sum(coef * (0 if k % 2 else sp.factorial2(k - 1) if k else 1) for (k,), coef in poly.terms())
            per_entry = (moment.subs(Wstar, c) + (N - 1) * moment.subs(Wstar, 0)) / N
            subs[a.symbol] = per_entry
        f = sp.lambdify([var], o.expr.subs(values).subs(subs), modules="numpy")
        out[o.name] = np.broadcast_to(np.asarray(f(v), dtype=float), v.shape).copy()
    return out
