"""The layer contract, checked over a registry of every layer and activation in ``dlkit.nn``.

``REGISTRY`` maps a case name to a small instance of one exported layer class and its input
and output shapes. ``test_gradcheck.py`` and ``test_torch_reference.py`` parametrize over it
too, and ``test_registry_covers_every_exported_layer`` fails as soon as ``dlkit.nn`` exports
a layer class that no case builds: a new layer cannot slip in untested.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from dlkit import nn


def away_from_kinks(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values with 0.2 <= |x| <= 1.8 or 2.2 <= |x| <= 3.5, float64.

    Keeps clear of the kinks at 0 (ReLU family, Step, ELU) and at +-2 (HardSigmoid) so that
    centred differences with h = 1e-6 never straddle one, while still covering both sides
    of every kink and HardSigmoid's flat tails.
    """
    inner = rng.uniform(0.2, 1.8, shape)
    outer = rng.uniform(2.2, 3.5, shape)
    magnitude = np.where(rng.random(shape) < 0.5, inner, outer)
    return magnitude * rng.choice([-1.0, 1.0], size=shape)


def jitter(layer: nn.Layer, rng: np.random.Generator) -> nn.Layer:
    """Give biases, shifts and scales non-default values, so a gradient or a torch comparison
    cannot pass by accident of a zero bias or a unit scale."""
    for p in layer.parameters():
        if p.name in ("bias", "beta"):
            p.data[...] = 0.5 * rng.standard_normal(p.shape)
        elif p.name == "gamma":
            p.data[...] = 1.0 + 0.3 * rng.standard_normal(p.shape)
    return layer


