"""The matrix_sgd class: a weight matrix trained by mini-batch SGD on fresh samples; its
eigenvalues follow Dyson Brownian motion (docs/math/matrix_sgd.md)."""

from __future__ import annotations

from dmftc.analysis import data
from dmftc.classes.base import ModelClass
from dmftc.classes.matrix_sgd import analysis
from dmftc.language import nodes as n
from dmftc.runtime.memory import BYTES


class MatrixSGD(ModelClass):
    name = "matrix_sgd"
    noun = "the matrix family (online data)"
    plural = "the matrix family"
    summary = "SGD of a weight matrix on online data: Dyson Brownian motion of its spectrum"
    docs = "docs/math/matrix_sgd.md"
    handlers = data.HANDLERS
    statements = data.DATA_STATEMENTS
    aggregates = {"train": "a 'data' statement", "test": "a 'data' statement"}
    default_steps = 1000
    solve_options = frozenset({"steps"})
    simulate_options = frozenset({"runs", "steps", "seed"})

    def defines(self, statement) -> bool:
        return isinstance(statement, n.DataDecl) and statement.call.func == "online"

    def reserved_names(self, statement) -> tuple[str, ...]:
        return data.reserved_names(statement)

    def finish(self, analyser, block):
        return analysis.online_spec(analyser, block)

    def summary_rows(self, model):
        return model.spec.summary_rows()

    def named_symbols(self, model) -> dict:
        return model.spec.named_symbols()

    def memory(self, dm, command, options):
        T, model = options["steps"], dm.model
        names = 3 + len(model.observables)  # the spectrum's mean, variance, spacings; observables
        if command == "solve":  # curves over the steps (and lambdify's temporaries)
            return BYTES * 4 * names * (T + 1)
        from dmftc.classes.matrix_sgd.solve import batch_count, matrix_size

        # one run of simulate.py at a time: the primitives' draws, W and the states (and their
        # next values), WᵀW and its eigensolver; the batch of inputs, labels and gradients; the
        # spectrum at every step; the curves of every run
        N, B = matrix_size(model, dm.params), batch_count(model, dm.params)
        square = N * N * (2 * len(model.primitives) + 2 * len(model.coordinates) + 5)
        return BYTES * (square + 6 * B * N + (T + 1) * (N + (options["runs"] + 2) * names))

    def result_memory(self, dm, options):
        return BYTES * (3 + len(dm.model.observables)) * (options["steps"] + 1)

    def derive(self, model):  # no DMFT: its derivation is the small-step diffusion limit of SGD
        from dmftc.symbolic.sde import derive_sde

        return derive_sde(model)

    def solve(self, compiled, params, options, progress):
        from dmftc.classes.matrix_sgd.solve import solve

        return solve(compiled, params, options, progress)

    def simulate(self, compiled, params, options, progress):
        from dmftc.classes.matrix_sgd.simulate import simulate

        return simulate(compiled, params, options, progress)


CLASS = MatrixSGD()
