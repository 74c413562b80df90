"""fastloss.dask.LinearObjective (contract section 6) against the single-machine objective, and
against the NumPy reference by the table's rows (``_comparisons.py``).

The cluster tests share one ``LocalCluster`` of two worker processes (module scope). Values must
equal ``fastloss.LinearObjective``'s on the same data to 1e-12 relative (measured against the
largest entry of each result: only the order of the float64 additions differs), and be bitwise
identical from call to call. ``Client.restart()`` runs once in this module: repeated restarts
hang in distributed itself (dask/distributed#8534).
"""

from __future__ import annotations

import itertools
import mmap

import numpy as np
import pytest
from _comparisons import check, rows
from conftest import make_problem

pytest.importorskip("dask")
pytest.importorskip("distributed")

import dask  # noqa: E402
import dask.array as da  # noqa: E402
import scipy.optimize  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import fastloss  # noqa: E402
from fastloss.dask import LinearObjective as DaskObjective  # noqa: E402

ROWS = 700  # 3000 rows -> chunks of 700, 700, 700, 700, 200
RTOL = 1e-12


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


def assert_close(actual, desired, rtol=RTOL, name=""):
    actual, desired = np.asarray(actual, dtype=np.float64), np.asarray(desired, dtype=np.float64)
    assert actual.shape == desired.shape, name
    err = np.max(np.abs(actual - desired))
    scale = np.max(np.abs(desired))
    assert err <= rtol * scale, f"{name}: max abs error {err:.3g} > {rtol:g} * {scale:.3g}"


def every_method(obj, coef, V):
    """Every public method at ``coef``: one direction shaped like coef, and the k directions V."""
    v = V[:, 0].reshape(np.shape(coef))
    loss, grad = obj.loss_gradient(coef)
    g, hessp = obj.gradient_hessp(coef)
    return {
        "loss": obj.loss(coef),
        "loss_gradient.loss": loss,
        "loss_gradient.grad": grad,
        "gradient": obj.gradient(coef),
        "hessp.1d": obj.hessp(coef, v),
        "hessp.2d": obj.hessp(coef, V),
        "gradient_hessp.grad": g,
        "gradient_hessp.1d": hessp(v),
        "gradient_hessp.2d": hessp(V),
        "hessian_diag": obj.hessian_diag(coef),
        "hessian": obj.hessian(coef),
    }


def assert_methods_close(obj, ref, coef, V):
    expected = every_method(ref, coef, V)  # first: the kernels compile (or load) in this process
    actual = every_method(obj, coef, V)
    for name, value in expected.items():
        assert np.shape(actual[name]) == np.shape(value), name
        assert_close(actual[name], value, name=name)
    return actual


def _problem(loss, seed=0):
    X, y, sw = make_problem(seed=seed, labels="01" if loss == "logistic" else "pm1")
    if loss == "multinomial":
        y = np.random.default_rng(seed).integers(0, 3, X.shape[0]).astype(np.float64)
    return X, y, sw


