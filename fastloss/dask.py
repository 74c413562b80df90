"""``fastloss.dask.LinearObjective``: the objective of section 3 over a row-chunked ``dask.array``.

Design
------
* **Construction** checks the metadata on the client (a 2-D dask array chunked by rows only,
  lengths of ``y`` / ``sample_weight``, dtypes), then runs one graph that validates and converts
  every chunk *where it lives* (the checks of :mod:`fastloss._validation`, in
  :func:`fastloss._dask_chunks.prepare`). The converted chunks (``ChunkState``) stay on the
  workers as futures: ``X`` is read from its source once, and float32/float64 chunks are used in
  place. Labels are interpreted over all of ``y`` (-1/+1 versus 0/1, the number of classes) by a
  min/max reduction in the same graph; only ``n_chunks`` pairs of numbers reach the client.
* **Every method** runs one compiled kernel of :mod:`fastloss.kernels` per chunk on its worker,
  brings back only the chunk's unnormalized partial sums (a float and ``n_coef``-vectors), adds
  them on the client in float64 *in chunk order* (so repeated calls are bitwise identical), then
  divides by the total weight and adds L2 exactly like :class:`fastloss.LinearObjective`
  (:mod:`fastloss._normalize`).
* ``gradient_hessp`` keeps each chunk's curvature on its worker (one future per chunk); the
  returned ``hessp(v)`` ships ``v`` out and ``n_coef`` floats per chunk back.
* The active ``dask.distributed`` client is used (the one ``dask.config`` / ``get_client()``
  point at when the objective is built); without one, or under
  ``dask.config.set(scheduler="sync" | "threads" | ...)``, the chunks are converted once in this
  process and the kernels run here chunk after chunk (each kernel is itself parallel). Over
  ``da.from_array(np.memmap(...))`` the chunks then stay views of the file: out of core.
* If the workers lose the prepared chunks (``client.restart()``), the next call rebuilds them
  from the original graph and returns the same values.

The values equal the single-machine objective's on the same data to about 1e-15 relative
(only the order of the float64 additions differs: per chunk, then across chunks).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError

import numpy as np

try:  # the top-level dask package (this module is fastloss.dask)
    import dask  # noqa: F401
    import dask.array  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError(
        "fastloss.dask needs dask: pip install 'fastloss[dask]' (dask[array,distributed])"
    ) from exc

from . import _partials as chunks
from . import _validation as val
from ._parallel import check_n_threads
from .objective import InProcess, Objective

#: Arrays (coefficients, directions) bigger than this are scattered to the workers once per call
#: instead of being embedded in every task.
_SCATTER_BYTES = 1 << 20


def _active_client():
    """The ``dask.distributed`` client dask would use now, or None for a local scheduler."""
    import dask

    chosen = dask.config.get("scheduler", None)
    if chosen is not None:
        if isinstance(chosen, str) and chosen.lower() not in ("dask.distributed", "distributed"):
            return None  # the user picked a local scheduler explicitly
        if not isinstance(chosen, str) and "Client" in type(chosen).__name__:
            return chosen
        if not isinstance(chosen, str):
            return None
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def _check_dask_X(X):
    import dask.array as da

    if not isinstance(X, da.Array):
        raise TypeError(
            f"`X` must be a dask.array.Array chunked by rows, got {type(X).__name__}; "
            f"for an in-memory array use fastloss.LinearObjective"
        )
    if X.ndim != 2:
        raise ValueError(f"`X` must be 2-dimensional (n_samples, n_features), got shape {X.shape}")
    if any(math.isnan(s) for s in X.shape) or any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError("`X` has unknown chunk sizes; call X.compute_chunk_sizes() first")
    n, d = (int(s) for s in X.shape)
    if n == 0 or d == 0:
        raise ValueError(f"`X` is empty: shape {X.shape}; need at least one sample and one feature")
    if len(X.chunks[1]) != 1:
        raise ValueError(
            f"`X` must be chunked by rows only (one chunk across its {d} columns), got column chunks "
            f"{X.chunks[1]}; use X.rechunk({{1: -1}})"
        )
    kind = np.dtype(X.dtype).kind
    if kind == "c":
        raise TypeError(f"`X` must be real, got complex dtype {X.dtype}")
    if kind not in "biuf":
        raise TypeError(f"`X` must hold real numbers, got dtype {X.dtype}")
    dtype = np.dtype(X.dtype) if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    return n, d, dtype


def _rows_like_X(a, name: str, n: int, row_chunks: tuple, *, weights: bool):
    """``y`` / ``sample_weight`` as a 1-D dask array with ``X``'s row chunks."""
    import dask.array as da

    if isinstance(a, da.Array):
        if a.ndim == 2 and a.shape[1] == 1 and not weights:
            a = a[:, 0]
        if a.ndim != 1:
            raise ValueError(f"`{name}` must be 1-dimensional, got shape {a.shape}")
        if math.isnan(a.shape[0]) or any(math.isnan(c) for c in a.chunks[0]):
            raise ValueError(f"`{name}` has unknown chunk sizes; call {name}.compute_chunk_sizes() first")
        if a.shape[0] != n:
            raise ValueError(f"`{name}` has {a.shape[0]} entries but there are {n} samples")
        if np.dtype(a.dtype).kind == "c":
            raise TypeError(f"`{name}` must be real, got complex dtype {a.dtype}")
        if a.chunks[0] != row_chunks:
            a = a.rechunk((row_chunks,))  # n numbers: cheap, and every chunk then meets its rows
        return a
    # In this process already: check it here (labels are interpreted on the cluster with the rest).
    arr = val.check_sample_weight(a, n) if weights else val._label_array(a, n, name)
    return da.from_array(arr, chunks=(row_chunks,))


