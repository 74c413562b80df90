"""Every tunable of fastloss in one place.

Nothing here depends on the number of threads: chunk boundaries derive from the data size
only, which is what makes every reduction bitwise reproducible across ``n_threads``.
"""

from __future__ import annotations

import os

#: LLVM fast-math flags of the matrix kernels. ``reassoc`` lets the per-row dot products and
#: the gradient updates vectorize; ``contract`` allows FMA. ``nnan``/``ninf`` are deliberately
#: absent: losses legitimately produce ``inf`` (``exponential`` at m = -1e3) and the compiler
#: would be allowed to delete ``isfinite`` checks (numba #2919, #7701).
FASTMATH = frozenset({"reassoc", "contract"})

#: Compiled kernels are written to Numba's on-disk cache (``NUMBA_CACHE_DIR`` if set).
#: ``FASTLOSS_NO_CACHE=1`` turns it off (for debugging a kernel edit that the cache does not see).
CACHE = os.environ.get("FASTLOSS_NO_CACHE", "0") != "1"

#: A chunk (the unit of per-chunk partial sums) has at least this many rows ...
MIN_CHUNK_ROWS = 1024
#: ... and there are at most this many chunks, so the partial-gradient buffers stay small
#: (``MAX_CHUNKS * n_coef`` float64) while 16+ threads still get balanced work.
MAX_CHUNKS = 512

#: A chunk count above this is rounded down to a multiple of it. Numba's ``prange`` gives each
#: thread an equal share of the iterations, so 31 chunks on 2 threads run as 16 + 15, 97 on 16
#: threads as 7 + ... + 6 (one thread's share idles the others at the end); multiples of 16 split
#: evenly over 1, 2, 4, 8 and 16 threads. Still a function of the data's size only.
CHUNK_MULTIPLE = 16

#: Sparse (CSR) input is split by *work*, counted as stored entries plus rows (an empty row
#: still costs a score and a loss), with boundaries that balance it. A chunk holds at least
#: ``MIN_CHUNK_WORK`` of it ...
MIN_CHUNK_WORK = 65_536
#: ... and a matrix is cut into more than ``WIDE_CHUNKS`` chunks only while each still holds
#: ``WIDE_CHUNKS`` times its partial vector's length in work: zeroing and combining a chunk's
#: partial vector (one float64 per coefficient, touched or not) then costs a few per cent of
#: the chunk's own work (docs/performance.md, "Measured choices").
WIDE_CHUNKS = 16

#: ... and all chunks' partial-sum vectors together take at most this many bytes, so that a
#: wide problem (d = 2,000,000 sparse features) gets fewer chunks instead of
#: ``MAX_CHUNKS * d`` float64 (8 GB). A chunk count lowered this way still depends on the
#: data only, never on the thread count.
PARTIAL_BUDGET_BYTES = 256 * 1024 * 1024

#: Rows are processed in cache blocks of about this many bytes of ``X``: the scores of a block
#: are computed, then the pointwise derivatives (a loop the compiler can vectorize), then the
#: gradient update while the block is still in L2.
BLOCK_BYTES = 64 * 1024
#: The Python API runs a CSR ``loss_gradient`` / ``hessp`` in two passes over each run of blocks
#: (score and keep the derivatives, then spread them) instead of one (spread each block right
#: after scoring it) when the vectors it reads at random and the partial sums its threads update
#: at random hold more than this many bytes together: then, in one pass, the two evict each other
#: from the cache block after block (``kernels.linear.two_passes``; docs/performance.md, "Wide
#: CSR: two passes"). The same bits either way.
CSR_TWO_PASS_BYTES = 12 * 1024 * 1024
#: ... counting a multinomial kernel's vectors this many times: each stored entry reads and
#: updates ``K`` values of them (a cache line or two), and two passes won from about half the
#: bytes at which they win for one score (``bench/csr_wide.py --classes 3`` and ``--classes 10``;
#: docs/performance.md, "Multinomial CSR").
CSR_TWO_PASS_MULTINOMIAL = 2
#: ... and keeps the derivatives of at most this many values between the passes (16 MiB).
CSR_KEPT_VALUES = 1 << 21
#: The dense score tile (``kernels._matrix._dot_c_tiled``, multinomial) requests the rows about
#: this many bytes ahead of the ones it scores, a few cache lines per class pair, so that its
#: first pass over a tile's rows does not wait for memory (docs/performance.md, "Prefetching").
PREFETCH_BYTES = 16 * 1024

