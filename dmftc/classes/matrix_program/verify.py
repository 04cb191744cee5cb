"""``dmftc verify`` checks of the matrix_program class: the generated per-site functions against
the derivation, and, for a linear program, the two solvers of docs/math/matrix_program.md §4
against each other (they share only the generated functions)."""

from __future__ import annotations

import numpy as np
import sympy as sp

from dmftc.codegen.interface import runtime_parameters
from dmftc.language.symbols import STEP
from dmftc.results.agreement import compare_datasets, verdict
from dmftc.verify.checks import FAIL, NA, PASS, Check

TOLERANCE = 1e-10  # generated code against sympy: both evaluate the same expression in float64


def checks(dm) -> list[Check]:
    return [generated_code(dm), monte_carlo_matches_exact(dm)]


def generated_code(dm, points: int = 10) -> Check:
    """Each use's source and each space's update, with their derivatives, and each factor of a
    trained matrix's change, at random points: the generated functions and sympy agree to 1e-10
    relative."""
    name = "the generated code matches the derived equations"
    d, model = dm.derive(), dm.model
    module = dm.compiled.module
    runtime = runtime_parameters(model)
    values = {sym: dm.params.get(nm, 0.05) for sym, nm in runtime}
    params = np.array([values[sym] for sym, _ in runtime])
    rng = np.random.default_rng(0)
    worst, compared = 0.0, 0
    for s in d.spaces:
        Z = [v.symbol for v in s.coordinates]
        K = [c.symbol for c in s.constants]
        H = [d.spec.uses[k].field for k in s.fields]
        E = list(s.noises)
        for _ in range(points):
            arrays = [rng.normal(size=(1, len(x))) for x in (Z, K, H, E)]
            t = int(rng.integers(0, 20))
            at = {STEP: t} | {x: float(a[0, j]) for xs, a in zip((Z, K, H, E), arrays) for j, x in enumerate(xs)}

            def check(got, expr):
                nonlocal worst, compared
                want = complex(sp.sympify(expr).subs(values).subs(at).evalf())
                if want.imag == 0 and np.isfinite(got):  # outside a function's domain: not compared
                    compared += 1
                    worst = max(worst, abs(got - want.real) / max(1.0, abs(want.real)))

            for k in s.sources:
                source = d.spec.uses[k].source
                out, dZ, dH = np.zeros(1), np.zeros((1, len(Z))), np.zeros((1, len(H)))
                getattr(module, f"source_{k + 1}")(t, params, *arrays, out, dZ, dH, True)
                check(out[0], source)
                for j, z in enumerate(Z):
                    check(dZ[0, j], sp.diff(source, z))
                for j, h in enumerate(H):
                    check(dH[0, j], sp.diff(source, h))
            for j, (space, factor) in enumerate(d.spec.factors()):  # of the trained matrices' changes
                if space == s.name:
                    out = np.zeros(1)
                    getattr(module, f"factor_{j + 1}")(t, params, *arrays, out)
                    check(out[0], factor)
            if Z:
                out, dZ, dH = np.zeros((1, len(Z))), np.zeros((1, len(Z), len(Z))), np.zeros((1, len(Z), len(H)))
                getattr(module, f"step_{s.name}")(t, params, *arrays, out, dZ, dH, True)
                for i, z in enumerate(Z):
                    rule = model.step_map[z]
                    check(out[0, i], rule)
                    for j, y in enumerate(Z):
                        check(dZ[0, i, j], sp.diff(rule, y))
                    for j, h in enumerate(H):
                        check(dH[0, i, j], sp.diff(rule, h))
    if not compared:
        return Check(name, NA, "no point inside the domain of the functions")
    status = PASS if worst < TOLERANCE else FAIL
    return Check(name, status, f"{compared} evaluations, largest relative difference {worst:.1e}")


def monte_carlo_matches_exact(dm, steps: int = 10) -> Check:
    """A linear program solved by the exact closure and by the Monte-Carlo pass (4 replicas of
    4000 samples): every observable at every step within the compare limit (3 standard errors,
    Bonferroni-corrected)."""
    name = "the Monte-Carlo pass agrees with the exact closure"
    d = dm.derive()
    if not d.linear:
        return Check(name, NA, f"needs a linear program ({d.nonlinear_reason})")
    if d.spec.trainings:
        return Check(name, NA, "the Monte-Carlo pass does not implement trained matrices")
    options = {"dt": 0.05} if dm.model.time == "continuous" else {}
    exact = dm.solve(steps=steps, mode="exact", **options)
    mc = dm.solve(steps=steps, mode="monte-carlo", samples=16000, replicas=4, **options)
    rows = compare_datasets(exact, mc)
    worst = []
    for observable in dict.fromkeys(row.observable for row in rows):
        consistent, sentence = verdict(observable, [row for row in rows if row.observable == observable])
        if consistent is False:
            return Check(name, FAIL, sentence)
        worst.append(sentence)
    return Check(name, PASS, "; ".join(worst))
