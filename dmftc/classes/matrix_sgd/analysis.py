"""Analysis of the matrix_sgd class: ``data online(dim = N)`` (docs/math/matrix_sgd.md §4).

The weight is an N x N matrix W and ``predict h = x . W`` is h = W x; x ~ N(0, I_N) is drawn
fresh for every sample of every step; the teacher W* is diagonal with entries of the teacher's
law (``teacher Wstar ~ 1``: W* = I) and ``hstar = W* x``; the loss is summed over the N outputs
and averaged over the batch (``batch size B``; one sample a step without it); the law of
``weights W ~ ...`` is per entry (``Wstar`` there is the entry of W*). The statements are those
of data models (:mod:`dmftc.analysis.data`); this module checks what online data allows.
"""

from __future__ import annotations

import sympy as sp

from dmftc.analysis import data
from dmftc.errors import ModelError
from dmftc.language import nodes as n


def online_spec(a, block) -> data.DataSpec:
    if a.out.get("time") == "continuous":
        raise ModelError(
            "'flow:' is not available for online data (the matrix family: one mini-batch of "
            "fresh samples per step of update:)",
            a.seen.get("block"),
            kind="wrong-class",
        )
    a.require_gradient(block)
    spec = data.data_spec(a, block)
    if spec.batch is not None and spec.batch.kind != "size":
        raise ModelError(
            "online data takes 'batch size B' (fresh samples every step)", a.seen[n.BatchDecl], kind="bad-batch"
        )
    if len(a.weights) != 1:
        raise ModelError("the matrix family has one weight matrix", a.weights[1].loc, kind="bad-weights")
    for o in a.observables:
        if any(g.kind != "mean" for g in o.aggregates):
            raise ModelError(
                f"observable '{o.name}': the matrix family observes mean() over the entries "
                "(the eigenvalues of WᵀW are recorded always)",
                o.loc,
                kind="bad-observable",
            )
    return spec


def batch_size(spec: data.DataSpec) -> sp.Expr:
    """B: the samples of one step (one without a ``batch size`` statement)."""
    return spec.batch.args[0] if spec.batch is not None else sp.Integer(1)
