"""Pointwise losses over raw predictions (contract section 2): ``fastloss.get_loss(name)``.

Thin wrappers around the parallel kernels of :mod:`fastloss.kernels.pointwise`: outputs are
allocated in the dtype of ``raw_prediction`` and the kernels do the work.

Validation in one pass. Shapes and dtypes are checked here, before any kernel runs. The
*values* (finite scores, labels the loss accepts, finite non-negative weights with a positive
sum) are counted by the kernel in the pass that computes, instead of by separate passes over the
data before it (a quarter of the call's time went to those passes: docs/performance.md). When a
count is not zero, the precise checks of :mod:`fastloss._validation` run after the kernel and
raise the same ``ValueError`` as ever, naming the entry; the kernel is harmless on invalid
values (nothing is indexed by an unchecked label, no input is written), and its outputs, fresh
arrays, are dropped with the error. A caller's ``out=`` array is never written when an input is
invalid: with ``out=`` the values are checked first, as separate passes, and then the kernel runs.
"""

from __future__ import annotations

import numpy as np

from . import _validation as val
from ._parallel import check_n_threads, run_chunks

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
    def _prepare(self, y_true, raw_prediction, sample_weight, counted: bool):
        """Checked ``(labels, raw, sw, checks)``.

        With ``counted`` (fresh outputs only: see the module docstring) the values of labels,
        scores and weights are left to the kernel, which counts what is invalid in the pass that
        computes; ``checks`` are then the precise checks, in the order they would have run, that
        :meth:`_run` calls when a count is not zero. Shapes, dtypes and everything else are
        checked here, before any kernel runs. A shape error raised after a deferred check still
        reports what that check would have reported first.
        """
        checks = []
        try:
            raw = val.check_raw_prediction(raw_prediction, self.name, check_finite=not counted)
            n = raw.shape[0]
            if counted:
                checks.append(lambda: val.check_raw_prediction(raw, self.name))
                K = raw.shape[1] if self.is_multiclass else None
                y, check = val.labels_counted_by_kernel(y_true, n, self.name, K)
                if check is not None:
                    checks.append(check)
                sw, check = val.weights_counted_by_kernel(sample_weight, n)
                if check is not None:
                    checks.append(check)
                return y, raw, sw, checks
        except (ValueError, TypeError):
            for check in checks:
                check()
            raise
        if self.is_multiclass:
            y, _ = val.check_class_labels(y_true, n, raw.shape[1], as_read=True)
        else:
            # Long labels are checked by one compiled pass and read in place (-1/+1 ones too).
            y, _ = val.binary_labels_as_read(y_true, n, self.name)
        sw = val.check_sample_weight(sample_weight, n, copy=False) if sample_weight is not None else _EMPTY
        return y, raw, sw, checks

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

    def _run(self, prepared, n_threads, loss_out=None, grad_out=None, hess_out=None) -> tuple[float, float]:
        """Run the kernel; raise the precise error if its counts found invalid input."""
        from .kernels.pointwise import N_TOTALS, TOTALS

        y, raw, sw, checks = prepared
        # Skipped outputs are empty arrays of the same type as the real ones, so that each kernel
        # compiles once per dtype, not once per combination of requested outputs.
        per_sample = np.empty(0, raw.dtype)
        per_score = np.empty((0,) + raw.shape[1:], raw.dtype)
        loss_out = per_sample if loss_out is None else loss_out
        grad_out = per_score if grad_out is None else grad_out
        hess_out = per_score if hess_out is None else hess_out
        try:
            n_threads = check_n_threads(n_threads)
        except (ValueError, TypeError):
            for check in checks:  # the value checks came first before they were deferred
                check()
            raise
        if self.is_multiclass:
            from .kernels.pointwise import multinomial_pointwise_chunks as chunks

            args = (y, raw, sw, loss_out, grad_out, hess_out)
        else:
            from .kernels import gradient_mode, prepare
            from .kernels.pointwise import binary_pointwise_chunks as chunks

            prepare(self.name, (gradient_mode(grad_out.size > 0, hess_out.size > 0),))
            args = (y, raw, sw, self._loss_id, loss_out, grad_out, hess_out)
        from .kernels._chunks import row_bounds

        totals, _ = run_chunks(chunks, args, row_bounds(raw.shape[0], 2), N_TOTALS, 0, n_threads)
        counts = {name: int(totals[j]) for j, name in enumerate(TOTALS) if j >= 2}
        if checks and not self._valid(counts, sw):
            for check in checks:
                check()  # the first invalid input raises its own message
            raise AssertionError(f"fastloss: the pointwise kernel counted invalid input {counts} that the "
                                 "checks accept (please report this)")
        return float(totals[0]), float(totals[1])

    def _valid(self, counts: dict, sw) -> bool:
        """Whether the kernel's counts show every input valid (as the checks would decide)."""
        if counts["raw_nonfinite"]:
            return False
        if sw.size and (counts["sw_nonfinite"] or counts["sw_negative"] or not counts["sw_positive"]):
            return False
        if self.is_multiclass:
            return counts["y_nonfinite"] == 0  # every label a class index in [0, K)
        convention = val.convention_of_counts(
            self.name, None, nonfinite=counts["y_nonfinite"], negative=counts["y_negative"],
            above_one=counts["y_above_one"], not_pm1=counts["y_not_pm1"], not_01=counts["y_not_01"])
        return convention is not None

    # --- public methods -------------------------------------------------------------------------
    def loss(self, y_true, raw_prediction, sample_weight=None, out=None, n_threads=None) -> np.ndarray:
        """Per-sample (weighted) loss, shape (n,)."""
        prepared = self._prepare(y_true, raw_prediction, sample_weight, counted=out is None)
        raw = prepared[1]
        out = self._out(out, raw, (raw.shape[0],))
        self._run(prepared, n_threads, loss_out=out)
        return out

    def gradient(self, y_true, raw_prediction, sample_weight=None, out=None, n_threads=None) -> np.ndarray:
        """Per-sample (weighted) derivative with respect to the raw prediction, shaped like it."""
        prepared = self._prepare(y_true, raw_prediction, sample_weight, counted=out is None)
        raw = prepared[1]
        out = self._out(out, raw, raw.shape)
        self._run(prepared, n_threads, grad_out=out)
        return out

    def loss_gradient(self, y_true, raw_prediction, sample_weight=None, n_threads=None):
        """``(loss, gradient)`` in one pass."""
        prepared = self._prepare(y_true, raw_prediction, sample_weight, counted=True)
        raw = prepared[1]
        loss = np.empty(raw.shape[0], dtype=raw.dtype)
        grad = np.empty(raw.shape, dtype=raw.dtype)
        self._run(prepared, n_threads, loss_out=loss, grad_out=grad)
        return loss, grad

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None, n_threads=None):
        """``(gradient, hessian)`` in one pass; multinomial: the diagonal of each sample's Hessian."""
        prepared = self._prepare(y_true, raw_prediction, sample_weight, counted=True)
        raw = prepared[1]
        grad = np.empty(raw.shape, dtype=raw.dtype)
        hess = np.empty(raw.shape, dtype=raw.dtype)
        self._run(prepared, n_threads, grad_out=grad, hess_out=hess)
        return grad, hess

    def mean_loss(self, y_true, raw_prediction, sample_weight=None, n_threads=None) -> float:
        """``sum_i s_i loss_i / sum_i s_i``, accumulated in float64, deterministic; no (n,) array."""
        prepared = self._prepare(y_true, raw_prediction, sample_weight, counted=True)
        loss_sum, weight_sum = self._run(prepared, n_threads)
        return float(loss_sum / weight_sum)


def get_loss(name: str) -> Loss:
    """Return the pointwise loss object for ``name`` (one of ``fastloss.LOSSES`` or ``"log_loss"``)."""
    return Loss(name)
