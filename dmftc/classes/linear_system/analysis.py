"""Analysis of the linear_system class: ``matrix M ~ ensemble(...)`` and the product ``M . e``
(docs/language.md §13), and the class's specification :class:`LinearSystem`.

A linear system is ``dx/dt = -(M + z) x + noise`` (or a discrete update) with ``M`` an N x N
random matrix (docs/math/linear_system.md). The model file declares the matrix and uses it in the
flow as a matrix-vector product::

    matrix M ~ goe()                 # symmetric, M_ij ~ N(0, var/N): semicircle on [-2√var, 2√var]
    matrix M ~ ginibre()             # i.i.d. M_ij ~ N(0, var/N): circular law of radius √var
    matrix M ~ wishart(ratio = a)    # Ψᵀ Ψ / P, Ψ in R^{P x N} i.i.d. N(0, 1), P = a N
    matrix M ~ spectrum(uniform(0, 2))   # O diag(λ) Oᵀ, O Haar, λ of the given law
    matrix M ~ rf_drive(features = p, samples = a)   # F = FᵀF/P times S = XᵀX/n, P = p N, n = a N
    matrix M ~ rf_drive_hermitian(features = p, samples = a)   # F^(1/2) S F^(1/2): same spectrum
    ...
    flow:
        dx/dt = -(M + z) . x + sqrt(2 * temp) * gauss()

The left of ``.`` is affine in the matrix (``(M + z) . x = M . x + z x``); the right is an
affine function of the weight and states, the same in every product of a step (one
matrix-vector product per step, as there is one gradient per step). The eigenvalue law of
``spectrum(...)`` is an affine map of one of ``normal(m, v)``, ``uniform(lo, hi)``,
``rademacher()`` or ``atoms(v1, ..., vk)`` (equal weights 1/k; repeat a value for more weight).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.errors import Location, ModelError, require_known
from dmftc.language import nodes as n
from dmftc.language.expressions import expect_arguments, to_sympy
from dmftc.language.symbols import STEP

# ensemble -> keyword arguments (name -> required); spectrum() takes one positional law instead
ENSEMBLES = {
    "goe": {"var": False},
    "ginibre": {"var": False},
    "wishart": {"ratio": True},
    "spectrum": {},
    "rf_drive": {"features": True, "samples": True},
    "rf_drive_hermitian": {"features": True, "samples": True},
}
ENSEMBLE_DEFAULTS = {"goe": {"var": sp.Integer(1)}, "ginibre": {"var": sp.Integer(1)}}
EIGENVALUE_LAWS = ("normal", "uniform", "rademacher", "atoms")


@dataclass(frozen=True)
class EigenvalueLaw:
    """The law of the eigenvalues of ``spectrum(...)``: ``shift + scale * P`` with ``P`` a
    standard ``normal`` N(0,1), ``uniform`` U(0,1), ``rademacher`` (±1) or ``atoms`` (equal
    weights on ``atoms``)."""

    kind: str
    shift: sp.Expr
    scale: sp.Expr
    atoms: tuple[sp.Expr, ...] = ()


@dataclass(frozen=True)
class MatrixLaw:
    name: str
    ensemble: str  # goe | ginibre | wishart | spectrum
    args: dict  # keyword -> sympy in parameters (var, ratio)
    eigenvalues: EigenvalueLaw | None
    text: str
    loc: Location

    @property
    def normal(self) -> bool:
        """M commutes with Mᵀ (with probability one): its spectrum fixes the dynamics."""
        return self.ensemble not in ("ginibre", "rf_drive")


@dataclass(frozen=True)
class LinearSystem:
    """What the analysis knows about the random matrix of a linear system."""

    matrix: MatrixLaw
    product: sp.Symbol  # stands for (M e)_i in the step map
    query: sp.Expr  # e of the product, in the coordinates at the start of the step


LAMBDA = sp.Symbol("λ", real=True)  # an eigenvalue of M, in the derivation and its printing


def matrix_field_symbol(name: str) -> sp.Symbol:
    """The per-coordinate value of the product ``name . e``; not a name a model can write."""
    return sp.Symbol(f"({name}·θ)", real=True)


def matrix_statement(a, s: n.MatrixDecl):
    call = s.law
    require_known(call, ENSEMBLES, "matrix ensemble", "ensembles", "unknown-ensemble")
    eigenvalues = None
    if call.func == "spectrum":
        if call.keywords or len(call.args) != 1:
            raise ModelError(
                "spectrum() takes one law of the eigenvalues, e.g. spectrum(uniform(0, 2)) "
                "or spectrum(atoms(0.5, 1, 2))",
                call.loc,
                kind="bad-arguments",
            )
        eigenvalues = _eigenvalue_law(a, call.args[0])
        args = {}
    else:
        args = ENSEMBLE_DEFAULTS.get(call.func, {}) | a.keyword_args(call, ENSEMBLES[call.func], "matrix")
    for key, value in args.items():
        if value.is_positive is False:
            kw = next(k for k in call.keywords if k.name == key)
            raise ModelError(f"'{key}' of {call.func}() must be positive", kw.value.loc, kind="bad-arguments")
    symbol = sp.Symbol(s.name, real=True)
    a.define(s.name, s.name_loc, "matrix", symbol)
    a.out["matrix"] = MatrixLaw(s.name, call.func, args, eigenvalues, n.format_expr(call), s.loc)
    a.update_specials["."] = lambda env: _matrix_product(a, env)


def _eigenvalue_law(a, expr: n.Expr) -> EigenvalueLaw:
    """``shift + scale * P`` for one primitive ``P``; parameters only otherwise."""
    found: list[tuple[sp.Symbol, str, tuple]] = []

    def primitive(call: n.Call, convert) -> sp.Expr:
        symbol = sp.Symbol(f"λ{len(found) + 1}", real=True)
        if call.func == "normal":
            expect_arguments(call, 2, "2 arguments (mean, variance)")
            mean, var = (convert(arg) for arg in call.args)
            if var.is_negative:
                raise ModelError(
                    "the variance of normal(mean, variance) is negative", call.args[1].loc, kind="bad-arguments"
                )
            found.append((symbol, "normal", ()))
            return mean + sp.sqrt(var) * symbol
        if call.func == "uniform":
            expect_arguments(call, 2, "2 arguments (low, high)")
            low, high = (convert(arg) for arg in call.args)
            found.append((symbol, "uniform", ()))
            return low + (high - low) * symbol
        if call.func == "atoms":
            if call.keywords or not call.args:
                raise ModelError("atoms() takes one or more values (equal weights)", call.loc, kind="bad-arguments")
            found.append((symbol, "atoms", tuple(convert(arg) for arg in call.args)))
            return symbol
        expect_arguments(call, 0, "no arguments")
        found.append((symbol, "rademacher", ()))
        return symbol

    value = to_sympy(expr, a.resolver("the eigenvalue law", ("param",)), {law: primitive for law in EIGENVALUE_LAWS})
    if len(found) != 1:
        raise ModelError(
            "the eigenvalue law must use exactly one of normal(), uniform(), rademacher(), atoms()",
            expr.loc,
            kind="bad-spectrum",
            hint="e.g. spectrum(uniform(0, 2)) or spectrum(1 + 0.5 * rademacher())",
        )
    symbol, kind, atoms = found[0]
    scale = sp.diff(value, symbol)
    if scale.has(symbol):
        raise ModelError(
            "the eigenvalue law must be an affine map of its random input (shift + scale * law)",
            expr.loc,
            kind="bad-spectrum",
        )
    return EigenvalueLaw(kind, sp.expand(value - scale * symbol), scale, atoms)


# ---------------------------------------------------------------- the product M . e


def _matrix_product(a, env: dict):
    """The handler of ``.`` inside update: and flow: (``a.out["products"]`` collects (query, loc))."""
    products = a.out.setdefault("products", [])

    def product(e: n.Binary, convert) -> sp.Expr:
        law = a.out["matrix"]
        placeholder = sp.Symbol(law.name, real=True)

        def resolve_left(node: n.Name) -> sp.Expr:
            binding = a.scope.get(node.id)
            if node.id == law.name:
                return placeholder
            if binding is not None and binding.kind == "definition":
                return a.use(binding)
            if binding is not None and binding.kind == "param":
                return binding.value
            raise ModelError(
                f"the left of '.' is the matrix '{law.name}' with parameters "
                f"(e.g. ({law.name} + z) . x); '{node.id}' cannot be used there",
                node.loc,
                kind="bad-product",
            )

        left = to_sympy(e.left, resolve_left)
        scale, shift = sp.diff(left, placeholder), left.subs(placeholder, 0)
        if scale == 0 or scale.has(placeholder):
            raise ModelError(
                f"the left of '.' must be affine in the matrix '{law.name}' (a * {law.name} + b)",
                e.left.loc,
                kind="bad-product",
            )
        right = convert(e.right)
        if products and sp.simplify(products[0][0] - right) != 0:
            raise ModelError(
                f"one product with '{law.name}' per step: every '{law.name} . e' of a step must have the same e",
                e.op_loc,
                kind="two-products",
                hint=f"the first product of the step is on line {products[0][1].line}; "
                "as there is one gradient evaluation per step",
            )
        coordinates = [v.symbol for v in a.weights + a.states]
        if not all(sp.diff(right, z, 2) == 0 for z in coordinates) or any(
            sp.diff(right, z).free_symbols & set(coordinates) for z in coordinates
        ):
            raise ModelError(
                f"the right of '{law.name} . e' must be affine in the weight and states",
                e.right.loc,
                kind="bad-product",
            )
        if right.free_symbols - set(coordinates) - {p.symbol for p in a.params}:
            raise ModelError(
                f"the right of '{law.name} . e' may use the weight, states and parameters only",
                e.right.loc,
                kind="bad-product",
            )
        products.append((right, e.op_loc))
        return scale * matrix_field_symbol(law.name) + shift * right

    return product


def linear_spec(a, block) -> LinearSystem:
    law = a.out["matrix"]
    if len(a.weights) != 1:
        where = a.weights[1].loc if a.weights else block.loc
        raise ModelError("a linear system has exactly one weight vector", where, kind="bad-weights")
    weight = a.weights[0]
    if a.out.get("uses_grad"):
        raise ModelError(
            f"a linear system has no loss to differentiate: write its drive with the "
            f"matrix, e.g. -({law.name} . {weight.name})",
            block.loc,
            kind="grad-in-linear-system",
        )
    products = a.out.get("products") or []
    if not products:
        raise ModelError(
            f"the update never uses the matrix: write '{law.name} . {weight.name}'", block.loc, kind="no-product"
        )
    product = matrix_field_symbol(law.name)
    z = [v.symbol for v in a.weights + a.states]
    inputs = z + [product] + list(a.out["noises"])
    for v in a.weights + a.states:
        F = sp.expand(a.out["step_map"][v.symbol])
        nonlinear = any(sp.diff(F, x, y) != 0 for x in inputs for y in inputs)
        if nonlinear or F.has(STEP):
            raise ModelError(
                f"the rule of '{v.name}' is not linear with constant coefficients: a linear "
                "system is affine in its variables and the matrix product",
                block.loc,
                kind="not-linear",
            )
    for o in a.observables:
        for g in o.aggregates:
            if g.kind == "mean" and not (g.expr.is_polynomial(*z) and sp.Poly(g.expr, *z).total_degree() <= 2):
                raise ModelError(
                    f"observable '{o.name}': mean() of a linear system must be a polynomial of "
                    "degree at most 2 in the weight and states (the closure gives first and "
                    "second moments)",
                    o.loc,
                    kind="bad-observable",
                )
    return LinearSystem(law, product, products[0][0])


HANDLERS = {n.MatrixDecl: matrix_statement}
