"""Gradient descent on data with a power-law spectrum: the loss curve, its exponent, simulation.

    NUMBA_NUM_THREADS=1 python examples/powerlaw_gd.py      # ~6 min on 2 shared cores

Model: models/powerlaw_gd.dmft (linear regression, covariance eigenvalues lam = k^(-a) with the
mode index k uniform on [1, K], K = 1000, isotropic noiseless teacher, n = phi d samples, full-batch
GD with lr = 1). The DMFT is the exact closure over site classes of k (docs/math/
matrix_program.md §4.3); the population curve (phi -> infinity) is (1/2) E_u[lam (1 - lr lam)^(2t)]
by adaptive quadrature; the simulation runs the same file at d = 2000 (16 runs). For
1 << t << K^a / lr the population loss falls like t^(-(a - 1)/a). Writes powerlaw_gd.png and
powerlaw_gd.md next to this file.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import quad  # noqa: E402

import dmftc  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "models" / "powerlaw_gd.dmft"
K, LR, PHI, STEPS = 1000, 1.0, 4.0, 300
EXPONENTS = (1.5, 2.0, 3.0)
SIMULATED = 2.0  # the exponent also simulated
SIMULATION = dict(dim=2000, runs=16, seed=1)
WINDOW = (10, 300)  # times of the exponent fits


def population(t: float, a: float) -> float:
    lam = lambda u: (1 + (K - 1) * u) ** (-a)  # noqa: E731
    breaks = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    return 0.5 * quad(lambda u: lam(u) * (1 - LR * lam(u)) ** (2 * t), 0, 1, points=breaks, limit=400)[0]


def slope(t: np.ndarray, loss: np.ndarray) -> float:
    keep = (t >= WINDOW[0]) & (t <= WINDOW[1])
    return float(np.polyfit(np.log(t[keep]), np.log(loss[keep]), 1)[0])


def main():
    fig, ax = plt.subplots(figsize=(3.4, 2.8), constrained_layout=True)
    rows = []
    simulated = None
    for a, colour in zip(EXPONENTS, ("tab:blue", "tab:orange", "tab:green")):
        m = dmftc.load(MODEL, a=a, K=K, lr=LR, phi=PHI)
        ds = m.solve(steps=STEPS)
        t = ds.time.values
        dmft = ds.test_loss.values
        pop = np.array([population(s, a) for s in t])
        ax.loglog(t[1:], dmft[1:], color=colour, label=f"a = {a:g}")
        ax.loglog(t[1:], pop[1:], color=colour, ls=":", lw=1)
        fitted = dict(dmft=slope(t, dmft), population=slope(t, pop))
        if a == SIMULATED:
            simulated = m.simulate(steps=STEPS, **SIMULATION)
            sim, sem = simulated.test_loss.values, simulated.test_loss_sem.values
            shown = np.unique(np.geomspace(1, STEPS, 14).astype(int))
            ax.errorbar(t[shown], sim[shown], yerr=sem[shown], fmt="o", ms=3, color=colour, mfc="none")
            fitted["simulation"] = slope(t, sim)
            gap = np.max(np.abs(dmft - sim) / sem)
        rows.append((a, dmft, pop, fitted))
    ax.set_xlabel("step t")
    ax.set_ylabel("test loss")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(f"GD, power-law spectrum (K = {K}, φ = {PHI:g})", fontsize=8)
    fig.text(0.01, -0.02, "lines: DMFT; dotted: φ → ∞; circles: simulation d = 2000 (± s.e.)", fontsize=6)
    fig.savefig(HERE / "powerlaw_gd.png", dpi=200, bbox_inches="tight")

    lines = [
        "# Gradient descent on a power-law spectrum",
        "",
        "`NUMBA_NUM_THREADS=1 python examples/powerlaw_gd.py` writes this file and `powerlaw_gd.png`. "
        f"Model: `models/powerlaw_gd.dmft`, K = {K}, lr = {LR:g}, φ = n/d = {PHI:g}, {STEPS} steps; the DMFT "
        "is the exact closure over site classes (docs/math/matrix_program.md §4.3); the population "
        "curve is φ → ∞ by adaptive quadrature; the simulation runs the same file at "
        f"d = {SIMULATION['dim']}, {SIMULATION['runs']} runs (a = {SIMULATED:g}).",
        "",
        "![loss curves](powerlaw_gd.png)",
        "",
        "| a | t | DMFT | φ → ∞ | simulation |",
        "| --- | --- | --- | --- | --- |",
    ]
    for a, dmft, pop, _ in rows:
        for s in (1, 10, 100, STEPS):
            sim = (
                f"{simulated.test_loss.values[s]:.4e} ± {simulated.test_loss_sem.values[s]:.1e}"
                if a == SIMULATED
                else ""
            )
            lines.append(f"| {a:g} | {s} | {dmft[s]:.4e} | {pop[s]:.4e} | {sim} |")
    lines += [
        "",
        f"Exponents fitted on t in [{WINDOW[0]}, {WINDOW[1]}] (least squares in log–log), next to the "
        "asymptotic -(a - 1)/a of the population loss for 1 << t << K^a / lr:",
        "",
        "| a | DMFT | φ → ∞ | simulation | -(a - 1)/a |",
        "| --- | --- | --- | --- | --- |",
    ]
    for a, _, _, fitted in rows:
        sim = f"{fitted['simulation']:.3f}" if "simulation" in fitted else ""
        lines.append(f"| {a:g} | {fitted['dmft']:.3f} | {fitted['population']:.3f} | {sim} | {-(a - 1) / a:.3f} |")
    lines += [
        "",
        f"DMFT against simulation (a = {SIMULATED:g}, K = {K}): the largest |DMFT - simulation| over the "
        f"{STEPS + 1} steps is {gap:.2f} standard errors of the simulation. The simulation lies a few "
        "per cent above the DMFT (1 to 2 standard errors, at correlated times), which we read as a "
        "finite-size effect: at time t the loss comes from "
        "the modes with lam ~ 1/t, which a system of d coordinates holds about d t^(1/a) / K times; "
        "the DMFT is the limit d -> infinity at fixed K. With a smaller cutoff the same d holds "
        "more of them, and the gap closes (same d, runs and seed):",
        "",
        "| K | t | DMFT | simulation | (simulation - DMFT) / DMFT |",
        "| --- | --- | --- | --- | --- |",
    ]
    for cutoff in (K, 100):
        m = dmftc.load(MODEL, a=SIMULATED, K=cutoff, lr=LR, phi=PHI)
        dmft = m.solve(steps=STEPS).test_loss.values
        sim = simulated if cutoff == K else m.simulate(steps=STEPS, **SIMULATION)
        for s in (10, 100, STEPS):
            value, sem = sim.test_loss.values[s], sim.test_loss_sem.values[s]
            lines.append(
                f"| {cutoff} | {s} | {dmft[s]:.4e} | {value:.4e} ± {sem:.1e} | "
                f"{(value - dmft[s]) / dmft[s]:+.1%} ± {sem / dmft[s]:.1%} |"
            )
    lines.append("")
    (HERE / "powerlaw_gd.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