class _Workers(InProcess):
    """The executor of :class:`LinearObjective`: one :class:`fastloss._partials.ChunkState` per
    row chunk, kept on the dask workers (futures) or, without a ``dask.distributed`` client, in
    this process; rebuilt from the original graph if the workers lose them."""

    def __init__(self, blocks, bounds, client, build):
        self._blocks, self._bounds, self._client, self._build_states = blocks, bounds, client, build
        self.states = None
        self.convention = self.weight_sum = None
        self.build()

    def build(self):
        states, convention, weight_sum = self._build_states(self._blocks, self._bounds, self._client)
        if self.states is not None and (convention != self.convention or weight_sum != self.weight_sum):
            raise RuntimeError("the dask array's chunks changed after the objective was built")
        self.states, self.convention, self.weight_sum = states, convention, weight_sum

    def _lost(self, futures) -> bool:
        return any(f.status in ("cancelled", "lost") for f in futures)

    def _scatter(self, kwargs: dict) -> dict:
        big = {k: v for k, v in kwargs.items() if isinstance(v, np.ndarray) and v.nbytes > _SCATTER_BYTES}
        for k, v in big.items():
            kwargs[k] = self._client.scatter(v, broadcast=True, hash=False)
        return kwargs

    def fold(self, func, kwargs: dict, combine: Callable, *, curvature: Callable | None = None,
             stream: bool = False):
        """``combine`` the per-chunk results of ``func(state_i[, curvature_i], **kwargs)`` in chunk
        order; ``stream`` fetches one chunk's result at a time (for the big partial Hessians)."""
        if self._client is None:
            return super().fold(func, kwargs, combine, curvature=curvature)
        for attempt in range(2):
            try:
                if self._lost(self.states):
                    self.build()
                per_chunk = [self.states] if curvature is None else [self.states, curvature()]
                futures = self._client.map(func, *per_chunk, pure=False, **self._scatter(dict(kwargs)))
                acc = None
                if stream:
                    for f in futures:
                        acc = combine(acc, f.result())
                else:
                    for part in self._client.gather(futures):
                        acc = combine(acc, part)
                return acc
            except CancelledError:
                if attempt:
                    raise
                self.build()  # the workers were restarted under us: rebuild once and redo the call
        raise AssertionError("unreachable")

    def keep(self, func, kwargs: dict) -> Callable:
        """``func(state_i, **kwargs)`` per chunk, left on its worker: a callable returning the
        futures (computed again if the workers lost them)."""
        if self._client is None:
            return super().keep(func, kwargs)
        held: dict = {}

        def kept():
            futures = held.get("futures")
            if futures is None or self._lost(futures) or held.get("states") is not self.states:
                if self._lost(self.states):
                    self.build()
                futures = self._client.map(func, self.states, pure=False, **self._scatter(dict(kwargs)))
                held["futures"], held["states"] = futures, self.states
            return futures

        return kept


