"""Parsing: model text -> syntax tree (:mod:`dmftc.nodes`), with compiler-style errors."""

from __future__ import annotations

import functools
from pathlib import Path

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError
from lark.indenter import Indenter

from dmftc.errors import DmftcError, Location, ModelSyntaxError, did_you_mean
from dmftc.language import nodes as n
from dmftc.resources import resource_dir

MAX_MODEL_BYTES = 1 << 20  # a model is a page of text; refuse anything much larger

# How each terminal of grammars/dmft.lark is spelled in an error message.
_KEYWORDS = (
    "model param let data teacher label weights state predict loss penalty batch fraction epochs "
    "persistent size landscape signal strength matrix space const observe update flow on sphere at"
).split()
SPELLING = {k.upper(): f"'{k}'" for k in _KEYWORDS}
SPELLING.update(
    NAME="a name",
    NUMBER="a number",
    DERIVATIVE="'dw/dt'",
    _NL="end of line",
    _INDENT="an indented block",
    _DEDENT="end of the indented block",
    _EQUAL="'='",
    _TILDE="'~'",
    _COMMA="','",
    _COLON="':'",
    _LPAR="'('",
    _RPAR="')'",
    _LBRACK="'['",
    _RBRACK="']'",
    QUOTE='"\'" (transpose)',
    PLUS="'+'",
    MINUS="'-'",
    STAR="'*'",
    SLASH="'/'",
    DOT="'.'",
    CARET="'^'",
    LT="'<'",
    LE="'<='",
    GT="'>'",
    GE="'>='",
    EQEQ="'=='",
    NE="'!='",
)
COMPARISON_TOKENS = ("LT", "LE", "GT", "GE", "EQEQ", "NE")
SPELLING["$END"] = "end of file"
STATEMENT_KEYWORDS = (
    "model param let data teacher label weights state predict loss penalty batch "
    "landscape signal matrix space const observe update flow"
).split()


class _BlockIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["_LPAR"]
    CLOSE_PAREN_types = ["_RPAR"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token):
        if self.paren_level > 0:
            return
        yield token
        indent_str = token.rsplit("\n", 1)[1]
        indent = len(indent_str.expandtabs(self.tab_len))
        if indent > self.indent_level[-1]:
            self.indent_level.append(indent)
            yield Token.new_borrow_pos(self.INDENT_type, indent_str, token)
        else:
            while indent < self.indent_level[-1]:
                self.indent_level.pop()
                yield Token.new_borrow_pos(self.DEDENT_type, indent_str, token)
            if indent != self.indent_level[-1]:
                line = token.end_line
                raise ModelSyntaxError(
                    "indentation does not match any outer block",
                    Location(line, len(indent_str) + 1),
                    kind="indentation",
                    hint="indent every line of a block the same way (tabs count as 8 columns)",
                )


@functools.cache
def _parser() -> Lark:
    grammar = (resource_dir("grammars") / "dmft.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        postlex=_BlockIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
        start=["start", "equations"],
    )


def _at(meta_or_token) -> Location:
    return Location(meta_or_token.line, meta_or_token.column)


