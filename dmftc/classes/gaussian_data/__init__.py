"""The gaussian_data class: first-order methods on Gaussian data (GLMs, mixtures, diagonal
networks; docs/math/gaussian_data.md)."""

from __future__ import annotations

from dmftc.analysis import data
from dmftc.classes.base import ModelClass
from dmftc.language import nodes as n


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
    solve_options = frozenset(
        {"steps", "samples", "replicas", "seed", "dt", "mode", "responses", "variance_reduction", "average_over"}
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

    def checks(self, dm):
        from dmftc.classes.gaussian_data.verify import checks

        return checks(dm)

    def derived_quantities(self, dm):
        from dmftc.classes.gaussian_data.verify import derived_quantities

        return derived_quantities(dm)


CLASS = GaussianData()