class LinearObjective(Objective):
    """:class:`fastloss.LinearObjective` over a ``dask.array`` chunked by rows.

    ``f(coef) = (1 / sum_i s_i) * sum_i s_i * loss(y_i, x_i . w + b) + (l2 / 2) * ||w||^2``

    Parameters
    ----------
    X : dask.array.Array (n, d)
        Chunked by rows only (one chunk across the columns). Chunks are NumPy arrays (float32 /
        float64 used in place, other real dtypes converted to float64) or scipy.sparse matrices.
    y : dask.array.Array (n,) or array-like (n,)
        As for :class:`fastloss.LinearObjective`; the label convention (0/1 or -1/+1) and the
        number of classes are decided over all of ``y``. A dask array with other chunks than
        ``X``'s rows is rechunked to them.
    loss, l2, fit_intercept, n_classes
        As for :class:`fastloss.LinearObjective`.
    sample_weight : dask.array.Array (n,) or array-like (n,), optional
        Non-negative weights with a positive sum.
    n_threads : int, optional
        Numba threads each chunk's kernel uses (clipped to what its process has). Default: 1 on a
        ``dask.distributed`` cluster, whose worker threads / processes supply the parallelism
        (several Numba/OpenMP thread pools per core would compete); all threads with a local
        scheduler, where the chunks run one after the other. Results do not depend on it.

    Notes
    -----
    Built under an active ``dask.distributed`` client, the converted chunks and the curvature of
    :meth:`gradient_hessp` stay on the workers; each call moves only ``coef`` / ``v`` out and
    ``n_coef`` floats per chunk back. Results are bitwise reproducible from call to call.
    """

    _repr_name = "fastloss.dask.LinearObjective"

    def __init__(self, X, y, loss="logistic", *, l2=0.0, fit_intercept=True, sample_weight=None,
                 n_classes=None, n_threads=None):
        self._check_options(loss, l2, fit_intercept, n_classes)
        check_n_threads(n_threads)  # type and range here; each worker clips to its own threads
        n_threads = None if n_threads is None or n_threads == -1 else int(n_threads)
        if n_classes is not None:
            if isinstance(n_classes, (bool, np.bool_)) or not hasattr(n_classes, "__index__"):
                raise TypeError(f"`n_classes` must be an int, got {type(n_classes).__name__}")
            n_classes = int(n_classes)
            if n_classes < 2:
                raise ValueError(f"`n_classes` must be >= 2, got {n_classes}")
        self._n_classes_arg = n_classes

        n, d, dtype = _check_dask_X(X)
        row_chunks = tuple(int(c) for c in X.chunks[0])
        y = _rows_like_X(y, "y", n, row_chunks, weights=False)
        sw = None if sample_weight is None else _rows_like_X(sample_weight, "sample_weight", n, row_chunks,
                                                               weights=True)
        self._d = d
        # Kept for rebuilding the chunks if the workers lose them; empty chunks are left out.
        starts = np.concatenate([[0], np.cumsum(row_chunks)]).astype(int)
        keep = [i for i, size in enumerate(row_chunks) if size > 0]
        bounds = [(int(starts[i]), int(starts[i + 1])) for i in keep]
        X_blocks, y_blocks = X.to_delayed().ravel(), y.to_delayed().ravel()
        sw_blocks = sw.to_delayed().ravel() if sw is not None else None
        blocks = [(X_blocks[i], y_blocks[i], None if sw_blocks is None else sw_blocks[i]) for i in keep]

        client = _active_client()
        # On a cluster, dask's worker threads and processes are the parallelism (distributed starts
        # its workers with OMP_NUM_THREADS=1 for the same reason): one Numba thread per task, unless
        # asked otherwise. Locally the chunks run one after the other, each on every thread.
        if n_threads is None and client is not None:
            n_threads = 1
        self._n_threads = n_threads
        self._executor = _Workers(blocks, bounds, client, self._build)
        K = self._executor.convention if self._multinomial else 1
        self._set_shape(n, d, K, self._executor.weight_sum, dtype, n_threads)

    @property
    def n_chunks(self) -> int:
        """Number of (non-empty) row chunks, i.e. of partial sums added per call."""
        return len(self._executor.states)

    @property
    def client(self):
        """The ``dask.distributed`` client the chunks live on, or None (local)."""
        return self._executor._client

    def _repr_extra(self) -> str:
        return f", n_chunks={self.n_chunks}, {'local' if self.client is None else 'distributed'}"

    def _build(self, blocks, bounds, client):
        """Validate and convert every chunk where it lives; return ``(states, label convention,
        total weight)``, the states as futures on the workers or as values here."""
        import dask
        from dask import delayed

        token = uuid.uuid4().hex[:12]
        spec = chunks.KernelSpec(self._multinomial, 0, self.fit_intercept, self._n_threads)
        summaries = [
            delayed(chunks.label_summary, pure=True)(yb, a, b, dask_key_name=f"fastloss-labels-{token}-{i}")
            for i, ((_, yb, _), (a, b)) in enumerate(zip(blocks, bounds, strict=True))
        ]
        convention = delayed(chunks.label_convention, pure=True)(
            summaries, self._multinomial, self._n_classes_arg, dask_key_name=f"fastloss-convention-{token}")
        states = [
            delayed(chunks.prepare, pure=True)(xb, yb, swb, convention, a, b, self.loss_name, self._d, spec,
                                               dask_key_name=f"fastloss-chunk-{token}-{i}")
            for i, ((xb, yb, swb), (a, b)) in enumerate(zip(blocks, bounds, strict=True))
        ]
        infos = [delayed(chunks.state_info, pure=True)(s, dask_key_name=f"fastloss-info-{token}-{i}")
                 for i, s in enumerate(states)]
        if client is None:
            state_values, conv, info = dask.compute(states, convention, infos, scheduler="sync")
        else:
            futures = client.compute(states + [convention] + infos)
            state_values = futures[: len(states)]
            conv, *info = client.gather(futures[len(states):])
        weight_sum = 0.0
        for _rows, w in info:
            weight_sum += w
        if not weight_sum > 0:
            raise ValueError("`sample_weight` sums to zero: at least one sample needs a positive weight")
        return state_values, conv, weight_sum


__all__ = ["LinearObjective"]