@v_args(meta=True)
class _ToNodes(Transformer_NonRecursive):  # long sums make deep trees: no recursion
    """Lark tree -> frozen dataclasses. Keyword tokens (MODEL, PARAM, ...) are skipped."""

    def start(self, meta, items):
        return n.ModelFile(tuple(items))

    def equations(self, meta, items):
        return tuple(items)

    def equation(self, meta, items):
        name, value = items
        return n.Equation(str(name), value, loc=_at(name))

    # statements
    def model_decl(self, meta, items):
        _, name = items
        return n.ModelDecl(str(name), loc=_at(meta), name_loc=_at(name))

    def param_decl(self, meta, items):
        _, name, value = items
        return n.ParamDecl(str(name), value, loc=_at(meta), name_loc=_at(name))

    def let_decl(self, meta, items):
        _, name, value = items
        return n.LetDecl(str(name), value, loc=_at(meta), name_loc=_at(name))

    def data_decl(self, meta, items):
        return n.DataDecl(items[1], loc=_at(meta))

    def teacher_decl(self, meta, items):
        _, name, law = items
        return n.TeacherDecl(str(name), law, loc=_at(meta), name_loc=_at(name))

    def label_decl(self, meta, items):
        _, name, value = items
        return n.LabelDecl(str(name), value, loc=_at(meta), name_loc=_at(name))

    def weights_decl(self, meta, items):
        _, name, space, law, sphere = items
        return n.WeightsDecl(str(name), law, sphere is not None, **_space(space), loc=_at(meta), name_loc=_at(name))

    def state_law(self, meta, items):
        _, name, space, law = items
        return n.StateDecl(str(name), law, False, **_space(space), loc=_at(meta), name_loc=_at(name))

    def state_copy(self, meta, items):
        _, name, space, value = items
        return n.StateDecl(str(name), value, True, **_space(space), loc=_at(meta), name_loc=_at(name))

    def in_space(self, meta, items):
        return items[0]

    def predict_decl(self, meta, items):
        _, name, value = items
        return n.PredictDecl(str(name), value, loc=_at(meta), name_loc=_at(name))

    def loss_decl(self, meta, items):
        return n.LossDecl(items[1], loc=_at(meta))

    def penalty_decl(self, meta, items):
        return n.PenaltyDecl(items[1], loc=_at(meta))

    def batch_fraction(self, meta, items):
        return n.BatchDecl("fraction", (items[2],), loc=_at(meta))

    def batch_epochs(self, meta, items):
        return n.BatchDecl("epochs", (items[2],), loc=_at(meta))

    def batch_persistent(self, meta, items):
        return n.BatchDecl("persistent", (items[2], items[3]), loc=_at(meta))

    def batch_size(self, meta, items):
        return n.BatchDecl("size", (items[2],), loc=_at(meta))

    def matrix_decl(self, meta, items):
        _, name, law = items
        return n.MatrixDecl(str(name), law, loc=_at(meta), name_loc=_at(name))

    def program_matrix_decl(self, meta, items):
        _, name, rows, cols, law = items
        return n.ProgramMatrixDecl(
            str(name),
            str(rows),
            str(cols),
            law,
            loc=_at(meta),
            name_loc=_at(name),
            rows_loc=_at(rows),
            cols_loc=_at(cols),
        )

    def space_decl(self, meta, items):
        _, name, size = items
        return n.SpaceDecl(str(name), size, loc=_at(meta), name_loc=_at(name))

    def const_decl(self, meta, items):
        _, name, space, law = items
        return n.ConstDecl(str(name), str(space), law, loc=_at(meta), name_loc=_at(name), space_loc=_at(space))

    def landscape_decl(self, meta, items):
        return n.LandscapeDecl(items[1], loc=_at(meta))

    def signal_decl(self, meta, items):
        _, name, sphere, _strength, value = items
        return n.SignalDecl(str(name), value, sphere is not None, loc=_at(meta), name_loc=_at(name))

    def observe_decl(self, meta, items):
        _, name, value = items
        return n.ObserveDecl(str(name), value, loc=_at(meta), name_loc=_at(name))

    def sphere(self, meta, items):
        return True

    def update_block(self, meta, items):
        return n.UpdateBlock(tuple(items[1:]), loc=_at(meta))

    def assignment(self, meta, items):
        name, value = items
        return n.Assignment(str(name), value, loc=_at(name))

    def flow_block(self, meta, items):
        return n.FlowBlock(tuple(items[1:]), loc=_at(meta))

    def flow_equation(self, meta, items):
        lhs, value = items
        target = str(lhs).split("/")[0].strip()[1:]  # "dw / dt" -> "w"
        return n.FlowEquation(target, value, loc=_at(lhs))

    # expressions
    def number(self, meta, items):
        return n.Number(str(items[0]), loc=_at(items[0]))

    def name(self, meta, items):
        return n.Name(str(items[0]), loc=_at(items[0]))

    def transpose(self, meta, items):
        name, _quote = items
        return n.Call("transpose", (n.Name(str(name), loc=_at(name)),), loc=_at(name))

    def neg(self, meta, items):
        _, operand = items
        return n.Unary("-", operand, loc=_at(meta))

    def pos(self, meta, items):
        _, operand = items
        return operand

    def call(self, meta, items):
        func, arguments = items
        args, keywords = [], []
        for a in arguments or ():
            if isinstance(a, n.Keyword):
                keywords.append(a)
            elif keywords:
                raise ModelSyntaxError("positional argument after a keyword argument", a.loc, kind="argument-order")
            else:
                args.append(a)
        return n.Call(str(func), tuple(args), tuple(keywords), loc=_at(func))

    def arguments(self, meta, items):
        return items

    def keyword(self, meta, items):
        name, value = items
        return n.Keyword(str(name), value, loc=_at(name))

    def grad_at(self, meta, items):
        func, target, _at_kw, point = items
        return n.GradAt(str(func), str(target), point, loc=_at(func), target_loc=_at(target))


