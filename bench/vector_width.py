"""Which SIMD width LLVM gave fastloss's hot loops on this CPU.

Counts the 512-bit (zmm), 256-bit (ymm) and 128-bit (xmm) register operands in the machine code of
the dense binary kernel (scores and gradient scatter, float64 and float32) and of the logistic
per-sample loop, after one small call of each::

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
    return {reg: len(re.findall(rf"%{reg}\d+", asm)) for reg in ("zmm", "ymm", "xmm")}


def main() -> None:
    import fastloss
    from fastloss.kernels import _loops, linear

    features = llvm.get_host_cpu_features().flatten()
    avx512 = sorted(f[1:] for f in features.split(",") if f.startswith("+avx512"))
    print(f"LLVM host CPU: {llvm.get_host_cpu_name()} | avx512 features: {', '.join(avx512) or 'none'}")
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        X = rng.standard_normal((4000, 64)).astype(dtype)
        y = (rng.random(4000) < 0.5).astype(np.float64)
        obj = fastloss.LinearObjective(X, y, l2=1e-3)
        coef = np.zeros(obj.n_coef)
        obj.loss_gradient(coef)
        obj.hessp(coef, coef + 1.0)
    for name in ("loss_gradient_chunks", "hessp_chunks"):
        for sig, asm in getattr(linear, name).inspect_asm().items():
            print(f"linear.{name}{tuple(str(t) for t in sig[:2])}: {_counts(asm)}")
    for slot, cf in sorted(_loops._compiled.items()):
        print(f"per-sample loop {cf.__name__ if hasattr(cf, '__name__') else slot}: "
              f"{_counts(cf._library.get_asm_str())}")


if __name__ == "__main__":
    main()
