"""The loss registry (``fastloss.losses.register``): what every door reads, and a new loss added
in one place (the README's recipe, with a toy loss declared in a fresh process)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import mpmath
import pytest

import fastloss
from fastloss import losses, reference


def test_ids_names_and_aliases_come_from_the_registry():
    assert fastloss.LOSSES == tuple(losses.REGISTRY) == reference.LOSSES
    for i, (name, spec) in enumerate(losses.REGISTRY.items()):
        assert spec.name == name and spec.id == i == losses.LOSS_IDS[name]
        assert losses.canonical_name(name) == name
        assert spec.binary == (name in losses.BINARY_LOSSES) == (spec.mpmath is not None)
    for alias, name in losses.ALIASES.items():
        assert losses.spec(alias) is losses.REGISTRY[name]
    assert losses.SOFT_LABEL_LOSSES == tuple(n for n, s in losses.REGISTRY.items() if s.soft_labels)


@pytest.mark.parametrize("name", [n for n, s in losses.REGISTRY.items() if s.value_gradient is not None])
def test_a_fused_value_gradient_gives_the_bits_of_the_two_functions(name):
    """The loops of modes with the value and the gradient call the loss's ``value_gradient`` instead
    of its two functions: it must give the same bits, on ordinary, tiny, huge and signed-zero
    scores and on every kind of label the loss takes."""
    import numpy as np

    spec = losses.REGISTRY[name]
    value, gradient, _ = spec.functions
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.standard_normal(300) * 10.0 ** rng.integers(-3, 3, 300),
                        [0.0, -0.0, 1e-300, -1e-300, 30.0, -30.0, 700.0, -745.0, 1e300, -1e300]])
    labels = [0.0, 1.0] + ([0.25, 0.5, 0.9] if spec.soft_labels else [])
    for y in labels:
        for zi in z:
            fused = spec.value_gradient(y, zi)
            assert np.array_equal(fused, (value(y, zi), gradient(y, zi))), (y, zi)


def test_unknown_and_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="valid names are 'logistic'"):
        losses.spec("huber")
    with pytest.raises(ValueError, match="already declared"):
        losses.register("logistic", probabilities=True)
    with pytest.raises(ValueError, match="all three"):
        losses.register("half_declared", value=losses.logistic_value)
    assert "half_declared" not in losses.REGISTRY


@pytest.mark.parametrize("name", losses.BINARY_LOSSES)
def test_declared_mpmath_formula_is_consistent(name):
    """The exact formula's derivatives are those of its value (away from kinks), so a test
    that trusts it checks kernels against one formula, not three."""
    formula = losses.REGISTRY[name].mpmath
    with mpmath.workdps(40):
        for m in (-2.5, -0.7, 0.3, 0.6, 1.7, 4.0):
            m = mpmath.mpf(m)
            value, d1, d2 = formula(mpmath, m)
            assert abs(mpmath.diff(lambda t: formula(mpmath, t)[0], m) - d1) <= 1e-25 * (1 + abs(d1))
            assert abs(mpmath.diff(lambda t: formula(mpmath, t)[1], m) - d2) <= 1e-25 * (1 + abs(d2))


#: The README's recipe, run as a user would: a toy loss declared in a fresh process, then used
#: through the pointwise API and the objective, checked against its NumPy formula and finite
#: differences (its loops compile without the disk cache: it is not one of the package's files).
TOY = textwrap.dedent('''
    import math
    import numpy as np
    import fastloss
    from fastloss.losses import register, scalar

    # pseudo-Huber of the margin: phi(m) = sqrt(1 + (1 - m)^2) - 1
    @scalar
    def pseudo_huber_value(y, z):
        return math.hypot(1.0, 1.0 - (2.0 * y - 1.0) * z) - 1.0

    @scalar
    def pseudo_huber_gradient(y, z):
        s = 2.0 * y - 1.0
        r = 1.0 - s * z
        return -s * r / math.hypot(1.0, r)

    @scalar
    def pseudo_huber_hessian(y, z):
        h = math.hypot(1.0, 1.0 - (2.0 * y - 1.0) * z)
        return 1.0 / (h * h * h)

    register("pseudo_huber", value=pseudo_huber_value, gradient=pseudo_huber_gradient,
             hessian=pseudo_huber_hessian)

    assert "pseudo_huber" in fastloss.LOSSES
    rng = np.random.default_rng(0)
    n, d = 3000, 7
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(float)
    z = rng.standard_normal(n) * 3
    m = (2 * y - 1) * z
    loss, grad = fastloss.get_loss("pseudo_huber").loss_gradient(y, z)
    np.testing.assert_allclose(loss, np.sqrt(1 + (1 - m) ** 2) - 1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, -(2 * y - 1) * (1 - m) / np.sqrt(1 + (1 - m) ** 2), rtol=1e-13)

    obj = fastloss.LinearObjective(X, y, "pseudo_huber", l2=0.1)
    coef = rng.standard_normal(obj.n_coef) * 0.3
    f, g = obj.loss_gradient(coef)
    eps = 1e-6
    fd = [(obj.loss(coef + eps * e) - obj.loss(coef - eps * e)) / (2 * eps) for e in np.eye(obj.n_coef)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)
    v = rng.standard_normal(obj.n_coef)
    np.testing.assert_allclose(obj.hessp(coef, v), obj.hessian(coef) @ v, rtol=1e-10, atol=1e-12)
    fd = (obj.gradient(coef + eps * v) - obj.gradient(coef - eps * v)) / (2 * eps)
    np.testing.assert_allclose(obj.hessp(coef, v), fd, rtol=1e-5, atol=1e-8)
    print("toy loss ok")
''')


@pytest.mark.slow
def test_a_new_loss_declared_once_works_everywhere(tmp_path):
    script = tmp_path / "toy_loss.py"
    script.write_text(TOY)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "toy loss ok" in out.stdout