@v_args(meta=True)
def _binary(self, meta, items):
    left, op, right = items
    return n.Binary(str(op), left, right, loc=_at(meta), op_loc=_at(op))


for _alias in ("add", "sub", "mul", "div", "dot", "pow", "lt", "le", "gt", "ge", "eq", "ne"):
    setattr(_ToNodes, _alias, _binary)


def _space(token) -> dict:
    """The ``space`` and ``space_loc`` of a declaration with an optional ``[space]``."""
    return {} if token is None else {"space": str(token), "space_loc": _at(token)}


def decode_model_bytes(data: bytes) -> str:
    """Bytes of a model file -> text; refuses binary, oversized and non-UTF-8 files."""
    if len(data) > MAX_MODEL_BYTES:
        raise ModelSyntaxError(
            f"model file is {len(data) / 2**20:.1f} MiB; model files are limited to {MAX_MODEL_BYTES // 2**20} MiB",
            kind="too-large",
        )
    if b"\0" in data:
        raise ModelSyntaxError("this is not a text file (it contains NUL bytes)", kind="binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        before = data[: e.start]
        line = before.count(b"\n") + 1
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8")) + 1  # in characters
        raise ModelSyntaxError(
            "this file is not UTF-8 text",
            Location(line, column),
            kind="encoding",
            hint="save the model file as UTF-8",
            source=data.decode("utf-8", errors="replace"),
        ) from None
    return text.removeprefix("\ufeff")


def parse(text: str, filename: str = "<model>", start: str = "start"):
    """Parse model source text into a :class:`~dmftc.nodes.ModelFile` (or, with
    ``start="equations"``, a file of published equations into a tuple of
    :class:`~dmftc.nodes.Equation`).

    Raises :class:`ModelSyntaxError` (with file name and source attached) on malformed input.
    """
    try:
        try:
            tree = _parser().parse(text if text.endswith("\n") else text + "\n", start=start)
            return _ToNodes().transform(tree)
        except VisitError as e:  # raised inside a _ToNodes method
            raise e.orig_exc from None
    except UnexpectedInput as e:
        raise _syntax_error(e, text).with_source(filename, text) from None
    except RecursionError:
        raise nested_too_deeply().with_source(filename, text) from None
    except DmftcError as e:
        raise e.with_source(filename, text) from None


def nested_too_deeply() -> ModelSyntaxError:
    """The error for an expression deeper than Python's recursion limit."""
    return ModelSyntaxError(
        "an expression is nested too deeply", kind="too-deep", hint="split it with a 'param' or an update temporary"
    )


def parse_file(path: str | Path) -> n.ModelFile:
    path = Path(path)
    return parse(read_model_text(path), str(path))


def read_model_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DmftcError(f"cannot read model file: {e.strerror}", kind="io", filename=str(path)) from None
    try:
        return decode_model_bytes(data)
    except DmftcError as e:
        raise e.with_source(str(path), "") from None


def _expected(e: UnexpectedInput) -> list[str]:
    """What the parser would have accepted, spelled for humans.

    Errors raised by the contextual lexer list only the terminals it can lex; the parser state
    (when the error carries it) also knows about indentation, so prefer it.
    """
    names = getattr(e, "expected", None) or getattr(e, "accepts", None) or ()
    state = getattr(e, "state", None)
    if state is not None:
        try:
            names = state.parse_conf.states[state.position].keys()
        except (AttributeError, KeyError):
            pass
    # Lower-case names are grammar rules, not tokens a user can type.
    return sorted({SPELLING.get(t, t) for t in names if t == "$END" or t.lstrip("_").isupper()})


def _open_parens(text: str, upto: Location) -> list[Location]:
    """The '(' still open just before ``upto`` (comments skipped, an unmatched ')' ignored)."""
    stack = []
    for lineno, line in enumerate(text.split("\n")[: upto.line], start=1):
        code = line.split("#", 1)[0]
        if lineno == upto.line:
            code = code[: upto.column - 1]
        for col, ch in enumerate(code, start=1):
            if ch == "(":
                stack.append(Location(lineno, col))
            elif ch == ")" and stack:
                stack.pop()
    return stack


def _syntax_error(e: UnexpectedInput, text: str) -> ModelSyntaxError:
    line, column = max(e.line, 1), max(e.column, 1)
    loc = Location(line, column)
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if 0 <= e.pos_in_stream < len(text) else "?"
        hint = None
        if ch in "'\"":
            hint = "the model language has no strings"
        elif not ch.isascii():
            hint = "outside comments a model is ASCII: names are made of ASCII letters, digits and '_'"
        elif ch == "\r":
            hint = "a carriage return must be followed by a newline"
        shown = ch if ch.isprintable() else repr(ch)[1:-1]
        return ModelSyntaxError(f"unexpected character '{shown}'", loc, kind="unexpected-character", hint=hint)
    token = getattr(e, "token", None)
    token_type = token.type if token is not None else "$END"
    if token_type in ("_INDENT", "_DEDENT", "_NL"):  # these borrow the position of a line break
        loc = Location(token.end_line, token.end_column)
    at_end = isinstance(e, UnexpectedEOF) or token_type == "$END"
    open_parens = _open_parens(text, Location(text.count("\n") + 2, 1) if at_end else Location(loc.line, 1))
    if open_parens and (at_end or token_type == "_DEDENT" or open_parens[0].line < loc.line):
        return ModelSyntaxError(
            "'(' is never closed", open_parens[0], kind="unclosed-paren", hint="add the missing ')'"
        )
    if token_type == "_RPAR" and not _open_parens(text, loc):
        return ModelSyntaxError(
            "unmatched ')'", loc, kind="unmatched-paren", hint="remove it, or add the missing '(' before it"
        )
    expected = _expected(e)
    if at_end:
        return ModelSyntaxError("unexpected end of file", loc, kind="unexpected-eof", hint=_expected_hint(expected))
    # A comparison refused right after an operand ('+' may follow, a number may not) ends another.
    if token_type in COMPARISON_TOKENS and "'+'" in expected and "a number" not in expected:
        return ModelSyntaxError(
            "comparisons do not chain", loc, kind="chained-comparison", hint="write 'a < b < c' as '(a < b) * (b < c)'"
        )
    if token_type == "QUOTE":  # ' is only the transpose right after a matrix name
        return ModelSyntaxError(
            "unexpected character '''",
            loc,
            kind="unexpected-character",
            hint="the model language has no strings; ' transposes a matrix, right after its name (X' . v)",
        )
    kind, what, hint = "unexpected-token", f"'{token}'", None
    if token_type == "_INDENT":
        kind, what = "unexpected-indent", "indentation"
        if "\t" in token:
            hint = "a tab counts as 8 columns: indent every line of a block the same way"
    elif token_type == "_DEDENT":
        kind, what = "unexpected-dedent", "end of the indented block"
    elif token_type == "_NL":
        kind, what = "unexpected-newline", "end of line"
    elif str(token) == "at":
        hint = "'at' follows a name, as in grad(w at p) or test(e at v): name a longer expression with 'let'"
    elif token_type == "NAME":
        keywords = [k.strip("'") for k in expected if k.strip("'") in _KEYWORDS]
        hint = did_you_mean(str(token), keywords)
    if hint is None and "'model'" in expected and "'param'" in expected:
        hint = "each line starts with one of: " + ", ".join(STATEMENT_KEYWORDS)
    if hint is None:
        hint = _expected_hint(expected)
    return ModelSyntaxError(f"unexpected {what}", loc, kind=kind, hint=hint)


def _expected_hint(expected: list[str]) -> str | None:
    if not expected:
        return None
    if len(expected) > 8:
        return "expected " + ", ".join(expected[:8]) + ", ..."
    if len(expected) == 1:
        return "expected " + expected[0]
    return "expected " + ", ".join(expected[:-1]) + " or " + expected[-1]
