"""L1 / L2 penalties: values, gradients vs centred differences (float64), weights only."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.nn.base import Parameter
from dlkit.regularizers import L1, L2


def make_params(dtype=np.float64):
    rng = np.random.default_rng(0)
    shapes = [("weight", (4, 3)), ("bias", (3,)), ("weight", (2, 3, 3)), ("bias", (2,))]
    shapes += [("gamma", (3,)), ("beta", (3,)), ("alpha", (1,))]
    params = []
    for name, shape in shapes:
        # Keep weights away from 0 so |w| is differentiable at every entry for L1.
        values = rng.uniform(0.1, 1.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
        p = Parameter(values.astype(dtype), name=name)
        p.grad[...] = rng.standard_normal(shape)
        params.append(p)
    return params


def centred_difference(reg, params, h=1e-6):
    grads = []
    for p in params:
        g = np.zeros_like(p.data)
        for i in np.ndindex(p.data.shape):
            saved = p.data[i]
            p.data[i] = saved + h
            plus = reg.penalty(params)
            p.data[i] = saved - h
            minus = reg.penalty(params)
            p.data[i] = saved
            g[i] = (plus - minus) / (2 * h)
        grads.append(g)
    return grads


@pytest.mark.parametrize("reg", [L1(0.3), L2(0.7)], ids=["l1", "l2"])
def test_gradient_matches_centred_differences_and_skips_non_weights(reg):
    params = make_params()
    before = [p.grad.copy() for p in params]
    numeric = centred_difference(reg, params)
    reg.backward(params)
    for p, g0, g_num in zip(params, before, numeric, strict=True):
        added = p.grad - g0
        np.testing.assert_allclose(added, g_num, rtol=1e-6, atol=1e-8)
        if p.name == "weight":
            assert np.abs(added).min() > 0
        else:
            np.testing.assert_array_equal(p.grad, g0)


def test_penalty_values():
    params = make_params()
    weights = [p.data for p in params if p.name == "weight"]
    l1 = sum(np.abs(w).sum() for w in weights)
    l2 = sum((w**2).sum() for w in weights)
    assert L1(0.3).penalty(params) == pytest.approx(0.3 * l1, rel=1e-12)
    assert L2(0.7).penalty(params) == pytest.approx(0.35 * l2, rel=1e-12)
    assert isinstance(L2(0.7).penalty(params), float)


def test_l2_gradient_equals_coupled_weight_decay():
    params = make_params()
    before = [p.grad.copy() for p in params]
    L2(0.1).backward(params)
    np.testing.assert_allclose(params[0].grad, before[0] + 0.1 * params[0].data, rtol=1e-12)


def test_l1_subgradient_is_zero_at_zero():
    p = Parameter(np.array([0.0, 2.0, -3.0], np.float32), name="weight")
    L1(0.5).backward([p])
    np.testing.assert_array_equal(p.grad, [0.0, 0.5, -0.5])
    assert p.grad.dtype == np.float32


def test_a_weight_listed_twice_is_penalized_once():
    p = Parameter(np.array([1.0, -2.0]), name="weight")
    assert L2(1.0).penalty([p, p]) == pytest.approx(2.5)
    L1(1.0).backward([p, p])
    np.testing.assert_array_equal(p.grad, [1.0, -1.0])


@pytest.mark.parametrize("cls", [L1, L2])
def test_zero_lambda_is_a_no_op_and_negative_is_rejected(cls):
    params = make_params()
    before = [p.grad.copy() for p in params]
    assert cls(0.0).penalty(params) == 0.0
    cls(0.0).backward(params)
    for p, g0 in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.grad, g0)
    with pytest.raises(ValueError, match="lam must be >= 0, got -0.1"):
        cls(-0.1)


def test_recurrent_weights_are_penalized_and_their_biases_are_not():
    from dlkit import nn

    gru = nn.GRU(3, 4, num_layers=2, rng=np.random.default_rng(0))
    params = gru.parameters()
    weights = [p for p in params if p.name.startswith("weight_")]
    assert len(weights) == 4 and len(params) == 8  # weight_ih/hh and bias_ih/hh per layer
    want = 0.5 * sum(float((p.data.astype(np.float64) ** 2).sum()) for p in weights)
    assert L2(1.0).penalty(params) == pytest.approx(want, rel=1e-6)
    for p in params:
        p.grad[...] = 0.0
    L2(1.0).backward(params)
    for p in params:
        expected = p.data if p.name.startswith("weight_") else np.zeros_like(p.data)
        np.testing.assert_allclose(p.grad, expected, rtol=1e-6)
