"""Symbols with a fixed meaning in every model.

Names a user cannot write (they contain characters outside the language's identifiers) are used
for quantities dmftc introduces, so they can never collide with a model's own names.
"""

import sympy as sp

STEP = sp.Symbol("t", integer=True, nonnegative=True)  # the step counter of update:
DT = sp.Symbol("dt", positive=True)  # the time step of flow:
HSTAR = sp.Symbol("hstar", real=True)  # teacher field of a sample, x . wstar
EPS = sp.Symbol("eps", real=True)  # per-sample label noise, N(0, 1)
CLUSTER = sp.Symbol("c", real=True)  # cluster of a sample of mixture data: -1, 0 or +1
OVERLAP_Q = sp.Symbol("q", real=True)  # argument of the landscape covariance xi(q)
OVERLAP_M = sp.Symbol("m", real=True)  # argument of the signal strength(m)

# Names a model may not define, with what they mean.
RESERVED_NAMES = {
    "x": "the data vector of a sample",
    "hstar": "the teacher field of a sample",
    "eps": "the label noise of a sample",
    "t": "the step counter",
    "dt": "the time step of a flow",
    "loss": "the per-sample loss",
    "c": "the cluster of a sample (mixture data)",
}


def grad_symbol(weight: str) -> sp.Symbol:
    """Placeholder for grad(weight) in the update, expanded by the derivation."""
    return sp.Symbol(f"∇{weight}", real=True)


def noise_symbol(k: int) -> sp.Symbol:
    """The k-th gauss() of a step: fresh N(0, 1) per coordinate and step."""
    return sp.Symbol(f"ζ{k}", real=True)


def is_noise(symbol: sp.Symbol) -> bool:
    """Whether ``symbol`` is a gauss() of the step (see :func:`noise_symbol`)."""
    return symbol.name.startswith("ζ") and symbol.name[1:].isdigit()


def random_symbol(owner: str, k: int) -> sp.Symbol:
    """The k-th primitive random variable in the law of ``owner``."""
    return sp.Symbol(f"ξ{k}[{owner}]", real=True)


def aggregate_symbol(k: int) -> sp.Symbol:
    return sp.Symbol(f"⟨{k}⟩", real=True)


# Quantities of the gaussian_data effective processes (docs/math/gaussian_data.md §2).
DATA_FIELD = sp.Symbol("Xᵀg", real=True)  # q: the data part of the gradient, (X^T g)_i
SELECTION = sp.Symbol("s̃", real=True)  # selection weight of a sample in the step's batch (s / b)
