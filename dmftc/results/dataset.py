"""The layout of every result as an ``xarray.Dataset``, and its netCDF input and output.

A result has the dimension ``step`` (integer coordinate: the steps written, ``0..T`` or step 0
and log-spaced steps, ``--log-steps``) with the float coordinate ``time`` along it (the step
for ``update`` models, ``step * dt`` for flows), and

* one variable per observable over ``step``; a simulation adds ``<name>_sem``, the standard
  error over runs;
* two-time functions (``C_theta``, ``R_theta``, ...) over (``step``, ``step2``), with the
  coordinates ``step2`` (integers) and ``time2`` (floats) along ``step2``;
* optional extra series over ``step`` (``C_theta_teacher``, ...), named ``*_teacher``;
* attributes (str, int or float only) built by :func:`run_attributes`.
"""

from __future__ import annotations

import errno
import functools
import glob
import hashlib
import json
import os
import platform
import re
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.table import Table

from dmftc.errors import DmftcError

ENGINE = "h5netcdf"
KINDS = ("dmft", "simulation", "theory")  # theory: a closed-form prediction (dmftc/matrix_sgd.py)
VERSIONED_PACKAGES = ("numpy", "numba", "sympy", "scipy", "xarray", "lark", "jinja2")
# Settings shown in the header of print_final_values, in this order.
MAIN_SETTINGS = ("steps", "dt", "mode", "method", "samples", "dim", "runs", "seed")


def make_dataset(
    observables: dict[str, np.ndarray],
    time: np.ndarray,
    *,
    steps: np.ndarray | None = None,
    sem: dict[str, np.ndarray] | None = None,
    two_time: dict[str, np.ndarray] | None = None,
    series: dict[str, np.ndarray] | None = None,
    attrs: dict | None = None,
) -> xr.Dataset:
    """Build a result dataset.

    ``time`` has one entry per step written (``T + 1`` of them, or those of ``steps``, the step
    numbers, when not every step is written); ``observables``, ``sem`` and ``series`` hold arrays
    of that length, ``two_time`` square arrays of that size. ``sem`` keys are
    observable names; the variables are called ``<name>_sem``. Raises ``ValueError`` for arrays
    of the wrong shape, clashing names or attributes that netCDF cannot store.
    """
    time = np.asarray(time, dtype=float)
    if time.ndim != 1 or time.size == 0:
        raise ValueError(f"time must be a non-empty 1-d array, got shape {time.shape}")
    n = time.size
    sem, two_time, series = sem or {}, two_time or {}, series or {}

    unknown_sem = set(sem) - set(observables)
    if unknown_sem:
        raise ValueError(f"sem given for unknown observables: {sorted(unknown_sem)}")
    names = [*observables, *(f"{name}_sem" for name in sem), *two_time, *series]
    clashes = {name for name in names if names.count(name) > 1}
    clashes |= set(names) & {"step", "time", "step2", "time2"}
    if clashes:
        raise ValueError(f"variable names used twice: {sorted(clashes)}")

    variables = {}
    for name, values in [*observables.items(), *((f"{k}_sem", v) for k, v in sem.items()), *series.items()]:
        variables[name] = ("step", _checked_array(name, values, (n,)))
    for name, values in two_time.items():
        variables[name] = (("step", "step2"), _checked_array(name, values, (n, n)))

    steps = np.arange(n) if steps is None else np.asarray(steps, dtype=np.int64)
    if steps.shape != (n,):
        raise ValueError(f"steps has shape {steps.shape}, expected {(n,)}")
    coords = {"step": steps, "time": ("step", time)}
    if two_time:
        coords |= {"step2": steps, "time2": ("step2", time)}
    for key, value in (attrs or {}).items():
        if not isinstance(value, (str, int, float, np.integer, np.floating)) or isinstance(value, bool):
            raise ValueError(f"attribute '{key}' must be a str, int or float, got {value!r}")
    return xr.Dataset(variables, coords=coords, attrs=dict(attrs or {}))


