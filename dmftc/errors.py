"""The exception tree of dmftc.

Every error a user can cause derives from :class:`DmftcError`. Errors that point into a model
file carry a :class:`Location` and print like a compiler diagnostic::

    ridge.dmft:12:7: error: unknown name 'lamda' (did you mean 'lam'?)
        penalty lamda * w^2 / 2
                ^
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A position in a model file (1-based line and column)."""

    line: int
    column: int


class DmftcError(Exception):
    """Base of every error dmftc raises for bad input or a failed run.

    ``kind`` names the rule that was broken (``undefined-name``, ``duplicate-definition``, ...),
    so tools and tests can tell messages apart without matching their text.
    """

    kind = "error"

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        *,
        kind: str | None = None,
        hint: str | None = None,
        filename: str | None = None,
        source: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.location = location
        if kind is not None:
            self.kind = kind
        self.hint = hint
        self.filename = filename
        self.source = source

    @property
    def line(self) -> int | None:
        return self.location.line if self.location else None

    @property
    def column(self) -> int | None:
        return self.location.column if self.location else None

    def with_source(self, filename: str, source: str) -> DmftcError:
        """Attach the file name and text so that :meth:`render` can show the offending line."""
        if self.filename is None:
            self.filename = filename
        if self.source is None:
            self.source = source
        return self

    def render(self) -> str:
        """The diagnostic as the command line prints it."""
        where = self.filename or "<model>"
        if self.location is None:
            lines = [f"{self.filename}: error: {self.message}" if self.filename else f"error: {self.message}"]
        else:
            head = f"{where}:{self.location.line}:{self.location.column}: error: {self.message}"
            lines = [head]
            text_line = _source_line(self.source, self.location.line)
            if text_line is not None:
                # one column per character, so that the caret lines up
                shown = "".join(c if c.isprintable() else " " for c in text_line)
                caret = " " * (self.location.column - 1) + "^"
                lines += ["    " + shown, "    " + caret]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location.line}:{self.location.column}: {self.message}"


class ModelSyntaxError(DmftcError):
    """The model file is not well formed (lexing, parsing, indentation, encoding)."""

    kind = "syntax"


class ModelError(DmftcError):
    """The model file parses but does not mean anything dmftc can run (docs/language.md §6)."""

    kind = "model"


class ParameterError(ModelError):
    """A parameter override (``-p NAME=VALUE`` or a keyword of ``dmftc.load``) is invalid."""

    kind = "parameter"


class DerivationError(DmftcError):
    """The model is valid but its DMFT equations cannot be derived."""

    kind = "derivation"


class CodegenError(DmftcError):
    """Rendering or compiling the generated solver failed."""

    kind = "codegen"


class SolverError(DmftcError):
    """A run failed: values blew up, a covariance lost positivity, ..."""

    kind = "solver"


def _source_line(source: str | None, line: int) -> str | None:
    if source is None:
        return None
    lines = source.split("\n")  # as the parser counts lines (str.splitlines also splits at \f, ...)
    if 1 <= line <= len(lines):
        return lines[line - 1].removesuffix("\r")
    return None


def did_you_mean(name: str, candidates) -> str | None:
    """``"did you mean 'x'?"`` for the closest candidate, or None."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def require_known(call, choices, what: str, plural: str, kind: str) -> None:
    """Raise the located error for a law or kind ``call.func`` that is not one of ``choices``
    (``unknown <what> 'x'``), with the closest choice or the list of ``<plural>`` as the hint."""
    if call.func not in choices:
        raise ModelError(
            f"unknown {what} '{call.func}'",
            call.loc,
            kind=kind,
            hint=did_you_mean(call.func, choices) or f"{plural}: " + ", ".join(choices),
        )
