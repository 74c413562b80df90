"""``log_loss``: scikit-learn's metric, summed by a parallel, deterministic Numba kernel.

Layers, in the order the data flows:

1. ``log_loss`` checks and converts every argument in Python, replicating what
   ``sklearn.metrics.log_loss`` (scikit-learn 1.9) accepts, rejects and warns about, and maps the
   labels to column indices the way ``LabelBinarizer`` does (sorted unique labels, ``searchsorted``).
2. One of two kernels sums ``w_i * -log(clip(p_i))`` over the rows: ``_class_index_log_loss_chunks``
   (one true class per row: every 1-D ``y_true``, and one-hot indicator matrices) or
   ``_indicator_log_loss_chunks`` (a general label-indicator ``y_true``, several or no classes per
   row).

Kernel guarantees: one pass over ``y_pred``; the kernels follow the chunk protocol of
:mod:`fastloss.kernels._chunks` (chunk boundaries from ``n`` only, float64 partial sums per chunk,
added in chunk order) and run on fastloss's thread pool, so the result is bitwise identical for
every thread count. The kernels assume validated inputs and check nothing.

scikit-learn semantics reproduced (see ``log_loss``'s docstring): clipping to
``[eps, 1 - eps]`` with ``eps`` of ``y_pred``'s dtype (no renormalisation of the rows, only a
warning when they do not sum to one), ``-log`` evaluated in ``y_pred``'s dtype, a 1-D (or
``(n, 1)``) ``y_pred`` read as the probability of the second (positive) class.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from numpy.typing import ArrayLike

from . import _validation as val
from ._jit import jit
from ._parallel import run_chunks
from .kernels._chunks import row_bounds

__all__ = ["log_loss"]


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


@jit(inline=True)
def _clipped_neg_log(p, lower, upper):
    """``-log(clip(p, lower, upper))``: the log in ``p``'s dtype (as NumPy does), returned as float64."""
    if p < lower:
        p = lower
    elif p > upper:
        p = upper
    return -np.float64(math.log(p))


@jit(inline=True)
def _row_sum_is_off(proba, i, tolerance):
    """Whether row ``i`` of ``proba`` misses 1 by more than ``tolerance`` (the warning check)."""
    row_sum = 0.0
    for k in range(proba.shape[1]):
        row_sum += proba[i, k]
    return abs(row_sum - 1.0) > tolerance


@jit()
def _class_index_log_loss_chunks(class_index, proba, weights, lower, upper, one, tolerance,
                                 chunk_bounds, first, last, totals, vectors):
    """Sum of ``weights[i] * -log(clip(p_i))`` with one true class per row.

    Parameters
    ----------
    class_index : int64 array of shape (n,)
        Column of the true class of each row, in ``[0, K)`` (``[0, 2)`` when ``proba`` has one column).
    proba : float32 or float64 C-contiguous array of shape (n, K)
        Probabilities. With ``K == 1`` the column is the probability of class 1 and class 0 has
        ``one - proba[i, 0]`` (computed in ``proba``'s dtype, before clipping, as scikit-learn does).
    weights : float64 array of shape (n,) or (0,)
        Sample weights; size 0 means unweighted (every weight 1).
    lower, upper, one : scalars of ``proba``'s dtype
        Clipping bounds ``eps`` and ``1 - eps``, and the number 1.
    tolerance : float
        A row (K >= 2) whose sum misses 1 by more than this is counted as not normalised.
    chunk_bounds, first, last, totals, vectors
        The chunk protocol (:mod:`fastloss.kernels._chunks`): ``totals[c]`` gets chunk ``c``'s
        ``(loss_sum, weight_sum, n_rows_off)``, ``weight_sum`` the float64 sum of ``weights``
        (0.0 when unweighted); ``vectors`` is not used.
    """
    n_columns = proba.shape[1]
    weighted = weights.shape[0] > 0
    for chunk in range(first, last):
        loss_sum = 0.0
        weight_sum = 0.0
        n_off = 0
        for i in range(chunk_bounds[chunk], chunk_bounds[chunk + 1]):
            if n_columns == 1:
                p = proba[i, 0]
                if class_index[i] == 0:
                    p = one - p
            else:
                p = proba[i, class_index[i]]
                if _row_sum_is_off(proba, i, tolerance):
                    n_off += 1
            loss = _clipped_neg_log(p, lower, upper)
            if weighted:
                loss_sum += weights[i] * loss
                weight_sum += weights[i]
            else:
                loss_sum += loss
        totals[chunk, 0] = loss_sum
        totals[chunk, 1] = weight_sum
        totals[chunk, 2] = n_off


