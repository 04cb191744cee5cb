"""A two-layer linear network trained from random initialisation: width, parameterisation and
the learning rate.

    NUMBA_NUM_THREADS=1 python examples/deep_linear.py      # ~5 min on 2 shared cores

Model: models/two_layer_linear_gd.dmft, the proportional limit of Bordelon & Pehlevan 2025
(arXiv 2502.02531): width N = nu D, P = alpha D samples reused every step, a linear teacher,
output scale sqrt(D) / (gamma0 N), the step lr gamma0^2 N for both layers. Mean-field (muP):
gamma0 = 1 at every width; NTK: gamma0 = 1 / sqrt(nu). The first layer is a trained matrix
(docs/math/matrix_program.md §2.1 and §3.9); the DMFT is the exact closure.

The paper's body could not be read: this parameterisation is reconstructed, and the paper's
figure settings are not known. The script shows, in this setting:

* test and train loss against time at several widths, both parameterisations, with the
  finite-size simulation at three widths;
* the test loss after a fixed number of steps against width ("wider is better" in muP);
* the test loss against the learning rate at each width, and the best learning rate against
  width in both parameterisations;
* the stability edge of the network's linearised step (docs/math/matrix_program.md eq.
  mp-dln-edge), computed from finite networks with numpy at the start and after SCAN_STEPS steps
  at the best rate: the best rate sits at the edge, which explains how it moves with width;
* past the edge, the DMFT against simulations of growing size: the limits D -> infinity and
  t -> infinity do not commute there (docs/math/matrix_program.md §6.8);
* one-pass SGD (models/two_layer_linear_sgd.dmft, a fresh batch every step) against the same
  number of samples reused every step, with label noise.

Writes deep_linear.png and deep_linear.md.
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
MODEL = HERE.parent / "models" / "two_layer_linear_gd.dmft"
ONE_PASS = HERE.parent / "models" / "two_layer_linear_sgd.dmft"
REUSE = dict(nu=1.0, alpha=0.5, sigma=0.3)  # one pass against the same samples reused, muP
ALPHA, SIGMA, LR, STEPS = 2.0, 0.0, 0.2, 60
WIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # nu = N / D
SIMULATED = dict(widths=(0.5, 1.0, 2.0), dim=1000, runs=10, seed=1)  # muP
SCAN_STEPS = 30  # the loss compared across learning rates
RATES = np.geomspace(0.03, 1.5, 40)
EDGE = dict(dim=2000, seeds=(1, 2))  # the finite networks whose sharpness is measured
PAST_EDGE = dict(nu=1.0, lr=0.3, dims=(1000, 4000), runs=8, seed=1)  # muP, above the edge (0.26 at t = 0)


def gamma0(parameterisation: str, nu: float) -> float:
    return 1.0 if parameterisation == "muP" else nu**-0.5


def solve(parameterisation: str, nu: float, lr: float, steps: int):
    m = dmftc.load(MODEL, nu=nu, alpha=ALPHA, sigma=SIGMA, lr=lr, gamma0=gamma0(parameterisation, nu))
    return m.solve(steps=steps)


def scan(parameterisation: str, nu: float) -> np.ndarray:
    """The test loss after SCAN_STEPS steps at every rate (inf where the run diverges)."""
    out = []
    for lr in RATES:
        try:
            out.append(solve(parameterisation, nu, lr, SCAN_STEPS).test_loss.values[-1])
        except dmftc.DmftcError:  # the step is past the stability edge
            out.append(np.inf)
    return np.array(out)


def best_rate(losses: np.ndarray) -> float:
    """The minimiser of a parabola in log(lr) through the grid's best point and its neighbours."""
    i = int(np.argmin(losses))
    if i == 0 or i == len(RATES) - 1 or not np.isfinite(losses[i + 1]):
        return float(RATES[i])
    x, y = np.log(RATES[i - 1 : i + 2]), np.log(losses[i - 1 : i + 2])
    a, b, _ = np.polyfit(x, y, 2)
    return float(np.exp(-b / (2 * a)))


