"""One chunk of rows' unnormalized partial sums: what every ``LinearObjective`` runs per chunk.

Plain functions of NumPy / SciPy chunks: nothing here imports dask, so each function runs in
this process (:class:`fastloss.LinearObjective`: the whole ``X`` is one chunk) or is shipped to a
dask worker (:mod:`fastloss.dask`: one per row chunk) alike.

A chunk is validated and converted once into a :class:`ChunkState` (with the checks of
:mod:`fastloss._validation`; :func:`prepare` on a dask worker) that stays where it was built.
Every later call runs one compiled kernel of :mod:`fastloss.kernels.linear` on that state
(through :mod:`fastloss._run`) and returns the chunk's *unnormalized* partial sums (a float and
vectors of ``n_coef`` floats), never anything of the size of the chunk. The objective adds the
partials in chunk order and normalizes them (:mod:`fastloss._normalize`).

Labels are interpreted globally: :func:`label_summary` reduces each chunk of ``y`` to its
minimum and maximum, :func:`label_convention` combines them (-1/+1 or 0/1 for binary losses,
the number of classes for ``multinomial``), and :func:`prepare` converts every chunk with that
one convention.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _run as run
from . import _validation as val
from . import losses
from ._parallel import check_n_threads, threads
from .kernels import gradient_mode


class KernelSpec(NamedTuple):
    """The kernel arguments that are the same for every chunk and every call."""

    multinomial: bool
    loss_arg: int  # loss id (binary) or number of classes (multinomial)
    fit_intercept: bool
    n_threads: int | None  # None: every Numba thread of the process that runs the chunk


def _loss(spec: KernelSpec, mode: str | None):
    """The kernels' ``loss`` argument (:func:`fastloss.kernels.kernel_loss`), its loop for ``mode`` prepared."""
    from .kernels import kernel_loss

    if spec.multinomial:
        return kernel_loss("multinomial", spec.loss_arg, mode)
    return kernel_loss(losses.LOSSES[spec.loss_arg], 0, mode)


def _threads(spec: KernelSpec):
    return threads(check_n_threads(spec.n_threads))


def _nbytes(x) -> int:
    if isinstance(x, np.ndarray):
        return int(x.nbytes)
    if isinstance(x, tuple):
        return sum(_nbytes(a) for a in x)
    return 0


class ChunkState:
    """One validated chunk of rows, in the types the kernels take (see :mod:`fastloss.kernels`).

    ``X`` is the chunk itself when it already is a float32/float64 C/F array or a float CSR matrix
    (no copy). ``__sizeof__`` reports the bytes held, so that dask's scheduler sees how costly the
    state would be to move and keeps the work where the state is.
    """

    __slots__ = ("X", "y", "sw", "n", "weight_sum")

    def __init__(self, X, y, sw, n, weight_sum):
        self.X, self.y, self.sw, self.n, self.weight_sum = X, y, sw, n, weight_sum

    def __getstate__(self):
        return (self.X, self.y, self.sw, self.n, self.weight_sum)

    def __setstate__(self, state):
        self.X, self.y, self.sw, self.n, self.weight_sum = state

    def __sizeof__(self) -> int:
        return 64 + _nbytes(self.X) + _nbytes(self.y) + _nbytes(self.sw)


class CurvatureChunk:
    """A chunk's partial loss and gradient plus its per-sample curvature (kept on its worker)."""

    __slots__ = ("loss", "grad", "curvature")

    def __init__(self, loss, grad, curvature):
        self.loss, self.grad, self.curvature = loss, grad, curvature

    def __getstate__(self):
        return (self.loss, self.grad, self.curvature)

    def __setstate__(self, state):
        self.loss, self.grad, self.curvature = state

    def __sizeof__(self) -> int:
        return 64 + _nbytes(self.grad) + _nbytes(self.curvature)


# --- construction -----------------------------------------------------------------------------------

def _rows(name: str, start: int, stop: int) -> str:
    return f"{name}[{start}:{stop}]"


def label_summary(y, start: int, stop: int) -> tuple[float, float]:
    """``(min, max)`` of one chunk of labels, after the shape and finiteness checks."""
    arr = val._label_array(y, stop - start, _rows("y", start, stop))
    return float(arr.min()), float(arr.max())


def label_convention(summaries, multinomial: bool, n_classes: int | None) -> int:
    """Binary losses: 1 if any label is negative (-1/+1 labels), else 0. Multinomial: K."""
    low = min(s[0] for s in summaries)
    top = max(s[1] for s in summaries)
    if not multinomial:
        return int(low < 0)
    if n_classes is not None:
        return int(n_classes)
    return max(int(top) + 1, 2)  # as fastloss._validation.check_class_labels


def _binary_labels(y, start: int, stop: int, loss: str, plus_minus: bool) -> np.ndarray:
    # The convention was read from all of y: a chunk without a -1 may still be in -1/+1.
    return val.check_binary_labels(y, stop - start, loss, name="y", plus_minus=plus_minus, offset=start)


