"""The checks of ``dmftc verify`` that apply to every class: limits of the update and causality.

Each check returns a :class:`Check` (name, status, detail). Symbolic checks compare sympy
expressions (a difference that simplifies to zero); numeric checks solve the model briefly. A
check that does not apply to a model says so (``n/a``) with the reason. The classes add their
own (``ModelClass.checks``), and :mod:`dmftc.verify.published` compares with published forms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from dmftc.language.symbols import DT

PASS, FAIL, NA = "pass", "fail", "n/a"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # pass | fail | n/a
    detail: str


def step_size(dm) -> sp.Symbol | None:
    """The parameter that sets the step of a discrete update, found from the update's
    structure (not its name): setting it to 0 removes the gradient from every rule, or leaves
    every weight where it is (Adam: its moments still see the gradient). A flow's step is dt."""
    model = dm.model
    if model.time == "continuous":
        return DT
    grads = {dm.model_class.update_gradient(model, w) for w in model.weights}
    observed = [g.expr for o in model.observables for g in o.aggregates]
    for p in model.params:
        at_zero = {v: model.step_map[v.symbol].subs(p.symbol, 0) for v in model.coordinates}
        if not all(_finite(e.subs(p.symbol, 0)) for e in [*at_zero.values(), *observed]):
            continue  # a scale the model divides by (an output scale 1 / gamma0), not a step
        if not any(rule.has(*grads) for rule in at_zero.values()) and any(
            model.step_map[v.symbol].has(*grads) for v in model.coordinates
        ):
            return p.symbol
        # (a model of states alone, a random network: the step leaves every state in place)
        if all(_simplifies_to_zero(at_zero[w] - w.symbol) for w in model.weights or model.coordinates):
            return p.symbol
    return None


def _simplifies_to_zero(expr: sp.Expr) -> bool:
    return sp.simplify(sp.expand(expr)) == 0


def _finite(expr: sp.Expr) -> bool:
    """No infinity or NaN in ``expr`` (a limit that does not exist shows as zoo or nan)."""
    return not expr.has(sp.zoo, sp.oo, -sp.oo, sp.nan)


# ------------------------------------------------------------------------------- symbolic


def momentum_reduces_to_gd(dm) -> Check:
    """A parameter that, set to 0, turns the update into plain gradient descent ``w - s grad(w)``
    at the iterate (``s`` the step size): the momentum of heavy ball or Nesterov. Found from the
    update's structure; a model whose weights already follow gradient descent has none."""
    name = "momentum set to 0 is gradient descent"
    model = dm.model
    lr = step_size(dm)
    if lr is None or model.time != "discrete" or not model.states or not model.weights:
        return Check(name, NA, "needs a discrete update with weights, optimizer states (momentum) and a step size")
    weights = {w.symbol for w in model.weights}

    def is_gd(p) -> bool:
        for w in model.weights:
            update = model.step_map[w.symbol].subs(p, 0)
            expected = w.symbol - lr * dm.model_class.update_gradient(model, w)
            point = {k: v.subs(p, 0) for k, v in model.grad_point.items() if k in weights}
            if not _simplifies_to_zero(update - expected) or any(
                not _simplifies_to_zero(v - k) for k, v in point.items()
            ):
                return False
        return True

    found = [p.name for p in model.params if p.symbol != lr and is_gd(p.symbol)]
    if not found:
        return Check(name, NA, "no parameter turns the update into w - lr grad(w) (not a momentum method)")
    return Check(name, PASS, f"with {found[0]} = 0 every weight moves by {lr} grad(w) at the iterate")


def learning_rate_limit(dm) -> Check:
    """The small-step limit of a discrete update, ``F(z) = z + s V(z) + sqrt(s) B(z) noise +
    O(s^(3/2))``: a flow ``dz/dt = V`` (a diffusion with ``B dW`` when the update has Gaussian
    noise). Passes when V and B are finite; reports them."""
    name = "small-step limit of the update is a flow"
    model = dm.model
    lr = step_size(dm)
    if lr is None or model.time != "discrete":
        return Check(name, NA, "needs a discrete update with a step size")
    root = sp.Symbol("√s", positive=True)
    quiet = {z: 0 for z in model.noises}
    flows = []
    for v in model.coordinates:
        update = model.step_map[v.symbol].subs(lr, root**2)
        if not _simplifies_to_zero(update.subs(root, 0) - v.symbol):
            return Check(
                name,
                NA,
                f"{v.name} moves at {lr} = 0 ({sp.sstr(update.subs(root, 0))}): its limit is "
                "not a first-order flow (momentum has a mass term)",
            )
        drift = sp.simplify(sp.diff(update.subs(quiet), root, 2).subs(root, 0) / 2)
        diffusion = [sp.simplify(sp.diff(update, z).diff(root).subs(root, 0)) for z in model.noises]
        if not all(_finite(e) for e in [drift, *diffusion]):
            return Check(name, NA, f"d{v.name}/dt has no finite small-step limit ({sp.sstr(drift)})")
        noise = " + ".join(f"{sp.sstr(b)} dW{k}" for k, b in enumerate(diffusion, 1) if b != 0)
        flows.append(f"d{v.name} = {sp.sstr(drift)} dt" + (f" + {noise}" if noise else ""))
    return Check(name, PASS, ", ".join(flows))


# -------------------------------------------------------------------------------- numeric


def short_solve(dm, steps: int):
    """A few steps of the model: small Monte-Carlo samples where the class samples, dt = 0.05
    for a flow."""
    options = {"samples": 2000} if "samples" in dm.model_class.solve_options else {}
    if dm.model.time == "continuous":
        options["dt"] = 0.05
    return dm.solve(steps=steps, **options)


def zero_learning_rate(dm) -> Check:
    """With a step size of 0 nothing moves: every observable is constant in time."""
    name = "zero step size gives a stationary process"
    model = dm.model
    lr = step_size(dm)
    if model.time != "discrete" or lr is None:
        return Check(name, NA, "needs a discrete update with a step size")
    ds = short_solve(dm.with_params(**{str(lr): 0.0}), 4)
    drift = max(float(np.max(np.abs(ds[o.name].values - ds[o.name].values[0]))) for o in model.observables)
    # Monte-Carlo observables of a frozen process are exactly constant too: the samples do not move
    status = PASS if drift <= 1e-12 else FAIL
    return Check(name, status, f"largest change of an observable over 4 steps: {drift:.1e}")


def causal_closure(dm) -> Check:
    """No response to the future: R(t, s) = 0 for s >= t (R_g: s > t) in a short solve."""
    name = "the closure is causal"
    ds = short_solve(dm, 6)
    upper = 0.0
    # R_theta vanishes for s >= t (the diagonal included); R_g, and the R of a landscape (whose
    # continuous-time solver stores R(t+, t) = 1 on the diagonal), for s > t
    responses = [(var, first) for var, first in (("R_theta", 0), ("R_g", 1), ("R", 1)) if var in ds]
    if not responses:
        return Check(name, NA, "the solution has no two-time response to check")
    for var, first_future in responses:
        upper = max(upper, float(np.max(np.abs(np.triu(ds[var].values, first_future)))))
    return Check(name, PASS if upper == 0 else FAIL, f"largest response to a later or equal time: {upper:.1e}")
