"""`dmftc derive -f latex` output is LaTeX that pdfLaTeX compiles, for every bundled model.

Two checks: a structural one that needs nothing installed (ASCII only, balanced braces, no double
sub- or superscript, only macros of LaTeX, amsmath and amssymb), and pdfLaTeX itself on one
document holding every derivation. CI installs TeX (texlive-latex-base) for the second.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import sympy as sp

import dmftc
from dmftc.errors import DmftcError
from dmftc.resources import bundled_models
from dmftc.symbolic.report import ascii_latex, latex, latex_text

# Every macro a derivation may use: LaTeX's kernel, amsmath and amssymb. A macro outside this list
# (a misspelling, a name sympy turned into a command) fails the structural test.
KNOWN_MACROS = set(
    r"""\alpha \beta \gamma \Gamma \delta \Delta \epsilon \varepsilon \zeta \eta \theta \Theta \iota \kappa
    \lambda \Lambda \mu \nu \xi \Xi \pi \Pi \rho \sigma \Sigma \tau \upsilon \phi \Phi \varphi \chi \psi \Psi
    \omega \Omega \ell \partial \nabla \infty \int \sum \prod \sqrt \frac \left \right \cdot \times \pm \le
    \ge \ne \approx \equiv \in \to \leftarrow \mapsto \sim \mid \langle \rangle \ldots \dots \top \surd \S \hat
    \tilde \bar \dot \text \mathrm \mathit \mathbb \mathcal \operatorname \ensuremath \quad \qquad \limits
    \log \exp \min \max \sin \cos \tanh \sinh \cosh \sign \operatorname \begin \end \textbackslash
    \textasciitilde \textsection""".split()
)
ENVIRONMENTS = {"align*", "aligned", "matrix", "cases"}


def derivations() -> dict[str, str]:
    out = {}
    for name, path in sorted(bundled_models().items()):
        model = dmftc.load(path)
        out[name] = model.derive().render("latex")
        try:
            out[f"{name} (--sde)"] = model.derive(sde=True).render("latex")
        except DmftcError:  # no diffusion limit for this model: nothing to print
            pass
    return out


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    return derivations()


def structural_problems(tex: str) -> list[str]:
    """What makes ``tex`` fail in pdfLaTeX, found without TeX."""
    problems = [f"non-ASCII character {c!r}" for c in sorted(set(tex)) if ord(c) > 127]
    body = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    for macro in set(re.findall(r"(?<!\\)(?:\\\\)*(\\[A-Za-z]+)", body)) - KNOWN_MACROS:
        problems.append(f"unknown macro {macro}")
    for env in set(re.findall(r"\\(?:begin|end)\{([^}]*)\}", body)) - ENVIRONMENTS:
        problems.append(f"unknown environment {env}")
    # braces and scripts, one nesting level at a time
    scripts = [set()]
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            match = re.match(r"\\([A-Za-z]+|.)", body[i:])
            i += len(match.group(0))
            if match.group(1) not in ("{", "}", "_", "%", "&", "#", "$", ",", " ", ";", "!"):
                scripts[-1] = set()
            continue
        if char == "{":
            scripts.append(set())
        elif char == "}":
            scripts.pop()
            if not scripts:
                return [*problems, "unbalanced braces: '}' without '{'"]
        elif char in "_^":
            if char in scripts[-1]:
                problems.append(
                    f"double {'subscript' if char == '_' else 'superscript'} near {body[max(0, i - 30) : i + 10]!r}"
                )
            scripts[-1].add(char)
            # the script's argument: a group is skipped whole, a single token consumed
            i += 1
            if i < len(body) and body[i] == "{":
                depth = 0
                while True:
                    depth += {"{": 1, "}": -1}.get(body[i], 0)
                    i += 1
                    if depth == 0:
                        break
            else:
                i += 1
            continue
        elif not char.isspace():
            scripts[-1] = set()
        i += 1
    if len(scripts) != 1:
        problems.append("unbalanced braces: '{' never closed")
    return problems


def test_the_structural_check_finds_what_pdflatex_rejects():
    assert structural_problems(r"w_{prev}_{0}")[0].startswith("double subscript")
    assert structural_problems(r"a^{2}^{3}")[0].startswith("double superscript")
    assert structural_problems(r"\text{ξ}") == ["non-ASCII character 'ξ'"]
    assert structural_problems(r"\lam x") == [r"unknown macro \lam"]
    assert structural_problems(r"\frac{a}{b") == ["unbalanced braces: '{' never closed"]
    assert structural_problems(r"{w_{prev}}_{0} + x_{1}^{2} \\ lam") == []


def test_names_with_underscores_and_several_letters():
    w_prev, lam, lr = sp.symbols("w_prev lam lr")
    assert latex(lam * lr) == r"\mathit{lam}\,\mathit{lr}"  # two names, not five letters
    assert structural_problems("{" + latex(w_prev) + "}_{t+1}") == []
    assert latex(sp.Symbol("ξ2[wstar]")) == r"\xi_{2}^{(\mathit{wstar})}"
    assert latex(sp.Heaviside(sp.Symbol("x"))) == r"\operatorname{H}\left(x\right)"


def test_text_and_unicode_are_escaped():
    assert latex_text("a_b ~ 100% {c}") == r"a\_b \ensuremath{\sim} 100\% \{c\}"
    assert ascii_latex("∂ℓ/∂h, λ₂, x̃ — §3") == (
        r"\ensuremath{\partial}\ensuremath{\ell}/\ensuremath{\partial}h, \ensuremath{\lambda}\ensuremath{_{2}},"
        r" \ensuremath{\tilde{x}} --- \ensuremath{\S}3"
    )
    assert ascii_latex("☃") == r"\ensuremath{\text{[snowman]}}"  # named, never dropped


def test_every_bundled_derivation_is_well_formed(documents):
    bad = {name: problems for name, tex in documents.items() if (problems := structural_problems(tex))}
    assert not bad, bad


def test_pdflatex_compiles_every_bundled_derivation(documents, tmp_path):
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("pdflatex is not installed (CI installs texlive-latex-base); the structural test ran")
    body = "\n".join(rf"\section*{{{latex_text(name)}}}" + "\n" + tex for name, tex in documents.items())
    (tmp_path / "all.tex").write_text(
        "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n\\allowdisplaybreaks\n"
        f"\\begin{{document}}\n{body}\n\\end{{document}}\n"
    )
    run = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "all.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in run.stdout.splitlines() if line.startswith("!")]
    assert run.returncode == 0 and (tmp_path / "all.pdf").exists(), errors or run.stdout[-2000:]
