"""How far ahead the binary kernels' score loop should request rows: ``_config.ROW_PREFETCH_BYTES``.

    PYTHONPATH=$PWD python bench/prefetch_sweep.py [--bytes 16384,8192,4096,0] [--threads 1,2]
                                                   [--rounds 3] [--n 1000000] [--d 100]

Each (distance, thread count) runs in a fresh process with caching off (``FASTLOSS_NO_CACHE=1``),
so that the kernels are compiled with the distance set before they compile; the rounds alternate
the distances. Prints the median ms of 11 ``loss_gradient`` and ``hessp`` calls (logistic, dense
float64 C) per run. A distance below 4 rows is 4 rows (``0`` means 4 rows).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

_CHILD = """
import sys, time, numpy as np
from fastloss import _config
_config.ROW_PREFETCH_BYTES = {bytes}
import fastloss
rng = np.random.default_rng(0)
X = rng.standard_normal(({n}, {d})); y = (X[:, 0] + rng.standard_normal({n}) > 0).astype(float)
obj = fastloss.LinearObjective(X, y, l2=1e-4, n_threads={threads})
c = rng.standard_normal({d} + 1) * 0.01; v = rng.standard_normal({d} + 1)
out = []
for f in (lambda: obj.loss_gradient(c), lambda: obj.hessp(c, v)):
    f()
    times = []
    for _ in range(11):
        t = time.perf_counter(); f(); times.append(time.perf_counter() - t)
    out.append(1e3 * float(np.median(times)))
print(*out)
"""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bytes", default="16384,8192,4096,0")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=100)
    args = p.parse_args()
    env = dict(os.environ, FASTLOSS_NO_CACHE="1")
    print("round | threads | ROW_PREFETCH_BYTES | loss_gradient ms | hessp ms")
    for r in range(args.rounds):
        for threads in (int(t) for t in args.threads.split(",")):
            for distance in (int(b) for b in args.bytes.split(",")):
                code = _CHILD.format(bytes=distance, n=args.n, d=args.d, threads=threads)
                done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                      check=True)
                lg, hessp = done.stdout.split()
                print(f"{r + 1} | {threads} | {distance} | {float(lg):.1f} | {float(hessp):.1f}", flush=True)


if __name__ == "__main__":
    main()