def _checked_array(name: str, values, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.shape != shape:
        raise ValueError(f"'{name}' has shape {array.shape}, expected {shape}")
    return array


def mean_and_sem(stacked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mean over independent runs (axis 0) and its standard error (NaN for a single run)."""
    runs = stacked.shape[0]
    mean = stacked.mean(axis=0)
    sem = stacked.std(axis=0, ddof=1) / np.sqrt(runs) if runs > 1 else np.full_like(mean, np.nan)
    return mean, sem


def run_attributes(
    *,
    kind: str,
    model,
    params: dict[str, float],
    settings: dict,
    timings: dict,
) -> dict:
    """The attributes of a result: provenance (``model``: its name, path and source text),
    parameters, run settings and timings.

    ``settings`` (``steps``, ``seed``, ``dt``, ...) become attributes of the same name; None
    values are left out and booleans stored as 0/1. ``timings`` map a phase to seconds:
    ``{"derive": 0.3}`` becomes ``time_derive_s`` (a key already of the form ``time_*_s`` is
    kept as it is).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    attrs = {
        "kind": kind,
        "model": model.name,
        "model_path": str(model.path),
        "model_source": model.source,
        "content_hash": hashlib.sha256(model.source.encode("utf-8")).hexdigest(),
        "dmftc_version": _dmftc_version(),
        "versions": json.dumps(_versions()),
        "parameters": json.dumps({name: float(value) for name, value in params.items()}),
    }
    extra = {f"param_{name}": float(value) for name, value in params.items()}
    for key, value in settings.items():
        if value is not None:
            extra[key] = _netcdf_value(key, value)
    for phase, seconds in timings.items():
        key = phase if phase.startswith("time_") and phase.endswith("_s") else f"time_{phase}_s"
        extra[key] = float(seconds)
    clashes = set(extra) & (set(attrs) | {"created"})
    if clashes:
        raise ValueError(f"settings or timings reuse reserved attribute names: {sorted(clashes)}")
    attrs |= extra
    attrs["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    return attrs


def _dmftc_version() -> str:
    from dmftc.version import __version__

    return __version__


@functools.cache
def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in VERSIONED_PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def _netcdf_value(key: str, value) -> str | int | float:
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, int, float)):
        return value
    raise ValueError(f"setting '{key}' must be a str, int, float or bool, got {value!r}")


def write(ds: xr.Dataset, path: str | Path) -> None:
    """Write ``ds`` as netCDF (h5netcdf), atomically (:func:`replacing`): a reader never sees a
    half-written file."""
    with replacing(path) as partial:
        try:
            ds.to_netcdf(partial, engine=ENGINE)
        except RuntimeError as e:  # h5py reports a failed write (a full disk) when it closes the file
            raise OSError(str(e)) from None


@contextmanager
def replacing(path: str | Path):
    """A temporary file next to ``path`` to write: moved onto ``path`` when the block ends, removed if
    it fails (an error, Ctrl-C). An OSError (a full disk, ...) becomes a :class:`DmftcError`. The
    temporary files of earlier writes to ``path`` whose process is gone (killed) are removed first."""
    path = Path(path)
    _check_replaceable(path)
    _remove_stale_parts(path)
    partial = _partial(path)
    try:
        yield partial
        os.replace(partial, path)
    except OSError as e:
        raise _write_error(path, e) from None
    finally:
        partial.unlink(missing_ok=True)


def check_writable(path: str | Path, *, model_path: str | Path | None = None) -> None:
    """Refuse, before any work, an output path that cannot or should not be written: its directory
    is missing or read-only, it is the model file, or it is not a regular file (a directory, a
    device, a pipe)."""
    path = Path(path)
    _check_replaceable(path)
    if model_path is not None and path.exists() and Path(model_path).exists() and path.samefile(model_path):
        raise DmftcError(
            "refusing to overwrite the model file", kind="io", filename=str(path), hint="choose another output file"
        )
    probe = _partial(path)
    try:
        probe.touch()
        probe.unlink()
    except OSError as e:
        raise _write_error(path, e) from None


def check_output(path: str | Path, *, model_path: str | Path | None = None, force: bool = False) -> None:
    """:func:`check_writable`, and unless ``force`` refuse to replace an existing file that is not a
    dmftc result."""
    check_writable(path, model_path=model_path)
    if not force and Path(path).exists() and not is_result(path):
        raise DmftcError(
            "refusing to overwrite a file that is not a dmftc result",
            kind="io",
            filename=str(path),
            hint="choose another output file, or pass --force to overwrite it",
        )


def is_result(path: str | Path) -> bool:
    """Whether ``path`` is a netCDF file with the attributes that dmftc writes (``kind``, ``content_hash``)."""
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            return ds.attrs.get("kind") in KINDS and "content_hash" in ds.attrs
    except Exception:  # not netCDF, or damaged (see load_netcdf)
        return False


def _check_replaceable(path: Path) -> None:
    if not path.parent.is_dir():
        raise DmftcError(
            f"cannot write: directory '{path.parent}' does not exist",
            kind="io",
            hint="create the directory first",
            filename=str(path),
        )
    if path.exists() and not path.is_file():
        what = "a directory" if path.is_dir() else "not a regular file (a device, a pipe or a socket)"
        raise DmftcError(
            f"refusing to overwrite it: it is {what}", kind="io", filename=str(path), hint="choose another output file"
        )


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def _remove_stale_parts(path: Path) -> None:
    prefix = f".{path.name}."
    for part in path.parent.glob(f"{glob.escape(prefix)}*.part"):
        pid = part.name[len(prefix) : -len(".part")]
        if pid.isdigit() and not _alive(int(pid)):
            part.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only whether the process exists
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # it exists, another user's
        pass
    return True


def _h5py_errno(message: str) -> int | None:
    """The errno in the text of an h5py error (``... errno = 28, error message = ...``)."""
    match = re.search(r"errno = (\d+)", message)
    return int(match.group(1)) if match else None


def _write_error(path: Path, e: OSError) -> DmftcError:
    number = e.errno or _h5py_errno(str(e))
    reason = os.strerror(number) if number else str(e)
    hint = "free some space on the disk" if number in (errno.ENOSPC, errno.EDQUOT) else None
    return DmftcError(f"cannot write: {reason}", kind="io", filename=str(path), hint=hint)


def load_netcdf(path: str | Path, hint: str) -> xr.Dataset:
    """A netCDF file read fully into memory (closed after), its attributes as Python values."""
    try:
        ds = xr.load_dataset(path, engine=ENGINE)
    except Exception as e:  # OSError, ValueError; KeyError, AttributeError, ... from h5py for a damaged file
        raise DmftcError(
            f"cannot read: not a netCDF file, or a damaged one ({e})", kind="io", filename=str(path), hint=hint
        ) from None
    ds.attrs = {key: value.item() if isinstance(value, np.generic) else value for key, value in ds.attrs.items()}
    return ds


def read(path: str | Path) -> xr.Dataset:
    """Read a result written by :func:`write` fully into memory (the file is closed after)."""
    path = Path(path)
    if not path.is_file():
        raise DmftcError("cannot read: no such file", kind="io", filename=str(path))
    ds = load_netcdf(path, "results are written by 'dmftc solve -o' and 'dmftc simulate -o'")
    missing = _missing(ds)
    if missing:
        raise DmftcError(f"not a dmftc result: {missing}", kind="io", filename=str(path))
    return ds


def _missing(ds: xr.Dataset) -> str | None:
    """What a dataset lacks of the layout of results (the module's docstring and sweep.py), or None."""
    if "step" not in ds.dims or "time" not in ds.coords:
        return "it has no dimension 'step' with a coordinate 'time'"
    if "step2" in ds.dims and "time2" not in ds.coords:
        return "it has the dimension 'step2' but no coordinate 'time2'"
    if "sweep_dims" not in ds.attrs:
        return None
    try:
        dims = json.loads(ds.attrs["sweep_dims"])
    except (TypeError, ValueError):
        return "its attribute 'sweep_dims' is not a JSON list"
    if not isinstance(dims, list) or not all(isinstance(dim, str) and dim in ds.dims for dim in dims):
        return f"its attribute 'sweep_dims' does not name dimensions: {ds.attrs['sweep_dims']}"
    if "status" not in ds or ds["status"].dims != tuple(dims):
        return f"it is a sweep (over {', '.join(dims)}) without the variable 'status' over its grid"
    return None


def observable_names(ds: xr.Dataset) -> list[str]:
    """The observables of a result: variables over ``step`` alone, not ``*_sem`` nor ``*_teacher``."""
    return [
        str(name)
        for name, var in ds.data_vars.items()
        if var.dims == ("step",) and not str(name).endswith(("_sem", "_teacher"))
    ]


def two_time_names(ds: xr.Dataset) -> list[str]:
    """The two-time functions of a result: variables over (``step``, ``step2``)."""
    return [str(name) for name, var in ds.data_vars.items() if var.dims == ("step", "step2")]


def describe(ds: xr.Dataset) -> str:
    """One line naming the kind, the model and the main settings of a result."""
    settings = ", ".join(f"{key}={ds.attrs[key]}" for key in MAIN_SETTINGS if key in ds.attrs)
    head = f"{ds.attrs.get('kind', 'result')} {ds.attrs.get('model', '')}".strip()
    return f"{head} ({settings})" if settings else head


def print_final_values(ds: xr.Dataset, console: Console) -> None:
    """Print each observable at the final step, with ``± sem`` where the result has it."""
    last = ds.isel(step=-1)
    console.print(describe(ds), markup=False)
    table = Table(
        title=f"final values at time {float(last['time']):g}",
        show_header=True,
        header_style="bold",
        box=None,
        pad_edge=False,
    )
    table.add_column("observable")
    table.add_column("value", justify="right")
    table.add_column("± s.e.", justify="right")
    for name in observable_names(ds):
        sem_name = f"{name}_sem"
        sem = f"± {float(last[sem_name]):.3g}" if sem_name in ds else ""
        table.add_row(name, f"{float(last[name]):.6g}", sem)
    console.print(table)