#: Upper bound of rows in one block of CSR rows or pointwise samples (the per-block scratch
#: vectors are on the stack-sized heap) ...
MAX_BLOCK_ROWS = 256
#: ... but dense blocks of narrow rows (under 32 float64) reach ``BLOCK_BYTES`` with up to this
#: many rows: each block pays a fixed cost (the loss's loop is called through a pointer, the
#: scratch is walked once per step), which 256 rows of 20 features did not amortize
#: (docs/performance.md, "Narrow dense rows").
MAX_DENSE_BLOCK_ROWS = 1024
#: A block of 8 rows or more is a multiple of this many rows: the dense register tiles work on
#: 4 (scores) and 8 (gradient update) rows at a time, and a block of 81 rows (64 KiB of
#: 100 float64 features) ended in a tile that scored one row four times and an update of one
#: row at a time (docs/performance.md, "Measured choices").
BLOCK_ROW_MULTIPLE = 8

#: The compiled drivers ask for huge pages (``kernels._chunks.huge_pages``) for partial sums of at
#: least this many bytes: NumPy's threshold for its own arrays (4 MiB).
HUGE_PAGE_MIN_BYTES = 1 << 22

#: The CSR gather sums up to this many interleaved vectors two at a time, one pass over the row
#: per pair (its sums in registers, the loop over the entries vectorized); more go all at once,
#: their sums in scratch (docs/performance.md, "Multinomial CSR, few classes").
CSR_GATHER_PAIRS_MAX = 4

#: The dense C score loop uses a register tile of 4 rows x 2 vectors (``kernels._matrix``) from
#: this many rows of ``W`` on (the multinomial classes); for fewer, one pass per row of ``W`` was
#: faster (docs/performance.md has the figures).
DOT_TILE_MIN_ROWS = 6

#: The multinomial kernels keep their per-block score scratch (``n_scores x rows`` float64) to
#: about this many values, so that a large ``K`` shortens the cache block instead of growing the
#: scratch (256 KiB per array) ...
SCORE_SCRATCH_VALUES = 32768
#: ... but a block keeps at least this many rows (the F-order primitives vectorize over rows).
SCORE_SCRATCH_MIN_ROWS = 8
#: The full Hessian (``kernels.linear.gram_add``) packs rows of ``X`` a block at a time, transposed
#: to float64: a block takes about this many bytes ...
GRAM_PANEL_BYTES = 512 * 1024
#: ... and between these many rows, a multiple of ``GRAM_ROW_MULTIPLE`` (so that the vectorized
#: loop over a block's rows has no remainder). Wide blocks (p ~ 1000) keep 256 rows, out of L2:
#: with 64 rows each register tile's 16 sums were too short (docs/performance.md). The upper
#: bound caps the per-block weights and the 4-row scratch of each task when ``p`` is small.
GRAM_MIN_ROWS = 256
GRAM_MAX_ROWS = 2048
GRAM_ROW_MULTIPLE = 32
#: The full Hessian goes by row chunks, each thread packing its own blocks into its own partial
#: ``n_coef x n_coef`` matrix (``kernels.linear.gram_chunks``), when the partials' budget
#: (``PARTIAL_BUDGET_BYTES``) holds at least this many partials (enough for 16 threads; up to
#: ``n_coef`` ~1,400); wider problems share each packed block among all threads (``gram_add``).
GRAM_MIN_CHUNKS = 16
#: CSR input with at most this fraction of its entries stored takes the full Hessian's sparse
#: path (``kernels.linear.gram_add_sparse``: work by stored entries, not packed dense blocks;
#: the crossover is in docs/performance.md), in blocks of about this many stored entries (and
#: at most this many per-row weights: ``K`` a row for the multinomial Hessian).
GRAM_SPARSE_MAX_DENSITY = 0.1
GRAM_SPARSE_BLOCK_ENTRIES = 1 << 18

#: Labels and weights of at least this many entries are checked by one compiled pass; shorter
#: ones by NumPy, in well under a millisecond, where loading the compiled pass from the cache
#: would cost a fresh process more.
COUNTED_MIN_SIZE = 1 << 16

#: ``LinearObjective.hessian`` refuses ``n_coef`` above this (a 20,000^2 float64 matrix is 3.2 GB).
HESSIAN_MAX_COEF = 20_000

#: The multinomial pointwise kernel transposes blocks of this many rows to ``(K, rows)``
#: (docs/performance.md, "Multinomial pointwise: one softmax for every K", has the sweep over
#: ``K`` and rows) ...
MULTINOMIAL_BLOCK_ROWS = 64
#: ... or fewer (a multiple of 8, the transposition's tile) where ``rows x K`` would pass this
#: many scores (2 MiB of float64 scratch).
MULTINOMIAL_BLOCK_MAX_SCORES = 262_144

#: ``LinearClassifier`` keeps BLAS on one thread while its solver runs, except for the Cholesky
#: factorization of a Hessian of at least this many coefficients (``"newton"``), where BLAS's
#: threads pay for themselves (``fastloss.sklearn._blas_threads``).
FIT_THREADED_BLAS_MIN_COEF = 1024
