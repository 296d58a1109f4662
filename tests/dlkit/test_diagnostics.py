"""``dlkit.diagnostics`` on hand-built networks whose statistics are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit import diagnostics, losses, nn, optim, train


def identity_dense(d: int, bias: float) -> nn.Dense:
    layer = nn.Dense(d, d, init="zeros")
    layer.weight.data[...] = np.eye(d)
    layer.bias.data[...] = bias
    return layer


def test_sigmoid_chain_shrinks_gradients_by_a_quarter_per_layer():
    """Identity weights and biases of -1/2 on inputs of 1/2 put every pre-activation at 0,
    where each sigmoid outputs 1/2 and has slope 1/4. With MSE against ones the output layer's
    weight gradient has entries -1/D (norm 1), and each earlier layer's is 1/4 of the next."""
    d, n = 3, 4
    model = nn.Sequential(
        identity_dense(d, -0.5),
        nn.Sigmoid(),
        identity_dense(d, -0.5),
        nn.Sigmoid(),
        identity_dense(d, -0.5),
        nn.Sigmoid(),
        identity_dense(d, -0.5),
    )
    X = np.full((n, d), 0.5, np.float32)
    result = diagnostics.analyze(model, losses.MSELoss(), X, np.ones((n, d), np.float32))
    metrics = result.as_metrics()
    assert result.loss == 1.0
    for k, expected in {1: 1 / 64, 2: 1 / 16, 3: 1 / 4, 4: 1.0}.items():
        assert metrics[f"grad_norm/layer_{k}"] == pytest.approx(expected, rel=1e-6)
    for k in (1, 2, 3):
        assert metrics[f"act_mean/layer_{k}"] == 0.5
        assert metrics[f"act_std/layer_{k}"] == 0.0
        assert metrics[f"saturated/layer_{k}"] == 0.0
        assert metrics[f"dead/layer_{k}"] == 0.0


