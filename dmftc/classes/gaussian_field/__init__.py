"""The gaussian_field class: optimizers on random Gaussian landscapes (spherical p-spin, mixed
p-spin, spiked matrix-tensor; docs/math/gaussian_field.md)."""

from __future__ import annotations

from dmftc.classes.base import ModelClass
from dmftc.classes.gaussian_field import analysis
from dmftc.language import nodes as n


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
    solve_options = frozenset({"steps", "dt", "mode", "tmax"})
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

    def checks(self, dm):
        from dmftc.classes.gaussian_field.verify import checks

        return checks(dm)


CLASS = GaussianField()
