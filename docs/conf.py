"""Sphinx configuration of the dmftc documentation (MyST markdown).

Build: ``sphinx-build -W -b html docs docs/_build/html`` (needs ``sphinx`` and ``myst-parser``).
"""

from pathlib import Path

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Text

project = "dmftc"
author = "the dmftc authors"

extensions = ["myst_parser", "sphinx.ext.autodoc"]
autodoc_member_order = "bysource"
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# CITATION-MAP.txt maps the old citations in code comments to these pages; it is not a page.
exclude_patterns = ["_build", "CITATION-MAP.txt"]

html_theme = "alabaster"
html_theme_options = {"page_width": "1100px", "sidebar_width": "240px"}


class DmftLexer(RegexLexer):
    """Highlighting of ``.dmft`` model files: keywords, laws and functions, comments, numbers.

    Every character matches some rule, so lexing never fails (a failure is a warning, and the
    build runs with -W)."""

    name = "dmft"
    aliases = ["dmft"]
    filenames = ["*.dmft"]

    tokens = {
        "root": [
            (r"#[^\n]*", Comment.Single),
            (r"(d[A-Za-z_][A-Za-z0-9_]*)(\s*/\s*)(dt)\b", bygroups(Name.Variable, Operator, Name.Variable)),
            (
                words(
                    (
                        "model",
                        "param",
                        "data",
                        "teacher",
                        "label",
                        "weights",
                        "state",
                        "predict",
                        "loss",
                        "penalty",
                        "batch",
                        "landscape",
                        "signal",
                        "matrix",
                        "observe",
                        "update",
                        "flow",
                        "on",
                        "sphere",
                        "at",
                        "strength",
                        "fraction",
                        "epochs",
                        "persistent",
                        "size",
                    ),
                    suffix=r"\b",
                ),
                Keyword,
            ),
            (
                words(
                    (
                        "grad",
                        "gauss",
                        "train",
                        "test",
                        "mean",
                        "energy",
                        "normal",
                        "uniform",
                        "rademacher",
                        "atoms",
                        "exp",
                        "log",
                        "sqrt",
                        "abs",
                        "sign",
                        "tanh",
                        "erf",
                        "sigmoid",
                        "relu",
                        "softplus",
                        "min",
                        "max",
                        "gaussian",
                        "mixture",
                        "online",
                        "gaussian_field",
                        "goe",
                        "ginibre",
                        "wishart",
                        "spectrum",
                        "rf_drive",
                        "rf_drive_hermitian",
                    ),
                    suffix=r"\b",
                ),
                Name.Builtin,
            ),
            (r"([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", Number),
            (r"[A-Za-z_][A-Za-z0-9_]*", Name),
            (r"<=|>=|==|!=|[-+*/^<>=~.]", Operator),
            (r"[(),:\\]", Punctuation),
            (r"\s+", Text),
            (r".", Text),
        ]
    }


def _write_cli_reference(app):
    """docs/cli.md is generated from the command line (and so from dmftc/options.py)."""
    from dmftc.cli import reference_markdown

    target = Path(app.srcdir) / "cli.md"
    text = reference_markdown()
    if not target.exists() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def setup(app):
    app.add_lexer("dmft", DmftLexer)
    app.connect("builder-inited", _write_cli_reference)
