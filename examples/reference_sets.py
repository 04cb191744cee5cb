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
        model="sgd_ridge",
        params={},
        steps=F_STEPS,
        dt=None,
        samples=100000,
        sim=(2000, 16),
        ref={
            "overlap": (
                [0.2000, 0.4304, 0.5491, 0.6269, 0.7110, 0.7817, 0.8117, 0.8134],
                [0.2000, 0.4308, 0.5553, 0.6307, 0.7110, 0.7811, 0.8079, 0.8126],
            ),
            "sq_norm": (
                [1.040, 0.702, 0.615, 0.598, 0.609, 0.644, 0.673, 0.673],
                [1.040, 0.709, 0.628, 0.610, 0.612, 0.643, 0.666, 0.672],
            ),
            "train_loss": (
                [0.819, 0.321, 0.166, 0.098, 0.046, 0.019, 0.0123, 0.0122],
                [0.811, 0.325, 0.167, 0.100, 0.048, 0.019, 0.0133, 0.0126],
            ),
        },
    ),
    "F4 — i.i.d.-batch SGD, logistic loss (models/sgd_logistic.dmft)": dict(
        model="sgd_logistic",
        params={},
        steps=F_STEPS,
        dt=None,
        samples=100000,
        sim=(2000, 16),
        ref={
            "overlap": (
                [0.200, 0.730, 1.031, 1.247, 1.528, 1.867, 2.114, 2.189],
                [0.208, 0.753, 1.048, 1.254, 1.532, 1.882, 2.117, 2.185],
            ),
            "sq_norm": (
                [1.04, 1.62, 2.13, 2.59, 3.40, 4.59, 5.66, 6.05],
                [1.09, 1.62, 2.11, 2.58, 3.36, 4.64, 5.64, 5.98],
            ),
        },
    ),
    "F5 — persistent SGD, logistic loss (models/psgd_logistic.dmft; time = step × 0.05)": dict(
        model="psgd_logistic",
        params={},
        steps=[0, 5, 10, 20, 40, 60],
        dt=None,
        samples=80000,
        sim=(2000, 16),
        ref={
            "overlap": ([0.200, 0.247, 0.292, 0.371, 0.495, 0.590], [0.200, 0.247, 0.289, 0.365, 0.488, 0.580]),
            "sq_norm": ([1.040, 0.961, 0.902, 0.826, 0.774, 0.797], [1.040, 0.963, 0.905, 0.830, 0.782, 0.800]),
            "train_error": ([0.436, 0.402, 0.372, 0.307, 0.209, 0.142], [0.425, 0.393, 0.359, 0.298, 0.201, 0.140]),
            "test_error": ([0.437, 0.419, 0.401, 0.366, 0.310, 0.270], None),
        },
    ),
    "Run A — diagonal network, a = 0.1 (models/diagonal_network_flow.dmft, dt = 0.05)": dict(
        model="diagonal_network_flow",
        params=dict(a=0.1, alpha=0.5, rho=0.2, sigma=0.1),
        steps=[0, 20, 40, 80, 160],
        dt=0.05,
        samples=12000,
        sim=(3000, 8),
        ref={
            "train_mse": ([0.2097, 0.1135, 0.0346, 0.0103, 0.00282], [0.2186, 0.1161, 0.0330, 0.0100, 0.00268]),
            "gen_error": ([0.1997, 0.1643, 0.1280, 0.1059, 0.0940], [0.2005, 0.1641, 0.1273, 0.1058, 0.0950]),
        },
    ),
    "Run B — diagonal network, a = 0.01 (models/diagonal_network_flow.dmft, dt = 0.05)": dict(
        model="diagonal_network_flow",
        params=dict(a=0.01, alpha=0.5, rho=0.1, sigma=0.05),
        steps=[0, 40, 60, 100, 200],
        dt=0.05,
        samples=8000,
        sim=(4000, 8),
        ref={
            "train_mse": ([0.1025, 0.0949, 0.0568, 0.0200, 0.00524], [0.1066, 0.0961, 0.0572, 0.0201, 0.00448]),
            "gen_error": ([0.1000, 0.0965, 0.0789, 0.0496, 0.0227], [0.1000, 0.0951, 0.0779, 0.0487, 0.0209]),
        },
    ),
}


def run(spec: dict) -> str:
    m = dmftc.load(MODELS / f"{spec['model']}.dmft", **spec["params"])
    steps, options = max(spec["steps"]), ({"dt": spec["dt"]} if spec["dt"] else {})
    theory = m.solve(steps=steps, samples=spec["samples"], **options)
    dim, runs = spec["sim"]
    experiment = m.simulate(dim=dim, runs=runs, steps=steps, **options)
    time = theory.time.values
    lines = [
        f"| quantity | {' | '.join(f'{time[k]:g}' for k in spec['steps'])} |",
        "| --- |" + " ---: |" * len(spec["steps"]),
    ]
    for name, (ref_dmft, ref_sim) in spec["ref"].items():
        lines.append(f"| {name}: notes' DMFT | " + " | ".join(f"{v:.4g}" for v in ref_dmft) + " |")
        if ref_sim:
            lines.append(f"| {name}: notes' simulation | " + " | ".join(f"{v:.4g}" for v in ref_sim) + " |")
        lines.append(
            f"| {name}: dmftc DMFT | " + " | ".join(f"{float(theory[name][k]):.4g}" for k in spec["steps"]) + " |"
        )
        lines.append(
            f"| {name}: dmftc simulation | "
            + " | ".join(
                f"{float(experiment[name][k]):.4g} ± {float(experiment[name + '_sem'][k]):.1g}" for k in spec["steps"]
            )
            + " |"
        )
    settings = (
        f"DMFT: {theory.attrs['mode']}, M = {spec['samples']} samples per side, seed 0, "
        f"teacher second moment of the sample {theory.attrs['teacher_second_moment']:.4f}; "
        f"simulation: d = {dim}, {runs} runs."
    )
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
