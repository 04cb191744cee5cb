"""Parameter sweeps: solve a model at every point of a grid with Dask, into one dataset.

A grid maps parameter names to values: a list sweeps the parameter (a dimension of the result,
in the order given), a single number fixes it. The result has the swept parameters as
dimensions in front of ``step`` (and ``step2``), the layout of :mod:`dmftc.results` otherwise,
and over the grid: ``status`` ("ok" or "failed"), ``error`` (the message of a failed point, ""
for the others), ``parameters`` (every parameter of the point, JSON), ``created`` and the
``time_*_s`` of each solve, and any other attribute that differs from point to point. A failed
point holds NaN. The attributes ``sweep_dims`` and ``sweep_options`` (JSON) say what was swept
and how every point was solved.

With an output file every finished point is written at once, atomically, to ``<output>.parts/``
(one netCDF file per batch of points that finished together, laid out as a sweep over
``point``); at the end the points are merged into the output and the folder is removed. A run
with the same output and the same options takes the points found in both and computes only the
others (failed points are tried again), so an interrupted sweep (Ctrl-C, a killed process)
loses no finished point. A grid that leaves out points found there is joined to theirs (each
swept parameter takes the values of both) when every point of the joined grid is found or asked
for; otherwise the run is refused rather than drop them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr

from dmftc import options as opts
from dmftc.codegen import jit
from dmftc.errors import DmftcError, ParameterError, SolverError
from dmftc.pipeline import CompiledModel, compile_model
from dmftc.results import dataset as results
from dmftc.runtime import memory
from dmftc.runtime.progress import progress_bar

log = logging.getLogger("dmftc")

RESERVED = ("step", "step2", "time", "time2", "status", "error", "parameters", "created")
SWEEP_ATTRS = ("sweep_dims", "sweep_options")
# SolverError kinds that belong to a point's parameter values: the point fails, not the sweep
POINT_FAILURES = ("diverged", "bad-parameter")


@dataclass(frozen=True)
class Failure:
    """A grid point that could not be solved."""

    message: str
    created: str


def parse_values(name: str, text: str) -> float | list[float]:
    """``a:b:n`` -> n evenly spaced values from a to b inclusive; ``v1,v2,...`` -> the list;
    ``v`` -> the number v (a fixed parameter)."""
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            if int(count) < 2:
                raise ValueError
            memory.require_values(int(count), name)
            start, stop = opts.parameter_value(start), opts.parameter_value(stop)
            return [float(v) for v in np.linspace(start, stop, int(count))]
        if "," in text:
            return [opts.parameter_value(v) for v in text.split(",")]
        return opts.parameter_value(text)
    except ValueError:
        raise ParameterError(
            f"parameter '{name}': expected a number, a list like 0.1,0.2 or a range "
            f"like 0.5:4:8 (8 values from 0.5 to 4), got '{text}'",
            kind="bad-sweep",
        ) from None


def parse_grid(texts: dict[str, str]) -> dict[str, float | list[float]]:
    """The grid of ``dmftc sweep -p NAME=VALUES``: name -> :func:`parse_values`."""
    return {name: parse_values(name, text) for name, text in texts.items()}


def swept_dims(ds: xr.Dataset) -> list[str]:
    """The swept parameters of a sweep result that are still dimensions of ``ds``."""
    return [name for name in json.loads(ds.attrs.get("sweep_dims", "[]")) if name in ds.dims]


def run_sweep(
    model,
    grid: dict,
    *,
    client=None,
    output: str | Path | None = None,
    progress: bool = False,
    force: bool = False,
    **solve_options,
) -> xr.Dataset:
    """Solve ``model`` at every point of ``grid`` with Dask; returns the sweep dataset.

    ``client``: a ``distributed.Client``, a scheduler address, or None for a local cluster of
    one single-threaded worker process per core. ``output``: the netCDF file to write (and to
    resume from; ``force``: replace it if it is not a dmftc result); ``solve_options`` go to
    :meth:`DMFTModel.solve` at every point.
    """
    swept, fixed = _split_grid(grid)
    options = _solve_options(model, solve_options)
    opts.check_sweep_memory(model, options, math.prod(len(v) for v in swept.values()), local=client is None)
    options_json = json.dumps(options, sort_keys=True)
    content_hash = hashlib.sha256(model.model.source.encode("utf-8")).hexdigest()
    points, keys = _grid(model, swept, fixed)
    if output is not None:
        results.check_output(output, model_path=model.model.path, force=force)
    parts = None if output is None else Path(f"{output}.parts")
    attrs = {
        "kind": "dmft",
        "model": model.model.name,
        "model_path": str(model.model.path),
        "model_source": model.model.source,
        "content_hash": content_hash,
        "sweep_options": options_json,
    }
    outcomes, earlier = ({}, set()) if output is None else _finished_points(output, parts, content_hash, options_json)
    if not earlier <= set(keys):
        swept, points, keys = _joined_grid(model, swept, fixed, set(keys), earlier, output)
    outcomes = {key: outcomes[key] for key in keys if key in outcomes}
    todo = [point for point, key in zip(points, keys) if key not in outcomes]
    log.info(
        "sweep of %s: %d points%s",
        model.model.name,
        len(points),
        f", {len(outcomes)} of them found in {output}" if output is not None else "",
    )
    if todo:
        with _client(client) as dask_client, progress_bar(progress) as bar:
            _prepare_workers(dask_client, model.compiled)
            _warm_up(todo[0], options)
            task = (
                bar.add_task(f"sweep {model.model.name}", total=len(points), completed=len(outcomes))
                if bar is not None
                else None
            )
            try:
                for batch in _solve_all(dask_client, model.compiled, todo, options):
                    outcomes |= batch
                    solved = {key: value for key, value in batch.items() if isinstance(value, xr.Dataset)}
                    if parts is not None and solved:
                        _save_part(parts, solved, attrs)
                    if bar is not None:
                        bar.advance(task, len(batch))
            except KeyboardInterrupt:
                if parts is not None:
                    log.warning(
                        "interrupted: the points solved so far are saved in %s; the same command goes on from there",
                        parts,
                    )
                raise

    ds = _merge(swept, keys, outcomes, attrs | {"sweep_dims": json.dumps(list(swept))})
    if output is not None:
        results.write(ds, output)
        shutil.rmtree(parts, ignore_errors=True)
    return ds


def _split_grid(grid: dict) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Swept parameters (name -> values, in order) and fixed ones (name -> value)."""
    swept, fixed = {}, {}
    for name, values in grid.items():
        if np.ndim(values) == 0:
            fixed[name] = values
            continue
        if name in RESERVED:
            raise ParameterError(f"cannot sweep '{name}': the name is taken by the layout of results", kind="bad-sweep")
        try:
            values = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter '{name}' needs numbers, got {values!r}", kind="bad-sweep") from None
        if values.ndim != 1 or values.size == 0:
            raise ParameterError(f"parameter '{name}' needs a flat, non-empty list of values", kind="bad-sweep")
        if np.unique(values).size < values.size:
            raise ParameterError(f"parameter '{name}' has a value twice", kind="bad-sweep")
        swept[name] = values
    if not swept:
        raise ParameterError(
            "nothing to sweep: give a parameter several values (like 0.5:4:8 or 0.1,0.2)", kind="bad-sweep"
        )
    return swept, fixed


