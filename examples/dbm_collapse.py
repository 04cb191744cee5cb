"""Dyson Brownian motion of the weights of SGD, and the linear scaling rule (docs/math/matrix_sgd.md §4).

    python examples/dbm_collapse.py        # ~1 min; writes dbm_collapse.png and dbm_collapse.md

models/dbm_teacher.dmft: a 60 x 60 weight matrix trained by mini-batch SGD on fresh samples of
the teacher W* = I with label noise sigma = 1. dmftc's simulator records the eigenvalues of WᵀW;
`dmftc solve` gives the leading-order prediction (entries of W - W* are Ornstein–Uhlenbeck with
variance v = lr sigma² / (2B), the eigenvalues a semicircle of mean 1 + N v and variance 2 N v,
Wigner-surmise spacings). Three (lr, B) with the same lr/B = 1/800 collapse onto one curve in
the time t = lr * step; lr/B = 1/3200 gives a four times narrower spectrum.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dmftc  # noqa: E402
from dmftc.classes.matrix_sgd.simulate import unfolded_spacings  # noqa: E402
from dmftc.classes.matrix_sgd.solve import SURMISE_S2  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "models" / "dbm_teacher.dmft"
SETTINGS = ((0.005, 4), (0.01, 8), (0.02, 16), (0.01, 32))
LENGTH, RUNS = 30.0, 3  # time lr * steps (the start relaxes within ~2.5), runs per setting


def main():
    fig, (density, spacing, width) = plt.subplots(1, 3, figsize=(14, 3.8))
    rows, pooled = [], []
    for lr, B in SETTINGS:
        m = dmftc.load(MODEL, lr=lr, B=B)
        steps = round(LENGTH / lr)
        sim, theory = m.simulate(runs=RUNS, steps=steps), m.solve(steps=steps)
        window = slice(steps // 2, None)
        eig = sim.eigenvalues.values[window]  # first run, stationary half
        label = f"lr = {lr:g}, B = {B} (lr/B = 1/{B / lr:.0f})"
        t = sim.time.values * lr
        width.plot(t, sim.eigenvalue_variance.values, label=label, lw=1)
        if B / lr == 800:
            pooled.append(np.concatenate([unfolded_spacings(e) for e in eig[::10]]))
        density.hist(eig.ravel(), bins=60, density=True, histtype="step", label=label)
        centre, variance = theory.eigenvalue_mean.values[-1], theory.eigenvalue_variance.values[-1]
        radius = 2 * np.sqrt(variance)
        x = np.linspace(centre - radius, centre + radius, 200)
        density.plot(x, 2 / (np.pi * radius**2) * np.sqrt(np.clip(radius**2 - (x - centre) ** 2, 0, None)), "k:", lw=1)
        rows.append(
            (
                lr,
                B,
                sim.eigenvalue_mean.values[window].mean(),
                centre,
                sim.eigenvalue_variance.values[window].mean(),
                variance,
                sim.spacing_s2.values[window].mean(),
            )
        )
        if (lr, B) == (0.01, 8):
            width.plot(t, theory.eigenvalue_variance.values, "k--", label="DBM prediction, lr/B = 1/800")
        if (lr, B) == (0.01, 32):
            width.plot(t, theory.eigenvalue_variance.values, "k:", label="DBM prediction, lr/B = 1/3200")
    s = np.concatenate(pooled)
    grid = np.linspace(0, 3.5, 200)
    spacing.hist(s, bins=40, range=(0, 3.5), density=True, alpha=0.5, label="SGD, lr/B = 1/800 (pooled)")
    spacing.plot(grid, np.pi * grid / 2 * np.exp(-np.pi * grid**2 / 4), "k", label="Wigner surmise")
    spacing.plot(grid, np.exp(-grid), "k:", label="Poisson")
    density.set(xlabel="eigenvalue of WᵀW", ylabel="density", title="stationary spectra (dotted: semicircle)")
    spacing.set(xlabel="unfolded spacing s", ylabel="density", title="spacings")
    width.set(xlabel="t = lr · step", ylabel="variance of the eigenvalues", title="collapse at fixed lr/B")
    for ax in (density, spacing, width):
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "dbm_collapse.png", dpi=120)

    table = "\n".join(
        f"| ({lr:g}, {B}) | {m_sim:.4f} | {m_th:.4f} | {v_sim:.4f} | {v_th:.4f} | {s2:.3f} |"
        for lr, B, m_sim, m_th, v_sim, v_th, s2 in rows
    )
    text = f"""# Dyson Brownian motion of SGD weights and the linear scaling rule

`python examples/dbm_collapse.py`: models/dbm_teacher.dmft (N = 60, W* = I, sigma = 1), {RUNS} runs
of t = lr · steps = {LENGTH:g} per setting, statistics averaged over the second half. Prediction: the
leading order in lr of `dmftc solve` (mean 1 + N lr σ²/(2B), variance N lr σ²/B, <s²> = 4/π = {SURMISE_S2:.3f}).

| (lr, B) | mean (sim) | mean (DBM) | variance (sim) | variance (DBM) | <s²> (sim) |
| --- | --- | --- | --- | --- | --- |
{table}

* The three settings with lr/B = 1/800 agree with each other (the linear scaling rule) and lie
  a few percent above the leading order: the next order in lr (the batch's multiplicative noise,
  v = lr σ² / (B (2 − lr − lr (N + 1)/B)), and the spread of δᵀδ) accounts for it
  (tests/test_dbm.py). lr/B = 1/3200 is four times narrower.
* Pooled unfolded spacings (lr/B = 1/800): <s²> = {np.mean(s**2):.3f}; GOE matrices of the same size
  give 1.285 with the same unfolding (the finite-N offset from 4/π); independent levels would give 2.
"""
    (HERE / "dbm_collapse.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
