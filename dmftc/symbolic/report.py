"""Printing a derivation as text, LaTeX or Markdown.

A derivation is laid out as sections of equations ``lhs = rhs``; each lhs is given in a text and
a LaTeX spelling, each rhs is a sympy expression (or fixed notation), so the three formats say
exactly the same thing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sympy as sp
from sympy.printing.latex import LatexPrinter

from dmftc.language.symbols import DATA_FIELD, DT, EPS, HSTAR, SELECTION, STEP


@dataclass(frozen=True)
class Line:
    text: str  # lhs in plain text (may be empty for a note)
    latex: str  # lhs in LaTeX
    rhs: object  # sympy expression or a Notation
    note: str = ""


@dataclass(frozen=True)
class Notation:
    """Fixed mathematical notation given in both spellings."""

    text: str
    latex: str


def _latex_names(model) -> dict:
    names = {
        DATA_FIELD: r"(X^{\top} g)",
        SELECTION: r"\tilde{s}",
        HSTAR: r"h^{*}",
        EPS: r"\varepsilon",
        STEP: "t",
        DT: r"\mathrm{d}t",
    }
    for k in range(1, len(model.noises) + 1):
        names[sp.Symbol(f"ζ{k}", real=True)] = rf"\zeta_{{{k}}}"
    return names


class _LatexPrinter(LatexPrinter):
    """sympy's LaTeX, with the step function written H (sympy's theta is the query point's
    symbol), the primitive random variables ``ξk[owner]`` as ``\\xi_{k}^{(owner)}`` and names of
    several letters set as one word."""

    def _print_Heaviside(self, expr, exp=None):
        tex = rf"\operatorname{{H}}\left({self._print(expr.args[0])}\right)"
        return tex if exp is None else rf"{tex}^{{{exp}}}"

    def _print_Symbol(self, expr, style="plain"):
        if expr in self._settings["symbol_names"]:
            return self._settings["symbol_names"][expr]
        match = re.fullmatch(r"ξ(\d+)\[(\w+)\]", expr.name)
        if match:
            return rf"\xi_{{{match.group(1)}}}^{{(\mathit{{{latex_text(match.group(2))}}})}}"
        # A name of several letters is one symbol (lam, not l a m); Greek names are commands.
        return re.sub(r"^[A-Za-z]{2,}", r"\\mathit{\g<0>}", super()._print_Symbol(expr, style))


def latex(expr, names: dict | None = None) -> str:
    """An expression in LaTeX as derivations print it (see ``_LatexPrinter``); a thin space between
    factors keeps ``lam lr`` from reading as one name."""
    return _LatexPrinter({"symbol_names": names or {}, "mul_symbol": r"\,"}).doprint(expr)


def _format(rhs, fmt: str, names: dict) -> str:
    if isinstance(rhs, Notation):
        return rhs.latex if fmt.startswith("latex") or fmt == "markdown" else rhs.text
    if isinstance(rhs, sp.MatrixBase) and fmt == "text":
        return str(rhs.tolist())
    if fmt == "text":
        return sp.sstr(rhs)
    return latex(rhs, names)


# Characters outside ASCII that derivations use, as LaTeX that works in text and math mode.
_UNICODE = {
    "∂": r"\partial", "∇": r"\nabla", "∫": r"\int", "Σ": r"\Sigma", "∑": r"\sum", "∏": r"\prod",
    "≤": r"\le", "≥": r"\ge", "≠": r"\ne", "≈": r"\approx", "≡": r"\equiv", "∈": r"\in", "→": r"\to",
    "←": r"\leftarrow", "↦": r"\mapsto", "·": r"\cdot", "×": r"\times", "±": r"\pm", "∞": r"\infty",
    "√": r"\surd", "§": r"\S", "⟨": r"\langle", "⟩": r"\rangle", "…": r"\ldots", "ᵀ": r"^{\top}", "∗": "*",
    "ℓ": r"\ell", "λ": r"\lambda", "Λ": r"\Lambda", "ε": r"\varepsilon", "ϵ": r"\epsilon",
}  # fmt: skip
_TEXT_ONLY = {"—": "---", "–": "--", "’": "'", "‘": "`", "“": "``", "”": "''", "\u00a0": "~"}


def ascii_latex(text: str) -> str:
    """LaTeX without characters outside ASCII (pdfLaTeX rejects them): Greek letters, operators,
    sub- and superscript digits and combining accents as commands in ``\\ensuremath``."""
    out = []
    for char in unicodedata.normalize("NFD", text):
        if ord(char) < 128:
            out.append(char)
        elif char in _TEXT_ONLY:
            out.append(_TEXT_ONLY[char])
        elif unicodedata.combining(char):  # an accent on the character before it
            accent = {"\u0303": r"\tilde", "\u0302": r"\hat", "\u0304": r"\bar", "\u0307": r"\dot"}.get(char, "")
            previous = out.pop() if out else ""
            out.append(rf"\ensuremath{{{accent}{{{previous}}}}}" if accent else previous)
        else:
            out.append(rf"\ensuremath{{{_command(char)}}}")
    return "".join(out)


def _command(char: str) -> str:
    if char in _UNICODE:
        return _UNICODE[char]
    name = unicodedata.name(char, "")
    digits = {"ZERO": 0, "ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5, "SIX": 6, "SEVEN": 7, "EIGHT": 8,
              "NINE": 9}  # fmt: skip
    for kind, mark in (("SUBSCRIPT ", "_"), ("SUPERSCRIPT ", "^")):
        if name.startswith(kind):
            rest = name[len(kind) :]
            value = digits.get(rest, {"MINUS": "-", "PLUS": "+"}.get(rest, rest.lower()))
            return f"{mark}{{{value}}}"
    if name.startswith(("GREEK SMALL LETTER ", "GREEK CAPITAL LETTER ")):
        letter = name.split(" LETTER ")[1].lower().replace("lamda", "lambda")
        return "\\" + (letter.capitalize() if "CAPITAL" in name else letter)
    return rf"\text{{[{name.lower() or f'U+{ord(char):04X}'}]}}"  # no LaTeX for it: named, never dropped


def render_sections(title: str, sections: list[tuple[str, list[Line]]], model, fmt: str) -> str:
    names = _latex_names(model)
    if fmt == "text":
        out = [title, "=" * len(title)]
        for heading, lines in sections:
            out += ["", heading]
            width = max((len(line.text) for line in lines), default=0)
            for line in lines:
                rhs = _format(line.rhs, fmt, names)
                lhs = f"{line.text:<{width}} = " if line.text else ""
                out.append(f"  {lhs}{rhs}" + (f"    ({line.note})" if line.note else ""))
        return "\n".join(out) + "\n"
    if fmt == "markdown":
        out = [f"# {title}"]
        for heading, lines in sections:
            out += ["", f"## {heading}", ""]
            for line in lines:
                rhs = _format(line.rhs, fmt, names)
                lhs = f"{line.latex} = " if line.latex else ""
                note = f" — {line.note}" if line.note else ""
                out.append(f"- ${lhs}{rhs}${note}")
        return "\n".join(out) + "\n"
    if fmt in ("latex", "latex-inline"):
        rows = []
        for heading, lines in sections:
            rows.append(rf"&\text{{{latex_text(heading)}}}")
            for line in lines:
                rhs = _format(line.rhs, "latex", names)
                note = rf"\quad\text{{({latex_text(line.note)})}}" if line.note else ""
                rows.append(rf"{line.latex} &= {rhs}{note}" if line.latex else rf"&{rhs}{note}")
        body = ascii_latex(" \\\\\n".join(rows))
        if fmt == "latex-inline":
            return r"\begin{aligned}" + body + r"\end{aligned}"
        return (
            f"% {ascii_latex(title)}\n% needs amsmath and amssymb; \\allowdisplaybreaks lets it break across pages\n"
            f"\\begin{{align*}}\n{body}\n\\end{{align*}}\n"
        )
    raise ValueError(f"unknown format {fmt!r}")


_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
    "$": r"\$", "^": r"\^{}", "~": r"\ensuremath{\sim}",
}  # fmt: skip


def latex_text(s: str) -> str:
    """Plain text inside ``\\text{}``: TeX's special characters escaped."""
    return "".join(_TEXT_ESCAPES.get(char, char) for char in s)


def latex_base(symbol) -> str:
    """A symbol's LaTeX in braces, ready for a subscript of its own (``w_prev`` at step t)."""
    return "{" + latex(symbol) + "}"


_LAWS = {"normal": ("N(0,1)", r"\mathcal{N}(0,1)"), "uniform": ("U(0,1)", r"\mathcal{U}(0,1)")}


def setting_lines(model) -> list[Line]:
    """The start of every coordinate and the laws of the primitive random inputs ``ξk[owner]``."""
    lines = [
        Line(f"{v.name}(0)", rf"{latex_base(v.symbol)}_{{0}}", v.init, f"written {v.init_text}")
        for v in model.coordinates
    ]
    if model.primitives:
        laws = [(p.symbol, _LAWS.get(p.law, ("±1", r"\pm 1"))) for p in model.primitives]
        text = "independent inputs: " + ", ".join(f"{symbol} ~ {law}" for symbol, (law, _) in laws)
        tex = r"\text{independent inputs: }" + ",\\ ".join(rf"{latex(symbol)} \sim {law}" for symbol, (_, law) in laws)
        lines.append(Line("", "", Notation(text, tex)))
    return lines