def _grid(model, swept: dict[str, np.ndarray], fixed: dict) -> tuple[list, list[tuple]]:
    """The models of the grid's points, in grid order, and their keys."""
    points = [model.with_params(**(fixed | dict(zip(swept, values)))) for values in itertools.product(*swept.values())]
    return points, [_key(point.params) for point in points]


def _joined_grid(model, swept: dict, fixed: dict, keys: set, earlier: set, output) -> tuple[dict, list, list]:
    """The grid of this run (point ``keys``) joined to that of the points of an earlier run into the
    same output that it leaves out (``earlier``), with its points and keys: each swept parameter
    takes the values of both, sorted. Refused when the joined grid has points neither solved nor
    asked for, or leaves out earlier points (they differ in a parameter not swept here)."""
    joined = {name: np.unique([*values, *(dict(key)[name] for key in earlier)]) for name, values in swept.items()}
    points, joined_keys = _grid(model, joined, fixed)
    if earlier <= set(joined_keys) <= earlier | keys:
        log.info("sweep: the grid of %s joined to this one", output)
        return joined, points, joined_keys
    if earlier <= set(joined_keys):
        flags = " ".join(f"-p {name}={','.join(map(str, values.tolist()))}" for name, values in joined.items())
        hint = f"sweep the grid that holds both ({flags}), or choose another output file"
    else:
        on_grid = {name: {dict(key)[name] for key in joined_keys} for name, _ in joined_keys[0]}
        differ = sorted({name for key in earlier for name, value in key if value not in on_grid[name]})
        hint = f"they differ in {', '.join(differ)}: sweep a grid that holds them too, or choose another output file"
    raise DmftcError(
        f"the file holds {len(earlier - keys)} point(s) of an earlier sweep that are not on this grid: "
        "writing it would drop them",
        kind="io",
        filename=str(output),
        hint=hint,
    )


