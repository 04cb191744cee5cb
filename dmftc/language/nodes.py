"""The syntax tree of a model file: frozen dataclasses that keep their source position.

Positions (``loc``, ``name_loc``) are excluded from equality, so two trees compare equal when
they say the same thing; :func:`format_model` prints a tree back as canonical source, and parsing
that source gives an equal tree (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dmftc.errors import Location

NOWHERE = Location(0, 0)


def _loc():
    return field(default=NOWHERE, compare=False, repr=False, kw_only=True)


# ---------------------------------------------------------------------------------- expressions


@dataclass(frozen=True)
class Number:
    text: str
    loc: Location = _loc()


@dataclass(frozen=True)
class Name:
    id: str
    loc: Location = _loc()


@dataclass(frozen=True)
class Unary:
    op: str  # only "-"
    operand: Expr
    loc: Location = _loc()


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / . ^ < <= > >= == !=
    left: Expr
    right: Expr
    loc: Location = _loc()  # where the expression starts
    op_loc: Location = _loc()  # the operator


@dataclass(frozen=True)
class Keyword:
    name: str
    value: Expr
    loc: Location = _loc()


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...] = ()
    keywords: tuple[Keyword, ...] = ()
    loc: Location = _loc()


@dataclass(frozen=True)
class GradAt:
    """``func(target at point)``: ``grad(w at p)``, the gradient with the weight ``w`` replaced by
    ``p``, or ``test(e at v)``, the per-sample ``e`` of a fresh sample whose prediction is ``x . v``."""

    func: str  # the function name as written (``grad`` or ``test``; others are rejected in analysis)
    target: str
    point: Expr
    loc: Location = _loc()
    target_loc: Location = _loc()


Expr = Number | Name | Unary | Binary | Call | GradAt

COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


# ----------------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class ModelDecl:
    name: str
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class ParamDecl:
    name: str
    value: Expr
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class LetDecl:
    """``let r = h - y``: a name for an expression, expanded wherever it is used."""

    name: str
    value: Expr
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class DataDecl:
    call: Call
    loc: Location = _loc()


@dataclass(frozen=True)
class TeacherDecl:
    name: str
    law: Expr
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class LabelDecl:
    name: str
    value: Expr
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class WeightsDecl:
    name: str
    law: Expr
    sphere: bool = False
    space: str | None = None  # ``weights w[n] ~ ...`` in a matrix program
    loc: Location = _loc()
    name_loc: Location = _loc()
    space_loc: Location = _loc()


@dataclass(frozen=True)
class StateDecl:
    """``state v ~ law`` (``copy=False``) or ``state w_prev = w`` (``copy=True``)."""

    name: str
    init: Expr
    copy: bool = False
    space: str | None = None  # ``state v[n] ~ ...`` in a matrix program
    loc: Location = _loc()
    name_loc: Location = _loc()
    space_loc: Location = _loc()


@dataclass(frozen=True)
class PredictDecl:
    name: str
    value: Expr
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class LossDecl:
    value: Expr
    loc: Location = _loc()


@dataclass(frozen=True)
class PenaltyDecl:
    value: Expr
    loc: Location = _loc()


@dataclass(frozen=True)
class BatchDecl:
    kind: str  # fraction | epochs | persistent | size
    args: tuple[Expr, ...]
    loc: Location = _loc()


@dataclass(frozen=True)
class LandscapeDecl:
    call: Call
    loc: Location = _loc()


@dataclass(frozen=True)
class SignalDecl:
    name: str
    strength: Expr
    sphere: bool = False
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class MatrixDecl:
    """``matrix M ~ ensemble(...)``: the random matrix of a linear system."""

    name: str
    law: Call
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class SpaceDecl:
    """``space n = alpha * d``: an index space of a matrix program, its size a ratio of the size
    of the first space (``space d`` alone: the first space, or ratio 1)."""

    name: str
    size: Expr | None = None
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class ConstDecl:
    """``const beta[d] ~ law``: a per-site constant of a space of a matrix program."""

    name: str
    space: str
    law: Expr
    loc: Location = _loc()
    name_loc: Location = _loc()
    space_loc: Location = _loc()


@dataclass(frozen=True)
class ProgramMatrixDecl:
    """``matrix X[n, d] ~ gaussian(...)``: an independent Gaussian matrix of a matrix program,
    with rows in space ``rows`` and columns in space ``cols``."""

    name: str
    rows: str
    cols: str
    law: Call
    loc: Location = _loc()
    name_loc: Location = _loc()
    rows_loc: Location = _loc()
    cols_loc: Location = _loc()


@dataclass(frozen=True)
class ObserveDecl:
    name: str
    value: Expr
    loc: Location = _loc()
    name_loc: Location = _loc()


@dataclass(frozen=True)
class Assignment:
    target: str
    value: Expr
    loc: Location = _loc()


@dataclass(frozen=True)
class UpdateBlock:
    assignments: tuple[Assignment, ...]
    loc: Location = _loc()


@dataclass(frozen=True)
class FlowEquation:
    """``d<target>/dt = value``."""

    target: str
    value: Expr
    loc: Location = _loc()


@dataclass(frozen=True)
class FlowBlock:
    """Flow equations and temporaries (``name = expr``, evaluated at the current state), in order."""

    lines: tuple[FlowEquation | Assignment, ...]
    loc: Location = _loc()


Statement = (
    ModelDecl
    | ParamDecl
    | LetDecl
    | DataDecl
    | TeacherDecl
    | LabelDecl
    | WeightsDecl
    | StateDecl
    | PredictDecl
    | LossDecl
    | PenaltyDecl
    | BatchDecl
    | LandscapeDecl
    | SignalDecl
    | MatrixDecl
    | SpaceDecl
    | ConstDecl
    | ProgramMatrixDecl
    | ObserveDecl
    | UpdateBlock
    | FlowBlock
)


# The keyword that starts each statement, for messages ("duplicate 'loss' statement").
KEYWORD = {
    ModelDecl: "model",
    ParamDecl: "param",
    LetDecl: "let",
    DataDecl: "data",
    TeacherDecl: "teacher",
    LabelDecl: "label",
    WeightsDecl: "weights",
    StateDecl: "state",
    PredictDecl: "predict",
    LossDecl: "loss",
    PenaltyDecl: "penalty",
    BatchDecl: "batch",
    LandscapeDecl: "landscape",
    SignalDecl: "signal",
    MatrixDecl: "matrix",
    SpaceDecl: "space",
    ConstDecl: "const",
    ProgramMatrixDecl: "matrix",
    ObserveDecl: "observe",
    UpdateBlock: "update",
    FlowBlock: "flow",
}


@dataclass(frozen=True)
class Equation:
    """``name = value`` in a file of published equations (``dmftc verify --against``)."""

    name: str
    value: Expr
    loc: Location = _loc()


@dataclass(frozen=True)
class ModelFile:
    statements: tuple[Statement, ...]


def find_name(expr: Expr, name: str) -> Name | None:
    """The first use of ``name`` in ``expr``, or None."""
    match expr:
        case Name(id=found) if found == name:
            return expr
        case Unary():
            return find_name(expr.operand, name)
        case Binary():
            return find_name(expr.left, name) or find_name(expr.right, name)
        case Call():
            for a in expr.args + tuple(k.value for k in expr.keywords):
                hit = find_name(a, name)
                if hit is not None:
                    return hit
        case GradAt():
            return find_name(expr.point, name)
    return None


# ------------------------------------------------------------------------------ pretty printing

# Binding strength of each operator; atoms bind tightest.
_COMPARE, _SUM, _PRODUCT, _UNARY, _POWER, _ATOM = range(1, 7)
_BINARY_LEVEL = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, ".": _PRODUCT, "^": _POWER}
_BINARY_LEVEL.update({op: _COMPARE for op in COMPARISONS})


def _level(e: Expr) -> int:
    if isinstance(e, Binary):
        return _BINARY_LEVEL[e.op]
    if isinstance(e, Unary):
        return _UNARY
    return _ATOM


def format_expr(e: Expr) -> str:
    """Canonical source for an expression, with only the parentheses the grammar needs."""

    def wrap(sub: Expr, min_level: int) -> str:
        text = format_expr(sub)
        return text if _level(sub) >= min_level else f"({text})"

    if isinstance(e, Number):
        return e.text
    if isinstance(e, Name):
        return e.id
    if isinstance(e, Unary):
        return "-" + wrap(e.operand, _UNARY)
    if isinstance(e, Binary):
        level = _BINARY_LEVEL[e.op]
        if e.op == "^":  # right-associative: the base must be an atom, the exponent a unary
            return f"{wrap(e.left, _ATOM)}^{wrap(e.right, _UNARY)}"
        if level == _COMPARE:  # comparisons do not chain
            return f"{wrap(e.left, _SUM)} {e.op} {wrap(e.right, _SUM)}"
        return f"{wrap(e.left, level)} {e.op} {wrap(e.right, level + 1)}"
    if isinstance(e, Call) and e.func == "transpose" and len(e.args) == 1 and isinstance(e.args[0], Name):
        return f"{e.args[0].id}'"  # X' (the grammar's transpose)
    if isinstance(e, Call):
        parts = [format_expr(a) for a in e.args]
        parts += [f"{k.name} = {format_expr(k.value)}" for k in e.keywords]
        return f"{e.func}({', '.join(parts)})"
    if isinstance(e, GradAt):
        return f"{e.func}({e.target} at {format_expr(e.point)})"
    raise TypeError(f"not an expression node: {e!r}")


def format_statement(s: Statement) -> str:
    """Canonical source for one statement (blocks span several lines)."""
    f = format_expr
    sphere = " on sphere"
    match s:
        case ModelDecl():
            return f"model {s.name}"
        case ParamDecl():
            return f"param {s.name} = {f(s.value)}"
        case LetDecl():
            return f"let {s.name} = {f(s.value)}"
        case DataDecl():
            return f"data {f(s.call)}"
        case TeacherDecl():
            return f"teacher {s.name} ~ {f(s.law)}"
        case LabelDecl():
            return f"label {s.name} = {f(s.value)}"
        case WeightsDecl():
            return f"weights {s.name}{_in(s.space)} ~ {f(s.law)}" + (sphere if s.sphere else "")
        case StateDecl():
            return f"state {s.name}{_in(s.space)} {'=' if s.copy else '~'} {f(s.init)}"
        case PredictDecl():
            return f"predict {s.name} = {f(s.value)}"
        case LossDecl():
            return f"loss {f(s.value)}"
        case PenaltyDecl():
            return f"penalty {f(s.value)}"
        case BatchDecl(kind="persistent"):
            return f"batch persistent({', '.join(f(a) for a in s.args)})"
        case BatchDecl():
            return f"batch {s.kind} {f(s.args[0])}"
        case LandscapeDecl():
            return f"landscape {f(s.call)}"
        case SignalDecl():
            return f"signal {s.name}{sphere if s.sphere else ''}, strength = {f(s.strength)}"
        case MatrixDecl():
            return f"matrix {s.name} ~ {f(s.law)}"
        case SpaceDecl():
            return f"space {s.name}" + (f" = {f(s.size)}" if s.size is not None else "")
        case ConstDecl():
            return f"const {s.name}[{s.space}] ~ {f(s.law)}"
        case ProgramMatrixDecl():
            return f"matrix {s.name}[{s.rows}, {s.cols}] ~ {f(s.law)}"
        case ObserveDecl():
            return f"observe {s.name} = {f(s.value)}"
        case UpdateBlock():
            return "update:\n" + "\n".join(f"    {a.target} = {f(a.value)}" for a in s.assignments)
        case FlowBlock():
            return "flow:\n" + "\n".join(
                f"    {q.target} = {f(q.value)}" if isinstance(q, Assignment) else f"    d{q.target}/dt = {f(q.value)}"
                for q in s.lines
            )
    raise TypeError(f"not a statement node: {s!r}")


def _in(space: str | None) -> str:
    return f"[{space}]" if space else ""


def format_model(tree: ModelFile) -> str:
    """Canonical source of a whole model file."""
    return "".join(format_statement(s) + "\n" for s in tree.statements)