def sharpness(parameterisation: str, nu: float, lr: float, steps: int, dim: int, seed: int) -> tuple[float, float]:
    """lambda_max / lr of the linearised step (eq. mp-dln-edge) of a finite network at t = 0 and
    after ``steps`` steps at ``lr``: the model's update (models/two_layer_linear_gd.dmft, sigma =
    0) written in numpy. A step is stable while lr times this value is below 2."""
    g0 = gamma0(parameterisation, nu)
    n, p, g = int(nu * dim), int(ALPHA * dim), 1 / (g0 * nu)
    rng = np.random.default_rng(seed)
    X, W = rng.standard_normal((p, dim)) / np.sqrt(dim), rng.standard_normal((n, dim)) / np.sqrt(dim)
    w, beta = rng.standard_normal(n), rng.standard_normal(dim)
    evals, U = np.linalg.eigh(X.T @ X / ALPHA)
    root = (U * np.sqrt(np.maximum(evals, 0))) @ U.T  # (X'X / alpha)^(1/2)

    def top() -> float:
        A = (w @ w / dim) * np.eye(dim) + W.T @ W
        return float(np.linalg.eigvalsh(root @ A @ root)[-1] / nu)

    start = top()
    for _ in range(steps):
        q = X.T @ (X @ (beta - g * (W.T @ w))) / ALPHA
        W, w = W + lr * g0 * np.outer(w, q) / dim, w + lr * g0 * (W @ q)
    return start, top()