@dataclass(frozen=True)
class LayerCase:
    """One registry entry.

    Attributes
    ----------
    cls : str
        The name of the ``dlkit.nn`` class that ``build`` instantiates.
    build : callable
        ``build(rng) -> Layer``; every random choice comes from ``rng``.
    in_shape, out_shape : tuple of int
        Input shape and the output shape it must produce.
    kinks : bool
        Draw inputs with :func:`away_from_kinks` instead of N(0, 1).
    """

    cls: str
    build: Callable[[np.random.Generator], nn.Layer]
    in_shape: tuple
    out_shape: tuple
    kinks: bool = False

    @property
    def available(self) -> bool:
        return hasattr(nn, self.cls)

    def sample(self, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
        """An input of ``in_shape``."""
        if self.kinks:
            x = away_from_kinks(rng, self.in_shape)
        else:
            x = rng.standard_normal(self.in_shape)
        return x.astype(dtype)


def _activation(cls: str, shape=(4, 5), **kwargs) -> LayerCase:
    return LayerCase(cls, lambda rng: getattr(nn, cls)(**kwargs), shape, shape, kinks=True)


def _built(cls: str, *args, **kwargs) -> Callable[[np.random.Generator], nn.Layer]:
    """A factory for ``nn.<cls>(*args, **kwargs, rng=rng)`` with jittered biases."""
    return lambda rng: jitter(getattr(nn, cls)(*args, **kwargs, rng=rng), rng)


def _plain(cls: str, *args, **kwargs) -> Callable[[np.random.Generator], nn.Layer]:
    """A factory for a layer that takes no generator."""
    return lambda rng: jitter(getattr(nn, cls)(*args, **kwargs), rng)


def _mlp(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(
        jitter(nn.Dense(4, 6, rng=rng), rng), nn.Tanh(), jitter(nn.Dense(6, 3, rng=rng), rng)
    )


REGISTRY: dict[str, LayerCase] = {
    "Dense": LayerCase("Dense", _built("Dense", 4, 3), (5, 4), (5, 3)),
    "Dense-nobias": LayerCase("Dense", _built("Dense", 4, 3, bias=False), (5, 4), (5, 3)),
    "Sequential": LayerCase("Sequential", _mlp, (5, 4), (5, 3)),
    "Flatten": LayerCase("Flatten", _plain("Flatten"), (2, 3, 2, 2), (2, 12)),
    "Dropout": LayerCase("Dropout", _built("Dropout", 0.4), (6, 5), (6, 5)),
    "BatchNorm1d": LayerCase("BatchNorm1d", _plain("BatchNorm1d", 4), (6, 4), (6, 4)),
    "BatchNorm1d-3d": LayerCase("BatchNorm1d", _plain("BatchNorm1d", 3), (4, 3, 5), (4, 3, 5)),
    "LayerNorm": LayerCase("LayerNorm", _plain("LayerNorm", 5), (4, 5), (4, 5)),
    "LayerNorm-3d": LayerCase("LayerNorm", _plain("LayerNorm", 5), (2, 3, 5), (2, 3, 5)),
    # two samples of two positions; two values per channel make xhat = +-1 and dx ~ eps, too
    # ill-conditioned for finite differences: that edge is in test_norm_torch.py instead
    "BatchNorm1d-batch2": LayerCase("BatchNorm1d", _plain("BatchNorm1d", 3), (2, 3, 2), (2, 3, 2)),
    "BatchNorm1d-no-affine": LayerCase(
        "BatchNorm1d", _plain("BatchNorm1d", 3, affine=False), (5, 3, 2), (5, 3, 2)
    ),
    "BatchNorm1d-untracked": LayerCase(
        "BatchNorm1d", _plain("BatchNorm1d", 3, track_running_stats=False), (4, 3, 5), (4, 3, 5)
    ),
    "BatchNorm1d-cumulative": LayerCase(
        "BatchNorm1d", _plain("BatchNorm1d", 4, momentum=None), (6, 4), (6, 4)
    ),
    "BatchNorm2d": LayerCase("BatchNorm2d", _plain("BatchNorm2d", 3), (2, 3, 4, 5), (2, 3, 4, 5)),
    "BatchNorm2d-one-row": LayerCase(
        "BatchNorm2d", _plain("BatchNorm2d", 3, momentum=0.3), (2, 3, 1, 3), (2, 3, 1, 3)
    ),
    "BatchNorm2d-untracked-no-affine": LayerCase(
        "BatchNorm2d",
        _plain("BatchNorm2d", 2, affine=False, track_running_stats=False),
        (1, 2, 3, 3),
        (1, 2, 3, 3),
    ),
    "GroupNorm": LayerCase("GroupNorm", _plain("GroupNorm", 2, 4), (3, 4, 5), (3, 4, 5)),
    "GroupNorm-2d": LayerCase("GroupNorm", _plain("GroupNorm", 3, 6), (2, 6, 3, 4), (2, 6, 3, 4)),
    "GroupNorm-one-group": LayerCase("GroupNorm", _plain("GroupNorm", 1, 4), (2, 4, 5), (2, 4, 5)),
    "GroupNorm-instance": LayerCase(
        "GroupNorm", _plain("GroupNorm", 4, 4), (2, 4, 2, 3), (2, 4, 2, 3)
    ),
    "GroupNorm-batch1-no-affine": LayerCase(
        "GroupNorm", _plain("GroupNorm", 2, 4, affine=False), (1, 4, 3), (1, 4, 3)
    ),
    "InstanceNorm1d": LayerCase(
        "InstanceNorm1d", _plain("InstanceNorm1d", 3), (2, 3, 6), (2, 3, 6)
    ),
    "InstanceNorm1d-affine-tracked": LayerCase(
        "InstanceNorm1d",
        _plain("InstanceNorm1d", 3, affine=True, track_running_stats=True),
        (2, 3, 6),
        (2, 3, 6),
    ),
    "InstanceNorm2d": LayerCase(
        "InstanceNorm2d", _plain("InstanceNorm2d", 3), (2, 3, 4, 5), (2, 3, 4, 5)
    ),
    "InstanceNorm2d-unbatched-affine": LayerCase(
        "InstanceNorm2d", _plain("InstanceNorm2d", 3, affine=True), (3, 4, 5), (3, 4, 5)
    ),
    "LayerNorm-trailing-2": LayerCase(
        "LayerNorm", _plain("LayerNorm", (3, 5)), (2, 3, 5), (2, 3, 5)
    ),
    "LayerNorm-no-affine": LayerCase(
        "LayerNorm", _plain("LayerNorm", 5, elementwise_affine=False), (4, 5), (4, 5)
    ),
    "LayerNorm-no-bias": LayerCase("LayerNorm", _plain("LayerNorm", 5, bias=False), (4, 5), (4, 5)),
    "Identity": _activation("Identity"),
    "Step": _activation("Step"),
    "Sigmoid": _activation("Sigmoid"),
    "Tanh": _activation("Tanh"),
    "HardSigmoid": _activation("HardSigmoid"),
    "ReLU": _activation("ReLU"),
    "LeakyReLU": _activation("LeakyReLU", negative_slope=0.1),
    "PReLU": _activation("PReLU", init=0.3),
    "ELU": _activation("ELU", alpha=0.7),
    "SiLU": _activation("SiLU"),
    "Softmax": _activation("Softmax"),
    "Softmax-3d": _activation("Softmax", shape=(2, 3, 4)),
    "Conv1d": LayerCase("Conv1d", _built("Conv1d", 2, 3, 3), (2, 2, 7), (2, 3, 5)),
    "Conv1d-strided": LayerCase(
        "Conv1d", _built("Conv1d", 2, 3, 3, stride=2, padding=1), (2, 2, 8), (2, 3, 4)
    ),
    "Conv1d-same": LayerCase(
        "Conv1d", _built("Conv1d", 2, 3, 4, padding="same"), (2, 2, 7), (2, 3, 7)
    ),
    "Conv2d": LayerCase("Conv2d", _built("Conv2d", 2, 3, 3), (2, 2, 5, 5), (2, 3, 3, 3)),
    "Conv2d-strided": LayerCase(
        "Conv2d", _built("Conv2d", 2, 3, (2, 3), stride=2, padding=1), (2, 2, 6, 7), (2, 3, 4, 4)
    ),
    "Conv2d-same": LayerCase(
        "Conv2d", _built("Conv2d", 2, 3, 3, padding="same"), (2, 2, 5, 4), (2, 3, 5, 4)
    ),
    "MaxPool1d": LayerCase("MaxPool1d", _plain("MaxPool1d", 2), (2, 3, 8), (2, 3, 4)),
    "MaxPool2d": LayerCase("MaxPool2d", _plain("MaxPool2d", 2), (2, 3, 4, 6), (2, 3, 2, 3)),
    "AvgPool1d": LayerCase("AvgPool1d", _plain("AvgPool1d", 2), (2, 3, 8), (2, 3, 4)),
    "AvgPool2d": LayerCase("AvgPool2d", _plain("AvgPool2d", 2), (2, 3, 4, 6), (2, 3, 2, 3)),
    "MaxPool1d-overlapping": LayerCase(
        "MaxPool1d", _plain("MaxPool1d", 3, stride=2, padding=1), (2, 2, 7), (2, 2, 4)
    ),
    "MaxPool2d-overlapping": LayerCase(
        "MaxPool2d", _plain("MaxPool2d", 3, stride=2, padding=1), (2, 2, 5, 6), (2, 2, 3, 3)
    ),
    "AvgPool1d-overlapping": LayerCase(
        "AvgPool1d", _plain("AvgPool1d", 3, stride=2, padding=1), (2, 2, 7), (2, 2, 4)
    ),
    "AvgPool2d-overlapping": LayerCase(
        "AvgPool2d", _plain("AvgPool2d", 3, stride=2, padding=1), (2, 2, 5, 6), (2, 2, 3, 3)
    ),
}

ABSTRACT_LAYERS = {"Layer", "Activation"}

#: exported layers whose forward returns a tuple ``(output, h_n)``, so the single-array
#: contract here does not apply; test_recurrent.py checks them (torch, gradients, bad input)
TESTED_IN_TEST_RECURRENT = {"RNN", "LSTM", "GRU"}


def registry_params(names=None) -> list:
    """``pytest.param`` per registry case (all, or the given names); cases whose class
    ``dlkit.nn`` does not export yet are skipped, and activate once it does."""
    names = REGISTRY if names is None else names
    params = []
    for name in names:
        case = REGISTRY[name]
        missing = pytest.mark.skipif(
            not case.available, reason=f"dlkit.nn does not export {case.cls}"
        )
        params.append(pytest.param(name, id=name, marks=missing))
    return params


def exported_layer_classes() -> dict[str, type]:
    """Every public concrete ``Layer`` subclass that ``dlkit.nn`` exports."""
    found = {}
    for name in dir(nn):
        obj = getattr(nn, name)
        if (
            not name.startswith("_")
            and inspect.isclass(obj)
            and issubclass(obj, nn.Layer)
            and name not in ABSTRACT_LAYERS
        ):
            found[name] = obj
    return found


def layer_state(layer: nn.Layer) -> list[np.ndarray]:
    """Copies of a layer tree's persistent arrays: parameters and public array attributes
    (running statistics); private forward caches are left out."""
    arrays = [p.data.copy() for p in layer.parameters()]
    stack = [layer]
    while stack:
        item = stack.pop()
        for key, value in vars(item).items():
            if isinstance(value, np.ndarray) and not key.startswith("_"):
                arrays.append(value.copy())
            elif isinstance(value, nn.Layer):
                stack.append(value)
        stack.extend(getattr(item, "layers", []))
    return arrays


def run(layer: nn.Layer, x: np.ndarray, dy: np.ndarray | None = None, *, train=True):
    """Zeroed grads, forward, backward; returns (y, dx, parameter grads)."""
    layer.zero_grad()
    y = layer.forward(x, train=train)
    dy = np.ones_like(y) if dy is None else dy
    dx = layer.backward(dy)
    return y, dx, [p.grad.copy() for p in layer.parameters()]


# --------------------------------------------------------------------------- the registry


def test_registry_covers_every_exported_layer():
    built = {
        type(case.build(np.random.default_rng(0))).__name__
        for case in REGISTRY.values()
        if case.available
    }
    missing = sorted(set(exported_layer_classes()) - built - TESTED_IN_TEST_RECURRENT)
    assert not missing, f"layers without a REGISTRY case (add one): {missing}"


@pytest.mark.parametrize("name", registry_params())
def test_case_builds_its_declared_class(name):
    case = REGISTRY[name]
    assert type(case.build(np.random.default_rng(0))) is getattr(nn, case.cls)


def test_every_activation_class_has_a_name():
    classes = {cls for cls in exported_layer_classes().values() if issubclass(cls, nn.Activation)}
    assert classes == set(nn.ACTIVATIONS.values())


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
def test_activation_by_name(name):
    assert type(nn.activation(name)) is nn.ACTIVATIONS[name]


def test_activation_by_name_passes_keywords():
    assert nn.activation("leaky_relu", negative_slope=0.2).negative_slope == 0.2
    assert nn.activation("elu", alpha=0.5).alpha == 0.5
    assert nn.activation("prelu", init=0.1).alpha.data[0] == pytest.approx(0.1)


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", registry_params())
def test_output_shape_and_dtype(name, train, rng):
    case = REGISTRY[name]
    y = case.build(rng).forward(case.sample(rng), train=train)
    assert y.shape == case.out_shape
    assert y.dtype == np.float32


@pytest.mark.parametrize("name", registry_params())
def test_backward_returns_dx_of_input_shape(name, rng):
    case = REGISTRY[name]
    layer = case.build(rng)
    x = case.sample(rng)
    y = layer.forward(x, train=True)
    dx = layer.backward(rng.standard_normal(y.shape).astype(np.float32))
    assert dx.shape == x.shape
    assert dx.dtype == np.float32
    for p in layer.parameters():
        assert p.grad.shape == p.data.shape
        assert p.grad.dtype == np.float32


@pytest.mark.parametrize("name", registry_params())
def test_inputs_and_outputs_are_not_mutated(name, rng):
    case = REGISTRY[name]
    layer = case.build(rng)
    x = case.sample(rng)
    x_copy = x.copy()
    y = layer.forward(x, train=True)
    y_copy = y.copy()
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dy_copy = dy.copy()
    dx = layer.backward(dy)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dy, dy_copy)
    np.testing.assert_array_equal(y, y_copy, err_msg="backward modified the forward output")
    assert dx is not dy


@pytest.mark.parametrize("name", registry_params())
def test_same_seed_same_result(name, rng):
    case = REGISTRY[name]
    x = case.sample(rng)
    dy = rng.standard_normal(case.out_shape).astype(np.float32)
    first = case.build(np.random.default_rng(7))
    second = case.build(np.random.default_rng(7))
    for a, b in zip(layer_state(first), layer_state(second), strict=True):
        np.testing.assert_array_equal(a, b)
    y1, dx1, g1 = run(first, x, dy)
    y2, dx2, g2 = run(second, x, dy)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(dx1, dx2)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", registry_params())
def test_eval_is_deterministic_and_changes_no_state(name, rng):
    case = REGISTRY[name]
    layer = case.build(rng)
    x = case.sample(rng)
    layer.forward(x, train=True)  # give running statistics a non-initial value
    before = layer_state(layer)
    y1 = layer.forward(x, train=False)
    y2 = layer.forward(x, train=False)
    np.testing.assert_array_equal(y1, y2)
    for a, b in zip(before, layer_state(layer), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", registry_params())
def test_parameter_gradients_accumulate(name, rng):
    case = REGISTRY[name]
    layer = case.build(rng)
    if not layer.parameters():
        pytest.skip("no parameters")
    x = case.sample(rng)
    dy = rng.standard_normal(case.out_shape).astype(np.float32)
    _, _, once = run(layer, x, dy)
    layer.backward(dy)
    for g, p in zip(once, layer.parameters(), strict=True):
        assert np.any(g != 0)
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6, atol=1e-7)
    layer.zero_grad()
    assert all(not np.any(p.grad) for p in layer.parameters())


@pytest.mark.parametrize("name", registry_params())
def test_parameter_order_weight_before_bias_gamma_before_beta(name, rng):
    names = [p.name for p in REGISTRY[name].build(rng).parameters()]
    for i, pname in enumerate(names):
        if pname == "bias":
            assert i > 0 and names[i - 1] == "weight", names
        if pname == "beta":
            assert i > 0 and names[i - 1] == "gamma", names


def test_parameters_are_listed_as_pytorch_lists_them(rng):
    dense = nn.Dense(3, 2, rng=rng)
    assert dense.parameters() == [dense.weight, dense.bias]
    assert dense.weight.shape == (3, 2) and dense.bias.shape == (2,)
    assert nn.Dense(3, 2, bias=False, rng=rng).parameters()[0].name == "weight"
    for norm in (nn.BatchNorm1d(4), nn.LayerNorm(4)):
        assert norm.parameters() == [norm.gamma, norm.beta]
    prelu = nn.PReLU()
    assert prelu.parameters() == [prelu.alpha]
    first, second = nn.Dense(3, 4, rng=rng), nn.Dense(4, 2, rng=rng)
    model = nn.Sequential(first, nn.ReLU(), second)
    assert model.parameters() == [first.weight, first.bias, second.weight, second.bias]


# --------------------------------------------------------------------------- train / eval


def test_dropout_is_identity_in_eval(rng):
    x = rng.standard_normal((20, 30)).astype(np.float32)
    layer = nn.Dropout(0.5, rng=rng)
    np.testing.assert_array_equal(layer.forward(x, train=False), x)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(dy), dy)


