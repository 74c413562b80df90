"""Which SIMD width LLVM gave fastloss's hot loops on this CPU.

Counts the 512-bit (zmm), 256-bit (ymm) and 128-bit (xmm) register operands in the machine code of
the binary kernels (dense float64 and float32, and CSR, whose gathers and scatters are counted too)
and of the logistic per-sample loop, after one small call of each::

    python bench/vector_width.py

On an AVX-512 core LLVM may still choose 256-bit vectors (its ``prefer-vector-width`` tuning for
many x86 cores); this prints what it chose, with the CPU name and features LLVM saw.
"""

from __future__ import annotations

import os
import re

os.environ["FASTLOSS_NO_CACHE"] = "1"  # machine code is only kept for code compiled in this process

import numpy as np
from llvmlite import binding as llvm


def _counts(asm: str) -> dict[str, int]:
    counts = {reg: len(re.findall(rf"%{reg}\d+", asm)) for reg in ("zmm", "ymm", "xmm")}
    counts.update(gathers=len(re.findall(r"\bvgather\w+", asm)), scatters=len(re.findall(r"\bvscatter\w+", asm)))
    return counts


def main() -> None:
    import fastloss
    from fastloss.kernels import _loops, linear

    features = llvm.get_host_cpu_features().flatten()
    avx512 = sorted(f[1:] for f in features.split(",") if f.startswith("+avx512"))
    print(f"LLVM host CPU: {llvm.get_host_cpu_name()} | avx512 features: {', '.join(avx512) or 'none'}")
    rng = np.random.default_rng(0)
    import scipy.sparse as sp

    for X in (*(rng.standard_normal((4000, 64)).astype(dtype) for dtype in ("float64", "float32")),
              sp.random(4000, 640, density=0.05, format="csr", random_state=0)):
        y = (rng.random(4000) < 0.5).astype(np.float64)
        obj = fastloss.LinearObjective(X, y, l2=1e-3)
        coef = np.zeros(obj.n_coef)
        obj.loss_gradient(coef)
        obj.hessp(coef, coef + 1.0)
    for name in ("loss_gradient_chunks", "hessp_chunks"):
        for sig, asm in getattr(linear.binary, name).inspect_asm().items():
            matrix = "CSR" if "CSR" in str(sig[0]) else str(sig[0])
            print(f"linear.{name}({matrix}, ...): {_counts(asm)}")
    for slot, cf in sorted(_loops._compiled.items()):
        print(f"per-sample loop {cf.__name__ if hasattr(cf, '__name__') else slot}: "
              f"{_counts(cf._library.get_asm_str())}")


if __name__ == "__main__":
    main()
