"""Scaling laws of random features trained by gradient descent on power-law data.

    NUMBA_NUM_THREADS=1 python examples/scaling_laws.py      # ~4 min on 2 shared cores

Model: models/rf_scaling_gd.dmft, the setting of Bordelon, Atanasov & Pehlevan 2024 (arXiv
2402.01092) as a matrix program in the proportional limit: latent mode levels k = 1..K (K = 500,
each held by many coordinates), eigenvalues lam = k^(-b), target power lam beta^2 = k^(-a),
N = nu M random features, P = alpha M samples reused every step, GD with lr = 0.5 from w = 0.
Two spectra: (a, b) = (1.75, 1.25) and (1.5, 1.0). The DMFT is the exact closure over site
classes of k (docs/math/matrix_program.md §4.3). The paper's bottleneck laws, for modes learned
up to k* ~ min(t^(1/b), N, P) (here N and P count mode levels: nu K and alpha K):

* time: L ~ t^(-(a - 1)/b) while t^(1/b) is below nu K and alpha K;
* model size: L(t -> infinity) ~ (nu K)^(-(a - 1)) when alpha >> nu;
* data: L(t -> infinity) ~ (alpha K)^(-(a - 1)) when nu >> alpha (here nu = 4);
* compute C = N t: the optimal nu grows like C^(1/(1+b)) and L* ~ C^(-(a - 1)/(1 + b)): steps
  grow faster than the model when b > 1, equally when b = 1;
* data reuse: with few samples (alpha = 0.5 < nu = 1) the train loss falls below the test loss,
  the gap building up with time.

Setting reconstructed: the paper's own normalisations and figure parameters were not available to
us; the exponents above are the standard ones for this model. The cutoff K and the few levels a
small model or data set holds make the measured exponents pre-asymptotic (stated in the table).
Writes scaling_laws.png and scaling_laws.md.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dmftc  # noqa: E402
from dmftc.results.agreement import compare_datasets, verdict  # noqa: E402

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "models" / "rf_scaling_gd.dmft"
SPECTRA = ((1.75, 1.25), (1.5, 1.0))  # (a, b)
K, LR, ALPHA, STEPS = 500, 0.5, 4.0, 300
NUS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 1.0)  # at alpha = 4; 1.0: the time exponent
SMALL = (0.01, 0.02, 0.04, 0.08)  # at their floor by t = STEPS: the model-size fit
ALPHAS = (0.02, 0.04, 0.08, 0.16)  # at nu = DATA_NU: the data-size fit
DATA_NU = 4.0  # many more features than data: the data bottleneck (a well-conditioned feature map)
TIME_WINDOW = (5, 100)
REUSE = dict(nu=1.0, alpha=0.5)
SIMULATED = dict(nu=0.08, steps=200, dim=2000, runs=10, seed=1)  # first spectrum only


def fit(x, y) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def study(a: float, b: float) -> dict:
    """Every curve and fitted exponent of one spectrum."""
    solve = lambda **p: dmftc.load(MODEL, a=a, b=b, K=K, lr=LR, **p).solve(steps=STEPS)  # noqa: E731
    curves = {nu: solve(nu=nu, alpha=ALPHA) for nu in NUS}
    data = {alpha: solve(nu=DATA_NU, alpha=alpha) for alpha in ALPHAS}
    reuse = solve(**REUSE)
    print(f"(a, b) = ({a}, {b}): solved", flush=True)
    t = np.arange(STEPS + 1)
    window = (t >= TIME_WINDOW[0]) & (t <= TIME_WINDOW[1])
    last = lambda ds: ds.test_loss.values[-1]  # noqa: E731
    drift = lambda ds: abs(1 - ds.test_loss.values[-1] / ds.test_loss.values[-101])  # noqa: E731
    compute = np.geomspace(1, 40, 30)  # C = nu t: features per latent coordinate times steps
    frontier, best = [], []
    for c in compute:
        losses = {nu: np.interp(c / nu, t, curves[nu].test_loss.values) for nu in NUS if 1 <= c / nu <= STEPS}
        nu_star = min(losses, key=losses.get)
        frontier.append(losses[nu_star])
        best.append(nu_star)
    return dict(
        a=a, b=b, t=t, curves=curves, data=data, reuse=reuse, compute=compute, frontier=np.array(frontier),
        best=best,
        model_floors=np.array([last(curves[nu]) for nu in SMALL]),
        data_floors=np.array([last(data[alpha]) for alpha in ALPHAS]),
        drift=max(drift(curves[nu]) for nu in SMALL) if SMALL else 0.0,
        data_drift=max(drift(data[alpha]) for alpha in ALPHAS),
        exponents=dict(
            time=(fit(t[window], curves[1.0].test_loss.values[window]), -(a - 1) / b),
            model=(fit(np.array(SMALL) * K, [last(curves[nu]) for nu in SMALL]), -(a - 1)),
            data=(fit(np.array(ALPHAS) * K, [last(data[alpha]) for alpha in ALPHAS]), -(a - 1)),
            compute=(fit(compute, frontier), -(a - 1) / (1 + b)),
        ),
    )  # fmt: skip


def draw(studies: list[dict]) -> None:
    fig, axes = plt.subplots(len(studies), 4, figsize=(9.0, 2.3 * len(studies)), constrained_layout=True)
    for row, s in zip(axes, studies):
        a, b, t = s["a"], s["b"], s["t"]
        colours = plt.cm.viridis(np.linspace(0, 0.9, len(NUS)))
        for nu, colour in zip(NUS, colours):
            row[0].loglog(t[1:], s["curves"][nu].test_loss.values[1:], color=colour, label=f"ν = {nu:g}")
        if "simulation" in s:
            sim, shown = s["simulation"], np.unique(np.geomspace(1, SIMULATED["steps"], 12).astype(int))
            row[0].errorbar(
                shown, sim.test_loss.values[shown], yerr=sim.test_loss_sem.values[shown], fmt="o", ms=3,
                mfc="none", color=colours[NUS.index(SIMULATED["nu"])], label="simulation",
            )  # fmt: skip
        guide = s["curves"][1.0].test_loss.values[TIME_WINDOW[0]] * (t[1:] / TIME_WINDOW[0]) ** (-(a - 1) / b)
        row[0].loglog(t[1:], guide, "k:", lw=1, label=f"t^-{(a - 1) / b:.2g}")
        row[0].set(xlabel="step t", ylabel="test loss", title=f"a = {a:g}, b = {b:g}")
        row[0].legend(fontsize=5, frameon=False, ncol=2, loc="lower left")
        for ax, sizes, floors, what in (
            (row[1], np.array(SMALL) * K, s["model_floors"], "ν K"),
            (row[2], np.array(ALPHAS) * K, s["data_floors"], "α K"),
        ):
            ax.loglog(sizes, floors, "o-")
            ax.loglog(sizes, floors[0] * (sizes / sizes[0]) ** (-(a - 1)), "k:", lw=1, label=f"({what})^-{a - 1:g}")
            noun = "features" if what == "ν K" else "samples"
            ax.set(xlabel=f"{noun} {what} (mode levels)", ylabel=f"test loss at t = {STEPS}")
            ax.set_xticks(sizes, [f"{x:g}" for x in sizes])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.legend(fontsize=6, frameon=False)
        row[1].set_title("model size (α = 4)")
        row[2].set_title(f"data size (ν = {DATA_NU:g})")
        c, f = s["compute"], s["frontier"]
        row[3].loglog(c, f, "o-", ms=3)
        row[3].loglog(c, f[0] * (c / c[0]) ** (-(a - 1) / (1 + b)), "k:", lw=1, label=f"C^-{(a - 1) / (1 + b):.2g}")
        row[3].set(xlabel="compute C = ν t", ylabel="best test loss", title="compute-optimal")
        row[3].legend(fontsize=6, frameon=False)
    fig.savefig(HERE / "scaling_laws.png", dpi=200, bbox_inches="tight")


def main():
    studies = [study(a, b) for a, b in SPECTRA]
    first = studies[0]
    m = dmftc.load(MODEL, a=first["a"], b=first["b"], K=K, lr=LR, nu=SIMULATED["nu"], alpha=ALPHA)
    first["simulation"] = m.simulate(**{k: v for k, v in SIMULATED.items() if k != "nu"})
    draw(studies)

    lines = [
        "# Scaling laws of random features on power-law data",
        "",
        "`NUMBA_NUM_THREADS=1 python examples/scaling_laws.py` writes this file and `scaling_laws.png`. "
        f"Model: `models/rf_scaling_gd.dmft` with K = {K} mode levels, lr = {LR}, {STEPS} steps, w(0) = 0; "
        f"model sizes ν = N/M at α = P/M = {ALPHA:g}, data sizes α at ν = {DATA_NU:g}. The DMFT is the exact closure "
        "over site classes (docs/math/matrix_program.md §4.3). Setting of Bordelon, Atanasov & Pehlevan "
        "2024 in the proportional limit, reconstructed (see the script's docstring).",
        "",
        "![scaling laws](scaling_laws.png)",
        "",
        "| a | b | law | fitted | asymptotic | fit |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    how = dict(
        time=f"ν = 1, t in {list(TIME_WINDOW)}",
        model=f"L(t = {STEPS}) over ν K = {', '.join(f'{nu * K:g}' for nu in SMALL)}",
        data=f"L(t = {STEPS}) over α K = {', '.join(f'{x * K:g}' for x in ALPHAS)}",
        compute="min over ν of L(ν, C/ν), C in [1, 40]",
    )
    for s in studies:
        for law, (fitted, asymptotic) in s["exponents"].items():
            lines.append(f"| {s['a']:g} | {s['b']:g} | {law} | {fitted:.3f} | {asymptotic:.3f} | {how[law]} |")
    lines += [
        "",
        f"The small models and data sets are near their floor by t = {STEPS} (the loss still changes by at most "
        + "; ".join(
            f"{100 * max(s['drift'], s['data_drift']):.2f} % for (a, b) = ({s['a']:g}, {s['b']:g})" for s in studies
        )
        + " over the last 100 steps). The fitted exponents are pre-asymptotic: the time fit sees "
        "t^(1/b) <= 40 levels, the size fits 5 to 80 levels (the asymptotic laws need many levels "
        "and far fewer than K; more levels need more steps, t ~ (levels)^b / lr). The compute "
        "frontier is the most robust: along it the optimal ν grows from "
        + "; ".join(
            f"{s['best'][0]:g} to {s['best'][-1]:g} for b = {s['b']:g} (predicted: like C^{1 / (1 + s['b']):.2f})"
            for s in studies
        )
        + ".",
        "",
        f"Data reuse (ν = {REUSE['nu']:g}, α = {REUSE['alpha']:g}): test − train = "
        + "; ".join(
            f"(a, b) = ({s['a']:g}, {s['b']:g}): "
            + ", ".join(
                f"{s['reuse'].test_loss.values[x] - s['reuse'].train_loss.values[x]:.2e} at t = {x}"
                for x in (10, 100, STEPS)
            )
            for s in studies
        )
        + ": the gap builds up as the same samples are reused.",
        "",
        f"DMFT against simulation ((a, b) = ({first['a']:g}, {first['b']:g}), ν = {SIMULATED['nu']:g}, "
        f"M = {SIMULATED['dim']}, {SIMULATED['runs']} runs), the verdicts of `dmftc compare` over "
        f"{SIMULATED['steps'] + 1} steps:",
        "",
    ]
    rows = compare_datasets(first["curves"][SIMULATED["nu"]], first["simulation"])
    lines += [f"* {verdict(n, [r for r in rows if r.observable == n])[1]}" for n in ("test_loss", "train_loss")]
    lines.append("")
    (HERE / "scaling_laws.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
