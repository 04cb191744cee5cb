"""Analysis of matrix programs (docs/language.md §18): index spaces, per-site constants,
independent Gaussian matrices with a shape, and the products ``X . u`` / ``X' . v`` of the
update, recorded as *uses* in execution order (docs/math/matrix_program.md §1)::

    space d                          # the first space: size N
    space n = alpha * d              # size alpha N
    matrix X[n, d] ~ gaussian()      # X_ij ~ N(0, var / N_d): normalised by the column count
    matrix J[d, d] ~ gaussian(var = g^2, corr = eta)   # square: E J_ij J_ji = eta var / N_d
    const beta[d] ~ normal(0, 1)     # a per-site constant of space d
    weights w[d] ~ 0

    update:
        r = X . beta - X . w         # two uses of X (the first is frozen: computed once)
        w = w + lr * (X' . r)        # a use of X transposed, landing in d

A matrix assigned in the update is *trained*: ``W = W + c * outer(u, v)`` adds c u vᵀ / N_cols
(u per site of its rows, v of its columns, c a parameter expression) after the uses written
before the line; the uses after it see the new matrix (docs/math/matrix_program.md §2.1).

A use's source is a per-site expression of one space (its coordinates, constants, and fields of
earlier uses of the step landing there); its result is a field of the other space, a new symbol.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp

from dmftc.errors import Location, ModelError, require_known
from dmftc.language import nodes as n
from dmftc.language.expressions import expect_arguments, to_sympy
from dmftc.language.symbols import DT, STEP, is_noise

MATRIX_LAWS = {"gaussian": {"var": False, "corr": False, "fresh": False}, "symmetric": {"var": False, "fresh": False}}


@dataclass(frozen=True)
class Space:
    name: str
    ratio: sp.Expr  # size / size of the first space, in parameters
    loc: Location


@dataclass(frozen=True)
class Constant:
    """``const name[space] ~ law``: drawn once per site, the law in random primitives."""

    name: str
    symbol: sp.Symbol
    space: str
    law: sp.Expr
    text: str
    loc: Location


@dataclass(frozen=True)
class Matrix:
    """``A[rows, cols]``, entries N(0, var / N_cols); square: E A_ij A_ji = corr var / N_cols;
    ``fresh``: drawn anew at every step (one-pass data: its uses couple within a step only)."""

    name: str
    rows: str
    cols: str
    var: sp.Expr
    corr: sp.Expr
    text: str
    loc: Location
    fresh: bool = False

    @property
    def square(self) -> bool:
        return self.rows == self.cols


@dataclass(frozen=True)
class Use:
    """One matrix-vector product: ``field = A . source`` (or ``A' . source``)."""

    matrix: str
    transpose: bool
    source: sp.Expr  # per site of ``src``
    field: sp.Symbol  # per site of ``tgt``
    src: str
    tgt: str
    frozen: bool  # the source is constant in time: computed at the first step only, then kept
    loc: Location

    @property
    def text(self) -> str:
        return f"{self.matrix}{'ᵀ' if self.transpose else ''} · ({self.source})"


@dataclass(frozen=True)
class Training:
    """``W = W + c * outer(u, v)`` (a sum of such terms) in the update: W grows by c u vᵀ / N_cols,
    u per site of the rows and v of the columns, after the first ``position`` uses of the step
    (docs/math/matrix_program.md §2.1)."""

    matrix: str
    position: int | None  # uses of the step before the line: use ``position`` on sees the new W
    terms: tuple[tuple[sp.Expr, sp.Expr, sp.Expr], ...]  # (c, u, v): c in parameters, t (and dt)
    loc: Location


@dataclass(frozen=True)
class ProgramSpec:
    """The class's part of the model: spaces, constants, matrices and the uses of one step in
    execution order (a frozen use runs at the first step only), and the space of every per-site
    symbol."""

    spaces: tuple[Space, ...]
    constants: tuple[Constant, ...]
    matrices: tuple[Matrix, ...]
    uses: tuple[Use, ...]
    temporaries: dict  # name -> per-site expression (observable at the step's start values)
    space_of: dict  # per-site symbol -> space name (coordinates, constants, primitives, fields, noises)
    observable_space: dict  # aggregate symbol -> space name
    trainings: tuple[Training, ...] = ()

    def factors(self) -> list[tuple[str, sp.Expr]]:
        """(space, expression) of the factors of every training term, numbered in this order:
        the terms of each training in turn, u (in the rows) before v (in the columns)."""
        out = []
        for training in self.trainings:
            m = self.matrix(training.matrix)
            for _, u, v in training.terms:
                out += [(m.rows, u), (m.cols, v)]
        return out

    def space(self, name: str) -> Space:
        return next(s for s in self.spaces if s.name == name)

    def matrix(self, name: str) -> Matrix:
        return next(m for m in self.matrices if m.name == name)


def field_symbol(matrix: str, transpose: bool, k: int) -> sp.Symbol:
    """The result of the k-th use of a step; not a name a model can write."""
    return sp.Symbol(f"[{matrix}{'ᵀ' if transpose else ''}·{k}]", real=True)


# ------------------------------------------------------------------------------ statements


def space_statement(a, s: n.SpaceDecl):
    spaces = a.out.setdefault("spaces", [])
    symbol = sp.Symbol(f"N_{s.name}", positive=True)
    if s.size is None:
        ratio = sp.Integer(1)
    else:
        value = to_sympy(
            s.size, a.resolver("the size of a space (a parameter times an earlier space)", ("param", "space"))
        )
        sizes = [sp_ for sp_ in spaces if value.has(sp_["symbol"])]
        ratio = None
        if len(sizes) == 1:
            other = sizes[0]
            factor = sp.simplify(value / other["symbol"])
            if not factor.has(other["symbol"]) and factor.is_positive is not False:
                ratio = factor * other["space"].ratio
        if ratio is None:
            raise ModelError(
                f"the size of space '{s.name}' must be a positive parameter expression times one earlier space",
                s.size.loc,
                kind="bad-space",
                hint=f"e.g. space {s.name} = alpha * {spaces[0]['space'].name}"
                if spaces
                else "declare the first space without a size: 'space d'",
            )
    space = Space(s.name, ratio, s.name_loc)
    a.define(s.name, s.name_loc, "space", symbol)
    spaces.append({"space": space, "symbol": symbol})


def const_statement(a, s: n.ConstDecl):
    _known_space(a, s.space, s.space_loc)
    law = a.law(s.law, s.name, ("const",))
    symbol = a.symbol(s.name)
    a.define(s.name, s.name_loc, "const", symbol)
    a.out.setdefault("constants", []).append(Constant(s.name, symbol, s.space, law, n.format_expr(s.law), s.name_loc))


def matrix_statement(a, s: n.ProgramMatrixDecl):
    rows, cols = _known_space(a, s.rows, s.rows_loc), _known_space(a, s.cols, s.cols_loc)
    call = s.law
    require_known(call, MATRIX_LAWS, "matrix law", "laws", "unknown-ensemble")
    args = a.keyword_args(call, MATRIX_LAWS[call.func], "matrix")
    var = args.get("var", sp.Integer(1))
    corr = args.get("corr", sp.Integer(1) if call.func == "symmetric" else sp.Integer(0))
    square = rows.name == cols.name
    if not square and (call.func == "symmetric" or "corr" in args):
        raise ModelError(
            f"'{s.name}[{rows.name}, {cols.name}]' is rectangular: only a square matrix has a symmetry (corr)",
            call.loc,
            kind="bad-arguments",
        )
    if var.is_positive is False:
        raise ModelError(f"'var' of {call.func}() must be positive", call.loc, kind="bad-arguments")
    if corr.is_number and abs(corr) > 1:
        raise ModelError("'corr' is a correlation: between -1 and 1", call.loc, kind="bad-arguments")
    fresh = args.get("fresh", sp.Integer(0))
    if fresh not in (0, 1):
        raise ModelError("'fresh' is 1 (a new draw at every step) or 0", call.loc, kind="bad-arguments")
    a.define(s.name, s.name_loc, "matrix", sp.Symbol(s.name, real=True))
    a.out.setdefault("matrices", []).append(
        Matrix(s.name, rows.name, cols.name, var, corr, n.format_expr(call), s.loc, bool(fresh))
    )
    a.update_specials["."] = lambda env: _product(a)
    a.update_specials["outer"] = lambda env: _outer(a)
    a.assignment_handlers["matrix"] = lambda line, env, convert, rate=False: _train(a, line, env, convert, rate)


def _known_space(a, name: str, loc: Location) -> Space:
    for entry in a.out.get("spaces", []):
        if entry["space"].name == name:
            return entry["space"]
    binding = a.scope.get(name)
    if binding is not None:
        raise ModelError(f"'{name}' is not an index space", loc, kind="wrong-kind", hint="declare it: 'space NAME'")
    raise a.unknown(n.Name(name, loc=loc), ("space",))


# --------------------------------------------------------------------- the product A . x


def _product(a):
    """The handler of ``.`` in update: and flow: blocks: records a use, returns its field."""
    uses = a.out.setdefault("uses", [])

    def product(e: n.Binary, convert) -> sp.Expr:
        matrix, transpose = _matrix_operand(a, e.left)
        source = convert(e.right)
        src, tgt = (matrix.rows, matrix.cols) if transpose else (matrix.cols, matrix.rows)
        found = _spaces(a, source)
        if found - {src}:
            other = next(iter(found - {src}))
            written = f"{matrix.name}'" if transpose else matrix.name
            operand = n.format_expr(e.right)
            raise ModelError(
                f"'{written} . {operand}' needs {operand} in space '{src}', but it lives in '{other}'",
                e.right.loc,
                kind="space-mismatch",
                hint=f"{matrix.name} is [{matrix.rows}, {matrix.cols}]: {matrix.name} . u takes u in "
                f"'{matrix.cols}', {matrix.name}' . v takes v in '{matrix.rows}'",
            )
        for use in uses:  # the same product twice in a step is one use
            if use.matrix == matrix.name and use.transpose == transpose and use.source == source:
                return use.field
        # a use whose source never changes runs once, unless its matrix is drawn anew every step
        frozen = not matrix.fresh and not any(s in _moving(a) or is_noise(s) for s in source.free_symbols)
        use = Use(
            matrix.name,
            transpose,
            source,
            field_symbol(matrix.name, transpose, len(uses) + 1),
            src,
            tgt,
            frozen,
            e.op_loc,
        )
        uses.append(use)
        return use.field

    return product


# --------------------------------------------------------------- a trained matrix W = W + ...


def _outer(a):
    """The handler of ``outer(u, v)``: a placeholder symbol, inside a matrix's update only."""

    def outer(call: n.Call, convert) -> sp.Expr:
        collected = a.out.get("outer_factors")
        if collected is None:
            raise ModelError(
                "outer(u, v) is the change of a trained matrix: write it in 'W = W + c * outer(u, v)'",
                call.loc,
                kind="misplaced-outer",
            )
        expect_arguments(call, 2, "two per-site expressions, outer(u, v)")
        symbol = sp.Symbol(f"[outer·{len(collected) + 1}]", real=True)
        collected.append((symbol, convert(call.args[0]), convert(call.args[1]), call))
        return symbol

    return outer


def _train(a, line, env: dict, convert, rate: bool = False) -> None:
    """``W = W + c * outer(u, v) + ...`` in an update: record a Training at the current position
    of the step; ``dW/dt = c * outer(u, v) + ...`` in a flow (``rate``): an Euler step of dt c u vᵀ
    after the step's uses."""
    matrix = next(m for m in a.out["matrices"] if m.name == line.target)
    written = f"d{matrix.name}/dt = c * outer(u, v)" if rate else f"{matrix.name} = {matrix.name} + c * outer(u, v)"
    form = f"{written} (c a parameter expression, u in '{matrix.rows}', v in '{matrix.cols}')"
    if matrix.fresh:
        raise ModelError(
            f"'{matrix.name}' is drawn anew every step (fresh = 1): it cannot be trained", line.loc, kind="bad-training"
        )
    itself = sp.Symbol(f"[{matrix.name}]", real=True)
    a.out["outer_factors"] = []
    try:
        change = sp.expand(convert(line.value, env | {matrix.name: itself}) - (0 if rate else itself))
        factors = a.out["outer_factors"]
    finally:
        del a.out["outer_factors"]
    allowed = {b.value for b in a.scope.values() if b.kind == "param"} | {STEP}
    terms = []
    for symbol, u, v, call in factors:
        c = sp.diff(change, symbol)
        if not c.free_symbols <= allowed:
            raise ModelError(
                f"the factor of {n.format_expr(call)} must be a parameter expression (it may use t)",
                line.value.loc,
                kind="bad-training",
                hint=f"a matrix update is {form}",
            )
        for expr, space, arg in ((u, matrix.rows, call.args[0]), (v, matrix.cols, call.args[1])):
            other = _spaces(a, expr) - {space}
            if other:
                raise ModelError(
                    f"'{n.format_expr(arg)}' lives in space '{other.pop()}', but {matrix.name}[{matrix.rows}, "
                    f"{matrix.cols}] needs outer(u, v) with u in '{matrix.rows}' and v in '{matrix.cols}'",
                    arg.loc,
                    kind="space-mismatch",
                )
        terms.append((c, u, v))
    rest = sp.expand(change - sum((c * symbol for (c, _, _), (symbol, *_) in zip(terms, factors)), sp.Integer(0)))
    if not terms or rest != 0:
        raise ModelError(f"a matrix update is {form}, or a sum of such terms", line.value.loc, kind="bad-training")
    if rate:  # an Euler step, after every use of the step: its position is set by program_spec
        terms, position = [(DT * c, u, v) for c, u, v in terms], None
    else:
        position = len(a.out.get("uses", []))
    a.out.setdefault("trainings", []).append(Training(matrix.name, position, tuple(terms), line.loc))


def _refrozen(a, uses: list[Use], trained: set[str]) -> list[Use]:
    """The uses with ``frozen`` decided again now that the trained matrices are known: a use of a
    trained matrix changes every step, and so does a later source that reads its field."""
    moving = {v.symbol for v in a.weights + a.states} | {STEP}
    out = []
    for use in uses:
        frozen = use.frozen and use.matrix not in trained and not use.source.free_symbols & moving
        if not frozen:
            moving.add(use.field)
        out.append(dataclasses.replace(use, frozen=frozen))
    return out


def _matrix_operand(a, left: n.Expr):
    """(matrix, transposed) of the left of '.': ``X`` or ``X'``."""
    transpose = isinstance(left, n.Call) and left.func == "transpose" and len(left.args) == 1
    node = left.args[0] if transpose else left
    matrices = {m.name: m for m in a.out.get("matrices", [])}
    if isinstance(node, n.Name) and node.id in matrices:
        return matrices[node.id], transpose
    if isinstance(node, n.Name) and node.id not in a.scope:
        raise a.unknown(node, ("matrix",))
    raise ModelError(
        "the left of '.' is a matrix (X . u) or a transposed matrix (X' . v)",
        left.loc,
        kind="bad-product",
        hint="scale the product instead: c * (X . u); matrices: " + ", ".join(matrices),
    )


def _moving(a) -> set:
    """Symbols that change from step to step: coordinates, fields of non-frozen uses, t, noise."""
    moving = {v.symbol for v in a.weights + a.states} | {STEP}
    return moving | {u.field for u in a.out.get("uses", []) if not u.frozen}


def _spaces(a, expr: sp.Expr) -> set[str]:
    """The spaces of the per-site symbols of ``expr`` (noises excluded: they take the space of
    the expression they are in)."""
    where = _space_map(a)
    return {where[s] for s in expr.free_symbols if s in where}


def _space_map(a) -> dict:
    where = {v.symbol: v.space for v in a.weights + a.states if v.space}
    for c in a.out.get("constants", []):
        where[c.symbol] = c.space
    owners = dict(where)
    owner_space = {sym.name: space for sym, space in owners.items()}
    for p in a.primitives:
        owner = p.symbol.name.split("[", 1)[1].rstrip("]")
        if owner in owner_space:
            where[p.symbol] = owner_space[owner]
    for u in a.out.get("uses", []):
        where[u.field] = u.tgt
    return where


# ---------------------------------------------------------------------------------- finish


def program_spec(a, block) -> ProgramSpec:
    if a.out.get("uses_grad"):
        raise ModelError(
            "a matrix program has no loss to differentiate: write the gradient with its products, "
            "e.g. w = w + lr * (X' . (y - X . w))",
            block.loc,
            kind="grad-in-matrix-program",
        )
    spaces = tuple(entry["space"] for entry in a.out.get("spaces", []))
    for v in a.weights + a.states:
        if v.space is None:
            raise ModelError(
                f"'{v.name}' needs an index space in a matrix program",
                v.loc,
                kind="missing-space",
                hint=f"e.g. '{v.role if v.role == 'state' else 'weights'} {v.name}[{spaces[0].name}] ~ ...'",
            )
    uses = list(a.out.get("uses", []))
    if not uses:
        raise ModelError("the update never uses a matrix: write e.g. 'X . w'", block.loc, kind="no-product")
    trainings = tuple(  # a flow's trainings act after the step's last use
        t if t.position is not None else dataclasses.replace(t, position=len(uses)) for t in a.out.get("trainings", ())
    )
    uses = _refrozen(a, uses, {t.matrix for t in trainings})
    where = _space_map(a)
    noises = {z: None for z in a.out["noises"]}

    def space_of(expr: sp.Expr, default: str, what: str, loc: Location) -> str:
        found = {where[s] for s in expr.free_symbols if s in where}
        if len(found) > 1:
            names = sorted(str(s) for s in expr.free_symbols if s in where)
            raise ModelError(
                f"{what} mixes spaces {', '.join(sorted(found))} ({', '.join(names)}): "
                "a per-site rule lives in one space",
                loc,
                kind="space-mismatch",
                hint="move values between spaces with a matrix product",
            )
        space = found.pop() if found else default
        for z in expr.free_symbols & set(noises):
            if noises[z] not in (None, space):
                raise ModelError("one gauss() is used in two spaces", loc, kind="space-mismatch")
            noises[z] = space
        return space

    for use in uses:
        space_of(use.source, use.src, f"the source of {use.text}", use.loc)
    for t in trainings:
        m = next(x for x in a.out["matrices"] if x.name == t.matrix)
        for _, u, v in t.terms:
            space_of(u, m.rows, f"the factor {u} of the update of '{t.matrix}'", t.loc)
            space_of(v, m.cols, f"the factor {v} of the update of '{t.matrix}'", t.loc)
    assignments = _assignment_locations(block)
    for v in a.weights + a.states:
        rule = a.out["step_map"][v.symbol]
        space = space_of(rule, v.space, f"the update of '{v.name}'", assignments.get(v.name, block.loc))
        if space != v.space:
            raise ModelError(
                f"'{v.name}' lives in space '{v.space}' but its update is a value of space '{space}'",
                assignments.get(v.name, block.loc),
                kind="space-mismatch",
            )
    temporaries = a.out.get("temporaries", {})
    for name, value in temporaries.items():
        space_of(value, spaces[0].name, f"'{name}'", assignments.get(name, block.loc))
    for z, space in noises.items():
        where[z] = space or spaces[0].name
    observable_space = {}
    for o in a.observables:
        for g in o.aggregates:
            observable_space[g.symbol] = space_of(g.expr, spaces[0].name, f"observable '{o.name}'", o.loc)
    used = (
        set(where.values()) | {m.rows for m in a.out.get("matrices", [])} | {m.cols for m in a.out.get("matrices", [])}
    )
    for s in spaces:
        if s.name not in used:
            raise ModelError(f"space '{s.name}' is never used", s.loc, kind="unused-space")
    for m in a.out.get("matrices", []):
        if not any(u.matrix == m.name for u in uses):
            raise ModelError(f"matrix '{m.name}' is never used", m.loc, kind="unused-matrix")
    return ProgramSpec(
        spaces,
        tuple(a.out.get("constants", [])),
        tuple(a.out.get("matrices", [])),
        tuple(uses),
        dict(temporaries),
        where,
        observable_space,
        trainings,
    )


def _assignment_locations(block) -> dict[str, Location]:
    """Name -> the last assignment (or flow equation) that sets it."""
    items = block.assignments if isinstance(block, n.UpdateBlock) else block.lines
    return {item.target: item.loc for item in items}


HANDLERS = {n.SpaceDecl: space_statement, n.ConstDecl: const_statement, n.ProgramMatrixDecl: matrix_statement}
