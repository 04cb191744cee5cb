"""Derivation for the ``gaussian_data`` class: the effective processes of docs/math/gaussian_data.md §2.

From the analysed model this builds, as sympy expressions:

* the query point ``θ = Θ(z)`` where the gradient is taken, and the predictor's own field
  ``Θ(w)`` used by observables (they differ for Nesterov);
* each ``grad(p)`` split into its data part ``∂Θ/∂p · Xᵀg`` and its penalty part ``∂r/∂p``;
* the parameter-side site map ``z(t+1) = F(z, Xᵀg, ζ, t)`` and its Jacobians;
* the data-side map ``g = s̃ ∂ℓ/∂h (h, y)``, ``y = φ(h*, ε)``, and its derivatives;
* which response estimator applies on each side (Jacobians need pointwise derivatives; where a
  DiracDelta appears, Stein's lemma is used, docs/math/gaussian_data.md §4) and whether the exact Gaussian
  closure of §5 applies (affine site map, quadratic loss, affine label, no mini-batches).

The result is a :class:`DataDerivation`, which prints as text, LaTeX or Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.analysis.model import Model
from dmftc.language.symbols import DATA_FIELD, EPS, HSTAR, SELECTION, grad_symbol
from dmftc.symbolic.algebra import is_affine, is_quadratic, without_null_deltas


@dataclass(frozen=True)
class DataDerivation:
    model: Model
    coordinates: tuple[sp.Symbol, ...]  # z: weights then states
    theta_query: sp.Expr  # θ = Θ(z at the gradient's point), in z
    theta_obs: sp.Expr  # Θ(w) at the iterate, in z (the field of observables)
    gradients: dict  # weight symbol -> grad(weight) in z and Xᵀg
    site_map: dict  # z_k -> F_k(z, Xᵀg, ζ, t)
    jacobian_z: sp.Matrix  # ∂F/∂z
    jacobian_q: sp.Matrix  # ∂F/∂(Xᵀg)
    theta_query_grad: sp.Matrix  # ∂θ/∂z
    theta_obs_grad: sp.Matrix
    label: sp.Expr | None  # y = φ(h*, ε)
    loss_grad: sp.Expr  # g = s̃ ∂ℓ/∂h, in h, y, s̃
    loss_grad_dh: sp.Expr  # ∂g/∂h
    loss_grad_dhstar: sp.Expr  # ∂g/∂h* at fixed h (through the label)
    param_smooth: bool  # F and Θ have pointwise derivatives: Jacobian responses possible
    param_deterministic: bool  # the parameter response does not depend on the sample
    data_smooth: bool  # g has a pointwise derivative in h
    label_smooth: bool  # g has a pointwise derivative in h* (through y)
    exact: bool  # the exact Gaussian closure applies
    not_exact_because: tuple[str, ...]

    @property
    def has_look_ahead(self) -> bool:
        return sp.simplify(self.theta_query - self.theta_obs) != 0

    def render(self, fmt: str = "text") -> str:
        from dmftc.classes.gaussian_data.report import render_data_derivation

        return render_data_derivation(self, fmt)

    def _repr_latex_(self) -> str:  # Jupyter
        return "$\\displaystyle " + self.render("latex-inline") + "$"


def derive_gaussian_data(model: Model) -> DataDerivation:
    z = tuple(v.symbol for v in model.coordinates)
    point = model.grad_point
    theta_obs = model.spec.theta
    theta_query = theta_obs.subs(point, simultaneous=True)

    gradients = {}
    for w in model.weights:
        data_part = sp.diff(model.spec.theta, w.symbol).subs(point, simultaneous=True)
        penalty_part = sp.diff(model.penalty, w.symbol).subs(point, simultaneous=True)
        gradients[w.symbol] = data_part * DATA_FIELD + penalty_part
    substitution = {grad_symbol(w.name): gradients[w.symbol] for w in model.weights}
    site_map = {zk: model.step_map[zk].subs(substitution) for zk in z}
    F = sp.Matrix([site_map[zk] for zk in z])
    jacobian_z = F.jacobian(z).applyfunc(lambda e: without_null_deltas(e, [*z, DATA_FIELD]))
    jacobian_q = F.diff(DATA_FIELD).applyfunc(lambda e: without_null_deltas(e, [*z, DATA_FIELD]))
    theta_query_grad = sp.Matrix([theta_query]).jacobian(z).T
    theta_obs_grad = sp.Matrix([theta_obs]).jacobian(z).T

    h, y = model.spec.h, model.spec.y
    # derivatives of piecewise losses (max, abs, comparisons): terms that vanish a.e. dropped
    loss_grad = without_null_deltas(SELECTION * sp.diff(model.spec.loss, h), [h, y, SELECTION])
    loss_grad_dh = without_null_deltas(sp.diff(loss_grad, h), [h, y, SELECTION])
    label = model.spec.label
    if label is not None and model.spec.data_kind == "gaussian":
        dy = without_null_deltas(sp.diff(loss_grad, y), [h, y, SELECTION]).subs(y, label)
        loss_grad_dhstar = without_null_deltas(dy * sp.diff(label, HSTAR), [HSTAR, h, EPS])
    else:  # no teacher field: mixture data couples to the teacher through E[c g] instead
        loss_grad_dhstar = sp.Integer(0)

    noises = tuple(model.noises)
    param_smooth = not any(e.has(sp.DiracDelta) for e in list(jacobian_z) + list(jacobian_q) + list(theta_query_grad))
    random = set(z) | {DATA_FIELD} | set(noises)
    param_deterministic = all(
        not (e.free_symbols & random) for e in list(jacobian_z) + list(jacobian_q) + list(theta_query_grad)
    )
    data_smooth = not loss_grad_dh.has(sp.DiracDelta)
    label_smooth = model.spec.data_kind == "gaussian" and not loss_grad_dhstar.has(sp.DiracDelta)

    reasons = _not_exact_because(model, site_map, z, theta_query, theta_obs, loss_grad, param_deterministic)
    return DataDerivation(
        model=model,
        coordinates=z,
        theta_query=theta_query,
        theta_obs=theta_obs,
        gradients=gradients,
        site_map=site_map,
        jacobian_z=jacobian_z,
        jacobian_q=jacobian_q,
        theta_query_grad=theta_query_grad,
        theta_obs_grad=theta_obs_grad,
        label=label,
        loss_grad=loss_grad,
        loss_grad_dh=loss_grad_dh,
        loss_grad_dhstar=loss_grad_dhstar,
        param_smooth=param_smooth,
        param_deterministic=param_deterministic,
        data_smooth=data_smooth,
        label_smooth=label_smooth,
        exact=not reasons,
        not_exact_because=tuple(reasons),
    )


def _not_exact_because(model: Model, site_map, z, theta_query, theta_obs, loss_grad, param_deterministic) -> list[str]:
    """Why the exact Gaussian closure (docs/math/gaussian_data.md §5) does not apply; empty when it does."""
    reasons = []
    state = set(z) | {DATA_FIELD} | set(model.noises)
    if not (param_deterministic and all(is_affine(F, state) for F in site_map.values())):
        reasons.append("the site map is not affine in the state and the gradient")
    if not (is_affine(theta_query, z) and is_affine(theta_obs, z)):
        reasons.append("the predictor is not linear in the weights")
    h, y = model.spec.h, model.spec.y
    if not is_affine(loss_grad.subs(SELECTION, 1), [h, y]):
        reasons.append("the loss is not quadratic in the prediction")
    if model.spec.label is not None and not is_affine(model.spec.label, [HSTAR, EPS]):
        reasons.append("the label is not affine in hstar and eps")
    if model.spec.batch is not None:
        reasons.append("mini-batch selection is random")
    if model.spec.data_kind == "mixture":
        reasons.append("the cluster of a sample is not Gaussian")
    primitives = [p.symbol for p in model.primitives]
    teacher = [model.spec.teacher.symbol] if model.spec.teacher else []
    for v in model.coordinates + ((model.spec.teacher,) if model.spec.teacher else ()):
        if not is_affine(v.init, primitives + teacher):
            reasons.append(f"the initial law of {v.name} is not affine in its random inputs")
    per_coordinate = list(z) + teacher
    for o in model.observables:
        for a in o.aggregates:
            if a.kind == "mean" and not is_quadratic(a.expr, per_coordinate):
                reasons.append(f"observable {o.name}: mean() of a non-quadratic expression")
            if a.point is not None and not is_affine(a.point, per_coordinate):
                reasons.append(f"observable {o.name}: the vector of test(e at v) is not linear in the coordinates")
    return reasons
