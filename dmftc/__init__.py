"""dmftc: a symbolic-to-numeric compiler for dynamical mean-field theory of learning dynamics.

>>> import dmftc
>>> m = dmftc.load("models/ridge_gd.dmft", lr=0.1)      # doctest: +SKIP
>>> ds = m.solve(steps=50)                              # doctest: +SKIP
"""

from dmftc.api import DMFTModel, load
from dmftc.errors import (
    CodegenError,
    DerivationError,
    DmftcError,
    ModelError,
    ModelSyntaxError,
    ParameterError,
    SolverError,
)
from dmftc.version import __version__

__all__ = [
    "load",
    "DMFTModel",
    "DmftcError",
    "ModelSyntaxError",
    "ModelError",
    "ParameterError",
    "DerivationError",
    "CodegenError",
    "SolverError",
    "__version__",
]
