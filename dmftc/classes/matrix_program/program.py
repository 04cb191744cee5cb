"""What the solvers and the simulator of a matrix program share: the run-time values, the clock
of uses, the per-space arrays, and the calls of the generated per-site functions
(dmftc/classes/matrix_program/lower.py).

The clock (docs/math/matrix_program.md §1): at every step the uses run in the order of the
program; a frozen use (its source constant in time) runs at the first step only. One *occurrence*
is a use at a step; the fields that land in a space are numbered by occurrence in clock order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dmftc.language.symbols import DT, STEP
from dmftc.runtime.random import primitives
from dmftc.runtime.stepping import DEFAULT_FLOW_DT


def runtime_values(plan, params: dict, model, dt: float | None) -> tuple[np.ndarray, float | None]:
    """The ``params`` array of the generated functions (the model's parameters, then dt for a
    flow) and the time step (None for an update)."""
    if model.time == "continuous":
        dt = DEFAULT_FLOW_DT if dt is None else dt
        return np.array([params[p.name] for p in model.params] + [dt], dtype=float), dt
    return np.array([params[p.name] for p in model.params], dtype=float), None


def occurrences(d, steps: int) -> list[tuple[int, int]]:
    """(step, use) in clock order for the steps 0..steps (observables need the fields of the last
    step too); a frozen use occurs at step 0 only."""
    return [(t, k) for t in range(steps + 1) for k, use in enumerate(d.spec.uses) if t == 0 or not use.frozen]


@dataclass
class SpaceState:
    """The sites (simulation) or samples (solver) of one space at the current step."""

    plan: object  # SpacePlan
    Z: np.ndarray  # coordinates
    K: np.ndarray  # constants
    H: np.ndarray  # fields of the current step (frozen fields keep their first value)
    E: np.ndarray  # noises of the current step
    history: list = field(default_factory=list)  # Z at every step (two-time correlations)

    @property
    def size(self) -> int:
        return self.Z.shape[0]


def start(module, plan_space, values: np.ndarray, size: int, rng: np.random.Generator, antithetic: bool) -> SpaceState:
    """Constants and starting coordinates of ``size`` sites drawn from their laws."""
    s = plan_space
    prims = primitives(rng, s.primitive_laws, size, antithetic=antithetic)
    K = np.zeros((size, len(s.constants)))
    getattr(module, f"constants_{s.name}")(values, prims, K)
    Z = np.zeros((size, len(s.coordinates)))
    getattr(module, f"initial_{s.name}")(values, prims, K, Z)
    return SpaceState(s, Z, K, np.zeros((size, len(s.fields))), np.zeros((size, s.n_noise)))


def column(plan, k: int) -> int:
    """The column of use ``k``'s field in the H array of its target space."""
    tgt = next(s for s in plan.spaces if k in s.fields)
    return tgt.fields.index(k)


def observe(module, plan, states: dict, t: int, values: np.ndarray, agg: np.ndarray) -> None:
    """The mean() aggregates of step t, each averaged over the sites of its space."""
    for s in plan.spaces:
        if not s.aggregates:
            continue
        st = states[s.name]
        out = np.zeros((st.size, len(s.aggregates)))
        getattr(module, f"observe_{s.name}")(t, values, st.Z, st.K, st.H, out)
        agg[list(s.aggregates)] = out.mean(axis=0)


def value(expr, model, values: np.ndarray, t: int = 0) -> float:
    """A parameter expression (a coupling κ, a training rate c) at the run's parameter values
    ``values`` (dt last for a flow) and step t."""
    at = {p.symbol: values[i] for i, p in enumerate(model.params)} | {STEP: t}
    if model.time == "continuous":
        at[DT] = values[-1]
    return float(expr.subs(at))


def combine(module, plan, agg: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(len(plan.observables))
    module.combine(agg, values, out)
    return out


@dataclass(frozen=True)
class TrainingTerm:
    """One term c u vᵀ / N_cols of a trained matrix's update; u and v are the generated
    ``factor_<u + 1>`` and ``factor_<v + 1>`` (docs/math/matrix_program.md §2.1)."""

    matrix: object  # analysis.Matrix
    coefficient: object  # c, a sympy expression of the parameters and t
    u: int
    v: int

    def value(self, model, values: np.ndarray, t: int) -> float:
        return value(self.coefficient, model, values, t)


def trainings_at(spec) -> dict[int, list[TrainingTerm]]:
    """The training terms by position in the step: those at k act before use k (k = the number
    of uses: after the last use)."""
    out: dict[int, list[TrainingTerm]] = {}
    j = 0
    for training in spec.trainings:
        for c, _, _ in training.terms:
            out.setdefault(training.position, []).append(TrainingTerm(spec.matrix(training.matrix), c, j, j + 1))
            j += 2
    return out


def factor(module, j: int, state: SpaceState, t: int, values: np.ndarray) -> np.ndarray:
    """Factor j of the training terms on the sites (samples) of its space."""
    out = np.zeros(state.size)
    getattr(module, f"factor_{j + 1}")(t, values, state.Z, state.K, state.H, state.E, out)
    return out
