"""dmftc: a symbolic-to-numeric compiler for dynamical mean-field theory of learning dynamics.

>>> import dmftc
>>> m = dmftc.load("models/ridge_gd.dmft", lr=0.1)      # doctest: +SKIP
>>> ds = m.solve(steps=50)                              # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dmftc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

from dmftc.api import DMFTModel, load  # noqa: E402
from dmftc.errors import (  # noqa: E402
    CodegenError,
    DerivationError,
    DmftcError,
    ModelError,
    ModelSyntaxError,
    ParameterError,
    SolverError,
)

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
