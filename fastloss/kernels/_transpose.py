"""Transposing blocks of scores between rows ``(rows, K)`` and columns ``(K, rows)``, 8 x 8 at a time.

The multinomial pointwise kernel works on a block of rows transposed to ``(K, rows)`` float64
scratch, so that its loops run over rows with the class fixed (they vectorize for any ``K``); its
outputs go back to rows. A scalar transposition moves one value per load and one per store, and
reads or writes one of the two sides a value at a time with a large stride. :func:`_transpose8`
moves an 8 x 8 tile with eight vector loads, 24 two-input shuffles (three rounds of pairing
lanes) and eight vector stores; :func:`rows_to_columns` and :func:`columns_to_rows` cover a block
with such tiles.

Both sides are flat arrays with a row stride (in values), float32 or float64 (values are converted
to and from float64 in registers), so that the caller names any block of a C-contiguous array.
The edges of a block are covered by tiles moved back to end at the edge (they overlap the tile
before them and write the same values twice); a block narrower than a tile on either side is
transposed value by value. Nothing is checked: the caller keeps every tile inside both arrays.
"""

from __future__ import annotations

import llvmlite.ir as llvm_ir
import numpy as np
from numba import types
from numba.extending import intrinsic

from .._jit import jit

#: Side of a tile: eight float64, one 64-byte line (and one AVX-512 register).
TILE = 8

_I32 = llvm_ir.IntType(32)
_I64 = llvm_ir.IntType(64)
_F64 = llvm_ir.DoubleType()
_FLOATS = (types.float32, types.float64)

# The three rounds of the in-register transposition: round ``s`` pairs vector ``i`` with vector
# ``i + s`` (``i`` in blocks of ``2 s``) and interleaves their lanes in groups of ``s``: the first
# result takes the even groups of both, the second the odd ones. After the rounds vector ``j``
# holds column ``j`` of the tile.
_ROUNDS = (
    (1, (0, 8, 2, 10, 4, 12, 6, 14), (1, 9, 3, 11, 5, 13, 7, 15)),
    (2, (0, 1, 8, 9, 4, 5, 12, 13), (2, 3, 10, 11, 6, 7, 14, 15)),
    (4, (0, 1, 2, 3, 8, 9, 10, 11), (4, 5, 6, 7, 12, 13, 14, 15)),
)


def _lanes(indices):
    return llvm_ir.Constant(llvm_ir.VectorType(_I32, TILE), [_I32(i) for i in indices])


