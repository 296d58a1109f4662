"""``nn.mlp``: it rebuilds, bit for bit, the hand-written MLP builders the studies used, and it
rejects bad arguments with a ValueError naming them.

The four reference builders below are copies of the studies' own (``_deep_mlp.build_mlp``,
``optimizers.build_mlp``, ``regularization.build_model``, ``mnist1d.build_model("mlp")``) as
they were before the studies switched to ``nn.mlp``: "identical" means the same layers in the
same order, the same parameters, the same draws from the generator (its state afterwards is
equal) and the same outputs and gradients, dropout masks included.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from dlkit import init as initializers
from dlkit import losses, nn, optim

# --------------------------------------------------------------------------- reference builders


def deep_mlp_reference(n_in: int, n_out: int, model: dict, rng: np.random.Generator):
    """studies/catalog/_deep_mlp.py ``build_mlp``."""
    weight_init = initializers.get(model["init"], **model["init_args"])
    layers: list = []
    fan_in = n_in
    for _ in range(model["depth"]):
        layers += [
            nn.Dense(fan_in, model["width"], init=weight_init, rng=rng),
            nn.activation(model["activation"]),
        ]
        fan_in = model["width"]
    layers.append(nn.Dense(fan_in, n_out, init=weight_init, rng=rng))
    return nn.Sequential(*layers)


def optimizers_reference(
    n_in: int, hidden: list[int], n_out: int, init: str, rng: np.random.Generator
):
    """studies/catalog/optimizers.py ``build_mlp``."""
    layers, width = [], n_in
    for h in hidden:
        layers += [nn.Dense(width, h, init=init, rng=rng), nn.ReLU()]
        width = h
    layers.append(nn.Dense(width, n_out, rng=rng))
    return nn.Sequential(*layers)


def regularization_reference(hidden: list[int], dropout: float, rng: np.random.Generator):
    """studies/catalog/regularization.py ``build_model``."""
    layers, width = [], 64
    for units in hidden:
        layers += [nn.Dense(width, units, init="kaiming_normal", rng=rng), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout, rng=rng))
        width = units
    layers.append(nn.Dense(width, 10, init="kaiming_normal", rng=rng))
    return nn.Sequential(*layers)


def mnist1d_reference(rng: np.random.Generator):
    """studies/catalog/mnist1d.py ``build_model("mlp")``."""
    init = "standard"
    return nn.Sequential(
        nn.Dense(40, 100, init=init, rng=rng),
        nn.ReLU(),
        nn.Dense(100, 100, init=init, rng=rng),
        nn.ReLU(),
        nn.Dense(100, 10, init=init, rng=rng),
    )


# --------------------------------------------------------------------------- the comparison


def assert_identical(reference_builder, mlp_builder, n_in: int, n_out: int, seed: int = 0):
    """Build both from ``default_rng(seed)`` and compare everything observable."""
    rng_ref, rng_new = np.random.default_rng(seed), np.random.default_rng(seed)
    reference, built = reference_builder(rng_ref), mlp_builder(rng_new)

    assert [repr(layer) for layer in built] == [repr(layer) for layer in reference]
    assert [type(layer) for layer in built] == [type(layer) for layer in reference]
    assert rng_new.bit_generator.state == rng_ref.bit_generator.state
    ref_params, new_params = reference.parameters(), built.parameters()
    assert [p.name for p in new_params] == [p.name for p in ref_params]
    for p_new, p_ref in zip(new_params, ref_params, strict=True):
        assert p_new.data.dtype == p_ref.data.dtype == np.float32
        np.testing.assert_array_equal(p_new.data, p_ref.data)

    x = np.random.default_rng(seed + 1).standard_normal((16, n_in)).astype(np.float32)
    y = np.random.default_rng(seed + 2).integers(0, n_out, 16)
    for train in (True, True, False):  # two training passes: fresh dropout masks each time
        out_ref = reference.forward(x, train=train)
        out_new = built.forward(x, train=train)
        assert out_new.dtype == np.float32
        np.testing.assert_array_equal(out_new, out_ref)
    # One optimizer step each, so gradients and the update agree too.
    for model in (reference, built):
        opt = optim.SGD(model.parameters(), lr=0.1)
        loss = losses.CrossEntropyLoss()
        opt.zero_grad()
        loss.forward(model.forward(x, train=True), y)
        model.backward(loss.backward())
        opt.step()
    for p_new, p_ref in zip(new_params, ref_params, strict=True):
        np.testing.assert_array_equal(p_new.grad, p_ref.grad)
        np.testing.assert_array_equal(p_new.data, p_ref.data)
    assert rng_new.bit_generator.state == rng_ref.bit_generator.state


DEEP_MLP_MODELS = [
    {"depth": 8, "width": 64, "activation": "relu", "init": "kaiming_normal", "init_args": {}},
    {
        "depth": 3,
        "width": 16,
        "activation": "tanh",
        "init": "xavier_uniform",
        "init_args": {"gain": 5.0 / 3.0},
    },
    {
        "depth": 4,
        "width": 12,
        "activation": "prelu",
        "init": "kaiming_normal",
        "init_args": {"a": 0.25},
    },
    {"depth": 5, "width": 8, "activation": "sigmoid", "init": "normal", "init_args": {}},
    {"depth": 2, "width": 8, "activation": "relu", "init": "zeros", "init_args": {}},
    {"depth": 0, "width": 8, "activation": "relu", "init": "standard", "init_args": {}},
]


@pytest.mark.parametrize(
    "model", DEEP_MLP_MODELS, ids=lambda m: f"{m['activation']}-{m['depth']}-{m['init']}"
)
@pytest.mark.parametrize("seed", [0, 7])
def test_mlp_reproduces_the_deep_mlp_builder(model, seed):
    n_in, n_out = 40, 10

    def build(rng):
        return nn.mlp(
            [n_in, *[model["width"]] * model["depth"], n_out],
            activation=model["activation"],
            init=initializers.get(model["init"], **model["init_args"]),
            rng=rng,
        )

    assert_identical(
        lambda rng: deep_mlp_reference(n_in, n_out, model, rng), build, n_in, n_out, seed
    )


@pytest.mark.parametrize("hidden", [[256, 256], [32], []])
@pytest.mark.parametrize("init", ["kaiming_normal", "standard"])
def test_mlp_reproduces_the_optimizers_builder(hidden, init):
    n_in, n_out = 40, 10

    def build(rng):
        return nn.mlp([n_in, *hidden, n_out], init=init, output_init="xavier_uniform", rng=rng)

    assert_identical(
        lambda rng: optimizers_reference(n_in, hidden, n_out, init, rng), build, n_in, n_out
    )


@pytest.mark.parametrize("dropout", [0.0, 0.2, 0.5])
@pytest.mark.parametrize("hidden", [[128, 128, 128], [64]])
@pytest.mark.parametrize("seed", [0, 3])
def test_mlp_reproduces_the_regularization_builder(hidden, dropout, seed):
    def build(rng):
        return nn.mlp([64, *hidden, 10], init="kaiming_normal", dropout=dropout, rng=rng)

    assert_identical(
        lambda rng: regularization_reference(hidden, dropout, rng), build, 64, 10, seed
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_mlp_reproduces_the_mnist1d_mlp(seed):
    def build(rng):
        return nn.mlp([40, 100, 100, 10], init="standard", rng=rng)

    assert_identical(mnist1d_reference, build, 40, 10, seed)


# --------------------------------------------------------------------------- behaviour


def test_mlp_layers_in_order():
    net = nn.mlp([5, 4, 3, 2], activation="tanh", dropout=0.1, rng=np.random.default_rng(0))
    assert [type(layer) for layer in net] == [
        nn.Dense,
        nn.Tanh,
        nn.Dropout,
        nn.Dense,
        nn.Tanh,
        nn.Dropout,
        nn.Dense,
    ]
    assert [(d.in_features, d.out_features) for d in net if isinstance(d, nn.Dense)] == [
        (5, 4),
        (4, 3),
        (3, 2),
    ]
    assert net.forward(np.ones((7, 5), np.float32), train=False).shape == (7, 2)


def test_every_hidden_layer_gets_its_own_activation():
    net = nn.mlp([3, 4, 4, 2], activation="prelu", rng=np.random.default_rng(0))
    prelus = [layer for layer in net if isinstance(layer, nn.PReLU)]
    assert len(prelus) == 2 and prelus[0] is not prelus[1]
    assert prelus[0].alpha is not prelus[1].alpha
    assert sum(p.name == "alpha" for p in net.parameters()) == 2


def test_activation_may_be_a_layer_factory():
    factory = functools.partial(nn.LeakyReLU, 0.2)
    net = nn.mlp([3, 4, 4, 2], activation=factory, rng=np.random.default_rng(0))
    leaky = [layer for layer in net if isinstance(layer, nn.LeakyReLU)]
    assert len(leaky) == 2 and leaky[0] is not leaky[1]
    assert leaky[0].negative_slope == 0.2


def test_output_init_applies_to_the_last_layer_only():
    net = nn.mlp(
        [3, 4, 2],
        init="zeros",
        output_init=initializers.get("constant", value=0.5),
        rng=np.random.default_rng(0),
    )
    assert np.all(net[0].weight.data == 0) and np.all(net[-1].weight.data == 0.5)


def test_bias_false_drops_every_bias():
    net = nn.mlp([3, 4, 2], bias=False, rng=np.random.default_rng(0))
    assert [p.name for p in net.parameters()] == ["weight", "weight"]


def test_unseeded_mlp_builds():
    assert len(nn.mlp([3, 2]).parameters()) == 2


def test_same_seed_same_network():
    a = nn.mlp([6, 5, 3], dropout=0.3, rng=np.random.default_rng(4))
    b = nn.mlp([6, 5, 3], dropout=0.3, rng=np.random.default_rng(4))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": [4]}, r"sizes must be a sequence of at least two integers >= 1.*\[4\]"),
        ({"sizes": [4, 0, 2]}, r"sizes .* got \[4, 0, 2\]"),
        ({"sizes": [4, 2.0]}, r"sizes .* got \[4, 2.0\]"),
        ({"sizes": [4, True]}, "sizes"),
        ({"sizes": "42"}, "sizes"),
        ({"sizes": 4}, "sizes"),
        ({"activation": "relux"}, r"unknown activation 'relux'; valid choices: .*relu"),
        ({"activation": nn.ReLU()}, r"activation must be a name or a callable .*ReLU"),
        ({"activation": 3}, r"activation must be an nn.activation name .* got 3"),
        ({"activation": lambda: 3}, r"activation must build a layer, but it returned 3"),
        ({"init": "glorot"}, r"unknown init 'glorot'; valid choices: .*xavier_uniform"),
        ({"init": 1.0}, r"init must be a dlkit.init name .* got 1.0"),
        ({"output_init": "he"}, r"unknown output_init 'he'"),
        ({"dropout": 1.0}, r"dropout must be in \[0.0, 1.0\), got 1.0"),
        ({"dropout": -0.1}, r"dropout must be in \[0.0, 1.0\), got -0.1"),
        ({"dropout": float("nan")}, r"dropout must be in .* got nan"),
        ({"dropout": "0.5"}, r"dropout must be a number in \[0.0, 1.0\), got '0.5'"),
        ({"bias": 1}, r"bias must be True or False, got 1"),
        ({"rng": 0}, r"rng must be a numpy.random.Generator .* got 0"),
    ],
)
def test_mlp_rejects_bad_arguments(kwargs, match):
    arguments = {"sizes": [4, 3, 2], **kwargs}
    with pytest.raises(ValueError, match=match):
        nn.mlp(arguments.pop("sizes"), **arguments)


def test_an_activation_factory_must_return_a_new_layer():
    shared = nn.PReLU()
    with pytest.raises(ValueError, match="new layer on every call"):
        nn.mlp([3, 4, 4, 2], activation=lambda: shared, rng=np.random.default_rng(0))
