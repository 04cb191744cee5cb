"""The Python interface: ``dmftc.load(path, **params)`` and the operations on a model."""

from __future__ import annotations

from pathlib import Path

from .analyse import Model, load_model
from .errors import DmftcError, NotAvailableError


def load(path: str | Path, **params) -> "DMFTModel":
    """Load and check a model file; ``params`` override its parameters (numbers)."""
    return DMFTModel(load_model(path), params)


class DMFTModel:
    """An analysed model with numeric parameter values."""

    def __init__(self, model: Model, params: dict | None = None):
        self.model = model
        self.overrides = dict(params or {})
        try:
            self.params = model.resolve_params(self.overrides)
        except DmftcError as e:
            raise e.with_source(model.path, model.source) from None

    def __repr__(self) -> str:
        values = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"<dmftc model {self.model.name} ({self.model.disorder}) {values}>"

    def derive(self):
        raise NotAvailableError("'derive' is not available yet (issue: DMFT on Gaussian data)")

    def codegen(self):
        raise NotAvailableError("'codegen' is not available yet (issue: DMFT on Gaussian data)")

    def solve(self, **options):
        raise NotAvailableError("'solve' is not available yet (issue: DMFT on Gaussian data)")

    def simulate(self, **options):
        raise NotAvailableError("'simulate' is not available yet (issue: DMFT on Gaussian data)")