def _coef_V(obj, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(obj.coef_shape) * 0.4, rng.standard_normal((obj.n_coef, 3))


# --- on the cluster ----------------------------------------------------------------------------------

CASES = list(itertools.product(["logistic", "modified_huber"], [True, False], [False, True], ["dask", "numpy"]))


@pytest.mark.slow
@pytest.mark.parametrize("loss,fit_intercept,weighted,y_kind", CASES)
def test_every_method_matches_single_machine(client, loss, fit_intercept, weighted, y_kind):
    X, y, sw = _problem(loss)
    kw = dict(l2=0.3, fit_intercept=fit_intercept)
    ref = fastloss.LinearObjective(X, y, loss, sample_weight=sw if weighted else None, **kw)
    if y_kind == "dask":  # other chunks than X's rows: rechunked to them
        y_in, sw_in = da.from_array(y, chunks=1000), da.from_array(sw, chunks=1000)
    else:
        y_in, sw_in = y, sw
    obj = DaskObjective(da.from_array(X, chunks=(ROWS, X.shape[1])), y_in, loss,
                        sample_weight=sw_in if weighted else None, **kw)
    assert obj.client is client and obj.n_chunks == 5
    assert (obj.n_samples, obj.n_features, obj.n_classes, obj.coef_shape, obj.n_coef) == \
        (ref.n_samples, ref.n_features, ref.n_classes, ref.coef_shape, ref.n_coef)
    coef, V = _coef_V(ref)
    first = assert_methods_close(obj, ref, coef, V)
    again = every_method(obj, coef, V)
    for name, value in first.items():
        np.testing.assert_array_equal(again[name], value, err_msg=name)


@pytest.mark.slow
def test_multinomial_and_rebuilt_objective_are_identical(client):
    X, y, sw = _problem("multinomial")
    ref = fastloss.LinearObjective(X, y, "multinomial", sample_weight=sw, n_classes=4)
    Xd, yd, swd = da.from_array(X, chunks=(ROWS, X.shape[1])), da.from_array(y, chunks=ROWS), da.from_array(sw, ROWS)
    obj = DaskObjective(Xd, yd, "multinomial", sample_weight=swd, n_classes=4)
    assert obj.coef_shape == (4, X.shape[1] + 1)
    coef, V = _coef_V(ref)
    first = assert_methods_close(obj, ref, coef, V)
    # A second objective over the same data gives the very same bits.
    other = every_method(DaskObjective(Xd, yd, "multinomial", sample_weight=swd, n_classes=4), coef, V)
    for name, value in first.items():
        np.testing.assert_array_equal(other[name], value, err_msg=name)


@pytest.mark.slow
def test_labels_are_interpreted_over_all_of_y(client):
    X, y, _ = _problem("squared_hinge")  # -1/+1 labels
    y[:ROWS] = 1.0  # the first chunk alone would look like 0/1 labels
    ref = fastloss.LinearObjective(X, y, "squared_hinge")
    obj = DaskObjective(da.from_array(X, chunks=(ROWS, X.shape[1])), da.from_array(y, chunks=ROWS), "squared_hinge")
    coef, _ = _coef_V(ref)
    assert_close(obj.loss_gradient(coef)[1], ref.loss_gradient(coef)[1])
    assert_close(obj.loss(coef), ref.loss(coef))


@pytest.mark.slow
def test_csr_chunks(client):
    X, y, sw = _problem("logistic")
    X[np.abs(X) < 0.8] = 0.0
    ref = fastloss.LinearObjective(sp.csr_matrix(X), y, "logistic", l2=0.1, sample_weight=sw)
    Xs = da.from_array(X, chunks=(ROWS, X.shape[1])).map_blocks(sp.csr_matrix, dtype=X.dtype)
    obj = DaskObjective(Xs, y, "logistic", l2=0.1, sample_weight=sw)
    coef, V = _coef_V(ref)
    assert_methods_close(obj, ref, coef, V)


@pytest.mark.slow
def test_lbfgs_fit_matches_in_memory_fit(client):
    X, y, sw = _problem("logistic")
    kw = dict(l2=1e-3, sample_weight=sw)
    ref = fastloss.LinearObjective(X, y, "logistic", **kw)
    obj = DaskObjective(da.from_array(X, chunks=(ROWS, X.shape[1])), da.from_array(y, chunks=ROWS), "logistic", **kw)
    opts = dict(jac=True, method="L-BFGS-B", options=dict(gtol=1e-10, ftol=1e-15, maxiter=500))
    x0 = np.zeros(ref.n_coef)
    fit_ref = scipy.optimize.minimize(ref.loss_gradient, x0, **opts)
    fit = scipy.optimize.minimize(obj.loss_gradient, x0, **opts)
    assert fit.success and fit_ref.success
    np.testing.assert_allclose(fit.x, fit_ref.x, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fit.fun, fit_ref.fun, rtol=1e-12)


BAD = {
    "column-chunked X": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 3)), y, None)),
    "short numpy y": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 6)), y[:-1], None)),
    "short dask y": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 6)), da.from_array(y[:-1]), None)),
    "short dask sample_weight": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 6)), y, da.from_array(sw[1:]))),
    "nan in X": (lambda X, y, sw: (da.from_array(_put(X, (2000, 3), np.nan), chunks=(ROWS, 6)), y, None)),
    "inf in dask y": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 6)), da.from_array(_put(y, 2500, np.inf)),
                                        None)),
    "nan in dask sample_weight": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 6)), y,
                                                    da.from_array(_put(sw, 10, np.nan), chunks=ROWS))),
    "negative sample_weight": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 6)), y,
                                                 da.from_array(_put(sw, 2999, -1.0), chunks=ROWS))),
    "zero total weight": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 6)), y, da.zeros(len(y), chunks=ROWS))),
    "0 and -1 in different chunks": (lambda X, y, sw: (da.from_array(X, chunks=(ROWS, 6)),
                                                       da.from_array(_put(y, 2900, -1.0), chunks=ROWS), None)),
}