def test_dropout_in_training_drops_p_and_rescales_survivors(rng):
    p = 0.3
    x = rng.uniform(1.0, 2.0, (200, 100)).astype(np.float32)
    layer = nn.Dropout(p, rng=rng)
    y = layer.forward(x, train=True)
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.01
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)
    dy = np.ones_like(x)
    np.testing.assert_allclose(layer.backward(dy), kept / (1 - p), rtol=1e-6)
    assert np.any(layer.forward(x, train=True) != y), "a new mask must be drawn per forward"


def test_dropout_zero_is_identity_in_training(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(nn.Dropout(0.0, rng=rng).forward(x, train=True), x)


def test_batchnorm_training_uses_batch_statistics(rng):
    layer = nn.BatchNorm1d(3)
    x = (5 + 3 * rng.standard_normal((64, 3))).astype(np.float32)
    y = layer.forward(x, train=True)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0), 1, rtol=1e-3)


def test_batchnorm_eval_uses_running_statistics(rng):
    layer = nn.BatchNorm1d(3, eps=1e-5)
    layer.gamma.data[...] = [1.0, 2.0, 0.5]
    layer.beta.data[...] = [0.0, -1.0, 3.0]
    layer.running_mean[...] = [1.0, -2.0, 0.5]
    layer.running_var[...] = [4.0, 0.25, 1.0]
    x = rng.standard_normal((5, 3)).astype(np.float32)
    expected = (x - layer.running_mean) / np.sqrt(layer.running_var + 1e-5)
    expected = expected * layer.gamma.data + layer.beta.data
    np.testing.assert_allclose(layer.forward(x, train=False), expected, rtol=1e-6, atol=1e-6)
    # The eval output is an affine map of x: its input gradient is gamma / sqrt(var + eps).
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_allclose(
        dx,
        np.broadcast_to(layer.gamma.data / np.sqrt(layer.running_var + 1e-5), x.shape),
        rtol=1e-6,
    )


