"""``dmftc verify``: checks that a derivation is right (docs/cli.md).

:func:`run_checks` runs the published-form comparison (with ``against``), the checks every class
shares (:mod:`dmftc.verify.checks`) and the class's own (``ModelClass.checks``).
"""

from __future__ import annotations

from pathlib import Path

from dmftc.verify import checks
from dmftc.verify.checks import Check


def run_checks(dm, against: str | Path | None = None) -> list[Check]:
    """Every check that applies to the loaded model ``dm`` (a :class:`dmftc.api.DMFTModel`)."""
    out = []
    if against is not None:
        from dmftc.verify.published import published_form

        out += published_form(dm, Path(against))
    out += [
        checks.momentum_reduces_to_gd(dm),
        checks.learning_rate_limit(dm),
        checks.zero_learning_rate(dm),
        checks.causal_closure(dm),
    ]
    return out + dm.model_class.checks(dm)