@jit()
def _indicator_log_loss_chunks(indicator, proba, weights, lower, upper, one, tolerance,
                               chunk_bounds, first, last, totals, vectors):
    """Sum of ``weights[i] * -sum_k t_ik log(clip(p_ik))`` for a label-indicator matrix ``t``.

    ``indicator`` is a float64 array of shape (n, K) (any values: terms with ``t_ik == 0`` are 0,
    as in ``xlogy``); ``proba`` is (n, K), or (n, 1) with ``K == 2`` (the second column, the first
    being ``one - p``). The other arguments are those of ``_class_index_log_loss_chunks``.
    """
    n_classes = indicator.shape[1]
    one_column = proba.shape[1] == 1
    weighted = weights.shape[0] > 0
    for chunk in range(first, last):
        loss_sum = 0.0
        weight_sum = 0.0
        n_off = 0
        for i in range(chunk_bounds[chunk], chunk_bounds[chunk + 1]):
            loss = 0.0
            for k in range(n_classes):
                t = indicator[i, k]
                if t != 0.0:
                    if one_column:
                        p = proba[i, 0]
                        if k == 0:
                            p = one - p
                    else:
                        p = proba[i, k]
                    loss += t * _clipped_neg_log(p, lower, upper)
            if not one_column and _row_sum_is_off(proba, i, tolerance):
                n_off += 1
            if weighted:
                loss_sum += weights[i] * loss
                weight_sum += weights[i]
            else:
                loss_sum += loss
        totals[chunk, 0] = loss_sum
        totals[chunk, 1] = weight_sum
        totals[chunk, 2] = n_off


# --------------------------------------------------------------------------------------------
# Validation and conversion (scikit-learn 1.9's rules)
# --------------------------------------------------------------------------------------------


def _is_array_like(x) -> bool:
    """scikit-learn's "array-like": has a length, a shape or ``__array__``, and is not a scalar."""
    if x is None or isinstance(x, (str, bytes)) or np.isscalar(x):
        return False
    return hasattr(x, "__len__") or hasattr(x, "shape") or hasattr(x, "__array__")


def _is_sparse(x) -> bool:
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def _as_array(x, name: str) -> np.ndarray:
    if not _is_array_like(x):
        raise ValueError(f"{name} must be an array-like, got {type(x).__name__}: {x!r:.100}.")
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested sequences
        raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
    if array.ndim == 0:
        raise ValueError(f"{name} must be an array-like, got a 0-dimensional array.")
    return array


def _check_y_pred(y_pred) -> tuple[np.ndarray, np.dtype]:
    """Return (probabilities as a C-contiguous float32/float64 2-D array, dtype that sets eps).

    As scikit-learn's ``check_array(y_pred, ensure_2d=False, dtype=(float64, float32, float16))``:
    float64, float32 and float16 are kept (float16 is evaluated in float32 below, with float16's
    eps), anything else that converts to float64 (other real dtypes, objects, numeric strings)
    becomes float64; no NaN or inf; at least one row and one column; values in [0, 1].
    """
    if _is_sparse(y_pred):
        raise ValueError("y_pred must be a dense array; sparse matrices are not supported.")
    array = _as_array(y_pred, "y_pred")
    kind = array.dtype.kind
    if kind == "c":
        raise ValueError("y_pred has a complex dtype; probabilities must be real numbers.")
    if kind not in "fiubOUS":
        raise ValueError(f"y_pred must hold numbers (probabilities), got dtype {array.dtype}.")
    if kind == "f" and array.dtype.itemsize in (2, 4):
        eps_dtype = np.dtype(np.float16 if array.dtype.itemsize == 2 else np.float32)
    else:
        eps_dtype = np.dtype(np.float64)
    if array.ndim > 2:
        raise ValueError(
            f"y_pred must be 1- or 2-dimensional, got an array of shape {array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError(f"y_pred has 0 samples (shape={array.shape}); at least 1 is required.")
    if array.ndim == 2 and array.shape[1] == 0:
        raise ValueError(f"y_pred has 0 columns (shape={array.shape}); at least 1 is required.")

    compute_dtype = np.float64 if eps_dtype == np.float64 else np.float32
    if eps_dtype == np.float16:
        # scikit-learn works in float16: forms 1 - p there, then clips; keep that rounding.
        array = array.astype(np.float16)
        if array.ndim == 1 or array.shape[1] == 1:
            positive = array.reshape(-1)
            array = np.stack([1 - positive, positive], axis=1)
    try:
        proba = np.ascontiguousarray(array, dtype=compute_dtype)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"y_pred could not be converted to floating point: {exc}") from exc
    if proba.ndim == 1:
        proba = proba.reshape(-1, 1)

    # NaN propagates through min/max and an infinity is the min or the max: two passes, no copy.
    smallest, largest = proba.min(), proba.max()
    if not (np.isfinite(smallest) and np.isfinite(largest)):
        what = "NaN" if np.isnan(smallest) or np.isnan(largest) else "infinity"
        raise ValueError(f"y_pred contains {what}; probabilities must be finite.")
    if largest > 1:
        raise ValueError(f"y_pred contains values greater than 1: {largest}")
    if smallest < 0:
        raise ValueError(f"y_pred contains values lower than 0: {smallest}")
    return proba, eps_dtype