def _put(a, index, value):
    a = a.copy()
    a[index] = value
    return a


@pytest.mark.slow
@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_value_error(client, case):
    X, y, sw = _problem("logistic")
    Xd, yd, swd = BAD[case](X, y, sw)
    with pytest.raises(ValueError):
        DaskObjective(Xd, yd, "logistic", sample_weight=swd)


@pytest.mark.slow
def test_bad_calls_and_types(client):
    X, y, _ = _problem("logistic")
    obj = DaskObjective(da.from_array(X, chunks=(ROWS, 6)), y)
    with pytest.raises(ValueError, match="coef"):
        obj.loss(np.zeros(3))
    with pytest.raises(ValueError, match="coef"):
        obj.gradient(np.full(7, np.nan))
    with pytest.raises(ValueError):
        obj.hessp(np.zeros(7), np.zeros(5))
    with pytest.raises(TypeError, match="dask"):
        DaskObjective(X, y)
    with pytest.raises(ValueError, match="n_classes"):
        DaskObjective(da.from_array(X, chunks=(ROWS, 6)), y, "hinge", n_classes=3)


@pytest.mark.slow
def test_only_partial_sums_travel_to_the_client(client, monkeypatch):
    from dask.sizeof import sizeof

    X, y, sw = _problem("logistic")
    obj = DaskObjective(da.from_array(X, chunks=(ROWS, X.shape[1])), da.from_array(y, chunks=ROWS), "logistic",
                        sample_weight=da.from_array(sw, chunks=ROWS))
    gathered = []
    gather = client.gather

    def recording_gather(futures, *args, **kwargs):
        out = gather(futures, *args, **kwargs)
        gathered.append(sizeof(out))
        return out

    monkeypatch.setattr(client, "gather", recording_gather)
    coef, V = _coef_V(obj)
    obj.loss_gradient(coef)
    _, hessp = obj.gradient_hessp(coef)
    hessp(V)
    obj.hessian_diag(coef)
    assert len(gathered) == 4
    # n_chunks partial vectors of n_coef (times 3 directions) floats, never the n = 3000 curvatures
    assert max(gathered) < 8 * obj.n_chunks * obj.n_coef * 3 + 4096 < 8 * X.shape[0]


@pytest.mark.slow
def test_results_survive_a_worker_restart(client):
    X, y, sw = _problem("logistic")
    obj = DaskObjective(da.from_array(X, chunks=(ROWS, X.shape[1])), da.from_array(y, chunks=ROWS), "logistic",
                        l2=0.2, sample_weight=da.from_array(sw, chunks=ROWS))
    coef, V = _coef_V(obj)
    before = every_method(obj, coef, V)
    _, hessp = obj.gradient_hessp(coef)  # its curvature lives on the workers that get restarted
    hv = hessp(V)
    client.restart()
    np.testing.assert_array_equal(hessp(V), hv)
    after = every_method(obj, coef, V)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


