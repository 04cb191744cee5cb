"""The gaussian_field class: optimizers on random Gaussian landscapes (spherical p-spin, mixed
p-spin, spiked matrix-tensor; docs/math/gaussian_field.md)."""

from __future__ import annotations

from dmftc.classes.base import ModelClass
from dmftc.classes.gaussian_field import analysis
from dmftc.language import nodes as n
from dmftc.runtime.memory import BYTES


class GaussianField(ModelClass):
    name = "gaussian_field"
    noun = "a landscape model"
    plural = "landscape models"
    summary = "optimizers on random Gaussian landscapes: p-spin glasses, spiked matrix-tensor"
    docs = "docs/math/gaussian_field.md"
    example = "landscape gaussian_field(xi = ...)"
    handlers = analysis.HANDLERS
    statements = frozenset(analysis.HANDLERS) | {n.PenaltyDecl}
    aggregates = {"energy": "a landscape"}
    allows_sphere = True
    solve_options = frozenset({"steps", "dt", "mode", "tmax", "window"})
    simulate_options = frozenset({"dim", "runs", "steps", "seed", "dt"})

    def defines(self, statement) -> bool:
        return isinstance(statement, n.LandscapeDecl)

    def finish(self, analyser, block):
        return analysis.field_spec(analyser, block)

    def summary_rows(self, model):
        spec = model.spec
        rows = [("landscape", "xi(q)", str(spec.xi))]
        if spec.signal is not None:
            rows.append(("signal", spec.signal.name, f"strength(m) = {spec.strength}"))
        return rows

    def named_symbols(self, model) -> dict:
        signal = model.spec.signal
        return {signal.name: signal.symbol} if signal else {}

    def derive(self, model):
        from dmftc.classes.gaussian_field.derive import derive_gaussian_field

        return derive_gaussian_field(model)

    def generate(self, derivation):
        from dmftc.classes.gaussian_field.lower import generate_gaussian_field

        return generate_gaussian_field(derivation)

    def solve(self, compiled, params, options, progress):
        from dmftc.classes.gaussian_field.solve import solve

        return solve(compiled, params, options, progress)

    def simulate(self, compiled, params, options, progress):
        from dmftc.classes.gaussian_field.simulate import simulate

        return simulate(compiled, params, options, progress)

    def memory(self, dm, command, options):
        plan, T = dm.compiled.generated[1], options["steps"]
        if command == "simulate":
            return _simulation_memory(dm, plan, options)
        from dmftc.classes.gaussian_field.solve import ADAPTIVE_WINDOW

        if options["tmax"] is not None:  # the adaptive grid: C, R, their integrals and copies over one window
            return BYTES * 6 * ((options["window"] or ADAPTIVE_WINDOW) + 1) ** 2
        if dm.model.time == "continuous" and dm.compiled.derivation.ck_form:  # C and R on the uniform grid, twice
            return BYTES * 4 * (T + 1) ** 2
        # the exact recursion (solve.py _run_exact): YC (T+1, B) with B ≈ (T+1)(1 + noises); KXI, C, R
        basis = len(plan.primitive_laws) + 2 + (T + 1) * (1 + plan.n_noise)
        return BYTES * ((T + 4) * basis + 3 * (T + 1) ** 2)

    def result_memory(self, dm, options):
        T, n_obs = options["steps"], len(dm.model.observables)
        return BYTES * (2 * (T + 1) ** 2 + (n_obs + 2) * (T + 1))

    def checks(self, dm):
        from dmftc.classes.gaussian_field.verify import checks

        return checks(dm)


def _simulation_memory(dm, plan, options) -> int:
    """One run of simulate.py at a time: the couplings of each power of xi(q) (a dense GOE matrix,
    symmetrised in place, for the power 2 up to DENSE_QUADRATIC_MAX_DIM; else a sign per diluted
    term, drawn as integers first, and rotated copies of x), the state, and the observables of every
    run."""
    from dmftc.classes.gaussian_field.simulate import CONNECTIVITY, DENSE_QUADRATIC_MAX_DIM, connectivity_of_power
    from dmftc.classes.gaussian_field.solve import power_series
    from dmftc.language.symbols import OVERLAP_Q

    N, T, model = options["dim"], options["steps"], dm.model
    couplings = N
    for power in power_series(model.spec.xi, OVERLAP_Q, model, dm.params, "xi(q)")[1]:
        k = int(power)
        if k == 2 and N <= DENSE_QUADRATIC_MAX_DIM:
            couplings += 2 * N * N
        elif k >= 2:
            couplings += (2 * connectivity_of_power(k, CONNECTIVITY) + 6 * k) * N
    state = N * (2 * len(plan.coordinates) + plan.n_noise + len(plan.primitive_laws) + 4)
    observed = (T + 1) * (len(plan.observables) * (options["runs"] + 2) + len(plan.mean) + len(plan.energy))
    return BYTES * (couplings + state + observed)


CLASS = GaussianField()
