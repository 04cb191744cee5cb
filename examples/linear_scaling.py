"""The linear scaling rule of SGD with extensive batches, from the DMFT of models/sgd_epochs_ridge.dmft.

    NUMBA_NUM_THREADS=1 python examples/linear_scaling.py     # ~4 min on 2 cores

SGD with batch fraction b (each sample once per epoch, weighted 1/b) and learning rate lr. The
rule: runs with the same tau = lr / b follow the same curve against the number of epochs t * b
(which is time t * lr / tau). Writes linear_scaling.png and linear_scaling.md next to this file.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter, ScalarFormatter

import dmftc
from dmftc.errors import SolverError

HERE = Path(__file__).resolve().parent
MODEL = HERE.parent / "models" / "sgd_epochs_ridge.dmft"
EPOCHS = 10
TAUS = (0.2, 0.4, 0.8)
BATCHES = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)
SAMPLES = 80000
SIM_TAU, SIM_BATCHES = 0.8, (1 / 16, 1 / 8)


def test_loss_by_epoch(tau: float, b: float, seed: int = 0):
    """Test loss at epochs 0, 1/b, ..., EPOCHS on the step grid, or None if SGD diverges."""
    try:
        ds = dmftc.load(MODEL, lr=tau * b, b=b).solve(steps=round(EPOCHS / b), samples=SAMPLES, seed=seed)
    except SolverError:
        return None
    loss = ds.test_loss.values
    return None if loss[-1] > 10 * loss[0] else loss


def at_whole_epochs(loss, b):
    return loss[:: round(1 / b)]


def main():
    curves = {(tau, b): test_loss_by_epoch(tau, b) for tau in TAUS for b in BATCHES}
    # Monte-Carlo error: three seeds of the smallest batch at each tau
    spread = max(
        np.max(
            np.std(
                [at_whole_epochs(test_loss_by_epoch(tau, BATCHES[0], seed), BATCHES[0]) for seed in range(3)],
                axis=0,
                ddof=1,
            )
            / at_whole_epochs(curves[tau, BATCHES[0]], BATCHES[0])
        )
        for tau in TAUS
    )
    # the noise-free limit: gradient flow (full-batch GD with a small step, exact mode)
    flow = dmftc.load(HERE.parent / "models" / "ridge_gd.dmft", lr=0.01).solve(steps=round(SIM_TAU * EPOCHS / 0.01))
    sims = {
        b: dmftc.load(MODEL, lr=SIM_TAU * b, b=b).simulate(dim=1000, runs=8, steps=round(EPOCHS / b))
        for b in SIM_BATCHES
    }

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for b in BATCHES:
        loss = curves[SIM_TAU, b]
        if loss is not None:
            left.plot(np.arange(len(loss)) * b, loss, label=f"lr = {SIM_TAU * b:g}, b = 1/{round(1 / b)}")
    # ridge_gd is a discrete model (time = step): its physical time is step * 0.01, an epoch is tau
    left.plot(flow.step.values * 0.01 / SIM_TAU, flow.test_loss.values, "k:", label="gradient flow (no SGD noise)")
    for b, sim in sims.items():
        left.errorbar(
            sim.step.values[:: round(1 / b)] * b,
            at_whole_epochs(sim.test_loss.values, b),
            yerr=at_whole_epochs(sim.test_loss_sem.values, b),
            fmt="o",
            ms=3,
            capsize=2,
            label=f"simulation d = 1000, b = 1/{round(1 / b)}",
        )
    left.set(
        xlabel="epochs (t b)",
        ylabel="test loss",
        ylim=(0.08, 0.2),
        title=f"lr / b = {SIM_TAU:g}: curves against epochs",
    )
    left.legend(fontsize=7)
    for tau in TAUS:
        finals = [(tau * b, curves[tau, b][-1]) for b in BATCHES if curves[tau, b] is not None]
        (line,) = right.plot(*zip(*finals), "o-", label=f"lr / b = {tau:g}")
        for b in BATCHES:
            if curves[tau, b] is None:
                right.axvline(tau * b, color=line.get_color(), ls="--", lw=0.8)
    right.set(
        xscale="log",
        xlabel="lr (b = lr / tau)",
        ylabel=f"test loss after {EPOCHS} epochs",
        ylim=(0.08, 0.11),
        title="flat = linear scaling holds; dashed: SGD diverges",
    )
    right.xaxis.set_major_formatter(ScalarFormatter())
    right.xaxis.set_minor_formatter(NullFormatter())
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "linear_scaling.png", dpi=120)

    rows = []
    for tau in TAUS:
        for b in BATCHES[:-1]:
            small, large = curves[tau, b], curves[tau, 2 * b]
            if small is None:
                continue
            gap = (
                "SGD at (2 lr, 2 b) diverges"
                if large is None
                else f"{100 * np.max(np.abs(at_whole_epochs(large, 2 * b) / at_whole_epochs(small, b) - 1)):.2f} %"
            )
            rows.append(f"| {tau:g} | {tau * b:g}, 1/{round(1 / b)} | {small[-1]:.5f} | {gap} |")
    sim_rows = [
        f"| 1/{round(1 / b)} | "
        + " | ".join(
            f"{at_whole_epochs(curves[SIM_TAU, b], b)[e]:.4f} / {at_whole_epochs(sim.test_loss.values, b)[e]:.4f} ± "
            f"{at_whole_epochs(sim.test_loss_sem.values, b)[e]:.1g}"
            for e in (1, 5, 10)
        )
        + " |"
        for b, sim in sims.items()
    ]
    text = (HERE / "linear_scaling.md").read_text().split("<!-- results -->")[0]
    (HERE / "linear_scaling.md").write_text(
        text + "<!-- results -->\n\n"
        f"DMFT: M = {SAMPLES} samples per side; Monte-Carlo error (3 seeds, smallest batch): at most "
        f"{100 * spread:.2f} % of the test loss at any epoch. Gradient flow at {EPOCHS} epochs of "
        f"lr / b = {SIM_TAU:g}: {flow.test_loss.values[-1]:.5f}.\n\n"
        "| lr / b | lr, b | test loss after 10 epochs | largest gap to (2 lr, 2 b) over epochs 0-10 |\n"
        "| --- | --- | ---: | ---: |\n" + "\n".join(rows) + "\n\n"
        f"Simulation check (lr / b = {SIM_TAU:g}, d = 1000, 8 runs), test loss DMFT / simulation ± s.e.:\n\n"
        "| b | epoch 1 | epoch 5 | epoch 10 |\n| --- | ---: | ---: | ---: |\n" + "\n".join(sim_rows) + "\n"
    )


if __name__ == "__main__":
    main()
