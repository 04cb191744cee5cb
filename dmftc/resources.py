"""Where the grammar, the templates and the bundled models live.

In the source tree they sit at the top level (``grammars/``, ``templates/``, ``models/``); a
wheel maps them into the package (``dmftc/grammars``, ...; see pyproject.toml). Both layouts work.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"dmftc is installed without its '{name}' folder (looked in {_PACKAGE})")


def bundled_models() -> dict[str, Path]:
    """Name -> file of every model bundled with dmftc (``dmftc models`` lists them)."""
    return {path.stem: path for path in sorted(resource_dir("models").glob("*.dmft"))}


def find_model(name_or_path: str | Path) -> Path:
    """A model file: an existing path wins; else a bare name (``ridge_gd`` or ``ridge_gd.dmft``)
    is looked up among the bundled models; else the path as given (reading it reports it missing)."""
    path = Path(name_or_path)
    if path.exists() or len(path.parts) != 1:
        return path
    return bundled_models().get(path.name.removesuffix(".dmft"), path)
