"""Agreement of two results (theory and experiment), in standard errors: the statistics of
``dmftc compare``.

Each observable is judged at every time the two results share: ``z = (a - b) / s``, with ``s``
the two sides' standard errors combined (``<name>_sem``: the runs of a simulation, the replicas
of a Monte-Carlo solve; an exact solve has none) and floored at the rounding level of the values
(1e-12 of their size), so that two equal results are equal. The verdict compares the largest
|z| over the n judged times with the 3-sigma level corrected for n comparisons (Bonferroni: the
two-sided tail probability of 3 sigma, 0.0027, shared among the n times), so that a correct
model passes with probability 99.7 % however many steps it has. A standard error estimated from
k runs or replicas is itself uncertain: z then follows Student's t with k - 1 degrees of freedom
(both sides: the Welch–Satterthwaite number), whose quantile sets the limit (4 replicas: 3 degrees
of freedom, a limit of 9.2 for one time where the normal gives 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from dmftc.errors import DmftcError
from dmftc.results import dataset as results

TIME_RTOL = 1e-9  # times match when they differ by less than this, relative to the largest time
SIGMA = 3.0  # the level of the verdict, corrected for the number of times judged
ROUNDING = 1e-12  # standard errors are floored at this fraction of the values' size


@dataclass(frozen=True)
class Row:
    """One observable at one time in both results.

    ``z`` is ``(value_a - value_b) / sqrt(sem_a^2 + sem_b^2)``; None when neither side has a
    standard error, or when the combined standard error is zero.
    """

    observable: str
    time: float
    value_a: float
    value_b: float
    difference: float
    z: float | None
    dof: float = math.inf  # degrees of freedom of the combined standard error (Welch–Satterthwaite)


def compare_datasets(a: xr.Dataset, b: xr.Dataset) -> list[Row]:
    """Compare the observables the two results share at every time they share."""
    names_a, names_b = results.observable_names(a), results.observable_names(b)
    observables = [name for name in names_a if name in names_b]
    if not observables:
        raise DmftcError(
            "the two results have no observable in common",
            kind="compare",
            hint=f"first: {', '.join(names_a) or 'none'}; second: {', '.join(names_b) or 'none'}",
        )
    steps_a, steps_b = _common_steps(a["time"].values, b["time"].values)
    if steps_a.size == 0:
        raise DmftcError(
            "the two results have no time in common",
            kind="compare",
            hint="solve and simulate with the same --dt and --steps",
        )
    rows = []
    dof_a, dof_b = _dof(a), _dof(b)
    for name in observables:
        for i, j in zip(steps_a, steps_b):
            value_a, value_b = float(a[name][i]), float(b[name][j])
            difference = value_a - value_b
            sem_a, sem_b = _sem(a, name, i), _sem(b, name, j)
            rows.append(
                Row(
                    name,
                    float(a["time"][i]),
                    value_a,
                    value_b,
                    difference,
                    _z(difference, sem_a, sem_b, max(abs(value_a), abs(value_b))),
                    _welch(sem_a, dof_a, sem_b, dof_b),
                )
            )
    return rows


def _dof(ds: xr.Dataset) -> float:
    """Degrees of freedom of a result's standard errors: runs (or replicas) minus one."""
    count = ds.attrs.get("runs", ds.attrs.get("replicas"))
    return float(count) - 1 if count is not None and count > 1 else math.inf


def _welch(sem_a: float | None, dof_a: float, sem_b: float | None, dof_b: float) -> float:
    """The Welch–Satterthwaite degrees of freedom of sqrt(sem_a² + sem_b²)."""
    parts = [(sem**2, dof) for sem, dof in ((sem_a, dof_a), (sem_b, dof_b)) if sem]
    if not parts:
        return math.inf
    denominator = sum(v * v / dof for v, dof in parts)
    return sum(v for v, _ in parts) ** 2 / denominator if denominator > 0 else math.inf


def _common_steps(time_a: np.ndarray, time_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``time_a`` and ``time_b`` (both increasing) of the times they share."""
    tolerance = TIME_RTOL * max(1.0, np.abs(time_a).max(), np.abs(time_b).max())
    after = np.searchsorted(time_b, time_a).clip(0, time_b.size - 1)
    before = (after - 1).clip(0)
    before_is_closer = np.abs(time_b[before] - time_a) <= np.abs(time_b[after] - time_a)
    nearest = np.where(before_is_closer, before, after)
    matched = np.abs(time_b[nearest] - time_a) <= tolerance
    return np.flatnonzero(matched), nearest[matched]


def _sem(ds: xr.Dataset, name: str, step: int) -> float | None:
    sem_name = f"{name}_sem"
    return float(ds[sem_name][step]) if sem_name in ds else None


def _z(difference: float, sem_a: float | None, sem_b: float | None, size: float) -> float | None:
    """The deviation in combined standard errors; None when neither side has one."""
    if sem_a is None and sem_b is None:
        return None
    combined = math.hypot(sem_a or 0.0, sem_b or 0.0, ROUNDING * size)
    if combined == 0:  # both values exactly 0
        return 0.0 if difference == 0 else math.inf
    return difference / combined


def z_limit(judged: int, dof: float = math.inf) -> float:
    """The |z| that a deviation exceeds with probability 0.0027 / judged (two-sided tail of the
    normal law, or of Student's t with ``dof`` degrees of freedom): 3 for one time, 3.9 for 40,
    4.3 for 200 with exact standard errors."""
    from scipy.special import ndtri, stdtrit

    tail = math.erfc(SIGMA / math.sqrt(2)) / max(judged, 1)
    if math.isinf(dof):
        return float(-ndtri(tail / 2))
    return float(-stdtrit(dof, tail / 2))


def verdict(name: str, rows: list[Row]) -> tuple[bool | None, str]:
    """(consistent, the sentence) of one observable judged at all its rows; None: no errors."""
    max_difference = max(abs(row.difference) for row in rows)
    judged = [row for row in rows if row.z is not None]
    if not judged:
        return None, f"{name}: max |a - b| = {max_difference:.3g} (no standard errors)"
    limits = {row.dof: z_limit(len(judged), row.dof) for row in judged}

    def excess(row: Row) -> float:  # how far past its limit a row is (NaN: the worst)
        return abs(row.z) / limits[row.dof] if not math.isnan(row.z) else math.inf

    worst = max(judged, key=excess)
    limit = limits[worst.dof]
    consistent = abs(worst.z) <= limit  # False for NaN
    beyond = sum(abs(row.z) > SIGMA for row in judged)
    freedom = "" if math.isinf(worst.dof) else f", Student's t with {worst.dof:.3g} degrees of freedom"
    sentence = (
        f"{name}: max |z| = {abs(worst.z):.2f} at time {worst.time:g}, over {len(judged)} common times "
        f"({beyond} beyond {SIGMA:g} s.e.); {'within' if consistent else 'NOT within'} the limit {limit:.2f} "
        f"({SIGMA:g} sigma for {len(judged)} comparisons{freedom})"
    )
    return consistent, sentence