@intrinsic
def _transpose8(typingctx, src, src_start, src_stride, dst, dst_start, dst_stride, scale, scale_start):
    """``dst[dst_start + j * dst_stride + i] = src[src_start + i * src_stride + j] * scale[scale_start + j]``
    for ``0 <= i, j < 8`` (1-D float32/float64 arrays; ``scale`` float64, or ``None`` for no factor).

    Each row of the source tile is one vector load; with a ``scale``, it is multiplied lane by lane
    by the vector ``scale[scale_start:scale_start + 8]`` before the shuffles, so that destination
    row ``j`` gets factor ``j``. The product is rounded once in float64 (and converted once more
    when ``dst`` is float32), as ``src[.] * scale[.]`` would be.
    """
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.ndim == 1 and dst.ndim == 1
            and src.dtype in _FLOATS and dst.dtype in _FLOATS):
        return None
    scaled = isinstance(scale, types.Array)
    if scaled and not (scale.ndim == 1 and scale.dtype == types.float64):
        return None
    if not scaled and not isinstance(scale, (types.NoneType, types.Omitted)):
        return None
    sig = types.void(src, src_start, src_stride, dst, dst_start, dst_stride, scale, scale_start)

    def codegen(context, builder, sig, args):
        src_type, _, _, dst_type, _, _, scale_type, _ = sig.args

        def index(k):
            return context.cast(builder, args[k], sig.args[k], types.int64)

        def vector_pointer(array_type, value, start):
            array = context.make_array(array_type)(context, builder, value)
            element = context.get_data_type(array_type.dtype)
            address = builder.gep(array.data, [start])
            return builder.bitcast(address, llvm_ir.PointerType(llvm_ir.VectorType(element, TILE))), element

        src_start_, src_stride_ = index(1), index(2)
        dst_start_, dst_stride_ = index(4), index(5)
        factor = None
        if scaled:
            pointer, _ = vector_pointer(scale_type, args[6], index(7))
            factor = builder.load(pointer, align=8)
        rows = []
        for i in range(TILE):
            start = builder.add(src_start_, builder.mul(src_stride_, _I64(i)))
            pointer, element = vector_pointer(src_type, args[0], start)
            row = builder.load(pointer, align=src_type.dtype.bitwidth // 8)
            if element != _F64:
                row = builder.fpext(row, llvm_ir.VectorType(_F64, TILE))
            if factor is not None:
                row = builder.fmul(row, factor)
            rows.append(row)
        for step, first, second in _ROUNDS:
            paired = list(rows)
            for block in range(0, TILE, 2 * step):
                for i in range(block, block + step):
                    a, b = rows[i], rows[i + step]
                    paired[i] = builder.shuffle_vector(a, b, _lanes(first))
                    paired[i + step] = builder.shuffle_vector(a, b, _lanes(second))
            rows = paired
        for j in range(TILE):
            start = builder.add(dst_start_, builder.mul(dst_stride_, _I64(j)))
            pointer, element = vector_pointer(dst_type, args[3], start)
            column = rows[j]
            if element != _F64:
                column = builder.fptrunc(column, llvm_ir.VectorType(element, TILE))
            builder.store(column, pointer, align=dst_type.dtype.bitwidth // 8)
        return context.get_dummy_value()

    return sig, codegen


@jit()
def line_aligned_empty(n, dtype):
    """``np.empty(n, dtype)`` starting on a 64-byte boundary (a view into a slightly longer array).

    Numba's arrays start on 32-byte boundaries: every 64-byte vector load or store of a scratch
    row would straddle two cache lines.
    """
    buffer = np.empty(n + 64, dtype)
    skip = ((64 - buffer.ctypes.data % 64) % 64) // buffer.itemsize
    return buffer[skip:skip + n]


@jit()
def rows_to_columns(src, first_row, m, K, dst, width):
    """``dst[k * width + r] = src[(first_row + r) * K + k]`` for ``r < m``, ``k < K``: rows
    ``first_row:first_row + m`` of a C-ordered ``(n, K)`` array (flat ``src``) into the first
    ``m`` columns of a ``(K, width)`` one (flat ``dst``)."""
    if m >= TILE and K >= TILE:
        for r0 in range(0, m, TILE):
            r0 = min(r0, m - TILE)
            for k0 in range(0, K, TILE):
                k0 = min(k0, K - TILE)
                _transpose8(src, (first_row + r0) * K + k0, K, dst, k0 * width + r0, width, None, 0)
    else:
        for k in range(K):
            for r in range(m):
                dst[k * width + r] = src[(first_row + r) * K + k]


@jit()
def columns_to_rows(src, width, m, K, dst, first_row, scale):
    """``dst[(first_row + r) * K + k] = src[k * width + r] * scale[r]`` for ``r < m``, ``k < K``:
    the first ``m`` columns of a ``(K, width)`` array (flat ``src``) into rows
    ``first_row:first_row + m`` of a C-ordered ``(n, K)`` one (flat ``dst``); ``scale`` is a
    float64 vector of ``>= m`` factors, one per row, or ``None``."""
    if m >= TILE and K >= TILE:
        for r0 in range(0, m, TILE):
            r0 = min(r0, m - TILE)
            for k0 in range(0, K, TILE):
                k0 = min(k0, K - TILE)
                _transpose8(src, k0 * width + r0, width, dst, (first_row + r0) * K + k0, K, scale, r0)
    elif scale is None:
        for r in range(m):
            for k in range(K):
                dst[(first_row + r) * K + k] = src[k * width + r]
    else:
        for r in range(m):
            s = scale[r]
            for k in range(K):
                dst[(first_row + r) * K + k] = src[k * width + r] * s
