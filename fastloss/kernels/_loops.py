"""How a kernel runs a binary loss: one loop per (loss, mode), compiled on demand, called
through a table of function pointers.

The matrix and pointwise kernels never name a loss. Per block of samples they call
:func:`pointwise_rows` with a loss id and a *mode* (which of value / gradient / hessian they
need); it reads the address of that (loss, mode) loop from a process-wide table and calls it.
So each kernel compiles once per matrix type and links no loss code, and each loss's loop
compiles once, as a small ``cfunc`` (cached on disk like the kernels), for every kernel and
every matrix type. A call costs one indirect call per block (up to ``MAX_DENSE_BLOCK_ROWS`` rows of
dense ``X``, ``MAX_BLOCK_ROWS`` of CSR ``X`` or pointwise samples).

Every loop is a copy of :func:`_loop_template` whose globals name the loss's scalar functions
(:mod:`fastloss.losses`) and the outputs of the mode, under a name of its own
(``_loop__logistic__value_gradient``): module-level code with a unique name is what Numba's
cache finds again in another process, and a unique name keeps two loops' symbols apart.

The table is a NumPy array registered with LLVM as the symbol ``fastloss_loop_table``: compiled
code reads it through that symbol, so a kernel loaded from the cache reads the table of the
process it runs in, and no address is ever compiled into code. :func:`prepare` fills an entry
before a kernel that needs it runs (the Python API does this for you); a kernel that finds its
entry empty raises ``ValueError`` instead of calling it.
"""

from __future__ import annotations

import threading
import types as pytypes

import llvmlite.binding as llvm_binding
import llvmlite.ir as llvm_ir
import numpy as np
from numba import carray, cfunc, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .. import losses
from .._jit import CACHE, jit

#: ``mode`` of :func:`pointwise_rows`: a bit each for value, gradient and hessian.
VALUE, VALUE_GRADIENT, HESSIAN, VALUE_GRADIENT_HESSIAN = 1, 3, 4, 7
MODES = {"value": VALUE, "value_gradient": VALUE_GRADIENT, "hessian": HESSIAN,
         "value_gradient_hessian": VALUE_GRADIENT_HESSIAN}
#: Table slots per loss (one per mode bit pattern).
_SLOTS = 8
#: Loss ids the table has room for.
_MAX_LOSSES = 64

_TABLE_SYMBOL = "fastloss_loop_table"
_table = np.zeros(_MAX_LOSSES * _SLOTS, dtype=np.int64)
llvm_binding.add_symbol(_TABLE_SYMBOL, _table.ctypes.data)
_compiled = {}  # slot -> CFunc, kept alive for the process: the table holds their addresses
_lock = threading.Lock()

_f64p = types.CPointer(types.float64)
#: ``loop(y, sw, n_sw, m, z, L, G, H)``: ``y`` and ``sw`` point at the block's first sample.
_LOOP_SIGNATURE = types.void(_f64p, _f64p, types.int64, types.int64, _f64p, _f64p, _f64p, _f64p)


