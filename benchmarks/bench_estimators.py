"""Accuracy per second of the response estimators: the rule against the pilot's choice.

    python benchmarks/bench_estimators.py        # writes benchmarks/results_estimators.md (~10 min)

For each case the observables at the last step are solved with 4 seeds (4 replicas of 4096
samples: ``--samples 16384``) with Jacobian responses, which the rule of
``--responses auto`` picked before the pilot (``responses="jacobian"``), and with
``--responses auto`` now: a pilot of 4 x 1024 and 4 x 256 samples over 50 steps chooses Stein or Jacobians on
a subset at equal error (docs/math/gaussian_data.md §4). The error is the standard deviation over
the seeds, the time the whole run with the pilot; error² × time is the cost of a given accuracy,
and the gain its ratio (geometric mean over the observables). The mean over the seeds is printed
too: both estimators carry an O(1/M) bias that the spread does not show.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_data import machine  # noqa: E402

import dmftc  # noqa: E402

SEEDS = 4
SAMPLES, REPLICAS = 16384, 4
# label, model, steps, observables
CASES = [
    ("logistic GD", "logistic_gd", 200, ("train_loss", "test_loss", "sq_norm")),
    ("Adam", "adam_logistic", 200, ("train_loss", "test_error", "sq_norm")),
    ("heavy-ball SGD, batch fraction", "sgd_heavy_ball_logistic", 200, ("train_loss", "sq_norm")),
    ("diagonal network", "diagonal_network", 200, ("train_loss", "test_loss")),
]


def spread(model, responses, steps, observables):
    """Standard deviation over seeds of each observable at the last step, the mean run time and
    the choice the runs report."""
    model.solve(steps=2, samples=64, replicas=2, responses=responses)  # compiled and warm
    values, seconds, choices = [], [], set()
    for seed in range(SEEDS):
        ds = model.solve(steps=steps, samples=SAMPLES, replicas=REPLICAS, seed=seed, responses=responses)
        values.append([float(ds[name][-1]) for name in observables])
        seconds.append(ds.attrs["time_run_s"])
        choices.add(ds.attrs["responses_choice"].split(": ", 1)[-1].split(",")[0])
    return np.mean(values, axis=0), np.std(values, axis=0, ddof=1), float(np.mean(seconds)), ", ".join(sorted(choices))


def main():
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    rows = []
    for label, name, steps, observables in CASES:
        model = dmftc.load(name)
        mean_before, before, t_before, _ = spread(model, "jacobian", steps, observables)
        mean_after, after, t_after, choice = spread(model, "auto", steps, observables)
        gain = np.exp(np.mean(np.log(before**2 * t_before / (after**2 * t_after))))
        print(label, steps, choice, f"gain {gain:.2f}", flush=True)
        for j, observable in enumerate(observables):
            rows.append(
                f"| {label}, T = {steps} | {observable} | {mean_before[j]:.5g} ± {before[j]:.2e} | {t_before:.2f} | "
                f"{before[j] ** 2 * t_before:.1e} | {choice} | {mean_after[j]:.5g} ± {after[j]:.2e} | {t_after:.2f} | "
                f"{after[j] ** 2 * t_after:.1e} | " + (f"**{gain:.2g}x** |" if j == 0 else "|")
            )
    end = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    text = [
        "# Accuracy per second: the response estimators (gaussian_data Monte Carlo)",
        "",
        f"Machine: {machine()}. Command: `python benchmarks/bench_estimators.py`.",
        f"Load average (1, 5, 15 min) at the start / end: {', '.join(load)} / {', '.join(end)}.",
        "",
        f"Value ± error: mean ± standard deviation of the observable at the last step over {SEEDS} seeds "
        f"({REPLICAS} replicas of {SAMPLES // REPLICAS} samples each); time: the run per solve, the pilot "
        "included (warm cache). Before: "
        "Jacobian responses, the choice of `--responses auto` before the pilot; after: `--responses auto` "
        "with the pilot (docs/math/gaussian_data.md §4), its choice in the column. Gain: (error² × time) "
        "before over after, the geometric mean over the case's observables.",
        "",
        "| case | observable | before: value ± error | s | error²·s | after: choice | value ± error | s "
        "| error²·s | gain |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
        *rows,
        "",
    ]
    (HERE / "results_estimators.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
