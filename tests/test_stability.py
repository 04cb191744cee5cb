"""Generated code is numerically stable where the logistic loss overflows naively.

At a margin m = h y of ±40, ±400, ±4000, ``log(1 + exp(-m))``, its derivative
``-y sigmoid(-m)`` and its curvature ``y^2 sigmoid(m) sigmoid(-m)`` are finite, but the forms
sympy derives (``exp(-m) / (1 + exp(-m))``, ...) overflow to inf/inf = nan for m = -400 and
lose every digit of the curvature at m = 40 (``s - s^2`` with s rounding to 1). The generated
loss, gradient and curvature of every bundled logistic model must equal a 50-digit mpmath
reference to 1e-13 relative (a few roundings of a double) at all of them.
"""

import mpmath
import numpy as np
import pytest
import sympy as sp

import dmftc

from .conftest import MODELS

LOGISTIC = [p for p in MODELS if "loss log(1 + exp(-y * h))" in p.read_text()]
MARGINS = (40.0, -40.0, 400.0, -400.0, 4000.0, -4000.0)
mpmath.mp.dps = 50


def _reference(h: float, y: float) -> tuple[float, float, float]:
    m = mpmath.mpf(h) * y
    sigmoid = lambda u: 1 / (1 + mpmath.exp(-u))  # noqa: E731
    return float(mpmath.log1p(mpmath.exp(-m))), float(-y * sigmoid(-m)), float(y * y * sigmoid(m) * sigmoid(-m))


def _close(got: float, want: float) -> bool:
    return np.isfinite(got) and abs(got - want) <= 1e-13 * abs(want) + 1e-300


def test_the_bundled_logistic_models_are_found():
    assert len(LOGISTIC) >= 8


@pytest.mark.parametrize("path", LOGISTIC, ids=lambda p: p.stem)
def test_logistic_loss_gradient_and_curvature_are_stable(path):
    m = dmftc.load(path)
    plan, module = m.compiled.generated[1], m.compiled.module
    params = np.array(
        [m.params[name] for name in plan.parameters if name != "dt"] + ([0.01] if "dt" in plan.parameters else [])
    )
    loss = m.model.spec.loss
    slots = {}  # train() or test() of the loss: which entry of the integrands
    for kind in ("train", "test"):
        found = [a for o in m.model.observables for a in o.aggregates if a.kind == kind]
        slot = next((i for i, a in enumerate(found) if sp.simplify(a.expr - loss) == 0), None)
        if slot is not None:
            slots[kind] = (slot, np.empty(len(found)))
    assert slots, "every bundled logistic model observes its loss"
    for margin in MARGINS:
        for y in (1.0, -1.0):
            h = margin / y
            want_loss, want_grad, want_curv = _reference(h, y)
            assert _close(module.loss_grad(h, y, 1.0, params), want_grad), (margin, y)
            assert _close(module.loss_grad_dh(h, y, 1.0, params), want_curv), (margin, y)
            for kind, (slot, out) in slots.items():
                getattr(module, f"{kind}_integrands")(h, y, 0.0, 0.0, params, out)
                assert _close(out[slot], want_loss), (kind, margin, y, out[slot], want_loss)