def _solve_options(model, options: dict) -> dict:
    """The options of :meth:`DMFTModel.solve` for every point, checked (:mod:`dmftc.options`), less
    those not given or equal to their default (so that a sweep is resumed however its options
    were spelled)."""
    resolved = opts.resolve(opts.SOLVE, model.model_class, model.model, options)
    if resolved.get("tmax") is not None:
        raise SolverError("--tmax cannot be swept over: each point would have its own time grid", kind="bad-option")
    return {
        name: resolved[name]
        for name, value in options.items()
        if value is not None and name in resolved and resolved[name] != opts.plain(opts.BY_NAME[name].default)
    }


def _key(params: dict) -> tuple:
    """A grid point's identity: all its parameter values."""
    return tuple(sorted((name, float(value)) for name, value in params.items()))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------------ solving


def _warm_up(point, options: dict) -> None:
    """Compile the solver here, once, on a 2-step problem: the workers load it from the cache.
    An error that concerns every point (a bad option, a model dmftc cannot solve) stops here."""
    try:
        point.solve(**(options | {"steps": 2}))
    except SolverError as e:
        if e.kind not in POINT_FAILURES:
            raise


@contextmanager
def _client(client):
    """The given client, one for a scheduler address, or a local cluster (closed after). Those
    made here leave dask's default scheduler alone."""
    from distributed import Client, LocalCluster

    if client is None:
        cluster = LocalCluster(
            n_workers=os.cpu_count(),
            threads_per_worker=1,
            dashboard_address="127.0.0.1:0",  # no fixed port to collide on
            silence_logs=logging.ERROR,
        )  # not the warnings of cancelled tasks
        with cluster, Client(cluster, set_as_default=False) as local:
            yield local
    elif isinstance(client, str):
        try:
            remote = Client(client, timeout="10s", set_as_default=False)
        except (OSError, ValueError) as e:  # unreachable (a timeout is an OSError), malformed
            raise DmftcError(f"cannot reach the Dask scheduler at '{client}': {e}", kind="scheduler") from None
        with remote:
            yield remote
    else:
        yield client


def _prepare_workers(client, compiled: CompiledModel) -> None:
    """Have every worker import dmftc and analyse the model while this process compiles."""
    from distributed import fire_and_forget

    for address in client.scheduler_info()["workers"]:
        fire_and_forget(client.submit(_analysed, compiled.text, compiled.path, workers=address, pure=False))


def _solve_all(client, compiled: CompiledModel, points: list, options: dict):
    """Submit every point; yield batches of finished ones, {key: Dataset or Failure}."""
    from distributed import as_completed

    cache_root = str(jit.cache_dir().parent)
    futures = client.map(
        _solve_point,
        [point.overrides for point in points],
        source=compiled.text,
        path=compiled.path,
        options=options,
        cache_root=cache_root,
        pure=False,
    )
    key_of = {future.key: _key(point.params) for future, point in zip(futures, points)}
    try:
        for finished in as_completed(futures, loop=client.loop).batches():
            batch = {}
            for future in finished:
                try:
                    batch[key_of[future.key]] = future.result()
                except Exception as e:  # the task raised (a bug) or its worker died
                    batch[key_of[future.key]] = Failure(f"{type(e).__name__}: {e}", _now())
                future.release()  # the worker's copy is no longer needed
            yield batch
    finally:
        client.cancel(futures)


def _solve_point(overrides: dict, *, source: str, path: str, options: dict, cache_root: str):
    """Solve one grid point on a worker; a :class:`DmftcError` becomes a :class:`Failure`.

    The worker uses the submitting process's cache directory when it can see it (same machine
    or shared disk), so it loads the compiled solver instead of compiling it. One numba thread:
    the workers already fill the cores.
    """
    import numba

    if Path(cache_root).is_dir():
        os.environ["DMFTC_CACHE_DIR"] = cache_root
    numba.set_num_threads(1)
    try:
        compiled = _analysed(source, path)
        resolved = opts.resolve(opts.SOLVE, compiled.model_class, compiled.model, options)
        return compiled.model_class.solve(compiled, compiled.model.resolve_params(overrides), resolved, None)
    except DmftcError as e:
        return Failure(str(e), _now())


@lru_cache(maxsize=8)
def _analysed(source: str, path: str) -> CompiledModel:
    return compile_model(path, text=source)


# ------------------------------------------------------------------------- storing, resuming


def _save_part(parts: Path, solved: dict, attrs: dict) -> None:
    """Write solved points (key -> Dataset) to a new file of the parts folder: a sweep over
    ``point``. Points arrive faster than files can be written one by one, so they are batched."""
    parts.mkdir(exist_ok=True)
    ds = _merge({"point": np.arange(len(solved))}, list(solved), solved, attrs | {"sweep_dims": '["point"]'})
    results.write(ds, parts / f"{uuid.uuid4().hex}.nc")


