"""Printing a syntax tree and parsing it back gives the same tree (positions aside).

Random expressions use every operator, calls with positional and keyword arguments and
grad(w at point); random statements cover every statement kind. The precedence and
associativity corners are also spelled out, with the source format_expr must print for them.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmftc.language import nodes as n
from dmftc.language.nodes import format_expr, format_model
from dmftc.language.syntax import _KEYWORDS, parse

OPERATORS = ["+", "-", "*", "/", ".", "^", *n.COMPARISONS]

# Names include the keywords: they are reserved only where the grammar expects a keyword.
names = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}", fullmatch=True), st.sampled_from(_KEYWORDS))
numbers = st.from_regex(r"([0-9]{1,4}(\.[0-9]{0,3})?|\.[0-9]{1,3})([eE][+-]?[0-9]{1,2})?", fullmatch=True)


def _calls(expr):
    keywords = st.lists(st.builds(n.Keyword, names, expr), max_size=2).map(tuple)
    return st.builds(n.Call, names, st.lists(expr, max_size=3).map(tuple), keywords)


def _extend(expr):
    return st.one_of(
        st.builds(n.Unary, st.just("-"), expr),
        st.builds(n.Binary, st.sampled_from(OPERATORS), expr, expr),
        _calls(expr),
        st.builds(n.GradAt, names, names, expr),
    )


expressions = st.recursive(st.one_of(st.builds(n.Number, numbers), st.builds(n.Name, names)), _extend, max_leaves=12)
calls = _calls(expressions)

statements = st.one_of(
    st.builds(n.ModelDecl, names),
    st.builds(n.ParamDecl, names, expressions),
    st.builds(n.LetDecl, names, expressions),
    st.builds(n.DataDecl, calls),
    st.builds(n.TeacherDecl, names, expressions),
    st.builds(n.LabelDecl, names, expressions),
    st.builds(n.WeightsDecl, names, expressions, st.booleans()),
    st.builds(n.StateDecl, names, expressions, st.booleans()),
    st.builds(n.PredictDecl, names, expressions),
    st.builds(n.LossDecl, expressions),
    st.builds(n.PenaltyDecl, expressions),
    st.builds(n.BatchDecl, st.sampled_from(["fraction", "epochs"]), st.tuples(expressions)),
    st.builds(n.BatchDecl, st.just("persistent"), st.tuples(expressions, expressions)),
    st.builds(n.LandscapeDecl, calls),
    st.builds(n.SignalDecl, names, expressions, st.booleans()),
    st.builds(n.ObserveDecl, names, expressions),
    st.builds(n.UpdateBlock, st.lists(st.builds(n.Assignment, names, expressions), min_size=1, max_size=3).map(tuple)),
    st.builds(
        n.FlowBlock,
        st.lists(
            st.one_of(st.builds(n.FlowEquation, names, expressions), st.builds(n.Assignment, names, expressions)),
            min_size=1,
            max_size=3,
        ).map(tuple),
    ),
)
models = st.lists(statements, max_size=6).map(lambda s: n.ModelFile(tuple(s)))


def parse_expr(text: str) -> n.Expr:
    (statement,) = parse(f"penalty {text}\n").statements
    return statement.value


@settings(max_examples=300, deadline=None, database=None, derandomize=True)  # reproducible in CI
@given(expressions)
def test_expression_round_trip(e):
    assert parse_expr(format_expr(e)) == e


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(models)
def test_model_round_trip(tree):
    assert parse(format_model(tree)) == tree


a, b, c, x = (n.Name(s) for s in "abcx")
two, one = n.Number("2"), n.Number("1")

CORNERS = [
    ("-x^2", n.Unary("-", n.Binary("^", x, two))),
    ("(-x)^2", n.Binary("^", n.Unary("-", x), two)),
    ("a - (b - c)", n.Binary("-", a, n.Binary("-", b, c))),
    ("a - b - c", n.Binary("-", n.Binary("-", a, b), c)),
    ("a / (b * c)", n.Binary("/", a, n.Binary("*", b, c))),
    ("a / b * c", n.Binary("*", n.Binary("/", a, b), c)),
    ("(a^b)^c", n.Binary("^", n.Binary("^", a, b), c)),
    ("a^b^c", n.Binary("^", a, n.Binary("^", b, c))),
    ("2^-1", n.Binary("^", two, n.Unary("-", one))),
    ("--x", n.Unary("-", n.Unary("-", x))),
    ("-(a * b)", n.Unary("-", n.Binary("*", a, b))),
    ("-a * b", n.Binary("*", n.Unary("-", a), b)),
    ("a * -b", n.Binary("*", a, n.Unary("-", b))),
    ("a < b + c", n.Binary("<", a, n.Binary("+", b, c))),
    ("(a < b) < c", n.Binary("<", n.Binary("<", a, b), c)),
    ("a == (b != c)", n.Binary("==", a, n.Binary("!=", b, c))),
    ("(a <= b) * (b >= c)", n.Binary("*", n.Binary("<=", a, b), n.Binary(">=", b, c))),
    ("-(a > b)", n.Unary("-", n.Binary(">", a, b))),
    ("a^(b < c)", n.Binary("^", a, n.Binary("<", b, c))),
    ("x . (a * b)", n.Binary(".", x, n.Binary("*", a, b))),
    ("grad(a at -b^2)", n.GradAt("grad", "a", n.Unary("-", n.Binary("^", b, two)))),
    ("f(a, -b, k = a < b)", n.Call("f", (a, n.Unary("-", b)), (n.Keyword("k", n.Binary("<", a, b)),))),
]


@pytest.mark.parametrize("text, tree", CORNERS, ids=[t for t, _ in CORNERS])
def test_precedence_corners(text, tree):
    assert parse_expr(text) == tree
    assert format_expr(tree) == text


def test_parentheses_that_only_group_are_dropped():
    assert format_expr(parse_expr("((a) + (b * c))")) == "a + b * c"
    assert format_expr(parse_expr("+a - (+b)")) == "a - b"
