"""Pointwise losses over raw predictions (contract section 2): ``fastloss.get_loss(name)``.

Thin wrappers around :mod:`fastloss.kernels.pointwise` (binary losses) and
:mod:`fastloss.kernels.multinomial` (multinomial): inputs are checked here, outputs allocated
in the dtype of ``raw_prediction``, and the parallel kernels do the work.
"""

from __future__ import annotations

import numpy as np

from . import _run as run
from . import _validation as val
from ._parallel import check_n_threads

_EMPTY = np.empty(0)


class Loss:
    """A classification loss evaluated per sample. Obtain one with :func:`fastloss.get_loss`.

    Binary losses take ``raw_prediction`` of shape (n,) or (n, 1) and labels in {0, 1} or
    {-1, +1}; ``multinomial`` takes (n, K) raw scores and class indices. Every method multiplies
    the per-sample values by ``sample_weight`` when given. Outputs have the dtype of
    ``raw_prediction`` (float32 or float64; other dtypes are computed in float64).
    """

    def __init__(self, name: str):
        self.name, self._loss_id = val.check_loss(name)
        self.is_multiclass = self.name == "multinomial"

    def __repr__(self) -> str:
        return f"fastloss.get_loss({self.name!r})"

    # --- input handling -------------------------------------------------------------------------
    def _prepare(self, y_true, raw_prediction, sample_weight):
        raw = val.check_raw_prediction(raw_prediction, self.name)
        n = raw.shape[0]
        if self.is_multiclass:
            y, _ = val.check_class_labels(y_true, n, raw.shape[1], as_read=True)
            plus_minus = False
        else:
            # The kernels read y during the call, converting each block: long labels are used in place.
            y, plus_minus = val.binary_labels_as_read(y_true, n, self.name)
        sw = val.check_sample_weight(sample_weight, n, copy=False) if sample_weight is not None else _EMPTY
        return (y, plus_minus), raw, sw

    def _out(self, out, raw, shape, name="out"):
        if out is None:
            return np.empty(shape, dtype=raw.dtype)
        if not isinstance(out, np.ndarray):
            raise TypeError(f"`{name}` must be a numpy array, got {type(out).__name__}")
        if out.shape != shape or out.dtype != raw.dtype:
            raise ValueError(f"`{name}` must have shape {shape} and dtype {raw.dtype}, "
                             f"got shape {out.shape} and dtype {out.dtype}")
        if not (out.flags.c_contiguous and out.flags.writeable):
            raise ValueError(f"`{name}` must be a writeable C-contiguous array")
        if np.may_share_memory(out, raw):
            raise ValueError(f"`{name}` must not overlap `raw_prediction`")
        return out

    def _run(self, y, raw, sw, n_threads, loss_out=None, grad_out=None, hess_out=None):
        labels, plus_minus = y  # as _prepare returns them: read in place, converted per block
        # Skipped outputs are empty arrays of the same type as the real ones, so that each kernel
        # compiles once per dtype, not once per combination of requested outputs.
        per_sample = np.empty(0, raw.dtype)
        per_score = np.empty((0,) + raw.shape[1:], raw.dtype)
        loss_out = per_sample if loss_out is None else loss_out
        grad_out = per_score if grad_out is None else grad_out
        hess_out = per_score if hess_out is None else hess_out
        n_threads = check_n_threads(n_threads)
        if self.is_multiclass:
            from .kernels.multinomial import pointwise_chunks

            return run.pointwise(pointwise_chunks, (labels, raw, sw, loss_out, grad_out, hess_out), raw, n_threads)
        from .kernels import gradient_mode, prepare
        from .kernels.pointwise import binary_pointwise_chunks

        prepare(self.name, (gradient_mode(grad_out.size > 0, hess_out.size > 0),))
        args = (labels, raw, sw, self._loss_id, loss_out, grad_out, hess_out, plus_minus)
        return run.pointwise(binary_pointwise_chunks, args, raw, n_threads)

    # --- public methods -------------------------------------------------------------------------
    def loss(self, y_true, raw_prediction, sample_weight=None, out=None, n_threads=None) -> np.ndarray:
        """Per-sample (weighted) loss, shape (n,)."""
        y, raw, sw = self._prepare(y_true, raw_prediction, sample_weight)
        out = self._out(out, raw, (raw.shape[0],))
        self._run(y, raw, sw, n_threads, loss_out=out)
        return out

    def gradient(self, y_true, raw_prediction, sample_weight=None, out=None, n_threads=None) -> np.ndarray:
        """Per-sample (weighted) derivative with respect to the raw prediction, shaped like it."""
        y, raw, sw = self._prepare(y_true, raw_prediction, sample_weight)
        out = self._out(out, raw, raw.shape)
        self._run(y, raw, sw, n_threads, grad_out=out)
        return out

    def loss_gradient(self, y_true, raw_prediction, sample_weight=None, n_threads=None):
        """``(loss, gradient)`` in one pass."""
        y, raw, sw = self._prepare(y_true, raw_prediction, sample_weight)
        loss = np.empty(raw.shape[0], dtype=raw.dtype)
        grad = np.empty(raw.shape, dtype=raw.dtype)
        self._run(y, raw, sw, n_threads, loss_out=loss, grad_out=grad)
        return loss, grad

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None, n_threads=None):
        """``(gradient, hessian)`` in one pass; multinomial: the diagonal of each sample's Hessian."""
        y, raw, sw = self._prepare(y_true, raw_prediction, sample_weight)
        grad = np.empty(raw.shape, dtype=raw.dtype)
        hess = np.empty(raw.shape, dtype=raw.dtype)
        self._run(y, raw, sw, n_threads, grad_out=grad, hess_out=hess)
        return grad, hess

    def mean_loss(self, y_true, raw_prediction, sample_weight=None, n_threads=None) -> float:
        """``sum_i s_i loss_i / sum_i s_i``, accumulated in float64, deterministic; no (n,) array."""
        y, raw, sw = self._prepare(y_true, raw_prediction, sample_weight)
        loss_sum, weight_sum = self._run(y, raw, sw, n_threads)
        return float(loss_sum / weight_sum)


def get_loss(name: str) -> Loss:
    """Return the pointwise loss object for ``name`` (one of ``fastloss.LOSSES`` or ``"log_loss"``)."""
    return Loss(name)