def test_relu_units_pushed_negative_are_dead(rng):
    """Biases of -10 on 3 of 8 units outweigh any |x @ W| <= 0.4: those units are off for
    the whole batch (dead 3/8, saturated 3/8); biases of +10 keep the others always on."""
    first = nn.Dense(4, 8, init="zeros")
    first.weight.data[...] = rng.uniform(-0.1, 0.1, (4, 8))
    first.bias.data[...] = [-10, 10, -10, 10, 10, -10, 10, 10]
    model = nn.Sequential(first, nn.ReLU(), nn.Dense(8, 3, rng=rng))
    X = rng.uniform(-1, 1, (32, 4)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    result = diagnostics.analyze(model, losses.CrossEntropyLoss(), X, y)
    stats = result.activations[0].values
    assert stats["dead"] == 3 / 8
    assert stats["saturated"] == 3 / 8
    h = np.maximum(X @ first.weight.data + first.bias.data, 0)
    assert stats["act_mean"] == pytest.approx(float(h.mean()), rel=1e-6)
    assert stats["act_std"] == pytest.approx(float(h.std()), rel=1e-5)
    dead = first.bias.data < 0
    assert not np.any(first.weight.grad[:, dead]), "dead units receive no gradient"
    assert np.all(first.weight.grad[:, ~dead] != 0)


# |x| >= 6 saturates a sigmoid (slope below 1 % of 1/4; x = 5 must not count, it would with
# a threshold of 1 % of 1), |x| >= 3 a tanh, |x| > 2 the hard logistic, x <= 0 a ReLU; a step
# is always saturated (its slope is 0 everywhere).
PRE_ACTIVATIONS = np.array(
    [[8.0, 0.0, -8.0], [-9.0, 1.5, 0.5], [0.0, 5.0, -1.0], [1.0, -1.5, 7.0]], np.float32
)
SATURATED = {
    "sigmoid": 4 / 12,
    "tanh": 5 / 12,
    "hard_sigmoid": 5 / 12,
    "relu": 6 / 12,  # 0 counts as off: no gradient flows there
    "step": 1.0,
}


@pytest.mark.parametrize("name", sorted(SATURATED))
def test_saturated_fraction(name, rng):
    model = nn.Sequential(identity_dense(3, 0.0), nn.activation(name), nn.Dense(3, 2, rng=rng))
    result = diagnostics.analyze(
        model, losses.CrossEntropyLoss(), PRE_ACTIVATIONS, np.array([0, 1, 0, 1])
    )
    assert result.activations[0].values["saturated"] == pytest.approx(SATURATED[name])


def test_histograms_count_every_value(rng):
    model = nn.Sequential(
        nn.Dense(5, 7, rng=rng),
        nn.Tanh(),
        nn.Dense(7, 4, rng=rng),
        nn.ReLU(),
        nn.Dense(4, 3, rng=rng),
    )
    X = rng.standard_normal((20, 5)).astype(np.float32)
    y = rng.integers(0, 3, 20)
    result = diagnostics.analyze(model, losses.CrossEntropyLoss(), X, y, bins=12)
    assert [int(s.hist_counts.sum()) for s in result.activations] == [20 * 7, 20 * 4]
    assert all(len(s.hist_counts) == 12 and len(s.hist_edges) == 13 for s in result.activations)
    fixed = diagnostics.analyze(
        model, losses.CrossEntropyLoss(), X, y, bins=4, hist_range=(-1.0, 1.0)
    )
    h = np.tanh(X @ model[0].weight.data + model[0].bias.data)
    np.testing.assert_array_equal(
        fixed.activations[0].hist_counts, np.histogram(h, bins=4, range=(-1.0, 1.0))[0]
    )
    hists = fixed.histograms()
    assert [d["layer"] for d in hists] == [1, 2]
    assert isinstance(hists[0]["counts"], list) and sum(hists[0]["counts"]) <= 20 * 7
    bare = diagnostics.analyze(model, losses.CrossEntropyLoss(), X, y, bins=None)
    assert bare.histograms() == [] and all(s.hist_counts is None for s in bare.activations)
    assert bare.as_metrics() == fixed.as_metrics()


def test_layer_numbering_and_metric_keys(rng):
    model = nn.Sequential(
        nn.Dense(4, 6, rng=rng),
        nn.ReLU(),
        nn.Dense(6, 5, rng=rng),
        nn.Tanh(),
        nn.Dense(5, 2, rng=rng),
    )
    X = rng.standard_normal((8, 4)).astype(np.float32)
    metrics = diagnostics.analyze(
        model, losses.CrossEntropyLoss(), X, rng.integers(0, 2, 8)
    ).as_metrics()
    expected = {
        f"{key}/layer_{k}" for key in ("act_mean", "act_std", "saturated", "dead") for k in (1, 2)
    }
    expected |= {f"grad_norm/layer_{k}" for k in (1, 2, 3)}
    assert set(metrics) == expected


def test_analyze_reports_this_batch_gradients_only(rng):
    model = nn.Sequential(nn.Dense(4, 3, rng=rng), nn.Tanh(), nn.Dense(3, 2, rng=rng))
    X = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.integers(0, 2, 8)
    first = diagnostics.analyze(model, losses.CrossEntropyLoss(), X, y).as_metrics()
    second = diagnostics.analyze(model, losses.CrossEntropyLoss(), X, y).as_metrics()
    assert first == second, "gradients must be zeroed before the pass, not accumulated"


def test_analyze_needs_a_sequential(rng):
    with pytest.raises(ValueError, match="Sequential"):
        diagnostics.analyze(
            nn.Dense(2, 2, rng=rng), losses.MSELoss(), np.zeros((2, 2)), np.zeros((2, 2))
        )


def test_callback_adds_diagnostics_to_epoch_records(rng):
    X = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    model = nn.Sequential(nn.Dense(4, 6, rng=rng), nn.Sigmoid(), nn.Dense(6, 3, rng=rng))
    loss = losses.CrossEntropyLoss()
    store = []
    history = train.fit(
        model,
        loss,
        optim.build("sgd", model.parameters(), lr=0.1),
        X,
        y,
        epochs=4,
        batch_size=8,
        rng=rng,
        record_initial=True,
        callbacks=[diagnostics.callback(X, y, loss, every=2, store=store)],
    )
    with_keys = [r["epoch"] for r in history if "grad_norm/layer_1" in r]
    assert with_keys == [0, 2, 4]
    for r in history:
        if r["epoch"] in with_keys:
            assert {
                "grad_norm/layer_2",
                "act_mean/layer_1",
                "saturated/layer_1",
                "dead/layer_1",
                "act_std/layer_1",
            } <= set(r)
    assert [epoch for epoch, _ in store] == [0, 2, 4]
    assert isinstance(store[-1][1], diagnostics.Diagnostics)
    # the last epoch's diagnostics describe the trained model
    after = diagnostics.analyze(model, loss, X, y).as_metrics()
    assert history[-1]["grad_norm/layer_1"] == pytest.approx(after["grad_norm/layer_1"], rel=1e-6)


def test_grad_norm_numbering_skips_layers_without_weights(rng):
    """A PReLU slope or a BatchNorm gamma does not shift grad_norm/layer_K off Dense K."""
    model = nn.Sequential(
        nn.Dense(4, 5, rng=rng), nn.PReLU(), nn.BatchNorm1d(5), nn.Dense(5, 3, rng=rng)
    )
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = rng.integers(0, 3, 8)
    diag = diagnostics.analyze(model, losses.CrossEntropyLoss(), x, y)
    metrics = diag.as_metrics()
    assert sorted(k for k in metrics if k.startswith("grad_norm/")) == [
        "grad_norm/layer_1",
        "grad_norm/layer_2",
    ]
    assert metrics["grad_norm/layer_2"] == pytest.approx(
        float(np.linalg.norm(model.layers[3].weight.grad))
    )
    names = [h["name"] for h in diag.histograms()]
    assert len(set(names)) == len(names)
