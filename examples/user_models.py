"""Sixteen models a new user would write, each solved, simulated, compared and verified.

    NUMBA_NUM_THREADS=1 python examples/user_models.py      # ~10 min on 2 shared cores

The files in examples/user_models/ cover the kinds of model of a first week with dmftc: heavy-ball
SGD, Nesterov with the schedule t / (t + 3) and with a constant momentum, the Huber and
pseudo-Huber losses, ReLU and tanh teachers, Langevin dynamics, probit, square-hinge and
exponential losses, mixed 2+3 and 2+4 spin glasses, Adam on ridge, Polyak averaging under a
step-size schedule, and decoupled weight decay from a warm start. For each: the DMFT (``solve``,
exact where the model is linear, else Monte Carlo with 8 replicas; a landscape's own solver), the finite-size system of
the same file (``simulate``), the verdict of ``dmftc compare`` on every observable at every step,
and the checks of ``dmftc verify``. A correct tool says "within" for every observable (the
verdict is a 3-sigma test, Bonferroni-corrected over the steps: a false alarm has probability
0.3 % an observable) and no verify check fails. Writes user_models.md next to this file;
tests/test_user_models_slow.py runs the same exercise.
"""

from __future__ import annotations

import time
from pathlib import Path

import dmftc
from dmftc.results.agreement import compare_datasets, verdict

HERE = Path(__file__).resolve().parent
FOLDER = HERE / "user_models"
STEPS = 30
SOLVE = dict(steps=STEPS, samples=20000, replicas=8, seed=1)
# data models at d = 1000 (2000 samples at alpha = 2); landscapes at N = 1000 with the default
# connectivity of the diluted couplings (docs/math/gaussian_field.md §4.1)
SIMULATE = dict(steps=STEPS, dim=1000, runs=16, seed=2)


def exercise(path: Path) -> dict:
    """Solve, simulate, compare and verify one model: the verdict per observable, the finals and
    the verify statuses."""
    m = dmftc.load(path)
    started = time.perf_counter()
    theory = m.solve(**{k: v for k, v in SOLVE.items() if k in m.model_class.solve_options})
    simulation = m.simulate(**SIMULATE)
    rows = compare_datasets(theory, simulation)
    verdicts = {}
    for name in dict.fromkeys(row.observable for row in rows):
        consistent, sentence = verdict(name, [row for row in rows if row.observable == name])
        verdicts[name] = (consistent, sentence)
    checks = m.verify()
    return dict(
        mode=theory.attrs.get("mode", ""),
        theory=theory,
        simulation=simulation,
        verdicts=verdicts,
        checks=[(c.name, c.status) for c in checks],
        seconds=time.perf_counter() - started,
    )


def final(ds, name: str) -> str:
    value = float(ds[name].values[-1])
    sem = ds.get(f"{name}_sem")
    return f"{value:.4f}" if sem is None else f"{value:.4f} ± {float(sem.values[-1]):.4f}"


def main():
    lines = [
        "# Sixteen models of a first week: DMFT, simulation, compare and verify",
        "",
        "`NUMBA_NUM_THREADS=1 python examples/user_models.py` writes this file. Models: "
        "`examples/user_models/*.dmft`. DMFT: `solve` with "
        f"{', '.join(f'{k} = {v}' for k, v in SOLVE.items())} (an exact closure ignores the sampling "
        "options); simulation: `simulate` with "
        f"{', '.join(f'{k} = {v}' for k, v in SIMULATE.items())}. Values at the last step, "
        "± the standard error (replicas of the Monte-Carlo DMFT, runs of the simulation); the "
        "verdict is `dmftc compare`'s over all steps.",
        "",
        "| model | DMFT | observable | DMFT at T | simulation at T | compare | verify (pass / fail / n/a) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    sentences = []
    for path in sorted(FOLDER.glob("*.dmft")):
        result = exercise(path)
        statuses = [status for _, status in result["checks"]]
        counts = " / ".join(str(statuses.count(s)) for s in ("pass", "fail", "n/a"))
        failed = [name for name, status in result["checks"] if status == "fail"]
        for i, (name, (consistent, sentence)) in enumerate(result["verdicts"].items()):
            said = {True: "within", False: "NOT within", None: "no errors"}[consistent]
            lines.append(
                f"| {path.stem if i == 0 else ''} | {result['mode'] if i == 0 else ''} | {name} | "
                f"{final(result['theory'], name)} | {final(result['simulation'], name)} | {said} | "
                f"{(counts + (' (' + ', '.join(failed) + ')' if failed else '')) if i == 0 else ''} |"
            )
            sentences.append(f"* {path.stem}, {sentence}")
        print(f"{path.stem}: {result['seconds']:.0f} s", flush=True)
    lines += ["", "Every verdict in full:", "", *sentences, ""]
    (HERE / "user_models.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