def _sample_weight(sw, start: int, stop: int) -> np.ndarray:
    """``check_sample_weight`` of one chunk: positions in the whole vector, no positive-sum check
    (only the total can fail it)."""
    if sw is None:
        return np.empty(0)
    return val.check_sample_weight(sw, stop - start, "sample_weight", require_positive_sum=False, offset=start)


def prepare(X, y, sw, convention: int, start: int, stop: int, loss: str, n_features: int,
            spec: KernelSpec) -> ChunkState:
    """Validate and convert rows ``start:stop`` (what ``LinearObjective.__init__`` does to all rows)."""
    with _threads(spec):
        Xk, n, d, _ = val.check_X(X, name=_rows("X", start, stop))
    if n != stop - start or d != n_features:
        raise ValueError(
            f"chunk `X[{start}:{stop}]` has shape ({n}, {d}), expected ({stop - start}, {n_features}) "
            f"from the dask array's metadata"
        )
    if spec.multinomial:
        yk, _ = val.check_class_labels(y, n, convention, name=_rows("y", start, stop))
    else:
        yk = _binary_labels(y, start, stop, loss, bool(convention))
    swk = _sample_weight(sw, start, stop)
    weight_sum = float(swk.sum()) if swk.size else float(n)
    return ChunkState(Xk, yk, swk, n, weight_sum)


def state_info(state: ChunkState) -> tuple[int, float]:
    """``(n_rows, sum of weights)`` of a prepared chunk."""
    return state.n, state.weight_sum


# --- the per-call partial sums ------------------------------------------------------------------------

def _args(state: ChunkState, coef: np.ndarray, spec: KernelSpec, mode: str | None) -> tuple:
    return (state.X, state.y, state.sw, coef, spec.fit_intercept, _loss(spec, mode))


def _n_threads(spec: KernelSpec) -> int:
    return check_n_threads(spec.n_threads)


def loss_gradient(state: ChunkState, coef: np.ndarray, spec: KernelSpec, want_gradient: bool):
    """``(sum_i s_i loss_i, sum_i s_i grad_i)`` over the chunk (the gradient is empty if not wanted)."""
    args = _args(state, coef, spec, gradient_mode(want_gradient, False))
    return run.loss_gradient(*args, want_gradient, np.empty(0), _n_threads(spec))


def curvature(state: ChunkState, coef: np.ndarray, spec: KernelSpec) -> CurvatureChunk:
    """Loss and gradient sums plus the per-sample curvature, which stays with the chunk."""
    size = state.n * spec.loss_arg if spec.multinomial else state.n
    curv = np.empty(size)
    args = _args(state, coef, spec, gradient_mode(True, True))
    total, grad = run.loss_gradient(*args, True, curv, _n_threads(spec))
    return CurvatureChunk(total, grad, curv)


def curvature_partials(state: ChunkState, chunk: CurvatureChunk) -> tuple[float, np.ndarray]:
    """The small part of a :class:`CurvatureChunk`: what travels back to the client (a copy: the
    caller folds it in place)."""
    return chunk.loss, chunk.grad.copy()


def hessp(state: ChunkState, coef: np.ndarray, spec: KernelSpec, V: np.ndarray) -> np.ndarray:
    """``(k, n_coef)`` partial Hessian-vector products, the curvature computed in the same pass."""
    return _hessp(state, coef, spec, V, np.empty(0))


def hessp_cached(state: ChunkState, curvature_chunk: CurvatureChunk, coef: np.ndarray, spec: KernelSpec,
                 V: np.ndarray) -> np.ndarray:
    """``(k, n_coef)`` partial Hessian-vector products from the chunk's cached curvature."""
    return _hessp(state, coef, spec, V, curvature_chunk.curvature)


def _hessp(state, coef, spec, V, curv):
    args = _args(state, coef, spec, None if curv.size else "hessian")
    return run.hessp(*args, curv, V, _n_threads(spec))


def hessian_diag(state: ChunkState, coef: np.ndarray, spec: KernelSpec) -> np.ndarray:
    """``(n_coef,)`` partial diagonal of the Hessian."""
    return run.hessian_diag(*_args(state, coef, spec, "hessian"), _n_threads(spec))


def hessian(state: ChunkState, coef: np.ndarray, spec: KernelSpec) -> np.ndarray:
    """``(n_coef, n_coef)`` partial Hessian."""
    return run.hessian(*_args(state, coef, spec, "value_gradient_hessian"), _n_threads(spec))


# --- combining partial sums (float64, chunk order) -----------------------------------------------------

def add_loss_grad(acc, part):
    """Fold one chunk's ``(loss, gradient)`` into ``acc`` (None for the first chunk)."""
    loss, grad = part
    if acc is None:
        return [0.0 + loss, _owned(grad)]
    acc[0] += loss
    acc[1] += grad
    return acc


def add(acc, part):
    """Fold one chunk's array of partial sums into ``acc`` (None for the first chunk)."""
    if acc is None:
        return _owned(part)
    acc += part
    return acc


def _owned(a) -> np.ndarray:
    """``a`` as a float64 array this process may write into (a kernel's fresh output is kept)."""
    a = np.asarray(a)
    if a.dtype == np.float64 and a.flags.writeable and a.flags.owndata:
        return a
    return np.array(a, dtype=np.float64)
