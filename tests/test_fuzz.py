"""Every public entry point, fed what hypothesis makes of shapes, dtypes, layouts, non-finite
values, empty and one-row inputs and wrong types, in a subprocess (a crash fails this test instead
of killing the run): each call returns a finite result or raises ``ValueError`` / ``TypeError``
whose message names the argument at fault, and no input is ever modified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(r'''
    import copy, json, sys, warnings
    import numpy as np, scipy.sparse as sp
    from hypothesis import HealthCheck, given, settings, strategies as st
    import fastloss

    stats = {"cases": 0, "returned": 0, "raised": 0}
    problems = []

    # ---- inputs -------------------------------------------------------------------------------
    DTYPES = [np.float64, np.float32, np.int64, np.int8, np.bool_, np.complex128, object]

    @st.composite
    def arrays(draw, shape):
        dtype = draw(st.sampled_from(DTYPES))
        size = int(np.prod(shape))
        values = np.asarray(draw(st.lists(st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, -3.0, 1e300]),
                                          min_size=size, max_size=size)), dtype=np.float64).reshape(shape)
        if size and draw(st.booleans()):
            values.flat[draw(st.integers(0, size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        if dtype is object:
            return values.astype(object)
        with np.errstate(invalid="ignore", over="ignore"):
            arr = values.astype(dtype)
        layout = draw(st.sampled_from(["C", "F", "strided", "readonly"]))
        if layout == "F":
            arr = np.asfortranarray(arr)
        elif layout == "strided" and arr.ndim == 2:
            arr = np.repeat(arr, 2, axis=1)[:, ::2]
        elif layout == "readonly":
            arr = arr.copy()
            arr.setflags(write=False)
        return arr

    def shape2(draw):
        return (draw(st.sampled_from([0, 1, 2, 7, 40])), draw(st.sampled_from([0, 1, 3])))

    @st.composite
    def matrices(draw):
        kind = draw(st.sampled_from(["array", "array", "csr", "csc", "coo", "list", "scalar", "none", "3d"]))
        if kind == "scalar":
            return 1.0
        if kind == "none":
            return None
        if kind == "3d":
            return np.zeros((2, 2, 2))
        X = draw(arrays(shape2(draw)))
        if kind == "list":
            return X.tolist()
        if kind in ("csr", "csc", "coo") and X.dtype.kind in "fiub" and X.ndim == 2:
            return getattr(sp, kind + "_matrix")(X)
        return X

    @st.composite
    def vectors(draw, n):
        kind = draw(st.sampled_from(["right", "right", "right", "wrong length", "2d", "list", "none"]))
        if kind == "none":
            return None
        m = n if kind != "wrong length" else n + draw(st.sampled_from([-1, 1, 3]))
        v = draw(arrays((max(m, 0), 1) if kind == "2d" else (max(m, 0),)))
        return v.tolist() if kind == "list" else v

    # ---- the check around every call ----------------------------------------------------------
    ARGS = {"X", "y", "y_true", "y_pred", "raw_prediction", "sample_weight", "coef", "v", "l2", "loss",
            "n_classes", "n_threads", "out", "labels", "fit_intercept", "normalize"}

    def snapshot(x):
        if isinstance(x, np.ndarray):
            return ("array", x.copy(), x.dtype, x.shape, x.flags.writeable, x.flags.c_contiguous)
        if sp.issparse(x):
            return ("sparse", x.copy())
        return ("other", copy.deepcopy(x))

    def same(before, x):
        if before[0] == "array":
            _, old, dtype, shape, writeable, c = before
            if x.dtype != dtype or x.shape != shape or x.flags.writeable != writeable or x.flags.c_contiguous != c:
                return False
            if dtype == object:
                return all(a is b or a == b or (a != a and b != b) for a, b in zip(old.ravel(), x.ravel()))
            return np.array_equal(old, x, equal_nan=dtype.kind in "fc")
        if before[0] == "sparse":
            old = before[1]
            return (old.format == x.format and old.shape == x.shape and
                    all(np.array_equal(getattr(old, a), getattr(x, a), equal_nan=True)
                        for a in ("data", "indices", "indptr", "row", "col") if hasattr(old, a)))
        return True  # lists and scalars: compared as given below

    def call(where, fn, inputs, names):
        stats["cases"] += 1
        before = {k: snapshot(v) for k, v in inputs.items()}
        lists = {k: copy.deepcopy(v) for k, v in inputs.items() if isinstance(v, list)}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fn()
            stats["returned"] += 1
        except (ValueError, TypeError) as e:
            stats["raised"] += 1
            message = str(e)
            if not any(f"`{n}`" in message or f"{n}[" in message or f"{n} " in message or f"'{n}'" in message
                       or f"{n}." in message for n in names):
                problems.append(f"{where}: {type(e).__name__} names none of {sorted(names)}: {message}")
            result = None
        except Exception as e:  # any other exception is a defect too
            problems.append(f"{where}: {type(e).__name__}: {e}")
            result = None
        for k, v in inputs.items():
            if not same(before[k], v) or (k in lists and lists[k] != v):
                problems.append(f"{where}: `{k}` was modified")
        return result

    # ---- the entry points ---------------------------------------------------------------------
    LOSSES = list(fastloss.LOSSES) + ["log_loss", "nope", 3]

    @settings(max_examples=int(sys.argv[1]), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def fuzz(data):
        draw = data.draw
        X = draw(matrices())
        n = np.shape(X)[0] if np.ndim(X) >= 1 and not isinstance(X, (float, int)) else 3
        y = draw(vectors(n))
        sw = draw(vectors(n))
        loss = draw(st.sampled_from(LOSSES))
        l2 = draw(st.sampled_from([0.0, 0.1, -1.0, np.nan, "a"]))
        inputs = {"X": X, "y": y, "sample_weight": sw}
        obj = call("LinearObjective", lambda: fastloss.LinearObjective(X, y, loss, l2=l2, sample_weight=sw),
                   inputs, {"X", "y", "sample_weight", "loss", "l2"})
        if obj is not None:
            coef = draw(arrays((draw(st.sampled_from([obj.n_coef, obj.n_coef, obj.n_coef + 1])),)))
            v = draw(arrays((obj.n_coef,)))
            for name in ("loss_gradient", "hessian_diag"):
                call(f"LinearObjective.{name}", lambda name=name: getattr(obj, name)(coef),
                     {"coef": coef}, {"coef"})
            call("LinearObjective.hessp", lambda: obj.hessp(coef, v), {"coef": coef, "v": v}, {"coef", "v"})
        raw = draw(st.one_of(arrays((n,)), arrays((n, 3)), st.just([0.5] * max(n, 0))))
        L = call("get_loss", lambda: fastloss.get_loss(loss), {}, {"loss"})
        if L is not None:
            for name in ("loss_gradient", "mean_loss", "gradient_hessian"):
                call(f"get_loss({L.name!r}).{name}",
                     lambda name=name: getattr(L, name)(y, raw, sample_weight=sw),
                     {"y_true": y, "raw_prediction": raw, "sample_weight": sw},
                     {"y_true", "raw_prediction", "sample_weight"})
        proba = draw(st.one_of(arrays((n,)), arrays((n, 2)), arrays((n, 3))))
        call("log_loss", lambda: fastloss.log_loss(y, proba, sample_weight=sw),
             {"y_true": y, "y_pred": proba, "sample_weight": sw}, {"y_true", "y_pred", "sample_weight"})

    fuzz()
    print(json.dumps({"stats": stats, "problems": problems}))
''')


@pytest.mark.slow
def test_every_entry_point_survives_whatever_it_is_given(tmp_path):
    script = tmp_path / "fuzz.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), os.environ.get("FASTLOSS_FUZZ_EXAMPLES", "300")],
                          capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-4000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(report["stats"])  # 300 examples: about 1,800 calls, a fifth of them returning
    assert not report["problems"], "\n".join(sorted(set(report["problems"]))[:40])
    assert report["stats"]["returned"] > 0 and report["stats"]["raised"] > 0
