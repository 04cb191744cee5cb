"""Reference sets F3, F4, F5 of docs/math/gaussian_data.md §11 and the diagonal-network runs A and
B of docs/math/gaussian_data.md §12.4, with dmftc's DMFT and its simulator.

    python examples/reference_sets.py > examples/reference_sets.md     # ~17 min on 2 shared cores

Prints one markdown table per set: the reference values (the notes' DMFT and simulation), the
dmftc DMFT and the dmftc simulation (mean ± standard error over runs).
"""

from pathlib import Path

import dmftc

MODELS = Path(__file__).resolve().parent.parent / "models"
F_STEPS = [0, 1, 2, 3, 5, 10, 20, 30]

# name: model, parameters, steps reported, time per step (for flows: dt), DMFT samples,
# simulation (dim, runs), {observable: (notes' DMFT, notes' simulation)}
SETS = {
    "F3 — i.i.d.-batch SGD, square loss (models/sgd_ridge.dmft)": dict(
        model="sgd_ridge", params={}, steps=F_STEPS, dt=None, samples=100000, sim=(2000, 16),
        ref={"overlap": ([.2000, .4304, .5491, .6269, .7110, .7817, .8117, .8134],
                         [.2000, .4308, .5553, .6307, .7110, .7811, .8079, .8126]),
             "sq_norm": ([1.040, .702, .615, .598, .609, .644, .673, .673],
                         [1.040, .709, .628, .610, .612, .643, .666, .672]),
             "train_loss": ([.819, .321, .166, .098, .046, .019, .0123, .0122],
                            [.811, .325, .167, .100, .048, .019, .0133, .0126])}),
    "F4 — i.i.d.-batch SGD, logistic loss (models/sgd_logistic.dmft)": dict(
        model="sgd_logistic", params={}, steps=F_STEPS, dt=None, samples=100000, sim=(2000, 16),
        ref={"overlap": ([.200, .730, 1.031, 1.247, 1.528, 1.867, 2.114, 2.189],
                         [.208, .753, 1.048, 1.254, 1.532, 1.882, 2.117, 2.185]),
             "sq_norm": ([1.04, 1.62, 2.13, 2.59, 3.40, 4.59, 5.66, 6.05],
                         [1.09, 1.62, 2.11, 2.58, 3.36, 4.64, 5.64, 5.98])}),
    "F5 — persistent SGD, logistic loss (models/psgd_logistic.dmft; time = step × 0.05)": dict(
        model="psgd_logistic", params={}, steps=[0, 5, 10, 20, 40, 60], dt=None, samples=80000,
        sim=(2000, 16),
        ref={"overlap": ([.200, .247, .292, .371, .495, .590], [.200, .247, .289, .365, .488, .580]),
             "sq_norm": ([1.040, .961, .902, .826, .774, .797], [1.040, .963, .905, .830, .782, .800]),
             "train_error": ([.436, .402, .372, .307, .209, .142], [.425, .393, .359, .298, .201, .140]),
             "test_error": ([.437, .419, .401, .366, .310, .270], None)}),
    "Run A — diagonal network, a = 0.1 (models/diagonal_network_flow.dmft, dt = 0.05)": dict(
        model="diagonal_network_flow", params=dict(a=0.1, alpha=0.5, rho=0.2, sigma=0.1),
        steps=[0, 20, 40, 80, 160], dt=0.05, samples=12000, sim=(3000, 8),
        ref={"train_mse": ([.2097, .1135, .0346, .0103, .00282], [.2186, .1161, .0330, .0100, .00268]),
             "gen_error": ([.1997, .1643, .1280, .1059, .0940], [.2005, .1641, .1273, .1058, .0950])}),
    "Run B — diagonal network, a = 0.01 (models/diagonal_network_flow.dmft, dt = 0.05)": dict(
        model="diagonal_network_flow", params=dict(a=0.01, alpha=0.5, rho=0.1, sigma=0.05),
        steps=[0, 40, 60, 100, 200], dt=0.05, samples=8000, sim=(4000, 8),
        ref={"train_mse": ([.1025, .0949, .0568, .0200, .00524], [.1066, .0961, .0572, .0201, .00448]),
             "gen_error": ([.1000, .0965, .0789, .0496, .0227], [.1000, .0951, .0779, .0487, .0209])}),
}


def run(spec: dict) -> str:
    m = dmftc.load(MODELS / f"{spec['model']}.dmft", **spec["params"])
    steps, options = max(spec["steps"]), ({"dt": spec["dt"]} if spec["dt"] else {})
    theory = m.solve(steps=steps, samples=spec["samples"], **options)
    dim, runs = spec["sim"]
    experiment = m.simulate(dim=dim, runs=runs, steps=steps, **options)
    time = theory.time.values
    lines = [f"| quantity | {' | '.join(f'{time[k]:g}' for k in spec['steps'])} |",
             "| --- |" + " ---: |" * len(spec["steps"])]
    for name, (ref_dmft, ref_sim) in spec["ref"].items():
        lines.append(f"| {name}: notes' DMFT | " + " | ".join(f"{v:.4g}" for v in ref_dmft) + " |")
        if ref_sim:
            lines.append(f"| {name}: notes' simulation | " + " | ".join(f"{v:.4g}" for v in ref_sim) + " |")
        lines.append(f"| {name}: dmftc DMFT | " + " | ".join(f"{float(theory[name][k]):.4g}"
                                                          for k in spec["steps"]) + " |")
        lines.append(f"| {name}: dmftc simulation | " + " | ".join(
            f"{float(experiment[name][k]):.4g} ± {float(experiment[name + '_sem'][k]):.1g}"
            for k in spec["steps"]) + " |")
    settings = (f"DMFT: {theory.attrs['mode']}, M = {spec['samples']} samples per side, seed 0, "
                f"teacher second moment of the sample {theory.attrs['teacher_second_moment']:.4f}; "
                f"simulation: d = {dim}, {runs} runs.")
    return "\n".join(lines) + "\n\n" + settings


HEADER = """# Reference sets F3–F5 and diagonal-network runs A and B

`python examples/reference_sets.py > examples/reference_sets.md` (about 17 min on 2 shared cores).
"notes" are the values quoted in `docs/math/gaussian_data.md` §5 and `docs/math/index.md` a.4;
"dmftc" are this run (DMFT: seed 0; simulation: mean ± standard error over runs). F6 (Gaussian
mixture) is a default-suite test (`tests/test_references.py`).
"""

if __name__ == "__main__":
    print(HEADER, flush=True)
    for title, spec in SETS.items():
        print(f"### {title}\n\n{run(spec)}\n", flush=True)
