"""A loss as the linear-model kernels see it: ``n`` scores per sample and their derivatives.

The kernels of :mod:`.linear` are one block pipeline for every loss: score a block of rows
against the coefficient rows, turn the scores into per-row derivatives *in score space*, and
spread them back over the same rows while the block is in cache. What differs between losses is
only the middle step and how many scores a sample has. There are two *kinds* of loss:

* a **binary** loss is its loss id (an integer, ``fastloss.losses.LOSS_IDS``): one score per
  sample, the loss's prepared loop (:mod:`._loops`) gives the derivatives;
* **multinomial** is :class:`Softmax` ``(n_classes)``: ``K`` scores per sample, one block softmax
  (:func:`fastloss.losses.multinomial_block_softmax`).

The pipeline's steps are the functions declared below (``n_scores``, ``score_rows``,
``derivatives``, ...). Each kernel of :mod:`.linear` is written once, as a template
(:func:`per_kind`) that calls them by name, and :func:`compile_kinds` compiles one copy of it
per kind with the names bound to that kind's implementations (:data:`KINDS`): each copy calls
the matrix primitives and the loss's own code directly, with no dispatch layer between them
(each compiled layer is linked and optimized again in every caller, so layers cost first-call
compile time; see docs/design.md).

Per block of ``m`` rows the pipeline holds ``Z`` (scores, ``(n_scores, >= m)``, intercepts
added), ``G`` (gradients) and ``C`` (curvature), each ``(n_scores, >= m)``. The *curvature* of a
row is what a Hessian-vector product needs of it, ``n_scores`` values that ``loss_gradient`` can
keep per sample (``curvature_out``, row after row) and ``hessp`` read back:

* binary: ``s_i h_i`` (the weighted second derivative);
* multinomial: the probabilities ``p_i`` (the weight is applied where they are used).

The *diagonal* (:func:`diagonal`) is the diagonal of the per-row Hessian in score space,
weighted: ``s_i h_i``, or ``s_i p_ik (1 - p_ik)`` with ``1 - p_ik`` from the complementary sum.
"""

from __future__ import annotations

import types as pytypes
from typing import NamedTuple

import numpy as np

from .. import _config
from .._jit import jit
from ..losses import (
    multinomial_block_gradient,
    multinomial_block_softmax,
    multinomial_hessian_of,
    multinomial_loss_of,
)
from ._chunks import copy_function
from ._loops import HESSIAN, VALUE, check_loop, pointwise_rows
from ._matrix import (
    block_rows,
    rows_axpy,
    rows_axpy_each,
    rows_dot,
    rows_dot_packed,
    whole_tiles,
)

#: The gradient's bit of a mode (:data:`._loops.MODES`; ``HESSIAN`` asks for the curvature).
GRADIENT = 2


class Softmax(NamedTuple):
    """The multinomial loss over ``n_classes`` scores, as the ``loss`` argument of the kernels."""

    n_classes: int


def kind_of(loss) -> str:
    """The kind (a key of :data:`KINDS`) of a kernel's ``loss`` argument."""
    return "softmax" if isinstance(loss, Softmax) else "binary"


# --- the steps of the pipeline (bound per kind: see KINDS) ------------------------------------

def n_scores(loss):
    """Scores per sample: 1 for a binary loss, ``K`` for :class:`Softmax`."""


def score_rows(X, a, b, P, Z):
    """``Z[j, i - a] = X[i, :d] @ w_j[:d]`` for rows ``a:b`` and the vectors of ``P``
    (:func:`~._matrix.vectors_empty`'s layout): one vector at a time for binary losses (no
    register tile is compiled), tiles of classes for multinomial on dense C input."""


def spread_rows(X, a, b, G, OUT):
    """``OUT[k, :d] += sum_i G[k, i - a] * X[i, :d]``, the loss kind's choice of primitive."""


def new_scratch(block):
    """The per-row scratch :func:`derivatives` needs for blocks of ``block`` rows (a tuple)."""


