"""Thread scaling against scikit-learn, in one run: a thin wrapper over the profiler.

    python bench/scaling.py [--n 1000000] [--d 100] [--threads 1,2,4,8,16] [--json rows.json]
                            [--ops ...] [--dtype float64] [--repeat 5]

Runs ``python -m fastloss bench --format markdown`` (:func:`fastloss.profiler.bench`) on the dense
objective's ``loss_gradient`` and ``hessp``, both CSR matrices (uniform and Zipf columns; two rows
each), the pointwise loss and the multinomial objective, at each thread count (without the slow
NumPy reference: the comparison is with scikit-learn). Thread counts above
``os.cpu_count()`` are dropped, with a note, so the script also runs on a small machine. After the
profiler's table it prints the scaling view of the same rows (:func:`fastloss.profiler.scaling_view`):
one row per operation, one column per thread count, cells ``median ms (×sklearn)``. Nothing is
measured twice; ``--json`` keeps the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

OPERATIONS = "loss_gradient,hessp,csr,csr-zipf,pointwise,multinomial"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python bench/scaling.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default="1000000", help="rows (pointwise: 50 x n scores), or a comma-separated sweep")
    p.add_argument("--d", type=int, default=100, help="features (CSR: 1000 x d columns)")
    p.add_argument("--threads", default="1,2,4,8,16", help="comma-separated thread counts")
    p.add_argument("--json", default=None, help="also write the profiler's rows to this file")
    p.add_argument("--ops", default=OPERATIONS, help=f"profiler operations (default {OPERATIONS})")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)

    from fastloss.profiler import bench, scaling_view

    try:
        wanted = [int(t) for t in args.threads.split(",")]
    except ValueError:
        p.error(f"--threads must be comma-separated integers, got {args.threads!r}")
    cpus = os.cpu_count() or 1
    kept = [t for t in wanted if 1 <= t <= cpus]
    if not kept:
        p.error(f"--threads {args.threads}: none of these is between 1 and the {cpus} CPUs of this machine")
    dropped = [t for t in wanted if t not in kept]
    if dropped:
        print(f"Note: this machine has {cpus} CPUs; thread counts {', '.join(map(str, dropped))} dropped.\n")
    with tempfile.TemporaryDirectory(prefix="fastloss-scaling-") as folder:
        path = args.json or os.path.join(folder, "rows.json")
        rc = bench(["--n", args.n, "--d", str(args.d), "--threads", ",".join(map(str, kept)), "--ops", args.ops,
                    "--dtype", args.dtype, "--repeat", str(args.repeat), "--no-reference", "--format", "markdown",
                    "--json", path])
        with open(path) as f:
            rows = json.load(f)["rows"]
    print("\nScaling: median ms (×sklearn: scikit-learn's time / fastloss's, same threads, same run)")
    print("\n".join(scaling_view(rows)))
    return rc


if __name__ == "__main__":
    sys.exit(main())