def _finished_points(output: str | Path, parts: Path, content_hash: str, options_json: str) -> tuple[dict, set]:
    """The solved points of an earlier run (key -> Dataset), from the output (unless it is not a
    dmftc result, which ``force`` replaces) and its parts folder, and the keys of all its points."""
    found, earlier = {}, set()
    files = [Path(output)] if Path(output).exists() and results.is_result(output) else []
    for path in files + (sorted(parts.glob("*.nc")) if parts.is_dir() else []):
        ds = results.load_netcdf(path, "choose another output file or remove this one")
        _check_same_sweep(ds.attrs, path, content_hash, options_json)
        found |= _points_of(ds)
        earlier |= {_key(json.loads(text)) for text in ds["parameters"].values.ravel()}
    return found, earlier


def _check_same_sweep(attrs: dict, path: Path, content_hash: str, options_json: str) -> None:
    """Refuse to resume from a file of another sweep (or no sweep at all)."""
    hint = "choose another output file or remove this one"
    if "sweep_options" not in attrs:
        raise DmftcError("the output file exists and is not a sweep", kind="io", filename=str(path), hint=hint)
    if attrs.get("content_hash") != content_hash:
        raise DmftcError(
            "the output file holds a sweep of another model (or another version of it)",
            kind="io",
            filename=str(path),
            hint=hint,
        )
    if attrs["sweep_options"] != options_json:
        raise DmftcError(
            f"the output file holds a sweep solved with other options: {attrs['sweep_options']}, here {options_json}",
            kind="io",
            filename=str(path),
            hint=hint,
        )


def _points_of(ds: xr.Dataset) -> dict:
    """The solved points of a sweep dataset, each as the dataset its solve returned."""
    dims = json.loads(ds.attrs["sweep_dims"])
    per_point = [
        str(name) for name, var in ds.data_vars.items() if var.dims == tuple(dims) and name not in ("status", "error")
    ]
    attrs = {key: value for key, value in ds.attrs.items() if key not in SWEEP_ATTRS}
    found = {}
    for index in zip(*np.nonzero(ds["status"].values == "ok")):
        point = ds.isel(dict(zip(dims, index)))
        point.attrs = attrs | {name: point[name].item() for name in per_point}
        point = point.drop_vars([*dims, "status", "error", *per_point])
        found[_key(json.loads(point.attrs["parameters"]))] = point
    return found


def _merge(swept: dict[str, np.ndarray], keys: list[tuple], outcomes: dict, attrs: dict) -> xr.Dataset:
    """One dataset over the grid from the outcome of every point (``keys`` in grid order)."""
    dims = list(swept)
    shape = tuple(len(values) for values in swept.values())
    solved = [outcome for outcome in outcomes.values() if isinstance(outcome, xr.Dataset)]
    common, per_point = _split_attrs(solved, dims)
    coords = {name: (name, values) for name, values in swept.items()}
    variables = {
        "status": (dims, np.full(shape, "ok", dtype=object)),
        "error": (dims, np.full(shape, "", dtype=object)),
    }
    if solved:
        coords |= dict(solved[0].coords)
        for name, var in solved[0].data_vars.items():
            variables[name] = ([*dims, *var.dims], np.full(shape + var.shape, np.nan))
    for name in per_point:
        text = name in ("parameters", "created") or any(isinstance(ds.attrs.get(name), str) for ds in solved)
        variables[name] = (dims, np.full(shape, "", dtype=object) if text else np.full(shape, np.nan))
    for index, key in zip(np.ndindex(shape), keys):
        outcome = outcomes[key]
        if isinstance(outcome, Failure):
            variables["status"][1][index] = "failed"
            variables["error"][1][index] = outcome.message
            variables["created"][1][index] = outcome.created
            variables["parameters"][1][index] = json.dumps(dict(key))
            continue
        for name, var in outcome.data_vars.items():
            variables[name][1][index] = var.values
        for name in per_point:
            if name in outcome.attrs:
                variables[name][1][index] = outcome.attrs[name]
    return xr.Dataset(variables, coords=coords, attrs=attrs | common)


def _split_attrs(solved: list[xr.Dataset], dims: list[str]) -> tuple[dict, list[str]]:
    """Attributes the same at every solved point, and the names of those that are not (with
    ``parameters``, ``created`` and the timings always among them). ``param_<swept>`` is left
    out: the coordinates hold it."""
    dropped = {f"param_{name}" for name in dims}
    names = list(dict.fromkeys(key for ds in solved for key in ds.attrs if key not in dropped))
    timings = [name for name in names if name.startswith("time_") and name.endswith("_s")]
    per_point = ["parameters", "created", *timings]
    for name in names:
        if name not in per_point and any(ds.attrs.get(name) != solved[0].attrs.get(name) for ds in solved):
            per_point.append(name)
    common = {name: solved[0].attrs[name] for name in names if name not in per_point}
    return common, per_point