def main():
    curves = {(p, nu): solve(p, nu, LR, STEPS) for p in ("muP", "NTK") for nu in WIDTHS}
    simulations = {}
    for nu in SIMULATED["widths"]:
        m = dmftc.load(MODEL, nu=nu, alpha=ALPHA, sigma=SIGMA, lr=LR, gamma0=1.0)
        simulations[nu] = m.simulate(steps=STEPS, dim=SIMULATED["dim"], runs=SIMULATED["runs"], seed=SIMULATED["seed"])
    scans = {(p, nu): scan(p, nu) for p in ("muP", "NTK") for nu in WIDTHS}
    best = {key: best_rate(losses) for key, losses in scans.items()}
    edges = {}  # (parameterisation, nu) -> lambda_max / lr at t = 0 and t = SCAN_STEPS, mean over seeds
    for key in best:
        edges[key] = np.mean([sharpness(*key, best[key], SCAN_STEPS, EDGE["dim"], s) for s in EDGE["seeds"]], axis=0)
    past = dmftc.load(MODEL, nu=PAST_EDGE["nu"], alpha=ALPHA, sigma=SIGMA, lr=PAST_EDGE["lr"], gamma0=1.0)
    past_dmft = past.solve(steps=STEPS)
    past_sims = {
        D: past.simulate(steps=STEPS, dim=D, runs=PAST_EDGE["runs"], seed=PAST_EDGE["seed"]) for D in PAST_EDGE["dims"]
    }
    reused = dmftc.load(MODEL, **REUSE, lr=LR).solve(steps=STEPS)
    one_pass = dmftc.load(ONE_PASS, **REUSE, lr=LR).solve(steps=STEPS)
    print("solved", flush=True)

    fig, axes = plt.subplots(1, 5, figsize=(16, 3.0), constrained_layout=True)
    colours = dict(zip(WIDTHS, plt.cm.viridis(np.linspace(0, 0.9, len(WIDTHS)))))
    t = np.arange(STEPS + 1)
    for ax, p in zip(axes[:2], ("muP", "NTK")):
        for nu in WIDTHS:
            ax.semilogy(t, curves[p, nu].test_loss.values, color=colours[nu], label=f"ν = {nu:g}")
            ax.semilogy(t, curves[p, nu].train_loss.values, color=colours[nu], ls=":", lw=1)
        if p == "muP":
            shown = np.arange(0, STEPS + 1, 6)
            for nu, sim in simulations.items():
                ax.errorbar(shown, sim.test_loss.values[shown], yerr=sim.test_loss_sem.values[shown], fmt="o",
                            ms=3, mfc="none", color=colours[nu])  # fmt: skip
        ax.set(xlabel="step t", ylabel="loss (test solid, train dotted)", title=f"{p}, lr = {LR:g}")
        ax.legend(fontsize=6, frameon=False)
    axes[0].plot([], [], "ko", mfc="none", ms=3, label=f"simulation, D = {SIMULATED['dim']}")
    axes[0].legend(fontsize=6, frameon=False)
    for p, ls in (("muP", "-"), ("NTK", "--")):
        for nu in WIDTHS:
            axes[2].loglog(RATES, scans[p, nu], ls, color=colours[nu], lw=1)
        axes[3].semilogx(WIDTHS, [best[p, nu] for nu in WIDTHS], "o" + ls, ms=4, label=p)
    axes[3].semilogx(WIDTHS, [2 / edges["NTK", nu][0] for nu in WIDTHS], "k:", lw=1, label="edge 2 / λmax at t = 0")
    for p, marker, colour in (("muP", "^", "C0"), ("NTK", "v", "C1")):
        axes[3].semilogx(WIDTHS, [2 / edges[p, nu][1] for nu in WIDTHS], marker, color=colour, mfc="none", ms=5,
                         label=f"{p}: edge at t = {SCAN_STEPS}")  # fmt: skip
    axes[2].set(xlabel="learning rate", ylabel=f"test loss at t = {SCAN_STEPS}", title="muP solid, NTK dashed")
    axes[3].set(xlabel="width ν = N / D", ylabel="best learning rate", title="learning-rate transfer")
    axes[3].legend(fontsize=7, frameon=False)
    for ds, colour, label in ((reused, "C3", "samples reused"), (one_pass, "C0", "one pass")):
        axes[4].semilogy(t, ds.test_loss.values, color=colour, label=f"{label}: test")
        axes[4].semilogy(t, ds.train_loss.values, ":", color=colour, label=f"{label}: train (batch)")
    axes[4].set(xlabel="step t", ylabel="loss", title=f"data reuse (ν = {REUSE['nu']:g}, α = {REUSE['alpha']:g})")
    axes[4].legend(fontsize=6, frameon=False)
    for ax in axes[2:]:
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.savefig(HERE / "deep_linear.png", dpi=200, bbox_inches="tight")

    lines = [
        "# A two-layer linear network: width, parameterisation and learning rate",
        "",
        "`NUMBA_NUM_THREADS=1 python examples/deep_linear.py` writes this file and `deep_linear.png`. "
        f"Model: `models/two_layer_linear_gd.dmft` with α = P/D = {ALPHA:g}, σ = {SIGMA:g}, w and W drawn "
        "N(0, 1), the step lr γ0² N for both layers; μP: γ0 = 1, NTK: γ0 = 1/√ν. The DMFT is the exact "
        "closure with the first layer a trained matrix (docs/math/matrix_program.md §2.1, §3.9). The "
        "setting of Bordelon & Pehlevan 2025 is reconstructed: the paper's body and figure settings "
        "could not be read (see the script's docstring).",
        "",
        "![deep linear network](deep_linear.png)",
        "",
        f"| ν | μP: test loss at t = {STEPS} (lr = {LR:g}) | NTK: test loss at t = {STEPS} | "
        f"μP: best lr (t = {SCAN_STEPS}) | NTK: best lr | edge 2/λmax, t = 0 | μP: edge at t = {SCAN_STEPS} | "
        f"NTK: edge at t = {SCAN_STEPS} | μP: loss at its best lr | NTK: loss at its best lr |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for nu in WIDTHS:
        lines.append(
            f"| {nu:g} | {curves['muP', nu].test_loss.values[-1]:.4g} | {curves['NTK', nu].test_loss.values[-1]:.4g} | "
            f"{best['muP', nu]:.3g} | {best['NTK', nu]:.3g} | {2 / edges['NTK', nu][0]:.3g} | "
            f"{2 / edges['muP', nu][1]:.3g} | {2 / edges['NTK', nu][1]:.3g} | {np.min(scans['muP', nu]):.4g} | "
            f"{np.min(scans['NTK', nu]):.4g} |"
        )
    drift = {p: best[p, WIDTHS[-1]] / best[p, WIDTHS[-3]] - 1 for p in ("muP", "NTK")}
    ratio = np.array([[best[p, nu] * edges[p, nu][1] / 2 for nu in WIDTHS] for p in ("muP", "NTK")])
    sharpening = {p: edges[p, WIDTHS[-1]][1] / edges[p, WIDTHS[-1]][0] - 1 for p in ("muP", "NTK")}
    mup, ntk = (np.array([curves[p, nu].test_loss.values[-1] for nu in WIDTHS]) for p in ("muP", "NTK"))
    lines += [
        "",
        f"Wider is better in μP: at lr = {LR:g} the test loss at t = {STEPS} falls with every doubling of the "
        f"width ({'monotone' if np.all(np.diff(mup) < 0) else 'not monotone'} over ν = {WIDTHS[0]:g} to "
        f"{WIDTHS[-1]:g}), by {mup[-2] / mup[-1]:.2f}x from ν = {WIDTHS[-2]:g} to {WIDTHS[-1]:g}; in NTK by "
        f"{ntk[-2] / ntk[-1]:.2f}x, toward the lazy (kernel) limit, and at ν = {WIDTHS[-1]:g} the NTK loss is "
        f"{ntk[-1] / mup[-1]:.1f}x the μP one.",
        "",
        f"The best learning rate moves by {100 * drift['muP']:+.1f} % in μP and {100 * drift['NTK']:+.1f} % in NTK "
        f"from ν = {WIDTHS[-3]:g} to {WIDTHS[-1]:g}. It sits just below the stability edge of the network's linearised "
        f"step at t = {SCAN_STEPS}, 2/λmax (docs/math/matrix_program.md eq. mp-dln-edge): at {ratio.min():.2f} to "
        f"{ratio.max():.2f} times it, in both parameterisations at every width. At the start the edge is "
        "the same in both parameterisations (γ0 cancels) and rises with the width, toward 1/(1 + α^(-1/2))² = "
        f"{1 / (1 + ALPHA**-0.5) ** 2:.3f} as ν → ∞. Training moves it: at ν = {WIDTHS[-1]:g}, λmax changes by "
        f"{100 * sharpening['muP']:+.0f} % in μP (feature learning sharpens the step) and by "
        f"{100 * sharpening['NTK']:+.0f} % in NTK from t = 0 to {SCAN_STEPS}. So the NTK rate follows the initial "
        "edge up the widths, while feature learning holds the μP rate below it. In this setting both rates "
        "move most at ν ≤ 2, where they share the edge's rise; the contrast Bordelon & Pehlevan report "
        "(transfer in μP, a shift in NTK) shows here only in the drift at large widths given above. The "
        "edges are eigenvalues of finite networks (numpy, "
        f"D = {EDGE['dim']}, the mean of {len(EDGE['seeds'])} draws, the script's sharpness()).",
        "",
        f"Learning rates: {len(RATES)} values from {RATES[0]:g} to {RATES[-1]:g}, log-spaced; the best one is "
        "the minimum of a parabola in log(lr) through the grid's best point and its neighbours. A run "
        "past the stability edge diverges and counts as an infinite loss.",
        "",
        f"DMFT against simulation (μP, lr = {LR:g}, D = {SIMULATED['dim']}, {SIMULATED['runs']} runs), "
        f"test loss at t = 0 / 10 / 30 / {STEPS}, and the verdicts of `dmftc compare` over {STEPS + 1} steps:",
        "",
        "| ν | DMFT | simulation |",
        "| --- | --- | --- |",
    ]
    shown = (0, 10, 30, STEPS)
    for nu, sim in simulations.items():
        dmft = " / ".join(f"{curves['muP', nu].test_loss.values[x]:.4f}" for x in shown)
        simulated = " / ".join(f"{sim.test_loss.values[x]:.4f}±{sim.test_loss_sem.values[x]:.4f}" for x in shown)
        lines.append(f"| {nu:g} | {dmft} | {simulated} |")
    lines.append("")
    for nu, sim in simulations.items():
        rows = compare_datasets(curves["muP", nu], sim)
        for name in ("test_loss", "train_loss"):
            lines.append(f"* ν = {nu:g}: {verdict(name, [r for r in rows if r.observable == name])[1]}")
    lines += [
        "",
        f"Past the edge (μP, ν = {PAST_EDGE['nu']:g}, lr = {PAST_EDGE['lr']:g}, edge "
        f"{2 / edges['NTK', PAST_EDGE['nu']][0]:.3f} at t = 0) the DMFT is the limit D → ∞ at fixed t, and finite "
        "networks follow it only up to a time that grows with D (docs/math/matrix_program.md §6.8, with a "
        "reading of the cause: the top of the linearised step's spectrum is unstable there, and a finite "
        f"network has only a few such directions). Test loss, DMFT and simulation ({PAST_EDGE['runs']} runs, z = "
        "(simulation − DMFT) / s.e.):",
        "",
        "| t | DMFT | " + " | ".join(f"D = {D}" for D in PAST_EDGE["dims"]) + " |",
        "| --- | --- | " + " | ".join("---" for _ in PAST_EDGE["dims"]) + " |",
    ]
    for x in (10, 20, 30, 40, 50, STEPS):
        exact = past_dmft.test_loss.values[x]
        cells = []
        for sim in past_sims.values():
            value, sem = sim.test_loss.values[x], sim.test_loss_sem.values[x]
            cells.append(f"{value:.4f} ± {sem:.4f} (z = {(value - exact) / sem:+.1f})")
        lines.append(f"| {x} | {exact:.4f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Data reuse (μP, ν = {REUSE['nu']:g}, σ = {REUSE['sigma']:g}, lr = {LR:g}): α D = {REUSE['alpha']:g} D "
        f"samples reused every step against a fresh batch of that size every step. Test loss at t = 10 / "
        f"{STEPS}: reused {reused.test_loss.values[10]:.4f} / {reused.test_loss.values[-1]:.4f} (train "
        f"{reused.train_loss.values[-1]:.4f}: the samples are fitted, noise included), one pass "
        f"{one_pass.test_loss.values[10]:.4f} / {one_pass.test_loss.values[-1]:.4f} (its batch loss is its "
        "test loss).",
        "",
    ]
    (HERE / "deep_linear.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
