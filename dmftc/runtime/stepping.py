"""Running a solver in chunks of steps: progress between chunks, and divergence reported with
the step where values stopped being finite."""

from __future__ import annotations

import numpy as np

from dmftc.errors import SolverError


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


def diverged(model, step: int, what: str = "", time_value: float | None = None) -> SolverError:
    """The error of a run whose values stop being finite at ``step``; the hint names what sets
    the step size of this model (a flow's dt, an update's learning rate)."""
    when = f"step {step}" + (f" (time {time_value:g})" if time_value is not None else "")
    hint = ("the time step --dt is probably too large for this flow" if model.time == "continuous"
            else "the step size (learning rate) is probably too large for this problem")
    return SolverError(f"the solution of {model.name} diverges: values stop being finite at {when}{what}",
                       kind="diverged", hint=hint)


def check_status(status: int, model, observables, obs: np.ndarray) -> None:
    """A generated forward pass returns -1, or the first step with non-finite values."""
    if status >= 0:
        bad = [name for j, name in enumerate(observables) if not np.isfinite(obs[status, j])]
        raise diverged(model, status, f" ({', '.join(bad)} not finite)" if bad else "")