def _check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """The package's weight check (float64 (n,), or empty for None), raising ValueError only:
    the metric's contract, and scikit-learn's, for every invalid input."""
    try:
        return val.check_sample_weight(sample_weight, n_samples, copy=False)
    except TypeError as exc:
        raise ValueError(str(exc)) from exc


def _as_class_labels(values: np.ndarray, name: str) -> np.ndarray:
    """Validate class labels as scikit-learn's ``type_of_target`` does; return them as an array.

    Accepted: integers, booleans, integral floats, strings. Rejected: non-integral, NaN or
    infinite floats ("continuous"), complex numbers, bytes, non-string objects.
    """
    kind = values.dtype.kind
    if kind in "iub":
        return values
    if kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            raise ValueError(f"{name} contains a non-finite value ({values[~finite].flat[0]}).")
        with np.errstate(invalid="ignore"):
            integral = values.astype(np.int64).astype(values.dtype) == values
        if not integral.all():
            raise ValueError(
                f"{name} holds continuous values (e.g. {values[~integral].flat[0]}); "
                "log_loss needs class labels (integers, integral floats or strings)."
            )
        return values
    if kind == "U":
        return values
    if kind == "O":
        is_str = np.fromiter((isinstance(v, str) for v in values.flat), bool, values.size)
        if is_str.all():  # an empty array too: its length is checked with the other inputs
            return values.astype(str)
        if values.size and is_str.any():
            raise ValueError(f"{name} mixes string and non-string labels.")
        raise ValueError(
            f"{name} holds objects that are not class labels (first one: {values.flat[0]!r:.100})."
        )
    if kind == "S":
        raise ValueError(
            f"{name} holds bytes; labels represented as bytes are not supported. Convert them "
            "to strings or integers."
        )
    raise ValueError(f"{name} has dtype {values.dtype}, which cannot hold class labels.")


