"""Initializers: shapes, dtype, determinism, and spreads equal to torch.nn.init's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlkit import init

# dlkit layout -> torch layout of the same layer (Dense is stored transposed).
DENSE = (400, 300)
CONV1D = (64, 16, 5)
CONV2D = (64, 16, 3, 3)
LAYOUTS = {"dense": (DENSE, DENSE[::-1]), "conv1d": (CONV1D, CONV1D), "conv2d": (CONV2D, CONV2D)}

RANDOM = ["normal", "uniform", "standard", "xavier_uniform", "xavier_normal"]
RANDOM += ["kaiming_uniform", "kaiming_normal"]


def rng(seed=0):
    return np.random.default_rng(seed)


def torch_module():
    return pytest.importorskip(
        "torch", reason="PyTorch reference tests need torch (CI installs torch==2.13.0)"
    )


def theoretical(name, shape, **kw):
    """(kind, spread): the bound of a uniform or the std of a normal, from first principles."""
    fan_in, fan_out = init.fan_in_and_fan_out(shape)
    gain = kw.get("gain", 1.0)
    if name == "xavier_uniform":
        return "uniform", gain * math.sqrt(6 / (fan_in + fan_out))
    if name == "xavier_normal":
        return "normal", gain * math.sqrt(2 / (fan_in + fan_out))
    if name == "standard":
        return "uniform", 1 / math.sqrt(fan_in)
    fan = fan_in if kw.get("mode", "fan_in") == "fan_in" else fan_out
    gain = init.calculate_gain(kw.get("nonlinearity", "leaky_relu"), kw.get("a", 0.0))
    if name == "kaiming_uniform":
        return "uniform", gain * math.sqrt(3 / fan)
    return "normal", gain / math.sqrt(fan)


@pytest.mark.parametrize("name", init.NAMES)
@pytest.mark.parametrize("shape", [(7,), (30, 20), (8, 3, 5), (8, 3, 3, 3)])
def test_shape_dtype_and_determinism(name, shape):
    fn = init.get(name, value=0.5) if name == "constant" else init.get(name)
    w = fn(shape, rng(1))
    assert w.shape == shape and w.dtype == np.float32
    np.testing.assert_array_equal(w, fn(shape, rng(1)))
    if name in RANDOM:
        assert not np.array_equal(w, fn(shape, rng(2)))
        assert np.unique(w).size > w.size // 2


def test_deterministic_initializers():
    np.testing.assert_array_equal(init.zeros((2, 3)), 0.0)
    np.testing.assert_array_equal(init.ones(4), 1.0)
    np.testing.assert_array_equal(init.constant((2, 2), None, value=0.25), 0.25)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(
    ("name", "kw"),
    [
        ("xavier_uniform", {}),
        ("xavier_uniform", {"gain": 5 / 3}),
        ("xavier_normal", {}),
        ("standard", {}),
        ("kaiming_uniform", {}),
        ("kaiming_uniform", {"mode": "fan_out", "nonlinearity": "relu"}),
        ("kaiming_normal", {}),
        ("kaiming_normal", {"a": 0.2, "mode": "fan_out"}),
    ],
)
def test_spread_matches_the_formula(layout, name, kw):
    shape, _ = LAYOUTS[layout]
    w = init.get(name, **kw)(shape, rng()).astype(np.float64)
    kind, spread = theoretical(name, shape, **kw)
    if kind == "uniform":
        # 1 + 1e-6: the bound itself is rounded to float32.
        assert np.abs(w).max() <= spread * (1 + 1e-6)
        assert np.abs(w).max() >= 0.99 * spread
        np.testing.assert_allclose(w.std(), spread / math.sqrt(3), rtol=0.03)
    else:
        np.testing.assert_allclose(w.std(), spread, rtol=0.03)
        assert abs(w.mean()) < 0.02 * spread
    # Wrong fans (e.g. Dense's torch-style (out, in) reading) must change the spread.
    if layout == "dense" and name != "xavier_uniform" and name != "xavier_normal":
        _, swapped = theoretical(name, shape[::-1], **kw)
        assert abs(swapped / spread - 1) > 0.1


def test_normal_and_uniform_parameters():
    w = init.normal((200, 200), rng(), mean=1.0, std=0.5).astype(np.float64)
    np.testing.assert_allclose([w.mean(), w.std()], [1.0, 0.5], rtol=0.02)
    np.testing.assert_allclose(init.normal((300, 300), rng()).std(), 0.01, rtol=0.02)
    w = init.uniform((200, 200), rng(), low=2.0, high=3.0)
    assert w.min() >= 2.0 and w.max() <= 3.0 and w.max() > 2.99 and w.min() < 2.01
    w = init.uniform((200, 200), rng())
    assert np.abs(w).max() <= 0.05


@pytest.mark.torch
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_fans_equal_torch_on_the_torch_layout(layout):
    torch = torch_module()
    ours, theirs = LAYOUTS[layout]
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(theirs))
    assert init.fan_in_and_fan_out(ours) == expected


def test_fans_of_1d_and_invalid_shapes():
    assert init.fan_in_and_fan_out((10,)) == (10, 10)
    assert init.fan_in_and_fan_out(10) == (10, 10)
    with pytest.raises(ValueError, match="scalar"):
        init.fan_in_and_fan_out(())
    with pytest.raises(ValueError, match=r"non-negative ints, got \(3, -1\)"):
        init.xavier_uniform((3, -1), rng())
    with pytest.raises(ValueError, match="fan_in is 0"):
        init.kaiming_normal((0, 4), rng())


@pytest.mark.torch
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize(
    ("name", "torch_name", "kw"),
    [
        ("xavier_uniform", "xavier_uniform_", {}),
        ("xavier_normal", "xavier_normal_", {"gain": 2.0}),
        ("kaiming_uniform", "kaiming_uniform_", {}),
        ("kaiming_normal", "kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
        ("kaiming_uniform", "kaiming_uniform_", {"a": math.sqrt(5)}),
    ],
)
def test_spread_equals_torch_init_on_the_same_layer(layout, name, torch_name, kw):
    torch = torch_module()
    ours_shape, torch_shape = LAYOUTS[layout]
    torch.manual_seed(0)
    theirs = getattr(torch.nn.init, torch_name)(torch.empty(torch_shape), **kw).double().numpy()
    ours = init.get(name, **kw)(ours_shape, rng()).astype(np.float64)
    np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.04)
    if name.endswith("uniform"):
        np.testing.assert_allclose(np.abs(ours).max(), np.abs(theirs).max(), rtol=0.01)


@pytest.mark.torch
@pytest.mark.parametrize("layer", ["linear", "conv1d", "conv2d"])
def test_standard_equals_torch_default_layer_init(layer):
    torch = torch_module()
    torch.manual_seed(0)
    if layer == "linear":
        module, ours_shape = torch.nn.Linear(*DENSE), DENSE
    elif layer == "conv1d":
        module, ours_shape = torch.nn.Conv1d(16, 64, 5), CONV1D
    else:
        module, ours_shape = torch.nn.Conv2d(16, 64, 3), CONV2D
    theirs = module.weight.detach().double().numpy()
    ours = init.default_uniform(ours_shape, rng()).astype(np.float64)
    bound = 1 / math.sqrt(init.fan_in_and_fan_out(ours_shape)[0])
    assert np.abs(theirs).max() <= bound * (1 + 1e-6) and np.abs(ours).max() <= bound * (1 + 1e-6)
    np.testing.assert_allclose(np.abs(ours).max(), np.abs(theirs).max(), rtol=0.01)
    np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.04)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [(n, None) for n in init.NONLINEARITIES] + [("leaky_relu", 0.2), ("leaky_relu", 0)],
)
def test_calculate_gain_equals_torch(nonlinearity, param):
    torch = torch_module()
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-12)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match=r"unknown nonlinearity 'gelu'.*leaky_relu.*tanh"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope 'x' is not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def test_kaiming_defaults_are_torch_defaults():
    fan_in = DENSE[0]
    w = init.kaiming_uniform(DENSE, rng())
    assert np.abs(w).max() <= math.sqrt(2) * math.sqrt(3 / fan_in)
    with pytest.raises(ValueError, match=r"unknown mode 'fan_avg'; valid choices: fan_in, fan_out"):
        init.kaiming_normal(DENSE, rng(), mode="fan_avg")


def test_get_resolves_names_and_passes_callables():
    assert init.get("xavier_uniform") is init.xavier_uniform
    assert init.get("standard") is init.default_uniform

    def custom(shape, rng):
        return np.full(shape, 7.0, np.float32)

    assert init.get(custom) is custom
    np.testing.assert_array_equal(init.get("constant", value=3.0)((2,), None), 3.0)
    w = init.get("normal", std=2.0)((300, 300), rng())
    np.testing.assert_allclose(w.std(), 2.0, rtol=0.02)


def test_get_errors_name_the_bad_value_and_the_choices():
    with pytest.raises(ValueError, match=r"unknown initializer 'he'.*kaiming_normal.*xavier"):
        init.get("he")
    with pytest.raises(ValueError, match=r"unknown argument\(s\) sd.*'normal'; valid: mean, std"):
        init.get("normal", sd=1.0)
    with pytest.raises(ValueError, match="'constant' needs value"):
        init.get("constant")


def test_random_initializers_require_a_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        init.xavier_uniform((3, 3), None)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        init.normal((3, 3), 0)
