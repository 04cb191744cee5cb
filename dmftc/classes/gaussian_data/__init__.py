"""The gaussian_data class: first-order methods on Gaussian data (GLMs, mixtures, diagonal
networks; docs/math/gaussian_data.md)."""

from __future__ import annotations

from dmftc.analysis import data
from dmftc.classes.base import ModelClass
from dmftc.language import nodes as n
from dmftc.runtime.memory import BYTES


class GaussianData(ModelClass):
    name = "gaussian_data"
    noun = "a data model"
    plural = "data models"
    summary = "first-order methods on Gaussian data: teacher-student GLMs, mixtures, diagonal networks"
    docs = "docs/math/gaussian_data.md"
    example = "data gaussian(ratio = ...)"
    handlers = data.HANDLERS
    statements = data.DATA_STATEMENTS | {n.PenaltyDecl}
    aggregates = {"train": "a 'data' statement", "test": "a 'data' statement"}
    test_at_points = True
    solve_options = frozenset(
        {
            "steps",
            "samples",
            "replicas",
            "seed",
            "dt",
            "mode",
            "responses",
            "sampling",
            "average_over",
            "method",
            "history_resolution",
            "log_steps",
        }
    )
    simulate_options = frozenset({"dim", "runs", "steps", "seed", "dt"})

    def defines(self, statement) -> bool:
        return isinstance(statement, n.DataDecl) and statement.call.func != "online"

    def reserved_names(self, statement) -> tuple[str, ...]:
        return data.reserved_names(statement)

    def finish(self, analyser, block):
        analyser.require_gradient(block)
        return data.data_spec(analyser, block)

    def summary_rows(self, model):
        return model.spec.summary_rows()

    def named_symbols(self, model) -> dict:
        return model.spec.named_symbols()

    def derive(self, model):
        from dmftc.classes.gaussian_data.derive import derive_gaussian_data

        return derive_gaussian_data(model)

    def generate(self, derivation):
        from dmftc.classes.gaussian_data.lower import generate_gaussian_data

        return generate_gaussian_data(derivation)

    def solve(self, compiled, params, options, progress):
        from dmftc.classes.gaussian_data.solve import solve

        return solve(compiled, params, options, progress)

    def simulate(self, compiled, params, options, progress):
        from dmftc.classes.gaussian_data.simulate import simulate

        return simulate(compiled, params, options, progress)

    def memory(self, dm, command, options):
        from dmftc.classes.gaussian_data.solve import (
            COARSE_RESPONSE_SAMPLES,
            choose_method,
            choose_settings,
            data_constants,
            slots_bound,
            written_steps,
        )

        plan = dm.compiled.generated[1]
        T, k, noises = options["steps"], len(plan.coordinates), plan.n_noise
        if command == "simulate":  # one run at a time: the data matrix X (n x d), noises, batches
            d = options["dim"]
            n = max(1, round(data_constants(dm.model, dm.params).alpha * d))
            return BYTES * (n * d + (T + 1) * (d * noises + n))
        replicas = options["replicas"]
        s = choose_settings(
            plan,
            steps=T,
            samples=max(2, options["samples"] // replicas),
            seed=0,
            dt=options["dt"],
            mode=options["mode"],
            responses=options["responses"],
            sampling=options["sampling"],
        )
        square = (T + 2) ** 2
        method = choose_method(plan, dm.model, options["method"], s.mode, T, options["average_over"])
        if method == "coarse":
            # a replica at a time (solve.py _run_coarse): its Gaussian inputs, four values per
            # sample and slot, the data side's Jacobian histories (K² per Jacobian sample), the
            # covariances, factors and tangents over the slots, the two-time arrays at the
            # written steps (four kept per earlier replica)
            W = len(written_steps(T, options["log_steps"]))
            K = slots_bound(T, W, options["history_resolution"])
            MR = min(s.samples, COARSE_RESPONSE_SAMPLES)
            inputs = s.samples * (3 * (T + 2) + len(plan.primitive_laws))
            return BYTES * (inputs + 4 * K * s.samples + K * K * (MR + 6) + (5 * replicas + 4) * W * W)
        if method == "spectral":
            # at most: per step the coefficients (a schedule), per written step three D x D moment
            # sums; four two-time arrays
            D = k + len(plan.primitive_laws) + 3
            K = len(written_steps(T, options["log_steps"]))
            return BYTES * ((T + 1) * (3 * D * D + 3 * k * k + 4 * k) + 4 * (K + 1) ** 2)
        if s.mode == "exact":  # coefficient histories ZH (T+1, k, B) and THC (T+1, B); two-time arrays
            basis = 1 + len(plan.primitive_laws) + (T + 1) * (1 + noises)
            return BYTES * ((T + 1) * (k + 1) * basis + (8 if options["average_over"] else 5) * square)
        # A replica at a time (solve.py _run_monte_carlo): its Gaussian inputs (the parameter side
        # twice while they are orthonormalised), noises, θ, g and batch selections per sample and
        # step; the per-sample Jacobian histories (packed (T+1)(T+2)/2 per sample and side); seven
        # two-time arrays, four more kept per earlier replica and the stack of their mean.
        param_rows = (T + 1) * (1 + noises) + len(plan.primitive_laws)
        data_rows = (T + 3) + (T + 1) * plan.look_ahead
        inputs = s.samples * (2 * param_rows + data_rows + (T + 1) * (noises + 3))
        packed = s.response_samples * (T + 1) * (T + 2) // 2
        histories = (s.param_method == 1) * (packed + (T + 1) * k * s.response_samples)
        histories += (s.data_method == 0) * (packed + (T + 1) * s.response_samples)
        return BYTES * (inputs + histories + (5 * replicas + 7) * square)

    def result_memory(self, dm, options):
        # four two-time arrays; each observable with its error, bias and variance; two series
        from dmftc.classes.gaussian_data.solve import written_steps

        K, n_obs = len(written_steps(options["steps"], options["log_steps"])), len(dm.model.observables)
        return BYTES * (4 * K**2 + (4 * n_obs + 2) * K)

    def checks(self, dm):
        from dmftc.classes.gaussian_data.verify import checks

        return checks(dm)

    def derived_quantities(self, dm):
        from dmftc.classes.gaussian_data.verify import derived_quantities

        return derived_quantities(dm)


CLASS = GaussianData()
