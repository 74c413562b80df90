"""Transposing blocks of scores between rows ``(rows, K)`` and columns ``(K, rows)``, in tiles.

The multinomial pointwise kernel works on a block of rows transposed to ``(K, rows)`` float64
scratch, so that its loops run over rows with the class fixed (they vectorize for any ``K``); its
outputs go back to rows. A scalar transposition moves one value per load and one per store, and
reads or writes one of the two sides a value at a time with a large stride. :func:`_transpose_tile`
moves an 8 x 8 tile with eight vector loads, 24 two-input shuffles (three rounds of pairing
lanes) and eight vector stores, and an 8 x 4 or 8 x 2 one (either way round) with as many vector
loads as it has rows, a few permutes and as many vector stores as it has columns;
:func:`rows_to_columns` and :func:`columns_to_rows` cover a block with such tiles: as many 8 x 8
as fit across the ``K`` classes (4 or 2 wide below 8 classes), then one narrow tile for the rest
(``K = 10``: an 8 x 2 one, where an 8 x 8 one moved back to the edge moved six columns twice).

Both sides are flat arrays with a row stride (in values), float32 or float64 (values are converted
to and from float64 in registers), so that the caller names any block of a C-contiguous array.
The edges of a block are covered by tiles moved back to end at the edge (they overlap the tile
before them and write the same values twice); a block of fewer than 8 rows, or of one class, is
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
#: The other side of a tile: 8 x 8, or 8 x 4 and 8 x 2 for the classes past the last multiple
#: of 8 (and for fewer than 8).
WIDTHS = (2, 4, 8)

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
    indices = list(indices)
    return llvm_ir.Constant(llvm_ir.VectorType(_I32, len(indices)), [_I32(i) for i in indices])


def _literal_width(t):
    """The value of a literal int type among the tile widths, or None."""
    if isinstance(t, types.IntegerLiteral) and t.literal_value in WIDTHS:
        return t.literal_value
    return None


@intrinsic(prefer_literal=True)
def _transpose_tile(typingctx, src, src_start, src_stride, dst, dst_start, dst_stride, scale, scale_start,
                    rows, cols):
    """``dst[dst_start + j * dst_stride + i] = src[src_start + i * src_stride + j] * scale[scale_start + j]``
    for ``0 <= i < rows``, ``0 <= j < cols`` (1-D float32/float64 arrays; ``scale`` float64, or
    ``None`` for no factor; ``rows`` and ``cols`` literal :data:`WIDTHS`, one of them 8).

    Each row of the source tile is one vector load of ``cols`` values; with a ``scale``, it is
    multiplied lane by lane by the vector ``scale[scale_start:scale_start + cols]``, so that
    destination row ``j`` gets factor ``j``. The product is rounded once in float64 (and converted
    once more when ``dst`` is float32), as ``src[.] * scale[.]`` would be. An 8 x 8 tile is
    transposed by three rounds of two-input shuffles (24 in all); a narrower one is concatenated
    into one vector of ``rows * cols`` values and each destination row picked from it (LLVM
    lowers both to a few permutes).
    """
    R, C = _literal_width(rows), _literal_width(cols)
    if R is None or C is None or TILE not in (R, C):
        return None
    if not (isinstance(src, types.Array) and isinstance(dst, types.Array) and src.ndim == 1 and dst.ndim == 1
            and src.dtype in _FLOATS and dst.dtype in _FLOATS):
        return None
    scaled = isinstance(scale, types.Array)
    if scaled and not (scale.ndim == 1 and scale.dtype == types.float64):
        return None
    if not scaled and not isinstance(scale, (types.NoneType, types.Omitted)):
        return None
    sig = types.void(src, src_start, src_stride, dst, dst_start, dst_stride, scale, scale_start, rows, cols)

    def codegen(context, builder, sig, args):
        src_type, _, _, dst_type, _, _, scale_type, _, _, _ = sig.args

        def index(k):
            return context.cast(builder, args[k], sig.args[k], types.int64)

        def vector_pointer(array_type, value, start, width):
            array = context.make_array(array_type)(context, builder, value)
            element = context.get_data_type(array_type.dtype)
            address = builder.gep(array.data, [start])
            return builder.bitcast(address, llvm_ir.PointerType(llvm_ir.VectorType(element, width))), element

        src_start_, src_stride_ = index(1), index(2)
        dst_start_, dst_stride_ = index(4), index(5)
        factor = None
        if scaled:
            pointer, _ = vector_pointer(scale_type, args[6], index(7), C)
            factor = builder.load(pointer, align=8)
        lines = []
        for i in range(R):
            start = builder.add(src_start_, builder.mul(src_stride_, _I64(i)))
            pointer, element = vector_pointer(src_type, args[0], start, C)
            line = builder.load(pointer, align=src_type.dtype.bitwidth // 8)
            if element != _F64:
                line = builder.fpext(line, llvm_ir.VectorType(_F64, C))
            if factor is not None:
                line = builder.fmul(line, factor)
            lines.append(line)
        if R == C == TILE:
            for step, first, second in _ROUNDS:
                paired = list(lines)
                for block in range(0, TILE, 2 * step):
                    for i in range(block, block + step):
                        a, b = lines[i], lines[i + step]
                        paired[i] = builder.shuffle_vector(a, b, _lanes(first))
                        paired[i + step] = builder.shuffle_vector(a, b, _lanes(second))
                lines = paired
            columns = lines
        else:
            while len(lines) > 1:  # concatenate pairwise: one vector, row after row
                width = lines[0].type.count
                lines = [builder.shuffle_vector(lines[i], lines[i + 1], _lanes(range(2 * width)))
                         for i in range(0, len(lines), 2)]
            whole = lines[0]
            columns = [builder.shuffle_vector(whole, llvm_ir.Constant(whole.type, None),
                                              _lanes([j + C * i for i in range(R)])) for j in range(C)]
        for j, column in enumerate(columns):
            start = builder.add(dst_start_, builder.mul(dst_stride_, _I64(j)))
            pointer, element = vector_pointer(dst_type, args[3], start, R)
            if element != _F64:
                column = builder.fptrunc(column, llvm_ir.VectorType(element, R))
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
def _widths(K):
    """``(wide, last)``: the blocks' columns ``[0, K)`` are covered by tiles of ``wide`` columns
    (the widest of :data:`WIDTHS` that fits) and, where ``K`` is not a multiple of it, one more of
    ``last`` columns (the narrowest that covers the rest) ending at ``K``, overlapping the one
    before it; ``last = 0`` when none is needed. ``K >= 2``."""
    wide = TILE if K >= TILE else (4 if K >= 4 else 2)
    rest = K % wide
    return wide, (0 if rest == 0 else (2 if rest <= 2 else (4 if rest <= 4 else TILE)))


@jit(inline=True)
def _rows_tile(src, src_start, src_stride, dst, dst_start, dst_stride, w):
    """8 rows of ``w`` values to ``w`` rows of 8 (``w`` in :data:`WIDTHS`)."""
    if w == TILE:
        _transpose_tile(src, src_start, src_stride, dst, dst_start, dst_stride, None, 0, 8, 8)
    elif w == 4:
        _transpose_tile(src, src_start, src_stride, dst, dst_start, dst_stride, None, 0, 8, 4)
    else:
        _transpose_tile(src, src_start, src_stride, dst, dst_start, dst_stride, None, 0, 8, 2)


@jit(inline=True)
def _columns_tile(src, src_start, src_stride, dst, dst_start, dst_stride, scale, scale_start, w):
    """``w`` rows of 8 values (times ``scale``'s 8 factors) to 8 rows of ``w``."""
    if w == TILE:
        _transpose_tile(src, src_start, src_stride, dst, dst_start, dst_stride, scale, scale_start, 8, 8)
    elif w == 4:
        _transpose_tile(src, src_start, src_stride, dst, dst_start, dst_stride, scale, scale_start, 4, 8)
    else:
        _transpose_tile(src, src_start, src_stride, dst, dst_start, dst_stride, scale, scale_start, 2, 8)


@jit()
def rows_to_columns(src, first_row, m, K, dst, width):
    """``dst[k * width + r] = src[(first_row + r) * K + k]`` for ``r < m``, ``k < K``: rows
    ``first_row:first_row + m`` of a C-ordered ``(n, K)`` array (flat ``src``) into the first
    ``m`` columns of a ``(K, width)`` one (flat ``dst``)."""
    if m >= TILE and K >= 2:
        wide, last = _widths(K)
        for r0 in range(0, m, TILE):
            r0 = min(r0, m - TILE)
            row = (first_row + r0) * K
            for k0 in range(0, K - wide + 1, wide):
                _rows_tile(src, row + k0, K, dst, k0 * width + r0, width, wide)
            if last:
                k0 = K - last
                _rows_tile(src, row + k0, K, dst, k0 * width + r0, width, last)
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
    if m >= TILE and K >= 2:
        wide, last = _widths(K)
        for r0 in range(0, m, TILE):
            r0 = min(r0, m - TILE)
            row = (first_row + r0) * K
            for k0 in range(0, K - wide + 1, wide):
                _columns_tile(src, k0 * width + r0, width, dst, row + k0, K, scale, r0, wide)
            if last:
                k0 = K - last
                _columns_tile(src, k0 * width + r0, width, dst, row + k0, K, scale, r0, last)
    elif scale is None:
        for r in range(m):
            for k in range(K):
                dst[(first_row + r) * K + k] = src[k * width + r]
    else:
        for r in range(m):
            s = scale[r]
            for k in range(K):
                dst[(first_row + r) * K + k] = src[k * width + r] * s