def test_batchnorm_running_statistics_follow_momentum(rng):
    layer = nn.BatchNorm1d(2, momentum=0.25)
    x = rng.standard_normal((8, 2)).astype(np.float32)
    layer.forward(x, train=True)
    np.testing.assert_allclose(layer.running_mean, 0.25 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.running_var, 0.75 + 0.25 * x.var(axis=0, ddof=1), rtol=1e-5)


# --------------------------------------------------------------------------- input_grad


class _Spy(nn.Layer):
    """Records every backward call and the layer's ``input_grad`` flag at that moment."""

    def __init__(self, inner: nn.Layer):
        self.inner = inner
        self.calls: list[bool] = []

    def forward(self, x, *, train):
        return self.inner.forward(x, train=train)

    def backward(self, dy):
        self.calls.append(self.input_grad)
        self.inner.input_grad = self.input_grad
        return self.inner.backward(dy)

    def parameters(self):
        return self.inner.parameters()


def _spied_mlp(rng):
    layers = [
        _Spy(nn.Tanh()),
        _Spy(nn.Dense(4, 6, rng=rng)),
        _Spy(nn.ReLU()),
        _Spy(nn.Dense(6, 3, rng=rng)),
    ]
    return nn.Sequential(*layers), layers


def test_sequential_without_input_grad_skips_dx(rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    dy = rng.standard_normal((5, 3)).astype(np.float32)
    full, _ = _spied_mlp(np.random.default_rng(1))
    _, dx, grads = run(full, x, dy)
    assert dx.shape == x.shape

    model, spies = _spied_mlp(np.random.default_rng(1))
    model.input_grad = False
    model.zero_grad()
    model.forward(x, train=True)
    assert model.backward(dy) is None
    assert spies[0].calls == [], "layers before the first parameterized one must not run"
    assert spies[1].calls == [False], "the first parameterized layer must skip its dx"
    assert spies[1].input_grad is True, "the flag must be restored after backward"
    assert spies[2].calls == [True] and spies[3].calls == [True]
    for g, p in zip(grads, model.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad, g)


def test_dense_without_input_grad_returns_none_and_still_accumulates(rng):
    layer = nn.Dense(4, 3, rng=rng)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    dy = rng.standard_normal((5, 3)).astype(np.float32)
    layer.forward(x, train=True)
    layer.input_grad = False
    assert layer.backward(dy) is None
    np.testing.assert_allclose(layer.weight.grad, x.T @ dy, rtol=1e-6)
    np.testing.assert_allclose(layer.bias.grad, dy.sum(axis=0), rtol=1e-6)


# --------------------------------------------------------------------------- activations

ELEMENTWISE = [name for name, case in REGISTRY.items() if case.kinks and case.cls != "Softmax"]


@pytest.mark.parametrize("name", registry_params(ELEMENTWISE))
def test_derivative_matches_backward(name, rng):
    case = REGISTRY[name]
    layer = case.build(rng)
    x = case.sample(rng)
    layer.forward(x, train=True)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(layer.backward(dy), dy * layer.derivative(), rtol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        nn.Identity(),
        nn.Step(),
        nn.Sigmoid(),
        nn.Tanh(),
        nn.HardSigmoid(),
        nn.ReLU(),
        nn.LeakyReLU(),
        nn.PReLU(),
        nn.ELU(),
        nn.ELU(alpha=2.0),
        nn.SiLU(),
        nn.Softmax(),
    ],
    ids=repr,
)
def test_max_derivative_is_the_largest_derivative(layer):
    """Diagnostics measure saturation against ``max_derivative``; it must be f''s maximum."""
    x = np.linspace(-8, 8, 160_001).reshape(1, -1)
    if isinstance(layer, nn.Softmax):
        # one logit swept against a single zero logit: the diagonal y (1 - y) peaks at 1/4
        x = np.stack([x[0], np.zeros_like(x[0])], axis=1)
    layer.forward(x, train=True)
    assert np.max(layer.derivative()) == pytest.approx(layer.max_derivative, abs=1e-3)
