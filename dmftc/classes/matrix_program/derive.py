"""Derivation for the ``matrix_program`` class: the cavity rule per matrix use
(docs/math/matrix_program.md §2).

Every use ``e`` of a step (the result of ``A . x`` or ``A' . x``, landing in space ``tgt``, its
source in space ``src``) becomes, for one site of ``tgt``,

    h^e = ξ^e + Σ_{f < e, A_f = A_e, tgt(f) = src(e)} κ^mem_{ef} R_src(e, f) x^f      (mp-field)
    E[ξ^e ξ^e'] = κ^cov_{ee'} C_src(e, e')       (e' of the same matrix, landing in tgt)   (mp-noise)

with ``C_b(e, e') = E_b[x^e x^e']`` and ``R_b(e, f) = E_b[∂x^e/∂h^f]`` (a total derivative, the
fields ξ held fixed) over the single-site process of space ``b``. Uses are ordered by the clock
(step, position in the step): ``f < e`` includes earlier uses of the same step. The factors
(docs/math/matrix_program.md, table of §2), with ``var`` the variance of the entries times the
column count and ``r = N_rows / N_cols``:

* rectangular ``A``: ``A x`` with ``A x``: κ^cov = var; memory from ``A' x``: κ^mem = var;
  ``A' x`` with ``A' x``: κ^cov = var r; memory from ``A x``: κ^mem = var r;
* square ``J`` (``E J_ij J_ji = corr var / N``): κ^cov = var for two uses in the same direction
  and corr var otherwise; κ^mem = var from the opposite direction, corr var from the same.

A program is *linear* when every source and every update is affine in the per-site random
quantities (coordinates, fields, noises, the random inputs of the laws) with coefficients that
depend on parameters and ``t`` only; its closure is then solved exactly (§4.2), otherwise by the
Monte-Carlo forward pass (§4.1). A program that is linear once the one uniform input of a space
(and the constants drawn from it alone: an eigenvalue λ(u) of a structured covariance) is held
fixed is solved exactly too, over quadrature classes of that input (§4.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.analysis.model import Model
from dmftc.classes.matrix_program.analysis import Use
from dmftc.symbolic.algebra import without_null_deltas


@dataclass(frozen=True)
class UseRule:
    """A use of the step with its cavity couplings to the other uses of the step (by index)."""

    index: int
    use: Use
    covariance: tuple[tuple[int, sp.Expr], ...]  # (j, κ^cov): uses of the same matrix landing in tgt
    memory: tuple[tuple[int, sp.Expr], ...]  # (j, κ^mem): uses of the same matrix landing in src


@dataclass(frozen=True)
class SpaceProcess:
    """The single-site process of one space: what lives at a site and what reaches it."""

    name: str
    ratio: sp.Expr
    coordinates: tuple  # Variables
    constants: tuple  # Constants
    fields: tuple[int, ...]  # uses landing here
    sources: tuple[int, ...]  # uses whose source is computed here
    noises: tuple[sp.Symbol, ...]
    primitives: tuple  # RandomPrimitives of the space's laws


ARGUMENT = sp.Symbol("u", real=True)  # the argument of a source f(u) of the Gaussian closure


@dataclass(frozen=True)
class GaussianSource:
    """A source ``f(u)`` of one affine argument ``u`` of the random inputs (docs/math/matrix_program.md §4.2)."""

    argument: sp.Expr
    function: sp.Expr  # in ARGUMENT


@dataclass(frozen=True)
class ProgramDerivation:
    model: Model
    rules: tuple[UseRule, ...]
    spaces: tuple[SpaceProcess, ...]
    linear: bool
    nonlinear_reason: str  # why the Monte-Carlo pass is needed ("" when linear)
    needs_responses: bool  # some use has a memory term
    # the Gaussian closure: the state is linear, the nonlinear sources are f(affine) and feed no
    # memory term (use index -> GaussianSource); None where it does not apply
    gaussian: dict | None = None
    gaussian_reason: str = ""  # why it does not apply
    # site classes (§4.3): the uniform primitive of each space held fixed per quadrature class
    # (symbols; empty when the program is linear without them or cannot be made so)
    classes: tuple[sp.Symbol, ...] = ()
    # a rule whose derivative has a delta (sign, a step): the Jacobian responses of the
    # Monte-Carlo pass do not see it ("" when every rule is differentiable almost everywhere
    # with no jump that a response would feel)
    jump: str = ""

    @property
    def spec(self):
        return self.model.spec

    def space(self, name: str) -> SpaceProcess:
        return next(s for s in self.spaces if s.name == name)

    def render(self, fmt: str = "text") -> str:
        from dmftc.classes.matrix_program.report import render_program_derivation

        return render_program_derivation(self, fmt)

    def _repr_latex_(self) -> str:  # Jupyter
        return "$\\displaystyle " + self.render("latex-inline") + "$"


def couplings(spec, use: Use, other: Use) -> tuple[sp.Expr | None, sp.Expr | None]:
    """(κ^cov, κ^mem) of ``use`` with ``other`` (None where they do not couple), docs/math/matrix_program.md §2."""
    if use.matrix != other.matrix:
        return None, None
    matrix = spec.matrix(use.matrix)
    var = matrix.var
    if matrix.square:
        same = use.transpose == other.transpose
        return (var if same else matrix.corr * var), (matrix.corr * var if same else var)
    ratio = spec.space(matrix.rows).ratio / spec.space(matrix.cols).ratio
    factor = var * ratio if use.transpose else var
    same = use.transpose == other.transpose
    # a rectangular matrix couples a use to the uses landing where it lands (covariance) and to
    # the uses of the other direction, which land where its source lives (memory)
    return (factor if same else None), (None if same else factor)


def derive_matrix_program(model: Model) -> ProgramDerivation:
    spec = model.spec
    uses = spec.uses
    rules = []
    for i, use in enumerate(uses):
        covariance, memory = [], []
        for j, other in enumerate(uses):
            cov, mem = couplings(spec, use, other)
            if cov is not None and cov != 0 and other.tgt == use.tgt:
                covariance.append((j, cov))
            if mem is not None and mem != 0 and other.tgt == use.src:
                memory.append((j, mem))
        rules.append(UseRule(i, use, tuple(covariance), tuple(memory)))

    where = spec.space_of
    spaces = []
    for s in spec.spaces:
        spaces.append(
            SpaceProcess(
                s.name,
                s.ratio,
                tuple(v for v in model.coordinates if v.space == s.name),
                tuple(c for c in spec.constants if c.space == s.name),
                tuple(i for i, u in enumerate(uses) if u.tgt == s.name),
                tuple(i for i, u in enumerate(uses) if u.src == s.name),
                tuple(z for z in model.noises if where.get(z) == s.name),
                tuple(p for p in model.primitives if where.get(p.symbol) == s.name),
            )
        )
    reason = nonlinearity(model)
    classes = class_inputs(spaces) if reason else ()
    if classes and not nonlinearity(model, fixed=classes + class_constants(model, classes)):
        reason = ""
    else:
        classes = ()
    gaussian, why_not = gaussian_sources(model, rules) if reason else (None, "")
    jump = ""
    variables = random_inputs(model)
    rules_of = [(f"the source of use {k + 1}", u.source) for k, u in enumerate(spec.uses)]
    rules_of += [(f"the update of '{v.name}'", model.step_map[v.symbol]) for v in model.coordinates]
    for what, rule in rules_of:
        derivatives = [without_null_deltas(sp.diff(rule, v), variables) for v in variables if rule.has(v)]
        if any(e.has(sp.DiracDelta) for e in derivatives):
            jump = f"{what} jumps (its derivative has a delta)"
            break
    return ProgramDerivation(
        model,
        tuple(rules),
        tuple(spaces),
        linear=not reason,
        nonlinear_reason=reason,
        needs_responses=any(r.memory for r in rules),
        gaussian=gaussian,
        gaussian_reason=why_not,
        classes=classes,
        jump=jump,
    )


def class_inputs(spaces) -> tuple[sp.Symbol, ...]:
    """The uniform primitive of every space that has exactly one (§4.3), or () when a space has
    several (a quadrature over one input per space only)."""
    out = []
    for s in spaces:
        uniform = [p.symbol for p in s.primitives if p.law == "uniform"]
        if len(uniform) > 1:
            return ()
        out += uniform
    return tuple(out)


def class_constants(model: Model, classes: tuple[sp.Symbol, ...]) -> tuple[sp.Symbol, ...]:
    """The constants whose law uses no random input but the class inputs: fixed in a class."""
    inputs = set(random_inputs(model)) - set(classes)
    return tuple(c.symbol for c in model.spec.constants if not c.law.free_symbols & inputs)


def random_inputs(model: Model) -> list[sp.Symbol]:
    """The per-site random quantities: coordinates, fields, noises, constants, primitives."""
    spec = model.spec
    return (
        [v.symbol for v in model.coordinates]
        + [u.field for u in spec.uses]
        + list(model.noises)
        + [c.symbol for c in spec.constants]
        + [p.symbol for p in model.primitives]
    )


def _affine(expr: sp.Expr, variables: list[sp.Symbol]) -> bool:
    expr = sp.expand(expr)
    present = [v for v in variables if expr.has(v)]
    if not present:
        return True
    if not expr.is_polynomial(*present):
        return False
    return sp.Poly(expr, *present).total_degree() <= 1


def nonlinearity(model: Model, fixed: tuple = ()) -> str:
    """Why the program is not linear (docs/math/matrix_program.md §4.2), or "" when it is; the
    inputs ``fixed`` count as coefficients (a site class, §4.3)."""
    spec = model.spec
    inputs = [x for x in random_inputs(model) if x not in fixed]
    for c in spec.constants:
        if c.symbol in fixed:
            continue
        if not _affine(c.law, inputs):
            return f"the law of '{c.name}' is not affine in its random inputs"
    for v in model.coordinates:
        if not _affine(v.init, inputs):
            return f"the start of '{v.name}' is not affine in its random inputs"
    for k, use in enumerate(spec.uses):
        if not _affine(use.source, inputs):
            return f"the source of use {k + 1} ({use.text}) is not affine"
    for v in model.coordinates:
        if not _affine(model.step_map[v.symbol], inputs):
            return f"the update of '{v.name}' is not affine"
    for t in spec.trainings:  # c u vᵀ adds c u E[v x] to a field: linear when u and v are affine (§2.1)
        if not all(_affine(u, inputs) and _affine(v, inputs) for _, u, v in t.terms):
            return f"a factor of outer() in the update of '{t.matrix}' is not affine"
    for o in model.observables:
        for g in o.aggregates:
            expr = sp.expand(g.expr)
            present = [s for s in inputs if expr.has(s)]
            if present and not (expr.is_polynomial(*present) and sp.Poly(expr, *present).total_degree() <= 2):
                return f"observable '{o.name}' is not a polynomial of degree at most 2"
    return ""


def single_argument(expr: sp.Expr, variables: list[sp.Symbol]) -> GaussianSource | None:
    """``expr`` as ``f(u)`` with ``u`` a linear combination of ``variables`` (coefficients free of
    them), or None."""
    present = [v for v in variables if expr.has(v)]
    if not present:
        return None
    pivot = present[0]
    slope = sp.diff(expr, pivot)
    if slope == 0:
        return None
    coefficients = {v: sp.simplify(sp.diff(expr, v) / slope) for v in present}
    if any(c.has(*variables) for c in coefficients.values()):
        return None
    argument = sp.Add(*(c * v for v, c in coefficients.items()))
    function = expr.subs({v: 0 for v in present if v != pivot}).subs(pivot, ARGUMENT)
    if sp.simplify(function.subs(ARGUMENT, argument) - expr) != 0:
        return None
    return GaussianSource(argument, function)


def gaussian_sources(model: Model, rules) -> tuple[dict | None, str]:
    """The Gaussian closure of docs/math/matrix_program.md §4.2 (SCS with η = 0): every variable is
    Gaussian when the laws are normal, the starts, updates and observables are linear (quadratic),
    and every nonlinear source is a function of one affine argument that feeds no memory term."""
    spec = model.spec
    inputs = random_inputs(model)
    if spec.trainings:
        return None, "a matrix is trained"
    if any(p.law != "normal" for p in model.primitives):
        return None, "a law is not Gaussian"
    for c in spec.constants:
        if not _affine(c.law, inputs):
            return None, f"the law of '{c.name}' is not affine"
    for v in model.coordinates:
        if not (_affine(v.init, inputs) and _affine(model.step_map[v.symbol], inputs)):
            return None, f"the rule of '{v.name}' is not affine"
    for o in model.observables:
        for g in o.aggregates:
            expr = sp.expand(g.expr)
            present = [s for s in inputs if expr.has(s)]
            if present and not (expr.is_polynomial(*present) and sp.Poly(expr, *present).total_degree() <= 2):
                return None, f"observable '{o.name}' is not quadratic"
    out = {}
    for k, use in enumerate(spec.uses):
        if _affine(use.source, inputs):
            continue
        form = single_argument(use.source, inputs)
        if form is None:
            return None, f"the source of use {k + 1} is not a function of one affine combination"
        if any(k in dict(r.memory) for r in rules):
            return None, f"the nonlinear source of use {k + 1} enters a memory term"
        out[k] = form
    return out, ""
