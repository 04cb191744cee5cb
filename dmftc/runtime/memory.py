"""The memory a run needs, checked before anything is allocated (docs/language.md §17).

Each model class estimates the bytes of its largest arrays, within a factor of about 2
(``ModelClass.memory``: two-time arrays grow like T², Monte-Carlo samples like M T, a simulated
system like d² or d T); :func:`require` compares an estimate with the memory available and
refuses a run that cannot fit, naming the largest value of each size (steps, samples, dim, a
sweep's points) that fits with the others as given. :mod:`dmftc.options` calls it before every
solve, simulation and sweep.
"""

from __future__ import annotations

import math
from pathlib import Path

import psutil

from dmftc.errors import SolverError

BYTES = 8  # a float64
GRID_VALUE_BYTES = 48  # one swept value: a Python float in a list (32 bytes) and in an array (8)
POINT_BYTES = 16 * 2**10  # one grid point besides its result: model object, parameters, key, Dask task


def available() -> int:
    """Bytes this process can still allocate: the system's available memory, or less where a
    cgroup (a container) limits it."""
    free = psutil.virtual_memory().available
    cgroup = Path("/sys/fs/cgroup")
    try:
        limit = (cgroup / "memory.max").read_text().strip()
        if limit != "max":
            free = min(free, int(limit) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit
    return max(free, 0)


def require(estimate, values: dict, what: str, sizes: dict[str, tuple[str, int]]) -> None:
    """Raise the memory error when ``estimate(values)`` (bytes) exceeds the available memory.
    ``sizes``: name in ``values`` -> (how a value is written, with ``{}`` for it; its smallest
    value); the hint gives the largest value of each that fits, the others kept."""
    needed, have = estimate(values), available()
    if needed <= have:
        return
    fits = []
    for name, (spelling, smallest) in sizes.items():
        if values.get(name) is not None:
            best = largest(estimate, values, name, smallest, have)
            if best is not None:
                fits.append(spelling.format(best))
    raise SolverError(
        f"{what} needs about {size_text(needed)} of memory (an estimate of its largest arrays), "
        f"and {size_text(have)} is available",
        kind="memory",
        hint="the largest that fits, the rest as given: " + ", or ".join(fits) if fits else "make the problem smaller",
    )


def largest(estimate, values: dict, name: str, smallest: int, limit: int) -> int | None:
    """The largest value of the size ``name``, from ``smallest`` to below ``values[name]``, whose
    estimate is at most ``limit`` (bisection: the estimates grow with every size), or None when
    even ``smallest`` does not fit."""
    low, high = smallest, values[name]
    if estimate(values | {name: low}) > limit:
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if estimate(values | {name: middle}) <= limit:
            low = middle
        else:
            high = middle
    return low


def require_values(count: int, name: str) -> None:
    """Refuse a swept range of ``count`` values that would not fit before the sweep's own check
    (which needs the model) can run."""
    require(
        lambda values: values["points"] * GRID_VALUE_BYTES,
        {"points": count},
        f"a range of {count} values of '{name}'",
        {"points": ("{} values", 2)},
    )


def size_text(n: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}" if n < 1000 * scale else f"{n / scale:,.0f} {unit}"
    return f"{math.ceil(n / 2**10)} KiB"