def _loop_template(y_at, sw_at, n_sw, m, z_at, L_at, G_at, H_at):
    """``L/G/H[r] = s_r * value/gradient/hessian(y[r], z[r])`` for ``r < m``, the outputs of
    this copy's mode only (``WANT_*`` are constants of the copy, so the others are pruned). A
    mode with both the value and the gradient calls the loss's fused ``value_gradient`` where it
    has one (``FUSED_VALUE_GRADIENT``): the same bits, the shared work done once.

    Compiled without fast-math: the error-free steps of ``fastloss._math`` and the stable
    formulas keep their exact evaluation order (the loop holds no reduction, and vectorizes
    without ``reassoc``). The weights get a loop of their own (the same single rounding as
    ``s * f``): a weight test inside the first loop made LLVM compile the loss's math twice.
    """
    y = carray(y_at, m)
    z = carray(z_at, m)
    L = carray(L_at, m)
    G = carray(G_at, m)
    H = carray(H_at, m)
    for r in range(m):
        if FUSED_VALUE_GRADIENT:  # noqa: F821 (bound per copy)
            L[r], G[r] = value_gradient(y[r], z[r])  # noqa: F821
        else:
            if WANT_VALUE:  # noqa: F821
                L[r] = value(y[r], z[r])  # noqa: F821
            if WANT_GRADIENT:  # noqa: F821
                G[r] = gradient(y[r], z[r])  # noqa: F821
        if WANT_HESSIAN:  # noqa: F821
            H[r] = hessian(y[r], z[r])  # noqa: F821
    if n_sw > 0:
        sw = carray(sw_at, m)
        for r in range(m):
            s = sw[r]
            if WANT_VALUE:  # noqa: F821
                L[r] *= s
            if WANT_GRADIENT:  # noqa: F821
                G[r] *= s
            if WANT_HESSIAN:  # noqa: F821
                H[r] *= s


def _compile_loop(name: str, mode: int):
    spec = losses.REGISTRY[name]
    value, gradient, hessian = spec.functions
    fused = spec.value_gradient is not None and mode & VALUE_GRADIENT == VALUE_GRADIENT
    namespace = dict(_loop_template.__globals__, value=value, gradient=gradient, hessian=hessian,
                     value_gradient=spec.value_gradient if fused else value,
                     WANT_VALUE=bool(mode & VALUE), WANT_GRADIENT=bool(mode & 2),
                     WANT_HESSIAN=bool(mode & HESSIAN), FUSED_VALUE_GRADIENT=bool(fused))
    mode_name = next(k for k, v in MODES.items() if v == mode)
    loop = pytypes.FunctionType(_loop_template.__code__, namespace, f"_loop__{name}__{mode_name}")
    loop.__qualname__ = loop.__name__
    return cfunc(_LOOP_SIGNATURE, cache=CACHE and spec.cache, error_model="numpy")(loop)


@jit()
def mode_of(want_gradient, want_hessian):
    """The mode that gives the value, with the gradient and/or the hessian as asked (the hessian
    mode with the value and gradient, as :func:`fastloss.kernels.linear.loss_gradient` keeps the
    curvature of a gradient pass); :func:`fastloss.kernels.gradient_mode` names it in Python."""
    if want_hessian:
        return VALUE_GRADIENT_HESSIAN
    return VALUE_GRADIENT if want_gradient else VALUE


def _modes(modes):
    if isinstance(modes, str):
        modes = (modes,)
    return tuple(MODES[m] if isinstance(m, str) else int(m) for m in modes)


def prepare(loss, modes=tuple(MODES)) -> None:
    """Compile (or load from the cache) binary ``loss``'s loops for ``modes``.

    Call it once per process before compiled code runs a kernel with that loss id: the Python
    API of fastloss does, for exactly the modes each call uses. ``loss`` is a name of
    ``fastloss.LOSSES`` (or an alias) or a loss id; ``modes`` names of :data:`MODES` (default:
    all four, about 0.1-0.3 s each on a cold cache).
    """
    if isinstance(loss, (int, np.integer)):
        if not 0 <= loss < len(losses.LOSSES):
            raise ValueError(f"prepare(): no loss has id {loss}; ids are 0..{len(losses.LOSSES) - 1}")
        loss = losses.LOSSES[loss]
    name = losses.canonical_name(loss)
    if not losses.REGISTRY[name].binary:
        raise ValueError(f"prepare() takes a binary loss; {name!r} has kernels of its own")
    loss_id = losses.LOSS_IDS[name]
    if loss_id >= _MAX_LOSSES:
        raise ValueError(f"prepare(): the loop table holds {_MAX_LOSSES} losses; {name!r} has id {loss_id}")
    for mode in _modes(modes):
        slot = loss_id * _SLOTS + mode
        if _table[slot]:
            continue
        with _lock:
            if not _table[slot]:
                loop = _compile_loop(name, mode)
                _compiled[slot] = loop
                _table[slot] = loop.address


