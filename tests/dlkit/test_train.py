"""Behaviour of ``dlkit.train``: what a network can and cannot learn, divergence as data,
the History records, ``evaluate``, callbacks, and the errors bad input gets."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from dlkit import data, losses, nn, optim, train

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def mlp(sizes, rng, act="tanh") -> nn.Sequential:
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Dense(a, b, rng=rng))
        if i < len(sizes) - 2:
            layers.append(nn.activation(act))
    return nn.Sequential(*layers)


def fit(model, X, y, *, lr=0.05, name="adam", epochs=1, batch_size=4, seed=0, **kwargs):
    return train.fit(
        model,
        losses.CrossEntropyLoss(),
        optim.build(name, model.parameters(), lr=lr),
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        rng=np.random.default_rng(seed),
        **kwargs,
    )


@pytest.fixture(scope="module")
def digits64():
    ds = data.load("digits", seed=0)
    return ds.X_train[:64], ds.y_train[:64]


# --------------------------------------------------------------------------- what can be learned


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_one_hidden_layer_solves_xor(act):
    model = mlp([2, 8, 2], np.random.default_rng(0), act)
    fit(model, XOR_X, XOR_Y, epochs=300)
    assert train.evaluate(model, losses.CrossEntropyLoss(), XOR_X, XOR_Y)["acc"] == 1.0


def test_single_dense_layer_cannot_solve_xor():
    model = nn.Dense(2, 2, rng=np.random.default_rng(0))
    fit(model, XOR_X, XOR_Y, epochs=300)
    assert train.evaluate(model, losses.CrossEntropyLoss(), XOR_X, XOR_Y)["acc"] <= 0.75


def test_noisy_xor_needs_the_hidden_layer():
    ds = data.load("xor", seed=0)
    results = {}
    for name, sizes in {"mlp": [2, 16, 2], "linear": [2, 2]}.items():
        model = mlp(sizes, np.random.default_rng(0))
        history = fit(
            model,
            ds.X_train,
            ds.y_train,
            lr=0.02,
            epochs=30,
            batch_size=32,
            X_val=ds.X_test,
            y_val=ds.y_test,
        )
        results[name] = history[-1]["val_acc"]
    assert results["mlp"] >= 0.95
    assert results["linear"] <= 0.75


def test_fit_overfits_64_digits(digits64):
    X, y = digits64
    model = mlp([64, 64, 10], np.random.default_rng(0), "relu")
    history = fit(model, X, y, lr=1e-2, epochs=50, batch_size=16)
    assert not history.diverged
    assert train.evaluate(model, losses.CrossEntropyLoss(), X, y)["acc"] == 1.0
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 10


def test_huge_learning_rate_diverges_and_is_recorded(digits64):
    X, y = digits64
    model = mlp([64, 64, 10], np.random.default_rng(0), "relu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings escape either
        history = fit(model, X, y, name="sgd", lr=1e3, epochs=20, batch_size=16)
    assert history.diverged is True
    assert isinstance(history.diverged_epoch, int) and 1 <= history.diverged_epoch < 20
    assert len(history) == history.diverged_epoch, "training stops at the divergent epoch"
    last = history[-1]
    assert last["epoch"] == history.diverged_epoch
    assert last["diverged"] == 1.0 and math.isnan(last["train_loss"])
    assert model.input_grad is True, "fit restores the model's input_grad"


def test_training_is_reproducible(digits64):
    X, y = digits64
    runs = []
    for _ in range(2):
        model = mlp([64, 16, 10], np.random.default_rng(3), "relu")
        runs.append([r["train_loss"] for r in fit(model, X, y, epochs=3, batch_size=10, seed=5)])
    assert runs[0] == runs[1]


# --------------------------------------------------------------------------- History


def test_history_records(digits64):
    X, y = digits64
    model = mlp([64, 16, 10], np.random.default_rng(0))
    history = fit(model, X[:48], y[:48], lr=0.01, epochs=3, batch_size=16)
    assert isinstance(history, list) and not history.diverged and history.diverged_epoch is None
    assert [r["epoch"] for r in history] == [1, 2, 3]
    for r in history:
        assert set(r) == {"epoch", "train_loss", "train_acc", "lr", "time"}
        assert r["lr"] == 0.01 and r["time"] > 0 and 0 <= r["train_acc"] <= 1

    history = fit(model, X[:48], y[:48], epochs=2, batch_size=16, X_val=X[48:], y_val=y[48:])
    assert set(history[0]) == {
        "epoch",
        "train_loss",
        "train_acc",
        "lr",
        "time",
        "val_loss",
        "val_acc",
    }
    frame = pd.DataFrame(history)
    assert list(frame["epoch"]) == [1, 2]
    assert history.last("val_loss") == frame["val_loss"].iloc[-1]
    assert math.isnan(history.last("missing"))
    # validation is evaluated in eval mode on the model as it stands after the epoch
    ev = train.evaluate(model, losses.CrossEntropyLoss(), X[48:], y[48:])
    assert history[-1]["val_loss"] == pytest.approx(ev["loss"], rel=1e-6)
    assert history[-1]["val_acc"] == ev["acc"]


def test_epoch_records_average_over_uneven_batches(rng):
    X = rng.standard_normal((10, 3)).astype(np.float32)
    y = rng.integers(0, 3, 10)
    model = nn.Sequential(nn.Dense(3, 3, rng=rng))
    expected = train.evaluate(model, losses.CrossEntropyLoss(), X, y)
    # lr = 0 leaves the model unchanged, so the epoch's running mean over batches of 4, 4, 2
    # must equal the full-batch value
    history = fit(model, X, y, name="sgd", lr=0.0, epochs=1, batch_size=4)
    assert history[0]["train_loss"] == pytest.approx(expected["loss"], rel=1e-6)
    assert history[0]["train_acc"] == pytest.approx(expected["acc"])


def test_callbacks_add_keys_and_see_the_model(digits64):
    X, y = digits64
    model = mlp([64, 8, 10], np.random.default_rng(0))
    calls = []

    def cb(epoch, record, seen_model):
        calls.append(epoch)
        assert seen_model is model
        record["weight_norm"] = float(np.linalg.norm(model.parameters()[0].data))

    history = fit(model, X, y, epochs=3, batch_size=16, callbacks=[cb])
    assert calls == [1, 2, 3]
    assert all("weight_norm" in r for r in history)
    assert history[0]["weight_norm"] != history[-1]["weight_norm"]


def test_record_initial_describes_the_untrained_model(digits64):
    X, y = digits64
    model = mlp([64, 8, 10], np.random.default_rng(0))
    loss = losses.CrossEntropyLoss()
    before = train.evaluate(model, loss, X, y)
    seen = []
    history = fit(
        model,
        X,
        y,
        epochs=2,
        batch_size=16,
        X_val=X[:16],
        y_val=y[:16],
        record_initial=True,
        callbacks=[lambda epoch, record, m: seen.append(epoch)],
    )
    assert [r["epoch"] for r in history] == [0, 1, 2]
    assert seen == [0, 1, 2]
    assert history[0]["train_loss"] == pytest.approx(before["loss"], rel=1e-6)
    assert history[0]["train_acc"] == before["acc"]
    assert "val_loss" in history[0]


# --------------------------------------------------------------------------- evaluate


def _fixed_logits_model(with_dropout: bool) -> nn.Sequential:
    """Logits [0, ln 2, 0] for every input: softmax (1/4, 1/2, 1/4)."""
    dense = nn.Dense(2, 3, init="zeros")
    dense.bias.data[...] = [0.0, math.log(2.0), 0.0]
    layers = [nn.Dropout(0.9, rng=np.random.default_rng(0)), dense] if with_dropout else [dense]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("batch_size", [1024, 3])
@pytest.mark.parametrize("with_dropout", [False, True])
def test_evaluate_values(batch_size, with_dropout, rng):
    X = rng.standard_normal((4, 2)).astype(np.float32)
    y = np.array([1, 1, 0, 2])
    result = train.evaluate(
        _fixed_logits_model(with_dropout), losses.CrossEntropyLoss(), X, y, batch_size=batch_size
    )
    # two samples at -log(1/2), two at -log(1/4); argmax is class 1 everywhere
    assert result["loss"] == pytest.approx(1.5 * math.log(2.0), rel=1e-6)
    assert result["acc"] == 0.5


def test_evaluate_regression_has_no_accuracy(rng):
    model = nn.Dense(3, 2, rng=rng)
    X = rng.standard_normal((5, 3)).astype(np.float32)
    target = np.zeros((5, 2), np.float32)
    result = train.evaluate(model, losses.MSELoss(), X, target)
    out = model.forward(X, train=False)
    assert result["loss"] == pytest.approx(float(np.mean(out**2)), rel=1e-6)
    assert math.isnan(result["acc"])


def test_evaluate_binary_logit_accuracy():
    model = nn.Dense(1, 1, init="ones", bias=False)
    X = np.array([[-2.0], [-1.0], [1.0], [3.0]], np.float32)
    y = np.array([[0.0], [1.0], [1.0], [1.0]], np.float32)
    assert train.evaluate(model, losses.BCEWithLogitsLoss(), X, y)["acc"] == 0.75


def test_evaluate_rejects_empty_input():
    with pytest.raises(ValueError, match="empty"):
        train.evaluate(nn.Dense(2, 2), losses.MSELoss(), np.zeros((0, 2)), np.zeros((0, 2)))


# --------------------------------------------------------------------------- bad input


def test_unknown_activation_names_the_value_and_the_choices():
    with pytest.raises(ValueError, match=r"'relu6'.*leaky_relu.*relu"):
        nn.activation("relu6")


def test_unknown_optimizer_names_the_value_and_the_choices(rng):
    with pytest.raises(ValueError, match=r"'sgdd'.*adam.*sgd"):
        optim.build("sgdd", nn.Dense(2, 2, rng=rng).parameters(), lr=0.1)


def test_unknown_initializer_names_the_value_and_the_choices(rng):
    with pytest.raises(ValueError, match=r"'glorot'.*kaiming_normal.*xavier_uniform"):
        nn.Dense(2, 3, init="glorot", rng=rng)


def test_unknown_loss_names_the_value_and_the_choices():
    with pytest.raises(ValueError, match=r"'nll'.*cross_entropy.*mse"):
        losses.build("nll")


def test_shape_mismatch_names_the_layer_and_both_shapes(rng):
    model = nn.Sequential(nn.Dense(3, 4, rng=rng), nn.ReLU(), nn.Dense(5, 2, rng=rng))
    with pytest.raises(ValueError, match=r"Dense\(3, 4.*\(N, 3\).*\(6, 7\)"):
        model.forward(np.zeros((6, 7), np.float32), train=True)
    with pytest.raises(ValueError, match=r"Dense\(5, 2.*\(N, 5\).*\(6, 4\)"):
        model.forward(np.zeros((6, 3), np.float32), train=True)
    with pytest.raises(ValueError, match=r"Dense\(3, 4.*\(N, 3\).*, 7\)"):  # a batch of X
        fit(model, np.zeros((6, 7), np.float32), np.zeros(6, int))


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop", "adagrad"])
def test_negative_learning_rate(name, rng):
    with pytest.raises(ValueError, match=r"lr.*-0\.1"):
        optim.build(name, nn.Dense(2, 2, rng=rng).parameters(), lr=-0.1)


def test_negative_learning_rate_direct(rng):
    with pytest.raises(ValueError, match=r"lr.*-1"):
        optim.SGD(nn.Dense(2, 2, rng=rng).parameters(), lr=-1.0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_probability_outside_unit_interval(p):
    with pytest.raises(ValueError, match=rf"dropout p.*\[0.*1.*{p}"):
        nn.Dropout(p)


def test_fit_rejects_mismatched_lengths(rng):
    with pytest.raises(ValueError, match=r"5.*4"):
        fit(nn.Dense(2, 2, rng=rng), np.zeros((5, 2), np.float32), np.zeros(4, int))