def _check_y_true(y_true) -> np.ndarray:
    """``y_true`` as a 1-D label array, or a 2-D label-indicator matrix (n, K >= 2)."""
    if _is_sparse(y_true):
        raise ValueError("y_true must be a dense array; sparse matrices are not supported.")
    y = _as_array(y_true, "y_true")
    if y.ndim > 2 or (y.ndim == 2 and y.shape[1] == 0):
        raise ValueError(
            f"y_true must be 1-dimensional (class labels) or a 2-D label-indicator matrix, got "
            f"an array of shape {y.shape}."
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim == 1:
        return _as_class_labels(y, "y_true")
    # 2-D with K >= 2 columns: only a label-indicator matrix (at most 2 distinct values, integer
    # or integral) is accepted by scikit-learn; anything else is multi-output.
    if y.dtype.kind in "iub" or y.dtype.kind == "f":
        distinct = np.unique(y)
        with np.errstate(invalid="ignore"):
            integral = y.dtype.kind in "iub" or np.all(distinct.astype(np.int64) == distinct)
        if distinct.size < 3 and integral:
            return y
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ValueError("y_true contains a non-finite value.")
    raise ValueError(
        f"y_true of shape {y.shape} is multi-output, which log_loss does not support: a 2-D "
        "y_true must be a label-indicator matrix with at most two distinct values (0 and 1)."
    )


def _encode_small_integer_range(y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``np.unique(y, return_inverse=True)`` in O(n) for integer labels of a small range.

    ``None`` when ``y`` is not integer or its range is too wide (then sorting is the way).
    """
    label_dtype = y.dtype
    if y.dtype.kind == "b":
        y = y.view(np.uint8)
    if y.dtype.kind not in "iu":
        return None
    smallest, largest = int(y.min()), int(y.max())
    span = largest - smallest + 1
    if span > max(1024, y.shape[0]):
        return None
    if y.dtype.kind == "i":
        offset = y.astype(np.int64) - np.int64(smallest)  # in [0, span): no overflow in int64
    else:  # unsigned: y - smallest cannot wrap in y's own dtype
        offset = (y - y.dtype.type(smallest)).astype(np.int64, copy=False)
    present = np.bincount(offset, minlength=span) > 0
    # Modular arithmetic in y's dtype gives the exact classes (each one fits that dtype).
    with np.errstate(over="ignore"):
        classes = np.flatnonzero(present).astype(y.dtype) + y.dtype.type(smallest)
    classes = classes.astype(label_dtype)
    column_of_value = np.cumsum(present, dtype=np.int64) - 1
    return classes, column_of_value[offset]


def _encode_labels(y: np.ndarray, labels) -> tuple[np.ndarray, int]:
    """Map 1-D labels to column indices: sorted unique classes, ``searchsorted``.

    Returns (class_index int64 (n,), n_classes).
    """
    if labels is None:
        encoded = _encode_small_integer_range(y)
        if encoded is None:
            classes, class_index = np.unique(y, return_inverse=True)
        else:
            classes, class_index = encoded
        if classes.size == 1:
            raise ValueError(
                f"y_true contains only one label ({classes[0]}). Please provide the list of all "
                "expected class labels explicitly through the labels argument."
            )
        return np.ascontiguousarray(class_index, dtype=np.int64), classes.size

    given = _as_array(labels, "labels")
    if given.ndim != 1:
        raise ValueError(f"labels must be 1-dimensional, got an array of shape {given.shape}.")
    given = _as_class_labels(given, "labels")
    classes = np.unique(given)
    if classes.size != given.size:
        raise ValueError(f"labels contains duplicate values: {given.tolist()}.")
    if classes.size < 2:
        raise ValueError(
            f"The labels array needs to contain at least two labels, got {classes.tolist()}."
        )
    if not np.array_equal(classes, given):
        warnings.warn(
            f"Labels passed were {given.tolist()}. But this function assumes labels are ordered "
            f"lexicographically. Pass the ordered labels={classes.tolist()} and ensure that the "
            "columns of y_pred correspond to this ordering.",
            UserWarning,
            stacklevel=3,
        )
    if (y.dtype.kind == "U") != (classes.dtype.kind == "U"):
        known = np.zeros(y.shape, dtype=bool)
    else:
        known = np.isin(y, classes)
    if not known.all():
        undeclared = np.unique(y[~known]).tolist()
        raise ValueError(
            f"y_true contains values {undeclared} not belonging to the passed labels "
            f"{given.tolist()}."
        )
    class_index = np.searchsorted(classes, y)
    return np.ascontiguousarray(class_index, dtype=np.int64), classes.size


def log_loss(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    normalize: bool = True,
    sample_weight: ArrayLike | None = None,
    labels: ArrayLike | None = None,
) -> float:
    """Log loss (cross-entropy) of predicted probabilities, as ``sklearn.metrics.log_loss``.

    A convenience wrapper around the Numba kernels ``_class_index_log_loss_chunks`` and
    ``_indicator_log_loss_chunks`` (run in parallel on fastloss's thread pool): it checks and
    converts the arguments, maps the labels to columns, and the kernel sums ``-log`` of the clipped
    probability of each sample's true class.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,), or label-indicator matrix (n_samples, n_classes)
        True labels: integers, booleans, integral floats or strings.
    y_pred : array-like of float of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in the order of the sorted classes (as
        ``LabelBinarizer`` orders them). A 1-D array (or one column) is the probability of the
        positive (second) class of a binary problem. float64, float32 and float16 are kept,
        other real dtypes are converted to float64. Values are clipped to ``[eps, 1 - eps]``,
        ``eps`` being the machine epsilon of that dtype; rows are not renormalised (a
        ``UserWarning`` says when they do not sum to one).
    normalize : bool, default=True
        Return the (weighted) mean loss per sample; otherwise the (weighted) sum.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative, finite sample weights, not all zero.
    labels : array-like of shape (n_classes,), default=None
        All class labels. Needed when ``y_true`` does not contain every class (for example
        a single one). Columns of ``y_pred`` follow the *sorted* labels.

    Returns
    -------
    loss : float
        Computed in float64 (``-log`` in ``y_pred``'s dtype, as scikit-learn does); bitwise the
        same for any number of Numba threads.

    Raises
    ------
    ValueError
        For what ``sklearn.metrics.log_loss`` rejects (probabilities that are non-finite or
        outside [0, 1], inconsistent lengths, a single class, a number of classes that differs
        from ``y_pred``'s columns, labels missing from ``labels``, non-class labels, ...) and
        for negative sample weights.

    Notes
    -----
    The value is the same as scikit-learn's to within float64 rounding of the summation
    (scikit-learn sums float32 probabilities' losses in float32; this function sums in float64;
    float16 input is clipped with float16's eps and 1 - p is rounded to float16 as in
    scikit-learn, but the logarithms are taken in float32). Unlike scikit-learn, negative sample
    weights are rejected, and sparse inputs are not accepted (scikit-learn accepts neither a
    sparse ``y_true`` nor a sparse ``y_pred`` either).
    """
    if not isinstance(normalize, (bool, np.bool_)):
        # scikit-learn's parameter validation raises a ValueError subclass here, too.
        raise ValueError(f"normalize must be a bool, got {normalize!r}.")  # noqa: TRY004
    proba, eps_dtype = _check_y_pred(y_pred)
    n_samples = proba.shape[0]
    y = _check_y_true(y_true)
    if y.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"y_true has {y.shape[0]}, y_pred has {n_samples}."
        )
    weights = _check_sample_weight(sample_weight, n_samples)
    n_pred_classes = 2 if proba.shape[1] == 1 else proba.shape[1]

    indicator = None
    if y.ndim == 2:
        if labels is not None:
            raise ValueError(
                "labels cannot be used with a label-indicator y_true (its columns are the classes)."
            )
        n_classes = y.shape[1]
        class_index = None
        is_one_hot = ((y == 0) | (y == 1)).all() and (np.count_nonzero(y, axis=1) == 1).all()
        if is_one_hot:
            class_index = np.ascontiguousarray(np.argmax(y, axis=1), dtype=np.int64)
        else:
            indicator = np.ascontiguousarray(y, dtype=np.int64).astype(np.float64)
    else:
        class_index, n_classes = _encode_labels(y, labels)

    if n_classes != n_pred_classes:
        if labels is None:
            raise ValueError(
                f"y_true and y_pred contain different number of classes: {n_classes} vs "
                f"{n_pred_classes}. Please provide the true labels explicitly through the "
                "labels argument."
            )
        raise ValueError(
            f"The number of classes in labels ({n_classes}) is different from that in y_pred "
            f"({n_pred_classes})."
        )

    finfo = np.finfo(eps_dtype)
    scalar = proba.dtype.type
    lower, upper = scalar(finfo.eps), scalar(eps_dtype.type(1) - finfo.eps)
    tolerance = 1e-8 + math.sqrt(float(finfo.eps))  # scikit-learn: isclose(sum, 1, rtol=sqrt(eps))
    if indicator is None:
        chunks, labels = _class_index_log_loss_chunks, class_index
    else:
        chunks, labels = _indicator_log_loss_chunks, indicator
    totals, _ = run_chunks(chunks, (labels, proba, weights, lower, upper, scalar(1), tolerance),
                           row_bounds(proba.shape[0], 3), 3, 0, None)
    loss_sum, weight_sum, n_off = totals
    if n_off:
        warnings.warn(
            "The y_pred values do not sum to one. Make sure to pass probabilities.",
            UserWarning,
            stacklevel=2,
        )
    if not normalize:
        return float(loss_sum)
    denominator = weight_sum if weights.shape[0] else float(n_samples)
    return float(loss_sum / denominator)

