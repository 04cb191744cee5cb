"""The linear_system class: linear dynamics driven by a random matrix (GOE, Ginibre, Wishart, a
prescribed spectrum; docs/math/linear_system.md)."""

from __future__ import annotations

from dmftc.classes.base import ModelClass
from dmftc.classes.linear_system import analysis
from dmftc.language import nodes as n


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

    def checks(self, dm):
        from dmftc.classes.linear_system.verify import checks

        return checks(dm)


CLASS = LinearSystem()
