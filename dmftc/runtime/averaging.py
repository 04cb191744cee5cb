"""Averaging the predictor over some sources of randomness (``--average-over``): the sources
asked for, and the bias/variance split of the observables (docs/math/linear_system.md §5)."""

from __future__ import annotations

from dmftc.errors import SolverError, did_you_mean


def parse_sources(average_over, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """``"init,noise"`` or a sequence of names -> a tuple of known sources (None: none)."""
    if average_over is None:
        return ()
    items = average_over.split(",") if isinstance(average_over, str) else list(average_over)
    out = []
    for item in (i.strip() for i in items):
        if item not in allowed:
            raise SolverError(
                f"unknown noise source '{item}'",
                kind="bad-option",
                hint=did_you_mean(item, allowed) or "sources: " + ", ".join(allowed),
            )
        out.append(item)
    return tuple(dict.fromkeys(out))


def split(observables: dict, bias: dict) -> dict:
    """``<name>_bias`` and ``<name>_variance`` for every observable the mean predictor has."""
    out = {}
    for name, value in bias.items():
        out[f"{name}_bias"] = value
        out[f"{name}_variance"] = observables[name] - value
    return out
