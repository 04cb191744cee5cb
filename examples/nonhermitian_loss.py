"""A non-Hermitian drive with a real spectrum gives a non-monotone loss; its Hermitian twin does not.

    python examples/nonhermitian_loss.py        # ~1 min; writes nonhermitian_loss.png and .md

Bordelon & Pehlevan (arXiv 2601.01010, docs/math/linear_system.md §1) contrast the
gradient flow of a random-features model, whose error obeys dx/dt = -F S x with F the feature
Gram matrix and S the data covariance (F S not symmetric, spectrum real and non-negative), with
the Hermitian matrix of the same spectrum, F^(1/2) S F^(1/2). Both are simulated by dmftc
(examples/rf_drive.dmft, examples/rf_drive_hermitian.dmft: P = N/2 features, n = 2N samples,
isotropic start, no label noise) with the same random draws, exactly in time. The responses
R(t) = (1/N) Tr e^{-tM} coincide (same eigenvalues); the losses C(t,t) do not: the symmetric one
decreases to the fraction of zero modes, the non-normal one dips and then rises — a mechanism
without label noise, unlike the small-eigenvalue overfitting of models/linear_regression_flow.dmft.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import dmftc  # noqa: E402

HERE = Path(__file__).resolve().parent
N, RUNS, DT, STEPS = 800, 8, 0.25, 160


def main():
    runs = {
        name: dmftc.load(HERE / f"{name}.dmft").simulate(dim=N, runs=RUNS, steps=STEPS, dt=DT)
        for name in ("rf_drive", "rf_drive_hermitian")
    }
    t = runs["rf_drive"].time.values
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for ds, label in zip(runs.values(), ("F S (non-Hermitian)", "F^1/2 S F^1/2 (Hermitian)")):
        loss, sem = ds.loss.values, ds.loss_sem.values
        left.plot(t, loss, label=label)
        left.fill_between(t, loss - 2 * sem, loss + 2 * sem, alpha=0.3)
        right.plot(t, ds.R.values[STEPS, ::-1], label=label)
    left.set(xlabel="t", ylabel="loss = |x(t)|² / N", title=f"N = {N}, {RUNS} runs (±2 s.e.)", ylim=(0.45, 1.05))
    right.set(xlabel="τ", ylabel="R(τ) = Tr exp(-τ M) / N", title="the responses coincide")
    left.legend()
    right.legend()
    fig.tight_layout()
    fig.savefig(HERE / "nonhermitian_loss.png", dpi=120)

    nh, h = runs["rf_drive"], runs["rf_drive_hermitian"]
    low = int(np.argmin(nh.loss.values))
    # the rise from the minimum time to the end, run by run (the level of a run moves with its
    # start x(0), the rise much less): 2 RUNS further independent runs, one at a time
    model = dmftc.load(HERE / "rf_drive.dmft")
    rises = np.array(
        [
            ds.loss.values[-1] - ds.loss.values[low]
            for ds in (model.simulate(dim=N, runs=1, steps=STEPS, dt=DT, seed=RUNS + r) for r in range(2 * RUNS))
        ]
    )
    rise, rise_se = rises.mean(), rises.std(ddof=1) / np.sqrt(rises.size)
    rows = [
        (
            f"{t[k]:g}",
            f"{nh.loss.values[k]:.4f} ± {nh.loss_sem.values[k]:.4f}",
            f"{h.loss.values[k]:.4f} ± {h.loss_sem.values[k]:.4f}",
        )
        for k in (0, 4, low, 40, 80, 120, STEPS)
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    text = f"""# Non-Hermitian vs Hermitian drive with the same spectrum

`python examples/nonhermitian_loss.py` (dmftc's simulator, N = {N}, {RUNS} runs, exact in time,
dt = {DT}). Error flow of a random-features model, dx/dt = -M x, from an isotropic start with no
label noise: M = F S (F = FᵀF/P with P = N/2 features, S = XᵀX/n with n = 2N samples) against
M = F^(1/2) S F^(1/2), which has the same eigenvalues (the matrices are similar) but is symmetric.

| t | loss, F S | loss, F^(1/2) S F^(1/2) |
| --- | --- | --- |
{table}

* Hermitian: the loss ∫ρ(λ) e^(-2λt) dλ decreases at every step (largest increase between steps:
  {np.max(np.diff(h.loss.values)):.1e}) towards the fraction of zero modes, 1 - P/N = 0.5.
* Non-Hermitian: the loss falls to {nh.loss.values[low]:.4f} at t = {t[low]:g}, then rises by
  {rise:.4f} ± {rise_se:.4f} between these times in {rises.size} further runs (up in {np.sum(rises > 0)} of
  them) to {nh.loss.values[-1]:.4f} at t = {t[-1]:g}:
  non-monotone without any label noise. The limit is the oblique (non-orthogonal) projection of
  x(0) on the kernel of F S, longer than the orthogonal one.
* The responses R(τ) = (1/N) Tr e^(-τM) of the two agree to {np.max(np.abs(nh.R.values - h.R.values)):.1e}
  (identical eigenvalues in each run): the response, hence the resolvent, cannot tell the two apart;
  for a non-normal drive the correlation needs its own closure (as for Ginibre, docs/math/linear_system.md §2).

Not in dmftc yet: the DMFT closure (three levels of cavity) and the spectral law (free product
of two Marchenko–Pastur laws) of these two ensembles; `dmftc solve` says so and they are simulated.
"""
    (HERE / "nonhermitian_loss.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
