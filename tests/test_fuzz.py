"""Fuzzing the front end: whatever the text, analysis succeeds or raises a DmftcError that renders.

Two sources of input: random token soups drawn from the language's own vocabulary, and random
mutations of the bundled models (which reach far deeper into the analysis than soups do).
"""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmftc.analysis.driver import analyse_text
from dmftc.errors import DmftcError
from dmftc.language.expressions import MATH_FUNCTIONS, SPECIAL_FUNCTIONS

from .conftest import MODELS

# Statement heads, so that many soups get past the parser; "" leaves the whole line to chance.
HEADS = [
    "model m",
    "param p =",
    "param lr =",
    "data gaussian(ratio =",
    "data",
    "teacher wstar ~",
    "label y =",
    "weights w ~",
    "state v ~",
    "state v =",
    "predict h =",
    "loss",
    "penalty",
    "batch fraction",
    "batch epochs",
    "batch persistent(",
    "landscape gaussian_field(xi =",
    "signal s on sphere, strength =",
    "observe o =",
    "update:",
    "flow:",
    "    w =",
    "    v =",
    "    dw/dt =",
    "",
]
WORDS = [
    "model",
    "param",
    "data",
    "weights",
    "update",
    "fraction",
    "epochs",
    "persistent",
    "strength",
    "on",
    "sphere",
    "at",
    "gaussian",
    "gaussian_field",
    "ratio",
    "xi",
    *MATH_FUNCTIONS,
    *SPECIAL_FUNCTIONS,
]
NAMES = [
    "w",
    "v",
    "u",
    "lr",
    "alpha",
    "x",
    "h",
    "y",
    "hstar",
    "eps",
    "wstar",
    "q",
    "m",
    "t",
    "dt",
    "_w",
    "loss",
    "time",
]
NUMBERS = ["0", "1", "2", "0.5", ".5", "1e3", "3.", "1e-3", "0.0", "99", "1e400"]
OPERATORS = ["+", "-", "*", "/", ".", "^", "<", "<=", ">", ">=", "==", "!=", ","]
PUNCTUATION = ["=", "~", ":", "dw/dt", "#", "\\\n", "\n", "\n    ", "'", "\r", "\t", "!", "é", "٣"]
# Whole phrases: pieces of real statements, and constants that are costly or not real numbers.
PHRASES = [
    "grad(w)",
    "grad(w at w)",
    "gauss()",
    "normal(0, 1)",
    "x . w",
    "train(loss)",
    "mean(w)",
    "energy()",
    "q^2",
    "log(0)",
    "(-1)^0.5",
    "0^-1",
    "9^9^9",
    "1e999999999",
    "1e" + "9" * 30,
    "1" * 50,
    "-" * 2000 + "1",
]
TOKENS = WORDS + NAMES + NUMBERS + OPERATORS + PUNCTUATION + ["(", ")"]
token_strategy = st.one_of(st.sampled_from(TOKENS), st.sampled_from(PHRASES))
# Operands and operators alternate in most lines, so that many lines parse and reach analysis.
operand = st.one_of(st.sampled_from(NAMES + NUMBERS + PHRASES), token_strategy)

# A soup follows nothing, a bare model line or the head of a valid model, to reach deeper checks.
PREFIXES = [
    "",
    "model fuzz\n",
    "model fuzz\nparam lr = 0.1\ndata gaussian(ratio = 2)\nteacher wstar ~ normal(0, 1)\n"
    "label y = hstar\nweights w ~ 0\nstate v ~ 0\npredict h = x . w\nloss (h - y)^2\n",
    "model fuzz\nlandscape gaussian_field(xi = q^3)\nweights x ~ normal(0, 1) on sphere\n",
]

SOURCES = [p.read_text(encoding="utf-8") for p in MODELS]

# About 10 s per test on two cores; no example database.
# derandomize: the examples are a fixed function of the test, so a CI failure is reproducible
FUZZ = settings(
    max_examples=1500, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def check(text: str) -> None:
    try:
        analyse_text(text, "fuzz.dmft")
    except DmftcError as e:
        assert e.render().startswith("fuzz.dmft")


# ----------------------------------------------------------------------------------- token soups

soup_line = st.tuples(
    st.sampled_from(HEADS),
    operand,
    st.lists(st.tuples(st.sampled_from(OPERATORS), operand), max_size=3),
).map(lambda t: t[0] + " " + t[1] + "".join(f" {op} {x}" for op, x in t[2]))

soup = st.tuples(st.sampled_from(PREFIXES), st.lists(soup_line, max_size=6).map("\n".join)).map("".join)


@FUZZ
@given(soup)
def test_token_soup(text):
    check(text)


# ---------------------------------------------------------------------------------- mutations

CODE_TOKEN_RE = re.compile(r"#[^\n]*|(\w+|[^\w\s])")


def _line_index(draw, lines):
    return draw(st.integers(0, len(lines) - 1))


def delete_line(draw, text):
    lines = text.split("\n")
    del lines[_line_index(draw, lines)]
    return "\n".join(lines)


def duplicate_line(draw, text):
    lines = text.split("\n")
    lines.insert(_line_index(draw, lines), lines[_line_index(draw, lines)])
    return "\n".join(lines)


def swap_lines(draw, text):
    lines = text.split("\n")
    i, j = _line_index(draw, lines), _line_index(draw, lines)
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def insert_char(draw, text):
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from("()=~:,.+-*/^<>!#\\\t\n x0_")) + text[at:]


def delete_char(draw, text):
    at = draw(st.integers(0, len(text)))
    return text[:at] + text[at + 1 :]


def replace_token(draw, text):
    """Replace a token outside the comments (most of a bundled model's text is comments)."""
    tokens = [m for m in CODE_TOKEN_RE.finditer(text) if m.group(1) is not None]
    if not tokens:
        return text
    token = tokens[draw(st.integers(0, len(tokens) - 1))]
    return text[: token.start()] + draw(token_strategy) + text[token.end() :]


def truncate(draw, text):
    return text[: draw(st.integers(0, len(text)))]


def insert_unicode(draw, text):
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.text(min_size=1, max_size=3)) + text[at:]


MUTATIONS = [delete_line, duplicate_line, swap_lines, insert_char, delete_char, replace_token, truncate, insert_unicode]


@st.composite
def mutated_model(draw):
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        text = draw(st.sampled_from(MUTATIONS))(draw, text)
    return text


@FUZZ
@given(mutated_model())
def test_mutated_model(text):
    check(text)
