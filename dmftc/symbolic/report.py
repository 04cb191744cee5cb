"""Printing a derivation as text, LaTeX or Markdown.

A derivation is laid out as sections of equations ``lhs = rhs``; each lhs is given in a text and
a LaTeX spelling, each rhs is a sympy expression (or fixed notation), so the three formats say
exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

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


def _format(rhs, fmt: str, names: dict) -> str:
    if isinstance(rhs, Notation):
        return rhs.latex if fmt.startswith("latex") or fmt == "markdown" else rhs.text
    if isinstance(rhs, sp.MatrixBase) and fmt == "text":
        return str(rhs.tolist())
    if fmt == "text":
        return sp.sstr(rhs)
    return sp.latex(rhs, symbol_names=names)


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
            rows.append(rf"&\text{{{heading}}}")
            for line in lines:
                rhs = _format(line.rhs, "latex", names)
                note = rf"\quad\text{{({latex_text(line.note)})}}" if line.note else ""
                rows.append(rf"{line.latex} &= {rhs}{note}" if line.latex else rf"&{rhs}{note}")
        body = " \\\\\n".join(rows)
        if fmt == "latex-inline":
            return r"\begin{aligned}" + body + r"\end{aligned}"
        return f"% {title}\n\\begin{{align*}}\n{body}\n\\end{{align*}}\n"
    raise ValueError(f"unknown format {fmt!r}")


def latex_text(s: str) -> str:
    """Plain text inside ``\\text{}``: TeX's special characters escaped."""
    return (
        s.replace("\\", r"\textbackslash{}")
        .replace("_", r"\_")
        .replace("%", r"\%")
        .replace("&", r"\&")
        .replace("^", r"\^{}")
        .replace("#", r"\#")
    )