# --- without a cluster, and out of core --------------------------------------------------------------

@pytest.mark.parametrize("op, case", rows("dask"))
def test_matches_reference(op, case):
    """The table's objective rows with the dask executor on the local scheduler (chunks of 700
    rows): every method against the NumPy reference, as the single-machine objective is."""
    check(op, case)


def test_local_scheduler_matches_single_machine():
    X, y, sw = _problem("multinomial")
    ref = fastloss.LinearObjective(X, y, "multinomial", l2=0.5, fit_intercept=False, sample_weight=sw)
    with dask.config.set(scheduler="sync"):  # wins over a distributed client that may be active
        obj = DaskObjective(da.from_array(X, chunks=(ROWS, 6)), y, "multinomial", l2=0.5, fit_intercept=False,
                            sample_weight=da.from_array(sw, chunks=1000))
    assert obj.client is None
    coef, V = _coef_V(ref)
    first = assert_methods_close(obj, ref, coef, V)
    np.testing.assert_array_equal(obj.loss_gradient(coef)[1], first["loss_gradient.grad"])


def _backed_by_a_file(a) -> bool:
    while a is not None:
        if isinstance(a, mmap.mmap):
            return True
        a = getattr(a, "base", None)
    return False


@pytest.mark.slow
def test_read_only_memmap_is_used_in_place(tmp_path):
    n, d = 250_000, 100  # 200 MB of float64
    path = tmp_path / "X.f64"
    rng = np.random.default_rng(0)
    out = np.memmap(path, dtype=np.float64, mode="w+", shape=(n, d))
    for a in range(0, n, 50_000):
        out[a:a + 50_000] = rng.standard_normal((50_000, d))
    out.flush()
    del out
    mm = np.memmap(path, dtype=np.float64, mode="r", shape=(n, d))
    y = (rng.random(n) < 0.3).astype(np.float64)
    X_mem = np.array(mm)
    kw = dict(l2=0.1)
    in_memory = fastloss.LinearObjective(X_mem, y, "logistic", **kw)
    on_disk = fastloss.LinearObjective(mm, y, "logistic", **kw)
    # Used in place (the kernels get a view of the same memory), and the caller's map stays read-only.
    assert np.shares_memory(on_disk._X, mm) and not mm.flags.writeable
    coef = rng.standard_normal(d + 1) * 0.05
    v = rng.standard_normal(d + 1)

    def values(obj):
        loss, grad = obj.loss_gradient(coef)
        return {"loss": loss, "gradient": grad, "hessp": obj.hessp(coef, v), "hessian_diag": obj.hessian_diag(coef)}

    expected = values(in_memory)
    for name, value in values(on_disk).items():  # same data, same layout: the same bits
        np.testing.assert_array_equal(value, expected[name], err_msg=name)

    rows = 60_000
    with dask.config.set(scheduler="sync"):
        # dask >= 2024.12 copies what from_array gets, memmaps included (dask/dask#11850) ...
        copied = DaskObjective(da.from_array(mm, chunks=(rows, d)), y, "logistic", **kw)

        # ... so a chunk that stays on disk is opened by its own task.
        def load(block_info=None):
            (a, b), _ = block_info[None]["array-location"]
            return np.memmap(path, dtype=np.float64, mode="r", shape=(n, d))[a:b]

        chunks = (tuple(min(rows, n - a) for a in range(0, n, rows)), (d,))
        lazy = da.map_blocks(load, chunks=chunks, dtype=np.float64, meta=np.empty((0, 0)))
        out_of_core = DaskObjective(lazy, da.from_array(y, chunks=rows), "logistic", **kw)
    assert copied.n_chunks == out_of_core.n_chunks == 5
    assert all(_backed_by_a_file(state.X) for state in out_of_core._executor.states)
    first = values(copied)
    for name, value in first.items():
        assert_close(value, expected[name], name=name)
    for name, value in values(out_of_core).items():  # the same chunks: the same bits
        np.testing.assert_array_equal(value, first[name], err_msg=name)
