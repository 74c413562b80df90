"""Every check and conversion, before any kernel runs.

Numba does not check bounds: a wrong shape reaching a kernel could read or write outside an
array. Every public entry point therefore passes its inputs through these functions, which
raise ``ValueError`` / ``TypeError`` saying what is wrong and where, never modify the caller's
arrays, and return arrays of exactly the types and shapes the kernels assume.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _config, losses

_FLOATS = (np.float32, np.float64)


def _where(name: str) -> str:
    return f"`{name}`"


def check_loss(loss) -> tuple[str, int]:
    spec = losses.spec(loss)
    return spec.name, spec.id


def check_scalar(x, name: str, *, low: float | None = 0.0) -> float:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
        raise TypeError(f"{_where(name)} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{_where(name)} must be finite, got {x}")
    if low is not None and x < low:
        raise ValueError(f"{_where(name)} must be >= {low}, got {x}")
    return x


def _as_real_array(a, name: str, *, copy_dtype=np.float64) -> np.ndarray:
    """``a`` as an ndarray of a real dtype (bool/int/float); object or complex input is refused."""
    if isinstance(a, np.ndarray):
        arr = np.asarray(a)  # strips subclasses (np.memmap, np.matrix) without copying
    else:
        try:
            arr = np.asarray(a)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"{_where(name)} could not be converted to an array: {exc}") from None
    if arr.dtype.kind == "c":
        raise TypeError(f"{_where(name)} must be real, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(copy_dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{_where(name)} must hold real numbers, got dtype {arr.dtype}: {exc}") from None
    return arr


def _first_nonfinite_1d(a: np.ndarray) -> int:
    if a.dtype.kind in "biu":
        return -1
    bad = np.flatnonzero(~np.isfinite(a))
    return int(bad[0]) if bad.size else -1


# --- X ------------------------------------------------------------------------------------------

class _ReadOnlyMemory:
    """The memory of a read-only array, offered to NumPy without the read-only flag (see
    :func:`kernel_input`). Holds the array as ``base``, so that the memory outlives every view of
    it and the chain of ``.base`` still leads to its owner (a memory map, say)."""

    def __init__(self, array: np.ndarray):
        self.base = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface


def kernel_input(arr: np.ndarray) -> np.ndarray:
    """``arr`` as the kernels take it: a read-only array (``setflags(write=False)``, a memory
    map opened with ``mode="r"``) becomes a view of the same memory without the read-only flag.

    Numba compiles every kernel again for read-only arrays (a type of their own), and their
    results could differ from a writeable array's in the last bits. The kernels never write into
    their inputs, so the view is safe, shares the memory (no copy), and gives the same bits.
    """
    if arr.flags.writeable:
        return arr
    return np.asarray(_ReadOnlyMemory(arr))


def check_X(X, name: str = "X"):
    """Return ``(X_kernel, n, d, dtype)``.

    Dense float32/float64 arrays in C or F order are used in place (read-only and memory-mapped
    ones too). Other real dtypes become float64 and non-contiguous arrays C-ordered: the only
    copies made. Sparse input becomes a :class:`fastloss.kernels.CSR` of the same arrays.
    """
    import scipy.sparse as sp  # scipy is a dependency; imported here to keep ``import fastloss`` light

    if sp.issparse(X):
        return _check_sparse(X, name, sp)
    arr = _as_real_array(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{_where(name)} must be 2-dimensional (n_samples, n_features), got shape {arr.shape}")
    n, d = arr.shape
    if n == 0 or d == 0:
        raise ValueError(f"{_where(name)} is empty: shape {arr.shape}; need at least one sample and one feature")
    if arr.dtype not in _FLOATS:
        arr = arr.astype(np.float64)
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr = np.ascontiguousarray(arr)
    from .kernels._checks import first_nonfinite_2d

    if arr.flags.c_contiguous:
        flat = first_nonfinite_2d(arr)
        if flat >= 0:
            i, j = divmod(int(flat), d)
            raise ValueError(f"{_where(name)} contains a non-finite value {arr[i, j]} at row {i}, column {j}")
    else:
        flat = first_nonfinite_2d(arr.T)
        if flat >= 0:
            j, i = divmod(int(flat), n)
            raise ValueError(f"{_where(name)} contains a non-finite value {arr[i, j]} at row {i}, column {j}")
    return kernel_input(arr), n, d, arr.dtype


def _check_sparse(X, name, sp):
    """A SciPy sparse matrix or array -> ``(CSR(data, indices, indptr, n_cols), n, d, dtype)``.

    A CSR input with float32/float64 data, int32/int64 indices and contiguous arrays is used in
    place. Its arrays are only read: the caller's object is never modified (no
    ``sum_duplicates`` / ``sort_indices`` / ``check_format``, which rewrite it); duplicates and
    unsorted column indices are handled by the kernels (a duplicate counts as the sum of its
    entries). CSC, COO and the other formats are converted to CSR, once, here, after their own
    index arrays were checked (SciPy's conversions trust them and could write out of bounds).
    Other dtypes become float64 / int64.
    """
    who = _where(name)

    def real_data(data):
        if data.dtype.kind == "c":
            raise TypeError(f"{who} must be real, got complex dtype {data.dtype}")
        if data.dtype.kind not in "biuf":
            raise TypeError(f"{who} must hold real numbers, got dtype {data.dtype}")
        if data.ndim != 1:
            raise ValueError(f"{who}.data must be 1-dimensional, got shape {data.shape}")
        return data

    def index_array(arr, part, size=None):
        arr = np.asarray(arr)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{who}.{part} must hold integers, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"{who}.{part} must be 1-dimensional, got shape {arr.shape}")
        if size is not None and arr.size != size:
            raise ValueError(f"{who}.{part} has {arr.size} entries but {who}.data has {size}")
        return arr

    def compressed(X, n_major, n_minor, major, minor):
        """Checked ``(data, indices, indptr)`` of a CSR (major = row) or CSC (major = column)."""
        data = real_data(np.asarray(X.data))
        indices = index_array(X.indices, "indices", data.size)
        indptr = index_array(X.indptr, "indptr")
        if indptr.size != n_major + 1:
            raise ValueError(f"{who}.indptr has {indptr.size} entries, expected n_{major}s + 1 = {n_major + 1}")
        # indptr's values bound every later step (slicing, casts, the kernels' reads): first.
        outside = (indptr < 0) | (indptr > indices.size)
        if outside.any():
            bad = int(np.flatnonzero(outside)[0])
            raise ValueError(
                f"{who}.indptr[{bad}] = {indptr[bad]} is outside [0, {indices.size}] (the stored entries)"
            )
        if indptr[0] != 0:
            raise ValueError(f"{who}.indptr[0] must be 0, got {indptr[0]}")
        # The kernels are compiled for int32 or int64 index arrays, one dtype for both. Casts
        # copy index arrays of unusual dtypes only (or indptr, n + 1 entries), never the data.
        index_dtype = indices.dtype if indices.dtype in (np.int32, np.int64) else np.dtype(np.int64)
        if indices.size > np.iinfo(index_dtype).max:  # indptr's values would not fit
            index_dtype = np.dtype(np.int64)
        original = indices
        if indices.dtype != index_dtype:
            indices = indices.astype(index_dtype)  # uint64 >= 2**63 wraps negative: still out of range
        if indptr.dtype != index_dtype:
            indptr = indptr.astype(index_dtype)  # safe: 0 <= indptr <= indices.size, checked above
        indices, indptr = np.ascontiguousarray(indices), np.ascontiguousarray(indptr)
        # Entries past indptr[-1] are not part of the matrix (as in SciPy): they are ignored.
        nnz = int(indptr[-1])
        from .kernels._checks import csr_first_bad_structure

        code, pos = csr_first_bad_structure(indices[:nnz], indptr, n_minor)
        if code == 1:
            raise ValueError(f"{who}.indptr decreases at {major} {pos}: {indptr[pos]} > {indptr[pos + 1]}")
        if code == 2:
            at = int(np.searchsorted(indptr, pos, side="right") - 1)
            raise ValueError(
                f"{who} has {minor} index {original[pos]} out of range [0, {n_minor}) at stored entry {pos} "
                f"({major} {at})"
            )
        return data[:nnz], indices[:nnz], indptr

    if X.ndim != 2:
        raise ValueError(f"{who} must be 2-dimensional (n_samples, n_features), got shape {X.shape}")
    n, d = (int(s) for s in X.shape)
    if n == 0 or d == 0:
        raise ValueError(f"{who} is empty: shape {X.shape}; need at least one sample and one feature")

    if X.format == "csc":
        compressed(X, d, n, "column", "row")
        X = X.tocsr()  # a new object: the caller's X is not touched
    elif X.format != "csr":
        if X.format != "coo":
            try:
                X = X.tocoo()  # BSR, DIA, LIL, DOK: NumPy-level conversions that check bounds
            except (ValueError, IndexError, TypeError) as exc:
                raise ValueError(f"{who} ({X.format}) could not be converted to CSR: {exc}") from None
        data = real_data(np.asarray(X.data))
        row = index_array(X.row, "row", data.size)
        col = index_array(X.col, "col", data.size)
        for part, idx, size in (("row", row, n), ("col", col, d)):
            outside = np.flatnonzero((idx < 0) | (idx >= size))
            if outside.size:
                p = int(outside[0])
                raise ValueError(f"{who}.{part}[{p}] = {idx[p]} is out of range [0, {size})")
        if data.dtype not in _FLOATS:
            data = data.astype(np.float64)  # before duplicates are summed, so that they cannot overflow
        X = sp.coo_matrix((data, (row, col)), shape=(n, d)).tocsr()  # sums duplicates

    data, indices, indptr = compressed(X, n, d, "row", "column")
    if data.dtype not in _FLOATS:
        data = data.astype(np.float64)
    data = np.ascontiguousarray(data)
    if data.size:
        from .kernels._checks import first_nonfinite_2d

        bad = first_nonfinite_2d(data.reshape(data.size, 1))
        if bad >= 0:
            row = int(np.searchsorted(indptr, bad, side="right") - 1)
            raise ValueError(
                f"{who} contains a non-finite value {data[bad]} at row {row}, column {indices[bad]} "
                f"(stored entry {bad})"
            )
    from .kernels._matrix import CSR

    return CSR(kernel_input(data), kernel_input(indices), kernel_input(indptr), d), n, d, data.dtype


# --- labels and weights ---------------------------------------------------------------------------

def _label_array(y, n: int | None, name: str, *, check_finite: bool = True) -> np.ndarray:
    arr = _as_real_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{_where(name)} must be 1-dimensional, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{_where(name)} has {arr.shape[0]} entries but there are {n} samples")
    if arr.shape[0] == 0:
        raise ValueError(f"{_where(name)} is empty")
    if check_finite:
        _check_finite_labels(arr, name)
    return arr


def _check_finite_labels(arr: np.ndarray, name: str) -> None:
    bad = _first_nonfinite_1d(arr)
    if bad >= 0:
        raise ValueError(f"{_where(name)} contains a non-finite value {arr[bad]} at position {bad}")


#: Dtypes of (contiguous) labels and weights checked by one compiled parallel pass
#: (``kernels._checks``); others (bool, small integers, strided views) take the NumPy path ...
_COUNTED_DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.int64))
#: ... and so do arrays shorter than ``_config.COUNTED_MIN_SIZE``.


def _counted(arr: np.ndarray) -> bool:
    return arr.size >= _config.COUNTED_MIN_SIZE and arr.dtype in _COUNTED_DTYPES and arr.flags.c_contiguous


def _as_float64(arr: np.ndarray, copy: bool) -> np.ndarray:
    """``arr`` as C-contiguous float64 (what the kernels read through data pointers): a new array
    when ``copy``, else ``arr`` itself where it already is one (see :func:`kernel_input`)."""
    if copy:
        return np.array(arr, dtype=np.float64, order="C")
    return kernel_input(np.ascontiguousarray(arr, dtype=np.float64))


def _counted_convention(arr: np.ndarray, loss: str, plus_minus: bool | None) -> bool | None:
    """Whether ``arr`` holds -1/+1 labels (True) or 0/1 / soft labels (False) when one counting
    pass shows it valid; None when it is not (or is too short or of another dtype to be counted).

    The NumPy path of :func:`check_binary_labels` reads ``y`` six to nine times with temporaries;
    the compiled pass reads it once. Invalid labels return None, and the NumPy path then finds the
    first bad position and raises its message.
    """
    if not _counted(arr):
        return None
    from .kernels._checks import value_counts

    nonfinite, negative, _, above_one, not_pm1, not_01 = (int(c) for c in value_counts(arr))
    return convention_of_counts(loss, plus_minus, nonfinite=nonfinite, negative=negative,
                                above_one=above_one, not_pm1=not_pm1, not_01=not_01)


def convention_of_counts(loss: str, plus_minus: bool | None, *, nonfinite: int, negative: int,
                         above_one: int, not_pm1: int, not_01: int) -> bool | None:
    """From the counts of a pass over binary labels (non-finite, negative, above 1, not -1/+1,
    not 0/1): True for valid -1/+1 labels, False for valid 0/1 (or soft) labels, None when
    :func:`check_binary_labels` would refuse them. The convention is -1/+1 when any label is
    negative, unless ``plus_minus`` decides it."""
    if plus_minus is None:
        plus_minus = negative > 0
    if plus_minus:
        valid = not_pm1 == 0
    else:
        valid = (above_one == 0 and negative == 0) if losses.REGISTRY[loss].soft_labels else not_01 == 0
    return None if nonfinite or not valid else bool(plus_minus)


def _valid_binary_labels(arr: np.ndarray, loss: str, plus_minus: bool | None, copy: bool):
    """The float64 labels in [0, 1] when one counting pass shows ``arr`` valid, else None."""
    plus_minus = _counted_convention(arr, loss, plus_minus)
    if plus_minus is None:
        return None
    if plus_minus:
        out = np.add(arr, 1.0, dtype=np.float64)
        out *= 0.5
        return out
    return _as_float64(arr, copy)


def binary_labels_as_read(y, n: int, loss: str, name: str = "y_true") -> tuple[np.ndarray, bool]:
    """``(labels, plus_minus)`` for a kernel that converts each block of labels as it reads it (the
    pointwise API's): long valid float64 / float32 / int64 labels are checked by one compiled pass
    and returned as they are, with their convention, so that no array of the size of ``y`` is
    made. Others go through :func:`check_binary_labels` (float64 in [0, 1], ``plus_minus`` False).
    """
    arr = _label_array(y, n, name, check_finite=False)
    plus_minus = _counted_convention(arr, loss, None)
    if plus_minus is not None:
        return kernel_input(arr), plus_minus
    return check_binary_labels(arr, n, loss, name, copy=False), False


def _fusable(arr: np.ndarray) -> bool:
    """Whether a pointwise kernel reads ``arr`` (labels, weights) as it is and counts what is
    invalid in it itself (:func:`labels_counted_by_kernel`): the dtypes of the compiled checks,
    contiguous, any length."""
    return arr.dtype in _COUNTED_DTYPES and arr.flags.c_contiguous


def labels_counted_by_kernel(y, n: int, loss: str, n_classes: int | None = None, name: str = "y_true"):
    """Labels for a pointwise kernel that counts invalid labels in the pass that computes
    (:mod:`fastloss.kernels.pointwise`): ``(labels, check)``.

    Shapes are checked here. float64 / float32 / int64 contiguous labels are returned as they
    are, unchecked, with ``check``: a function that raises the precise error of
    :func:`check_binary_labels` (or, with ``n_classes``, :func:`check_class_labels`) if they are
    invalid, to call when the kernel's counts say so. Other labels are checked and converted now
    (float64 in [0, 1], or int64 class indices), and ``check`` is None.
    """
    arr = _label_array(y, n, name, check_finite=False)
    if _fusable(arr):
        if n_classes is None:
            def check():
                check_binary_labels(arr, n, loss, name, copy=False)
        else:
            def check():
                check_class_labels(arr, n, n_classes, name)
        return kernel_input(arr), check
    if n_classes is None:
        return check_binary_labels(arr, n, loss, name, copy=False), None
    return check_class_labels(arr, n, n_classes, name, as_read=True)[0], None


def check_binary_labels(y, n: int | None, loss: str, name: str = "y_true", *,
                        plus_minus: bool | None = None, offset: int = 0, copy: bool = True) -> np.ndarray:
    """Labels in {0, 1} or {-1, +1} (soft labels in [0, 1] for logistic) -> float64 in [0, 1].

    The convention is -1/+1 when any label is negative, unless ``plus_minus`` decides it (a
    chunk of a larger ``y`` whose convention was read from all of it). ``offset`` is added to
    the positions named in error messages (the chunk's first row). The result is a new array
    unless ``copy=False`` and ``y`` is already float64 in {0, 1} or [0, 1] (a caller that only
    reads it during the call, as the pointwise API, then saves a copy of ``y``). Long arrays are
    checked by one compiled pass (:func:`_valid_binary_labels`), short ones by NumPy.
    """
    arr = _label_array(y, n, name, check_finite=False)
    fast = _valid_binary_labels(arr, loss, plus_minus, copy)
    if fast is not None:
        return fast
    _check_finite_labels(arr, name)
    arr = _as_float64(arr, copy)  # nothing below writes into it
    soft = losses.REGISTRY[loss].soft_labels
    allowed = "0/1, -1/+1, or probabilities in [0, 1]" if soft else "0/1 or -1/+1"
    # A negative label other than -1 fits no convention: name it, not a 0 it would seem to clash with.
    odd = np.flatnonzero((arr < 0) & (arr != -1.0))
    if odd.size:
        i = int(odd[0])
        raise ValueError(
            f"{name}[{offset + i}] = {arr[i]:g} is not a valid label for {loss!r}: labels must be {allowed}")
    if plus_minus is None:
        plus_minus = bool(np.any(arr < 0))
    if plus_minus:
        bad = np.flatnonzero((arr != -1.0) & (arr != 1.0))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{_where(name)} mixes conventions: labels contain -1, so all must be -1 or +1, "
                f"but {name}[{offset + i}] = {arr[i]:g}"
            )
        return (arr + 1.0) * 0.5
    if soft:
        bad = np.flatnonzero(arr > 1.0)
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{name}[{offset + i}] = {arr[i]:g} is not a valid label for {loss!r}: labels must be {allowed}"
            )
        return arr
    bad = np.flatnonzero((arr != 0.0) & (arr != 1.0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}[{offset + i}] = {arr[i]:g} is not a valid label for {loss!r}: labels must be 0/1 or -1/+1 "
            f"(soft labels are accepted only by {', '.join(map(repr, losses.SOFT_LABEL_LOSSES))})"
        )
    return arr


def check_class_labels(y, n: int | None, n_classes: int | None, name: str = "y_true", *,
                       as_read: bool = False) -> tuple[np.ndarray, int]:
    """Class indices 0..K-1 (integer-valued numbers) -> (int64 array, K).

    With ``as_read`` (a kernel that casts each label as it reads it, as the pointwise API's), long
    float64 / float32 / int64 labels are checked by one compiled pass and returned as they are:
    no array of the size of ``y`` is made. Others, and invalid labels, take the NumPy path below.
    """
    arr = _label_array(y, n, name, check_finite=False)
    if as_read and _counted(arr):
        from .kernels._checks import class_labels_summary

        nonfinite, negative, fractional, top = class_labels_summary(arr)
        if not (nonfinite or negative or fractional) and (n_classes is None or top < n_classes):
            return kernel_input(arr), _n_classes(int(top), n_classes)
    _check_finite_labels(arr, name)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    bad = np.flatnonzero((arr < 0) | (arr != np.floor(arr)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"{name}[{i}] = {arr[i]:g} is not a class index: multinomial labels must be integers 0..K-1"
        )
    top = int(arr.max())
    K = _n_classes(top, n_classes)
    if top >= K:
        i = int(np.argmax(arr))
        raise ValueError(f"{name}[{i}] = {arr[i]:g} is not a class index below n_classes = {K}")
    return arr.astype(np.int64), K


def _n_classes(top: int, n_classes) -> int:
    """K: ``n_classes`` checked, or ``max(top + 1, 2)`` from the largest label ``top``."""
    if n_classes is None:
        return max(top + 1, 2)
    if isinstance(n_classes, (bool, np.bool_)) or not isinstance(n_classes, numbers.Integral):
        raise TypeError(f"`n_classes` must be an int, got {type(n_classes).__name__}")
    if int(n_classes) < 2:
        raise ValueError(f"`n_classes` must be >= 2, got {n_classes}")
    return int(n_classes)


def check_raw_prediction(raw_prediction, loss: str, name: str = "raw_prediction", *,
                         check_finite: bool = True) -> np.ndarray:
    """Raw scores for the pointwise kernels: float32/float64 (other real dtypes converted to
    float64), C-contiguous, finite, shape (n,) for a binary loss ((n, 1) is read as (n,)) and
    (n, K >= 2) for ``multinomial``; non-empty. One compiled pass checks finiteness, unless
    ``check_finite=False`` (for a kernel that counts non-finite scores itself)."""
    raw = _as_real_array(raw_prediction, name)
    if raw.dtype not in _FLOATS:
        raw = raw.astype(np.float64)
    if loss == "multinomial":
        if raw.ndim != 2 or raw.shape[1] < 2:
            raise ValueError(f"{_where(name)} for 'multinomial' must have shape (n_samples, n_classes >= 2), "
                             f"got {raw.shape}")
    else:
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
        if raw.ndim != 1:
            raise ValueError(f"{_where(name)} for {loss!r} must have shape (n_samples,) or (n_samples, 1), "
                             f"got {raw.shape}")
    n = raw.shape[0]
    if n == 0:
        raise ValueError(f"{_where(name)} is empty")
    raw = kernel_input(np.ascontiguousarray(raw))
    if not check_finite:
        return raw
    from .kernels._checks import first_nonfinite_2d  # one parallel pass, no temporaries

    bad = first_nonfinite_2d(raw.reshape(n, -1))
    if bad >= 0:
        raise ValueError(f"{_where(name)} contains a non-finite value {raw.reshape(-1)[bad]} at flat position {bad}")
    return raw


def _weight_array(sample_weight, n: int, name: str) -> np.ndarray:
    arr = _as_real_array(sample_weight, name)
    if arr.ndim == 0:
        raise ValueError(f"{_where(name)} must be 1-dimensional with {n} entries, got a scalar")
    if arr.ndim != 1:
        raise ValueError(f"{_where(name)} must be 1-dimensional, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{_where(name)} has {arr.shape[0]} entries but there are {n} samples")
    return arr


def weights_counted_by_kernel(sample_weight, n: int, name: str = "sample_weight"):
    """Weights for a pointwise kernel that counts invalid weights itself: ``(sw, check)`` as
    :func:`labels_counted_by_kernel` (contiguous float64 weights are returned unchecked, with a
    ``check`` that raises :func:`check_sample_weight`'s error; others are checked now, as float64).
    An empty array and None for no weights."""
    if sample_weight is None:
        return np.empty(0), None
    arr = _weight_array(sample_weight, n, name)
    if arr.dtype == np.float64 and arr.flags.c_contiguous:
        def check():
            check_sample_weight(arr, n, name, copy=False)
        return kernel_input(arr), check
    return check_sample_weight(arr, n, name, copy=False), None


def check_sample_weight(sample_weight, n: int, name: str = "sample_weight", *,
                        require_positive_sum: bool = True, offset: int = 0, copy: bool = True) -> np.ndarray:
    """float64 ``(n,)`` copy of non-negative finite weights with a positive sum; size 0 for None.

    A chunk of a larger weight vector passes ``require_positive_sum=False`` (only the total can
    sum to 0) and ``offset``, its first row, so that messages name positions in the whole vector.
    With ``copy=False`` valid float64 weights are returned as they are (for callers that only
    read them during the call).
    """
    if sample_weight is None:
        return np.empty(0)
    arr = _weight_array(sample_weight, n, name)
    if _counted(arr):
        # One compiled pass decides; the NumPy path below only runs to name what is wrong.
        # With no negative weight the sum is positive exactly when one weight is.
        from .kernels._checks import value_counts

        nonfinite, negative, positive = (int(c) for c in value_counts(arr)[:3])
        if not nonfinite and not negative and (positive or not require_positive_sum):
            return _as_float64(arr, copy)
    bad = _first_nonfinite_1d(arr)
    if bad >= 0:
        raise ValueError(f"{_where(name)} contains a non-finite value {arr[bad]} at position {offset + bad}")
    arr = _as_float64(arr, copy)
    neg = np.flatnonzero(arr < 0)
    if neg.size:
        i = int(neg[0])
        raise ValueError(f"{_where(name)} must be non-negative, but {name}[{offset + i}] = {arr[i]:g}")
    if require_positive_sum and not arr.sum() > 0:
        raise ValueError(f"{_where(name)} sums to zero: at least one sample needs a positive weight")
    return arr


# --- coefficients and directions ------------------------------------------------------------------

def check_coef(coef, coef_shape: tuple, name: str = "coef") -> np.ndarray:
    """Flat float64 C-contiguous copy of ``coef`` (shape ``coef_shape`` or flat); finite."""
    arr = _as_real_array(coef, name)
    n_coef = int(np.prod(coef_shape))
    if arr.shape != tuple(coef_shape) and arr.shape != (n_coef,):
        raise ValueError(
            f"{_where(name)} has shape {arr.shape}; expected {tuple(coef_shape)} or ({n_coef},)"
        )
    flat = np.array(arr, dtype=np.float64, order="C").reshape(n_coef)
    bad = _first_nonfinite_1d(flat)
    if bad >= 0:
        raise ValueError(f"{_where(name)} contains a non-finite value {flat[bad]} at flat position {bad}")
    return flat


def check_directions(v, coef_shape: tuple, name: str = "v") -> tuple[np.ndarray, bool]:
    """``v`` as float64 ``(k, n_coef)`` C-contiguous (a copy), and whether it was one direction.

    One direction: shape ``coef_shape`` or ``(n_coef,)``. Several: ``(n_coef, k)``.
    """
    arr = _as_real_array(v, name)
    n_coef = int(np.prod(coef_shape))
    if arr.shape == tuple(coef_shape) or arr.shape == (n_coef,):
        V, single = np.array(arr, dtype=np.float64, order="C").reshape(1, n_coef), True
    elif arr.ndim == 2 and arr.shape[0] == n_coef and arr.shape[1] >= 1:
        V, single = np.ascontiguousarray(arr.T, dtype=np.float64), False
        if np.shares_memory(V, arr):
            V = V.copy()
    else:
        raise ValueError(
            f"{_where(name)} has shape {arr.shape}; expected {tuple(coef_shape)}, ({n_coef},) "
            f"or ({n_coef}, k) for k directions"
        )
    flat = V.reshape(-1)
    bad = _first_nonfinite_1d(flat)
    if bad >= 0:
        raise ValueError(f"{_where(name)} contains a non-finite value {flat[bad]}")
    return V, single


def check_hessian_size(n_coef: int) -> None:
    if n_coef > _config.HESSIAN_MAX_COEF:
        raise ValueError(
            f"hessian() is limited to n_coef <= {_config.HESSIAN_MAX_COEF} (a {n_coef} x {n_coef} float64 "
            f"matrix would need {n_coef * n_coef * 8 / 1e9:.1f} GB); use hessp() or hessian_diag()"
        )
