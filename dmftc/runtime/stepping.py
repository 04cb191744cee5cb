"""Running a solver in chunks of steps: progress between chunks, and divergence reported with
the step where values stopped being finite."""

from __future__ import annotations

import numpy as np

from dmftc.errors import SolverError

DEFAULT_FLOW_DT = 0.01  # the step of a flow when --dt is not given

# A value past this size is taken as a divergence, as in the generated code
# (templates/common/checks.py.j2; docs/language.md §7).
MAX_MAGNITUDE = 1e50


def within_scale(values) -> bool:
    """Every value finite and below MAX_MAGNITUDE in size."""
    return bool(np.all(np.abs(np.asarray(values, dtype=float)) < MAX_MAGNITUDE))


def chunks(steps: int):
    """(t0, t1) ranges covering the steps 0..steps in about 50 chunks (progress between them)."""
    size = max(1, (steps + 1) // 50)
    for t0 in range(0, steps + 1, size):
        yield t0, min(t0 + size, steps + 1)


def progress_task(progress, description: str, total: int):
    """A task of the rich progress bar ``progress`` (None: no bar)."""
    return None if progress is None else progress.add_task(description, total=total)


def advance(progress, task, completed: int) -> None:
    if task is not None:
        progress.update(task, completed=completed)


def diverged(
    model,
    step: int,
    what: str = "",
    time_value: float | None = None,
    growth: bool = True,
    finite: bool = False,
    hint: str | None = None,
) -> SolverError:
    """The error of a run whose values stop being finite (or, ``finite``, grow past
    MAX_MAGNITUDE) at ``step``. ``growth``: the values grew without bound (the hint names what
    sets this model's step size: a flow's dt, an update's learning rate); otherwise a function of
    the model was evaluated where it is not finite."""
    given_hint = hint
    when = f"step {step}" + (f" (time {time_value:g})" if time_value is not None else "")
    happened = f"values grow past {MAX_MAGNITUDE:g}" if finite else "values stop being finite"
    if not growth:
        hint = (
            "a function of the model is evaluated where it is not finite (a division by zero, the "
            "log or sqrt of a negative number, an exp that overflows)"
        )
    elif model.time == "continuous":
        hint = "the time step --dt is probably too large for this flow"
    else:
        hint = "the step size (learning rate) is probably too large for this problem"
    return SolverError(
        f"the solution of {model.name} diverges: {happened} at {when}{what}",
        kind="diverged",
        hint=hint if given_hint is None else given_hint,
    )


def diagnose(
    model,
    step: int,
    quantities: list[tuple[str, np.ndarray]],
    time_value: float | None = None,
    hint: str | None = None,
    previous_scale: float = 0.0,
):
    """The :func:`diverged` error naming the first of ``quantities`` (in the order the step
    computes them: (description, values)) that is not finite or too large. Its hint tells growth
    (values too large, or huge finite values before the first infinite one, in this step or at
    the previous step: ``previous_scale``) from a function evaluated out of its domain (finite,
    moderate values turning into inf or NaN within one step)."""
    largest = previous_scale if np.isfinite(previous_scale) else np.inf
    for what, values in quantities:
        values = np.asarray(values, dtype=float)
        bad = ~(np.abs(values) < MAX_MAGNITUDE)
        if bad.any():
            finite = bool(np.all(np.isfinite(values)))
            detail = f" ({what}: {int(bad.sum())} of {bad.size} values {'too large' if finite else 'not finite'})"
            grew = finite or largest > 1e20
            return diverged(model, step, detail, time_value, growth=grew, finite=finite, hint=hint)
        if values.size:
            largest = max(largest, float(np.max(np.abs(values))))
    return diverged(model, step, "", time_value, hint=hint)


def check_status(status: int, model, observables, obs: np.ndarray) -> None:
    """A generated pass returns -1, or the first step with values not finite or too large."""
    if status >= 0:
        raise diagnose(
            model, status, [(f"the observable {name}", obs[status, j]) for j, name in enumerate(observables)]
        )
