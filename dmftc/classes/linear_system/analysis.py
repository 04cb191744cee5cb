"""Analysis of the random-matrix classes: ``linear_system`` (``matrix M ~ ensemble(...)`` and
the product ``M . e``) and ``matrix_sgd`` (``data online(dim = N)``: a weight matrix trained by
mini-batch SGD on fresh samples; its eigenvalues follow Dyson Brownian motion).

A linear system is ``dx/dt = -(M + z) x + noise`` (or a discrete update) with ``M`` an N x N
random matrix (shared/research/dmft-dln-rmt.md §b.2-b.3). The model file declares the matrix
and uses it in the flow as a matrix-vector product::

    matrix M ~ goe()                 # symmetric, M_ij ~ N(0, var/N): semicircle on [-2√var, 2√var]
    matrix M ~ ginibre()             # i.i.d. M_ij ~ N(0, var/N): circular law of radius √var
    matrix M ~ wishart(ratio = a)    # Ψᵀ Ψ / P, Ψ in R^{P x N} i.i.d. N(0, 1), P = a N (§b.3)
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

:class:`LinearStatements` is mixed into the analyser of :mod:`dmftc.analyse`; its handlers
build sympy node by node like every other statement.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from dmftc.language import nodes as n
from dmftc.errors import Location, ModelError, did_you_mean
from dmftc.language.expressions import expect_arguments, to_sympy
from dmftc.language.symbols import STEP

LINEAR_SYSTEM = "linear_system"
MATRIX_SGD = "matrix_sgd"

# ensemble -> keyword arguments (name -> required); spectrum() takes one positional law instead
ENSEMBLES = {"goe": {"var": False}, "ginibre": {"var": False}, "wishart": {"ratio": True}, "spectrum": {},
             "rf_drive": {"features": True, "samples": True},
             "rf_drive_hermitian": {"features": True, "samples": True}}
ENSEMBLE_DEFAULTS = {"goe": {"var": sp.Integer(1)}, "ginibre": {"var": sp.Integer(1)}}
EIGENVALUE_LAWS = ("normal", "uniform", "rademacher", "atoms")
# statements of data models that a linear system does not have
_DATA_STATEMENTS = {n.DataDecl: "data", n.LandscapeDecl: "landscape", n.PredictDecl: "predict",
                    n.LossDecl: "loss", n.LabelDecl: "label", n.TeacherDecl: "teacher",
                    n.BatchDecl: "batch", n.PenaltyDecl: "penalty", n.SignalDecl: "signal"}


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


def matrix_field_symbol(name: str) -> sp.Symbol:
    """The per-coordinate value of the product ``name . e``; not a name a model can write."""
    return sp.Symbol(f"({name}·θ)", real=True)


class LinearStatements:
    """Statement handlers of the linear_system class, mixed into :class:`dmftc.analyse._Analyser`."""

    def _MatrixDecl(self, s: n.MatrixDecl):
        call = s.law
        if call.func not in ENSEMBLES:
            raise ModelError(f"unknown matrix ensemble '{call.func}'", call.loc, kind="unknown-ensemble",
                             hint=did_you_mean(call.func, ENSEMBLES) or "ensembles: " + ", ".join(ENSEMBLES))
        eigenvalues = None
        if call.func == "spectrum":
            if call.keywords or len(call.args) != 1:
                raise ModelError("spectrum() takes one law of the eigenvalues, e.g. spectrum(uniform(0, 2)) "
                                 "or spectrum(atoms(0.5, 1, 2))", call.loc, kind="bad-arguments")
            eigenvalues = self._eigenvalue_law(call.args[0])
            args = {}
        else:
            args = ENSEMBLE_DEFAULTS.get(call.func, {}) | self._keyword_args(call, ENSEMBLES[call.func], "matrix")
        for key, value in args.items():
            if value.is_positive is False:
                kw = next(k for k in call.keywords if k.name == key)
                raise ModelError(f"'{key}' of {call.func}() must be positive", kw.value.loc, kind="bad-arguments")
        symbol = sp.Symbol(s.name, real=True)
        self._define(s.name, s.name_loc, "matrix", symbol)
        self.out["matrix"] = MatrixLaw(s.name, call.func, args, eigenvalues, n.format_expr(call), s.loc)

    def _eigenvalue_law(self, expr: n.Expr) -> EigenvalueLaw:
        """``shift + scale * P`` for one primitive ``P``; parameters only otherwise."""
        found: list[tuple[sp.Symbol, str, tuple]] = []

        def primitive(call: n.Call, convert) -> sp.Expr:
            symbol = sp.Symbol(f"λ{len(found) + 1}", real=True)
            if call.func == "normal":
                expect_arguments(call, 2, "2 arguments (mean, variance)")
                mean, var = (convert(a) for a in call.args)
                if var.is_negative:
                    raise ModelError("the variance of normal(mean, variance) is negative", call.args[1].loc,
                                     kind="bad-arguments")
                found.append((symbol, "normal", ()))
                return mean + sp.sqrt(var) * symbol
            if call.func == "uniform":
                expect_arguments(call, 2, "2 arguments (low, high)")
                low, high = (convert(a) for a in call.args)
                found.append((symbol, "uniform", ()))
                return low + (high - low) * symbol
            if call.func == "atoms":
                if call.keywords or not call.args:
                    raise ModelError("atoms() takes one or more values (equal weights)", call.loc,
                                     kind="bad-arguments")
                found.append((symbol, "atoms", tuple(convert(a) for a in call.args)))
                return symbol
            expect_arguments(call, 0, "no arguments")
            found.append((symbol, "rademacher", ()))
            return symbol

        value = to_sympy(expr, self._resolver("the eigenvalue law", ("param",)),
                         {law: primitive for law in EIGENVALUE_LAWS})
        if len(found) != 1:
            raise ModelError("the eigenvalue law must use exactly one of normal(), uniform(), rademacher(), "
                             "atoms()", expr.loc, kind="bad-spectrum",
                             hint="e.g. spectrum(uniform(0, 2)) or spectrum(1 + 0.5 * rademacher())")
        symbol, kind, atoms = found[0]
        scale = sp.diff(value, symbol)
        if scale.has(symbol):
            raise ModelError("the eigenvalue law must be an affine map of its random input "
                             "(shift + scale * law)", expr.loc, kind="bad-spectrum")
        return EigenvalueLaw(kind, sp.expand(value - scale * symbol), scale, atoms)

    # ---------------------------------------------------------------- the product M . e
    def _matrix_product(self, products: list, env: dict):
        """The handler of ``.`` inside update: and flow: (``products`` collects (query, loc))."""

        def product(e: n.Binary, convert) -> sp.Expr:
            law = self.out.get("matrix")
            if law is None:
                raise ModelError("'.' (the product with the data vector x) belongs only in "
                                 "'predict h = x . e'", e.op_loc, kind="misplaced-dot")
            placeholder = sp.Symbol(law.name, real=True)

            def resolve_left(node: n.Name) -> sp.Expr:
                binding = self.scope.get(node.id)
                if node.id == law.name:
                    return placeholder
                if binding is not None and binding.kind == "param":
                    return binding.value
                raise ModelError(f"the left of '.' is the matrix '{law.name}' with parameters "
                                 f"(e.g. ({law.name} + z) . x); '{node.id}' cannot be used there",
                                 node.loc, kind="bad-product")

            left = to_sympy(e.left, resolve_left)
            a, b = sp.diff(left, placeholder), left.subs(placeholder, 0)
            if a == 0 or a.has(placeholder):
                raise ModelError(f"the left of '.' must be affine in the matrix '{law.name}' "
                                 f"(a * {law.name} + b)", e.left.loc, kind="bad-product")
            right = convert(e.right)
            if products and sp.simplify(products[0][0] - right) != 0:
                raise ModelError(f"one product with '{law.name}' per step: every '{law.name} . e' of a step "
                                 "must have the same e", e.op_loc, kind="two-products",
                                 hint=f"the first product of the step is on line {products[0][1].line}; "
                                      "as there is one gradient evaluation per step")
            coordinates = [v.symbol for v in self.weights + self.states]
            if not all(sp.diff(right, z, 2) == 0 for z in coordinates) or any(
                    sp.diff(right, z).free_symbols & set(coordinates) for z in coordinates):
                raise ModelError(f"the right of '{law.name} . e' must be affine in the weight and states",
                                 e.right.loc, kind="bad-product")
            if right.free_symbols - set(coordinates) - {p.symbol for p in self.params}:
                raise ModelError(f"the right of '{law.name} . e' may use the weight, states and parameters "
                                 "only", e.right.loc, kind="bad-product")
            products.append((right, e.op_loc))
            return a * matrix_field_symbol(law.name) + b * right

        return product

    # ------------------------------------------------------------------- the classes
    def _online_disorder(self) -> str:
        """``data online(dim = N)``: the matrix family (dmft-dln-rmt.md §c.4). The weight is an
        N x N matrix W and ``predict h = x . W`` is h = W x; x ~ N(0, I_N) is drawn fresh for
        every sample of every step; the teacher W* is diagonal with entries of the teacher's law
        (``teacher Wstar ~ 1``: W* = I) and ``hstar = W* x``; the loss is summed over the N outputs
        and averaged over the batch (``batch size B``; one sample a step without it); the law of
        ``weights W ~ ...`` is per entry (``Wstar`` there is the entry of W*)."""
        for present, word, where in ((self.out.get("time") == "continuous", "flow:", self.seen.get("block")),
                                     (n.PenaltyDecl in self.seen, "penalty", self.seen.get(n.PenaltyDecl))):
            if present:
                raise ModelError(f"'{word}' is not available for online data (the matrix family: one "
                                 "mini-batch of fresh samples per step of update:)", where, kind="wrong-class")
        for key, word in (("predict_name", "predict"), ("loss", "loss")):
            if key not in self.out:
                raise ModelError(f"a 'data' model needs a '{word}' statement", kind=f"missing-{word}")
        batch = self.out.get("batch")
        if batch is not None and batch.kind != "size":
            raise ModelError("online data takes 'batch size B' (fresh samples every step)", self.seen[n.BatchDecl],
                             kind="bad-batch")
        if len(self.weights) != 1:
            raise ModelError("the matrix family has one weight matrix", self.weights[1].loc, kind="bad-weights")
        for o in self.observables:
            if any(a.kind != "mean" for a in o.aggregates):
                raise ModelError(f"observable '{o.name}': the matrix family observes mean() over the entries "
                                 "(the eigenvalues of WᵀW are recorded always)", o.loc, kind="bad-observable")
        return MATRIX_SGD

    def _linear_system_disorder(self) -> str:
        """The class when a 'matrix' is declared, after checking the model fits it."""
        for statement, word in _DATA_STATEMENTS.items():
            if statement in self.seen:
                raise ModelError(f"'{word}' does not belong to a linear system (a model with a 'matrix')",
                                 self.seen[statement], kind="wrong-class")
        return LINEAR_SYSTEM

    def _check_linear_system(self, block) -> "LinearSystem":
        law = self.out["matrix"]
        if len(self.weights) != 1:
            where = self.weights[1].loc if self.weights else block.loc
            raise ModelError("a linear system has exactly one weight vector", where, kind="bad-weights")
        weight = self.weights[0]
        if weight.sphere:
            raise ModelError("'on sphere' is for landscape models", weight.loc, kind="misplaced-sphere")
        if self.out.get("uses_grad"):
            raise ModelError(f"a linear system has no loss to differentiate: write its drive with the "
                             f"matrix, e.g. -({law.name} . {weight.name})", block.loc, kind="grad-in-linear-system")
        products = self.out.get("products") or []
        if not products:
            raise ModelError(f"the update never uses the matrix: write '{law.name} . {weight.name}'", block.loc,
                             kind="no-product")
        product = matrix_field_symbol(law.name)
        z = [v.symbol for v in self.weights + self.states]
        inputs = z + [product] + list(self.out["noises"])
        for v in self.weights + self.states:
            F = sp.expand(self.out["step_map"][v.symbol])
            nonlinear = any(sp.diff(F, a, b) != 0 for a in inputs for b in inputs)
            if nonlinear or F.has(STEP):
                raise ModelError(f"the rule of '{v.name}' is not linear with constant coefficients: a linear "
                                 "system is affine in its variables and the matrix product", block.loc,
                                 kind="not-linear")
        for o in self.observables:
            for a in o.aggregates:
                if a.kind == "mean" and not (a.expr.is_polynomial(*z) and sp.Poly(a.expr, *z).total_degree() <= 2):
                    raise ModelError(f"observable '{o.name}': mean() of a linear system must be a polynomial of "
                                     "degree at most 2 in the weight and states (the closure gives first and "
                                     "second moments)", o.loc, kind="bad-observable")
        return LinearSystem(law, product, products[0][0])
