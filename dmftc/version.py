"""The version of dmftc (from the installed package's metadata)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dmftc")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
