"""The matrix_program class: programs built from independent Gaussian random matrices, their
transposes and products, and coordinatewise updates in index spaces whose sizes are ratios of
one large N (docs/math/matrix_program.md). Its DMFT follows mechanically from one rule per
matrix use: a Gaussian field and a memory term."""

from __future__ import annotations

from dmftc.classes.base import ModelClass
from dmftc.classes.matrix_program import analysis
from dmftc.language import nodes as n


class MatrixProgram(ModelClass):
    name = "matrix_program"
    noun = "a matrix program"
    plural = "matrix programs"
    summary = "any program of Gaussian random matrices, their transposes and products, and per-site updates"
    docs = "docs/math/matrix_program.md"
    example = "space d"
    handlers = analysis.HANDLERS
    statements = frozenset(analysis.HANDLERS)
    uses_spaces = True
    default_steps = 50
    solve_options = frozenset({"steps", "dt", "samples", "seed", "replicas", "mode"})
    simulate_options = frozenset({"dim", "runs", "steps", "seed", "dt"})

    def defines(self, statement) -> bool:
        return isinstance(statement, n.SpaceDecl)

    def finish(self, analyser, block):
        return analysis.program_spec(analyser, block)

    def summary_rows(self, model):
        spec = model.spec
        rows = [("space", s.name, f"N x {s.ratio}") for s in spec.spaces]
        rows += [("matrix", m.name, f"[{m.rows}, {m.cols}] ~ {m.text}") for m in spec.matrices]
        rows += [("const", c.name, f"[{c.space}] ~ {c.text}") for c in spec.constants]
        rows += [("use", str(k + 1), u.text + (" (once)" if u.frozen else "")) for k, u in enumerate(spec.uses)]
        return rows

    def derive(self, model):
        from dmftc.classes.matrix_program.derive import derive_matrix_program

        return derive_matrix_program(model)

    def generate(self, derivation):
        from dmftc.classes.matrix_program.lower import generate_matrix_program

        return generate_matrix_program(derivation)

    def solve(self, compiled, params, options, progress):
        from dmftc.classes.matrix_program.solve import solve

        return solve(compiled, params, options, progress)

    def simulate(self, compiled, params, options, progress):
        from dmftc.classes.matrix_program.simulate import simulate

        return simulate(compiled, params, options, progress)

    def memory(self, dm, command, options):
        from dmftc.classes.matrix_program.solve import memory

        return memory(dm, command, options)

    def result_memory(self, dm, options):
        # the observables with their errors, and one two-time correlation per coordinate
        T = options["steps"]
        return 8 * (2 * len(dm.model.observables) * (T + 1) + len(dm.model.coordinates) * (T + 1) ** 2)

    def checks(self, dm):
        from dmftc.classes.matrix_program.verify import checks

        return checks(dm)


CLASS = MatrixProgram()
