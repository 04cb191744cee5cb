"""Where the grammar and the templates live.

In the source tree they sit at the top level (``grammars/``, ``templates/``); a wheel maps them
into the package (``dmftc/grammars``, ``dmftc/templates``, see pyproject.toml). Both layouts work.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"dmftc is installed without its '{name}' folder (looked in {_PACKAGE})")