@intrinsic
def _table_entry(typingctx, slot):
    """Entry ``slot`` of the loop table, read through its symbol at run time."""

    def codegen(context, builder, sig, args):
        i64 = llvm_ir.IntType(64)
        table = cgutils.add_global_variable(builder.module, llvm_ir.ArrayType(i64, 0), _TABLE_SYMBOL)
        table.linkage = "external"
        return builder.load(builder.gep(table, [i64(0), args[0]]))

    return types.int64(types.int64), codegen


@intrinsic
def _call_loop(typingctx, address, y, sw, start, m, z, L, G, H):
    """Call the loop at ``address`` on samples ``start:start + m`` (see :data:`_LOOP_SIGNATURE`)."""
    for name, arg in zip("y sw z L G H".split(), (y, sw, z, L, G, H), strict=True):
        if not (isinstance(arg, types.Array) and arg.dtype == types.float64 and arg.layout == "C"):
            raise TypingError(f"pointwise_rows: `{name}` must be a C-contiguous float64 array, got {arg}")
    sig = types.void(address, y, sw, start, m, z, L, G, H)

    def codegen(context, builder, sig, args):
        address, y, sw, start, m, z, L, G, H = args

        def array(i, value):
            return context.make_array(sig.args[i])(context, builder, value)

        y_array, sw_array = array(1, y), array(2, sw)
        f64p = llvm_ir.DoubleType().as_pointer()
        i64 = llvm_ir.IntType(64)
        loop_type = llvm_ir.FunctionType(llvm_ir.VoidType(), [f64p, f64p, i64, i64, f64p, f64p, f64p, f64p])
        loop = builder.inttoptr(address, loop_type.as_pointer())
        # sw may be empty (unit weights): its pointer is then never read (n_sw == 0).
        builder.call(loop, [builder.gep(y_array.data, [start]), builder.gep(sw_array.data, [start]),
                            sw_array.nitems, m, array(5, z).data, array(6, L).data, array(7, G).data,
                            array(8, H).data])
        return context.get_dummy_value()

    return sig, codegen


@jit()
def loop_ready(loss_id, mode):
    """Whether :func:`prepare` has made loss ``loss_id``'s loop for ``mode`` available."""
    return 0 <= loss_id < _MAX_LOSSES and _table_entry(np.int64(loss_id * _SLOTS + mode)) != 0


@jit()
def check_loop(loss_id, mode):
    """Raise ValueError unless :func:`loop_ready` (kernels call it before their parallel loop)."""
    if not loop_ready(loss_id, mode):
        raise ValueError("the loss's loop is not prepared: call fastloss.kernels.prepare(loss) "
                         "once before running a kernel with it from compiled code")


@jit()
def pointwise_rows(loss_id, mode, y, sw, start, m, z, L, G, H):
    """Weighted per-sample quantities of binary loss ``loss_id`` for one block of samples.

    For ``r < m`` and ``i = start + r`` (``s_i = sw[i]``, or 1 when ``sw`` is empty):
    ``L[r] = s_i loss(y[i], z[r])`` (modes with VALUE), ``G[r] = s_i dloss/dz`` (GRADIENT),
    ``H[r] = s_i d2loss/dz2`` (HESSIAN). Returns ``sum_r L[r]`` (0 without VALUE). ``y``, ``sw``,
    ``z``, ``L``, ``G``, ``H`` are C-contiguous float64, the last four with at least ``m``
    entries (unused outputs may be any of them). The loop must be prepared
    (:func:`check_loop`).
    """
    _call_loop(_table_entry(np.int64(loss_id * _SLOTS + mode)), y, sw, np.int64(start), np.int64(m),
               z, L, G, H)
    total = 0.0
    if mode & VALUE:
        for r in range(m):  # summed here, with reassociation: the loops stay strict
            total += L[r]
    return total
