"""The linear_system class: linear dynamics driven by a random matrix (GOE, Ginibre, Wishart, a
prescribed spectrum; docs/math/linear_system.md)."""

from __future__ import annotations

import numpy as np

from dmftc.classes.base import ModelClass
from dmftc.classes.linear_system import analysis
from dmftc.language import nodes as n
from dmftc.runtime.memory import BYTES


class LinearSystem(ModelClass):
    name = "linear_system"
    noun = "a linear system"
    plural = "linear systems"
    summary = "linear dynamics driven by a random matrix: GOE, Ginibre, Wishart, prescribed spectra"
    docs = "docs/math/linear_system.md"
    example = "matrix M ~ goe()"
    handlers = analysis.HANDLERS
    statements = frozenset(analysis.HANDLERS)
    solve_options = frozenset({"steps", "dt", "method", "average_over", "euler"})
    simulate_options = frozenset({"dim", "runs", "steps", "seed", "dt"})

    def defines(self, statement) -> bool:
        return isinstance(statement, n.MatrixDecl)

    def finish(self, analyser, block):
        return analysis.linear_spec(analyser, block)

    def summary_rows(self, model):
        law = model.spec.matrix
        return [("matrix", law.name, law.text)]

    def update_gradient(self, model, weight):
        return model.spec.product  # the drive of a linear system is its matrix product

    def derive(self, model):
        from dmftc.classes.linear_system.derive import derive_linear_system

        return derive_linear_system(model)

    def solve(self, compiled, params, options, progress):
        from dmftc.classes.linear_system.solve import solve

        return solve(compiled, params, options, progress)

    def simulate(self, compiled, params, options, progress):
        from dmftc.classes.linear_system.simulate import simulate

        return simulate(compiled, params, options, progress)

    def memory(self, dm, command, options):
        from dmftc.classes.linear_system import spectra
        from dmftc.classes.linear_system.solve import choose_method

        d, model = dm.compiled.derivation, dm.model
        T, k, noises, P = options["steps"], len(d.coordinates), len(model.noises), len(model.primitives)
        square = (T + 1) ** 2
        if command == "simulate":
            return _simulation_memory(dm, options, k, square)
        if choose_method(d, options["method"]) == "dmft":
            # solve.py dmft_pass: Z (T+1, k, B) and TH (T+1, B), B ≈ (T+1)(2 + noises); Z again as
            # G Z for the moments (twice with --average-over); C, χ, the field, H and the outputs
            basis = 1 + P + (T + 1) * (2 + noises)
            copies = 3 if options["average_over"] else 2
            return BYTES * ((T + 1) * basis * (copies * k + 1) + 8 * square)
        # spectral_pass: per node of the spectral rule and per step, the mean, the initial and
        # noise parts and the powers of the step map; C, R and their parts
        longest = T * (options["dt"] or 1.0)
        nodes = spectra.quadrature(d.law, model.values(dm.params), 2 * longest).nodes.size
        return BYTES * (nodes * (T + 1) * k * (2 + P + 2 * k) + 4 * square)

    def result_memory(self, dm, options):
        T, n_obs = options["steps"], len(dm.model.observables)
        return BYTES * (2 * (T + 1) ** 2 + 3 * n_obs * (T + 1))

    def checks(self, dm):
        from dmftc.classes.linear_system.verify import checks

        return checks(dm)


def _simulation_memory(dm, options, k: int, square: int) -> int:
    """One run of simulate.py at a time: the N x N matrix as drawn, its eigenvalues, and the map of
    one step on the whole state (k N numbers; a flow takes matrix exponentials of it, and with
    noise of the 2k N block of Van Loan's method); the states over time; C and R of every run."""
    from dmftc.classes.linear_system.solve import coefficients

    N, T, runs = options["dim"], options["steps"], options["runs"]
    cf = coefficients(dm.compiled.derivation, dm.params, options["dt"])
    if cf.rates is None:  # an update: A ⊗ I + (b cᵀ) ⊗ M from its two terms, and S ⊗ I
        step_map = 3 * k * k + k * cf.S.shape[1]
    else:  # the generator and its exponential (Padé: about six arrays of its size); Van Loan: 4 times
        step_map = k * k * (6 + (24 if np.any(cf.rates[3]) else 0))
    return BYTES * (N * N * (4 + step_map) + 2 * (T + 1) * k * N + (5 + 3 * runs) * square)


CLASS = LinearSystem()