def check_ready(loss, mode):
    """Raise ``ValueError`` if a binary loss's loop for ``mode`` is not prepared (:mod:`._loops`)."""


def derivatives(loss, mode, y, sw, a, m, Z, G, C, S):
    """Per-row derivatives of the block's ``m`` rows (samples ``a + r``) from their scores ``Z``.

    ``mode`` (of :data:`._loops.MODES`) bits: :data:`VALUE` returns ``sum_r s_r loss_r`` (else
    0), :data:`GRADIENT` writes ``G[k, r] = s_r dloss/dz_k``, :data:`HESSIAN` writes the
    curvature into ``C``. ``Z`` is scratch afterwards; ``S`` is :func:`new_scratch`'s.
    """


def diagonal(loss, y, sw, a, m, Z, C, S):
    """``C[k, r]``: the weighted diagonal of row ``a + r``'s Hessian in score space, ``s h`` or
    ``s p_k (1 - p_k)`` (``1 - p_k`` from the complementary sum), from its scores ``Z`` (scratch
    afterwards)."""


def apply_curvature(loss, sw, a, m, C, U, T, S):
    """``T = H_r U``: the per-row Hessian in score space (from the curvature ``C``) times the
    directional scores ``U`` (``(k * n_scores, >= m)``, direction after direction, intercept
    included), for the block's ``m`` rows; ``T`` like ``U``, ``S`` :func:`new_scratch`'s."""


def gram_weights(loss, sw, a, m, curvature, Hd, Q, P):
    """The weights of rows ``a:a + m`` in the full Hessian's Gram kernels
    (:func:`fastloss.kernels.linear.gram_add`: ``Hd[k, r]`` in diagonal blocks, ``-Q[k, r] P[l, r]``
    off them) from the rows' cached curvature (``n_scores`` values per row)."""


# --- shared by both kinds ---------------------------------------------------------------------

