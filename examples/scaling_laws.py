"""Scaling laws of random features trained by gradient descent on power-law data.

    NUMBA_NUM_THREADS=1 python examples/scaling_laws.py      # ~10 min on 2 shared cores

Model: models/rf_scaling_gd.dmft, the setting of Bordelon, Atanasov & Pehlevan 2024 (arXiv
2402.01092) as a matrix program in the proportional limit: latent mode levels k = 1..K (K = 500,
each held by many coordinates), eigenvalues lam = k^(-b), target power lam beta^2 = k^(-a) with
(a, b) = (1.75, 1.25), N = nu M random features, P = alpha M samples reused every step, GD with
lr = 0.5 from w = 0. The DMFT is the exact closure over site classes of k (docs/math/
matrix_program.md §4.3). The paper's bottleneck laws, for modes learned up to
k* ~ min(t^(1/b), N, P) (here N and P count mode levels: nu K and alpha K):

* time: L ~ t^(-(a - 1)/b) = t^(-0.6) while t^(1/b) is below nu K and alpha K;
* model size: L(t -> infinity) ~ (nu K)^(-(a - 1)) = (nu K)^(-0.75) when alpha >> nu;
* compute C = N t: the optimal nu grows like C^(1/(1+b)) and L* ~ C^(-(a - 1)/(1 + b)) = C^(-1/3);
* data reuse: with few samples (alpha = 0.5 < nu = 1) the train loss falls below the test loss,
  the gap building up with time.

Setting reconstructed: the paper's own normalisations and figure parameters were not available to
us; the exponents above are the standard ones for this model. The cutoff K makes the measured
exponents approach the asymptotic ones from below (the loss of the unlearned modes is
sum_{k > k*}^{K} k^(-a), not the pure tail). Writes scaling_laws.png and scaling_laws.md.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dmftc  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "models" / "rf_scaling_gd.dmft"
A, B, K, LR, ALPHA = 1.75, 1.25, 500, 0.5, 4.0
STEPS = 400
NUS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 1.0)  # 1.0: the time exponent without a model bottleneck
FLOORS = (0.01, 0.02, 0.04, 0.08)  # at their floor by t = STEPS: the model-size fit
TIME_WINDOW = (5, 100)  # t^(1/b) <= 40 < nu K = 500 for nu = 1
REUSE = dict(nu=1.0, alpha=0.5)
SIMULATED = dict(nu=0.08, steps=200, dim=2000, runs=10, seed=1)


def fit(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main():
    curves = {}
    for nu in NUS:
        curves[nu] = dmftc.load(MODEL, nu=nu, alpha=ALPHA).solve(steps=STEPS)
        print(f"nu = {nu}: done", flush=True)
    reuse = dmftc.load(MODEL, **REUSE).solve(steps=STEPS)
    m = dmftc.load(MODEL, nu=SIMULATED["nu"], alpha=ALPHA)
    options = {k: v for k, v in SIMULATED.items() if k != "nu"}
    sim = m.simulate(**options)
    theory = curves[SIMULATED["nu"]]
    t = np.arange(STEPS + 1)

    # exponents
    window = (t >= TIME_WINDOW[0]) & (t <= TIME_WINDOW[1])
    time_exponent = fit(t[window], curves[1.0].test_loss.values[window])
    small = list(FLOORS)
    floors = np.array([curves[nu].test_loss.values[-1] for nu in small])
    drift = [1 - curves[nu].test_loss.values[-1] / curves[nu].test_loss.values[-101] for nu in small]
    size_exponent = fit(np.array(small) * K, floors)
    # the compute-optimal frontier: C = nu t (features per latent coordinate times steps)
    compute = np.geomspace(1, 40, 30)
    frontier, best = [], []
    for c in compute:
        losses = {nu: np.interp(c / nu, t, curves[nu].test_loss.values) for nu in NUS if 1 <= c / nu <= STEPS}
        nu_star = min(losses, key=losses.get)
        frontier.append(losses[nu_star])
        best.append(nu_star)
    compute_exponent = fit(compute, np.array(frontier))

    fig, axes = plt.subplots(1, 3, figsize=(7.0, 2.4), constrained_layout=True)
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(NUS)))
    for nu, colour in zip(NUS, colours):
        axes[0].loglog(t[1:], curves[nu].test_loss.values[1:], color=colour, label=f"ν = {nu:g}")
    shown = np.unique(np.geomspace(1, SIMULATED["steps"], 12).astype(int))
    axes[0].errorbar(
        shown, sim.test_loss.values[shown], yerr=sim.test_loss_sem.values[shown], fmt="o", ms=3, mfc="none",
        color=colours[NUS.index(SIMULATED["nu"])], label="simulation",
    )  # fmt: skip
    guide = curves[1.0].test_loss.values[TIME_WINDOW[0]] * (t[1:] / TIME_WINDOW[0]) ** (-(A - 1) / B)
    axes[0].loglog(t[1:], guide, "k:", lw=1, label=f"t^-{(A - 1) / B:g}")
    axes[0].set(xlabel="step t", ylabel="test loss", title="learning curves")
    axes[0].legend(fontsize=5, frameon=False, ncol=2, loc="lower left")
    axes[1].loglog(np.array(small) * K, floors, "o-")
    axes[1].loglog(
        np.array(small) * K,
        floors[0] * (np.array(small) / small[0]) ** (-(A - 1)),
        "k:",
        lw=1,
        label=f"(ν K)^-{A - 1:g}",
    )
    axes[1].set(xlabel="features ν K (mode levels)", ylabel=f"test loss at t = {STEPS}", title="model size")
    axes[1].set_xticks(np.array(small) * K, [f"{nu * K:g}" for nu in small])
    axes[1].xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axes[1].legend(fontsize=6, frameon=False)
    axes[2].loglog(compute, frontier, "o-", ms=3)
    axes[2].loglog(compute, frontier[0] * (compute / compute[0]) ** (-(A - 1) / (1 + B)), "k:", lw=1, label="C^-1/3")
    axes[2].legend(fontsize=6, frameon=False)
    axes[2].set(xlabel="compute C = ν t", ylabel="best test loss", title="compute-optimal")
    fig.savefig(HERE / "scaling_laws.png", dpi=200, bbox_inches="tight")

    gap = reuse.test_loss.values - reuse.train_loss.values
    rows = compare_rows(theory, sim)
    lines = [
        "# Scaling laws of random features on power-law data",
        "",
        "`NUMBA_NUM_THREADS=1 python examples/scaling_laws.py` writes this file and `scaling_laws.png`. "
        f"Model: `models/rf_scaling_gd.dmft` with a = {A}, b = {B}, K = {K}, lr = {LR}, α = P/M = {ALPHA:g}, "
        f"{STEPS} steps, w(0) = 0; the DMFT is the exact closure over site classes "
        "(docs/math/matrix_program.md §4.3). Setting of Bordelon, Atanasov & Pehlevan 2024 in the "
        "proportional limit, reconstructed (see the script's docstring).",
        "",
        "![scaling laws](scaling_laws.png)",
        "",
        "| law | measured | predicted (asymptotic) | how |",
        "| --- | --- | --- | --- |",
        f"| time | {time_exponent:.3f} | {-(A - 1) / B:.3f} | fit of ν = 1 on t in {list(TIME_WINDOW)} |",
        f"| model size | {size_exponent:.3f} | {-(A - 1):.3f} | fit of L(t = {STEPS}) over ν K = "
        f"{', '.join(f'{nu * K:g}' for nu in small)} |",
        f"| compute | {compute_exponent:.3f} | {-(A - 1) / (1 + B):.3f} | fit of min over ν of L(ν, C/ν), "
        f"C in [1, 40] |",
        "",
        f"Over the last 100 steps the loss of ν K = {', '.join(f'{nu * K:g}' for nu in small)} changes by "
        + ", ".join(f"{100 * abs(d):.2f} %" for d in drift)
        + ": they are at their floor. The time and model-size exponents are smaller in magnitude than "
        "the asymptotic ones: the time fit is pre-asymptotic (t^(1/b) <= 40 levels, and the cutoff K^b / lr = 4700 steps is near), the "
        "model-size fit runs over ν K = 5 to 40 levels (the asymptotic law needs ν K >> 1 and "
        "ν K << K, and larger ν K needs more steps to reach its floor: t ~ (ν K)^b / lr). The "
        f"optimal ν along the compute frontier grows from {best[0]:g} to {best[-1]:g} over C in "
        f"[1, 40] (predicted: like C^{1 / (1 + B):.2f}); with {len(NUS)} model sizes the frontier is "
        "coarse.",
        "",
        f"Data reuse (ν = {REUSE['nu']:g}, α = {REUSE['alpha']:g}): test − train = "
        + ", ".join(f"{gap[s]:.2e} at t = {s}" for s in (10, 100, STEPS))
        + ": the gap builds up as the same samples are reused.",
        "",
        f"DMFT against simulation (ν = {SIMULATED['nu']:g}, M = {SIMULATED['dim']}, "
        f"{SIMULATED['runs']} runs): the verdicts of `dmftc compare` over {SIMULATED['steps'] + 1} steps:",
        "",
        *rows,
        "",
    ]
    (HERE / "scaling_laws.md").write_text("\n".join(lines))


def compare_rows(theory, sim) -> list[str]:
    from dmftc.results.agreement import compare_datasets, verdict

    rows = compare_datasets(theory, sim)
    return [f"* {verdict(name, [r for r in rows if r.observable == name])[1]}" for name in ("test_loss", "train_loss")]


if __name__ == "__main__":
    main()