@jit(inline=True)
def rows_per_block(X, n_values):
    """Rows per cache block when each row keeps ``n_values`` float64 of scratch: :func:`block_rows`,
    capped so that the scratch stays near ``_config.SCORE_SCRATCH_VALUES`` (whole tiles)."""
    by_scratch = max(_config.SCORE_SCRATCH_MIN_ROWS, _config.SCORE_SCRATCH_VALUES // max(n_values, 1))
    return whole_tiles(max(1, min(block_rows(X), by_scratch)))


@jit(inline=True)
def add_shift(shift, m, Z):
    """``Z[q, :m] += shift[q]``: the intercepts of the vectors the block was scored against."""
    for q in range(shift.size):
        sq = shift[q]
        for r in range(m):
            Z[q, r] += sq


# --- binary: one score, the loss's prepared loop ----------------------------------------------

@jit(inline=True)
def _binary_n_scores(loss):
    return np.int64(1)  # not a literal 1: arrays shaped with it share their allocator's signature


@jit(inline=True)
def _binary_scratch(block):
    return (np.empty(block),)  # the per-row losses


@jit(inline=True)
def _binary_derivatives(loss, mode, y, sw, a, m, Z, G, C, S):
    return pointwise_rows(loss, mode, y, sw, a, m, Z[0], S[0], G[0], C[0])


@jit(inline=True)
def _binary_diagonal(loss, y, sw, a, m, Z, C, S):
    # For one score the diagonal is the curvature, s h.
    pointwise_rows(loss, np.int64(HESSIAN), y, sw, a, m, Z[0], S[0], C[0], C[0])


@jit(inline=True)
def _binary_apply_curvature(loss, sw, a, m, C, U, T, S):
    h = C[0]
    for j in range(U.shape[0]):
        u = U[j]
        t = T[j]
        for r in range(m):
            t[r] = h[r] * u[r]


@jit(inline=True)
def _binary_gram_weights(loss, sw, a, m, curvature, Hd, Q, P):
    for r in range(m):
        Hd[0, r] = curvature[a + r]  # s h: Q and P are not read for one score


# --- softmax: K scores, one block softmax -----------------------------------------------------

@jit(inline=True)
def _softmax_n_scores(loss):
    return np.int64(loss[0])


@jit(inline=True)
def _softmax_scratch(block):
    # zmax, top, others, the label's score (then the label's gradient), the row's scale
    return (np.empty(block), np.empty(block, dtype=np.int64), np.empty(block), np.empty(block), np.empty(block))


@jit(inline=True)
def _softmax_ready(loss, mode):
    return None


@jit(inline=True)
def _softmax_derivatives(loss, mode, y, sw, a, m, Z, G, C, S):
    zmax, top, others, label, scale = S
    K = Z.shape[0]
    has_sw = sw.size > 0
    first = np.uintp(a)
    total = 0.0
    if mode & VALUE:
        for r in range(m):
            label[r] = Z[y[first + np.uintp(r)], r]
    multinomial_block_softmax(Z, m, zmax, top, others)  # Z holds the exponentials e
    if mode & VALUE:
        for r in range(m):
            s = sw[first + np.uintp(r)] if has_sw else 1.0
            total += s * multinomial_loss_of(zmax[r], label[r], others[r])
    for r in range(m):
        scale[r] = 1.0 / (1.0 + others[r])
    if mode & HESSIAN:
        for k in range(K):
            for r in range(m):
                C[k, r] = Z[k, r] * scale[r]  # p_k = e[k] / sum(e)
    if mode & GRADIENT:
        if has_sw:
            for r in range(m):
                scale[r] *= sw[first + np.uintp(r)]
        multinomial_block_gradient(Z, y, first, m, top, others, scale, label, G)
    return total


@jit(inline=True)
def _softmax_diagonal(loss, y, sw, a, m, Z, C, S):
    zmax, top, others, label, scale = S
    has_sw = sw.size > 0
    first = np.uintp(a)
    multinomial_block_softmax(Z, m, zmax, top, others)  # Z holds the exponentials e
    for r in range(m):
        scale[r] = 1.0 / (1.0 + others[r])
    for k in range(Z.shape[0]):
        for r in range(m):
            s = sw[first + np.uintp(r)] if has_sw else 1.0
            C[k, r] = s * multinomial_hessian_of(Z[k, r], top[r] == k, others[r], scale[r])


@jit(inline=True)
def _softmax_apply_curvature(loss, sw, a, m, C, U, T, S):
    # s (p o u - p (p . u)) = s p_k (u_k - p . u) for each direction's K scores u; every loop
    # runs over the rows of the block with the class fixed (they vectorize).
    K = C.shape[0]
    has_sw = sw.size > 0
    first = np.uintp(a)
    pu = S[3]
    for j in range(U.shape[0] // K):
        base = j * K
        for r in range(m):
            pu[r] = 0.0
        for k in range(K):
            for r in range(m):
                pu[r] += C[k, r] * U[base + k, r]
        for k in range(K):
            t = T[base + k]
            for r in range(m):
                s = sw[first + np.uintp(r)] if has_sw else 1.0
                t[r] = s * C[k, r] * (U[base + k, r] - pu[r])


@jit()
def _softmax_gram_weights(loss, sw, a, m, curvature, Hd, Q, P):
    # s p_k (1 - p_k) on the diagonal blocks, -s p_k p_l off them. 1 - p_k is taken as the sum
    # of the other probabilities for the row's largest p_k (no cancellation when it is near
    # 1), as 1 - p_k for the others (each at most 1/2).
    K = Hd.shape[0]
    has_sw = sw.size > 0
    for r in range(m):
        i = a + r
        row = curvature[i * K:(i + 1) * K]
        top = 0
        for k in range(1, K):
            if row[k] > row[top]:
                top = k
        rest = 0.0
        for k in range(K):
            rest += 0.0 if k == top else row[k]
        s = sw[i] if has_sw else 1.0
        for k in range(K):
            pk = row[k]
            Hd[k, r] = s * pk * (rest if k == top else 1.0 - pk)
            Q[k, r] = s * pk
            P[k, r] = pk


#: Each kind's implementation of every step of the pipeline.
KINDS = {
    "binary": dict(
        n_scores=_binary_n_scores, score_rows=rows_dot_packed, spread_rows=rows_axpy_each,
        new_scratch=_binary_scratch, check_ready=check_loop, derivatives=_binary_derivatives,
        diagonal=_binary_diagonal, apply_curvature=_binary_apply_curvature,
        gram_weights=_binary_gram_weights,
    ),
    "softmax": dict(
        n_scores=_softmax_n_scores, score_rows=rows_dot, spread_rows=rows_axpy,
        new_scratch=_softmax_scratch, check_ready=_softmax_ready, derivatives=_softmax_derivatives,
        diagonal=_softmax_diagonal, apply_curvature=_softmax_apply_curvature,
        gram_weights=_softmax_gram_weights,
    ),
}


# --- templates and their copies ---------------------------------------------------------------

def per_kind(template=None, *, inline: bool = False):
    """Decorator: ``template`` is a kernel written once for every kind of loss, compiled per kind
    by :func:`compile_kinds` (``inline``: as ``jit(inline=True)``, IR-inlined into its callers).
    Returns its :class:`PerKind`."""
    if template is None:
        return lambda template: PerKind(template, inline=inline)
    return PerKind(template, inline=inline)


class PerKind:
    """A kernel written once for every kind of loss. ``kernel.of(loss)`` is the compiled copy for
    ``loss``'s kind (what the Python API runs); compiled code calls a kind's copy through the
    kind's module (``linear.binary.loss_gradient_of``)."""

    def __init__(self, template, derive=None, inline=False):
        self.inline = inline  # compiled with jit(inline=True): IR-inlined into its callers
        self.template = template  # the Python function, or None for a derived kernel
        self.derive = derive  # (source per_kind, make(compiled source) -> compiled kernel)
        self.compiled = {}
        self.__name__ = template.__name__ if template is not None else None
        self.__doc__ = template.__doc__ if template is not None else None

    def of(self, loss):
        """The compiled copy of this kernel for ``loss`` (a binary loss id or a :class:`Softmax`)."""
        return self.compiled[kind_of(loss)]

    def derived(self, make):
        """A kernel made of this one's copies by ``make`` (a ``prange`` driver, say), per kind."""
        return PerKind(None, (self, make))


def compile_kinds(namespace: dict, module_name: str) -> dict[str, pytypes.ModuleType]:
    """Compile every :class:`PerKind` kernel of ``namespace`` (a template module's globals) once
    per kind of :data:`KINDS`; returns ``{kind: module}``, each module holding the kind's copies
    under the templates' names.

    A copy's globals are the template module's, with the steps of the pipeline bound to the
    kind's implementations and every other :class:`PerKind` kernel bound to its copy of the same
    kind, so that templates call each other within a kind. Each copy is a cached
    :func:`~fastloss._jit.jit` function with a name of its own (``<name>__<kind>``).
    """
    kernels = {name: value for name, value in namespace.items() if isinstance(value, PerKind)}
    modules = {}
    for kind, steps in KINDS.items():
        module = pytypes.ModuleType(f"{module_name}.{kind}", f"The kernels of {module_name} for {kind} losses.")
        scope = module.__dict__
        scope.update((name, value) for name, value in namespace.items() if not name.startswith("__"))
        scope.update(steps)
        for name, kernel in kernels.items():
            if kernel.template is not None:
                scope[name] = jit(inline=kernel.inline)(copy_function(kernel.template, scope, f"{name}__{kind}"))
        for name, kernel in kernels.items():
            if kernel.template is None:
                source, make = kernel.derive
                scope[name] = make(scope[source.__name__])
        for name, kernel in kernels.items():
            kernel.compiled[kind] = scope[name]
        modules[kind] = module
    return modules
