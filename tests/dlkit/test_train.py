"""Behaviour of ``dlkit.train``: what a network can and cannot learn, divergence as data,
the History records, ``evaluate``, callbacks (stopping, ``BestWeights``), ``epochs_to_target``
and the errors bad input gets."""

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
    return nn.mlp(sizes, activation=act, rng=rng)


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


# --------------------------------------------------------------------------- stopping


def test_a_callback_stops_training_after_its_epoch(digits64):
    X, y = digits64
    model = mlp([64, 8, 10], np.random.default_rng(0))
    after = []

    def stop_at_two(epoch, record, m):
        if epoch == 2:
            raise train.StopTraining("enough")

    history = fit(
        model,
        X,
        y,
        epochs=5,
        batch_size=16,
        callbacks=[stop_at_two, lambda epoch, record, m: after.append(epoch)],
    )
    assert [r["epoch"] for r in history] == [1, 2]
    assert after == [1, 2], "the epoch's later callbacks still run"
    assert history.stopped_epoch == 2 and not history.diverged
    assert model.input_grad is True


def test_stopping_at_epoch_zero_trains_nothing(digits64):
    X, y = digits64
    model = mlp([64, 8, 10], np.random.default_rng(0))
    before = [p.data.copy() for p in model.parameters()]

    def stop(epoch, record, m):
        raise train.StopTraining

    history = fit(model, X, y, epochs=3, batch_size=16, record_initial=True, callbacks=[stop])
    assert [r["epoch"] for r in history] == [0] and history.stopped_epoch == 0
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)


def test_history_without_stop_has_no_stopped_epoch(digits64):
    X, y = digits64
    history = fit(mlp([64, 8, 10], np.random.default_rng(0)), X, y, epochs=1, batch_size=16)
    assert history.stopped_epoch is None


# --------------------------------------------------------------------------- BestWeights


class StudyBestWeights:
    """studies/catalog/optimizers.py ``BestWeights`` as it was before ``train.BestWeights``."""

    def __init__(self):
        self.loss = math.inf
        self.epoch = 0
        self.params: list[np.ndarray] = []

    def __call__(self, epoch: int, record: dict, model) -> None:
        loss = record.get("val_loss", math.inf)
        if loss < self.loss:
            self.loss, self.epoch = loss, epoch
            self.params = [p.data.copy() for p in model.parameters()]

    def restore(self, model) -> None:
        for p, saved in zip(model.parameters(), self.params, strict=True):
            p.data[...] = saved


def study_epochs_to_target(val_losses: list[float], target: float) -> float:
    """studies/catalog/optimizers.py ``epochs_to_target`` as it was."""
    if val_losses[0] <= target:
        return 0.0
    for epoch in range(1, len(val_losses)):
        before, after = val_losses[epoch - 1], val_losses[epoch]
        if after <= target:
            return float(epoch - 1 + (before - target) / (before - after))
    return math.inf


@pytest.fixture(scope="module")
def digits_split():
    ds = data.load("digits", seed=0)
    X, y, X_val, y_val = ds.split_validation(0.2, np.random.default_rng(0))
    return X[:400], y[:400], X_val, y_val


def _optimizers_style_run(split, callbacks, *, lr=0.05, epochs=8):
    """The optimizers study's trial in miniature: one generator for weights and batches,
    ``record_initial``, validation every epoch."""
    X, y, X_val, y_val = split
    rng = np.random.default_rng(11)
    model = nn.mlp([64, 32, 10], init="kaiming_normal", output_init="xavier_uniform", rng=rng)
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        optim.build("momentum", model.parameters(), lr=lr),
        X,
        y,
        epochs=epochs,
        batch_size=32,
        X_val=X_val,
        y_val=y_val,
        rng=rng,
        callbacks=callbacks,
        record_initial=True,
    )
    return model, history


def test_best_weights_reproduces_the_optimizers_study(digits_split):
    # The validation loss bottoms out at epoch 7 of 14: the best epoch is not the last one.
    reference = StudyBestWeights()
    model_ref, history_ref = _optimizers_style_run(digits_split, [reference], epochs=14)
    best = train.BestWeights()
    model, history = _optimizers_style_run(digits_split, [best], epochs=14)

    assert [dict(r, time=0) for r in history] == [dict(r, time=0) for r in history_ref]
    assert best.value == reference.loss and best.epoch == reference.epoch
    assert best.epoch < len(history) - 1, "the scenario should have a best epoch before the end"
    for saved, saved_ref in zip(best.params, reference.params, strict=True):
        np.testing.assert_array_equal(saved, saved_ref)
    best.restore(model)
    reference.restore(model_ref)
    for p, p_ref in zip(model.parameters(), model_ref.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, p_ref.data)
    X_val, y_val = digits_split[2], digits_split[3]
    loss = losses.CrossEntropyLoss()
    assert train.evaluate(model, loss, X_val, y_val) == train.evaluate(
        model_ref, loss, X_val, y_val
    )
    assert train.evaluate(model, loss, X_val, y_val)["loss"] == pytest.approx(best.value, rel=1e-6)

    val = [r["val_loss"] for r in history]
    for target in (min(val), 1.0, 0.5, val[0], val[0] + 1.0, min(val) - 1e-3):
        assert train.epochs_to_target(val, target) == study_epochs_to_target(val, target)


def test_restore_writes_in_place_so_the_optimizer_stays_bound(digits_split):
    best = train.BestWeights()
    model, _ = _optimizers_style_run(digits_split, [best], epochs=3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    arrays = [p.data for p in model.parameters()]
    best.restore(model)
    assert all(p.data is a for p, a in zip(model.parameters(), arrays, strict=True))
    opt.zero_grad()  # raises if restore had rebound a parameter
    # the copies are independent of the live parameters
    model.parameters()[0].data[...] += 1.0
    assert not np.array_equal(best.params[0], model.parameters()[0].data)


def test_best_weights_follows_the_monitored_value():
    model = nn.Dense(2, 2, rng=np.random.default_rng(0))
    weight = model.weight.data
    best = train.BestWeights()
    for epoch, value in enumerate([3.0, 2.0, 2.0, float("nan"), 2.5, 1.5, 1.6]):
        weight[...] = epoch
        best(epoch, {"val_loss": value}, model)
    assert (best.value, best.epoch, best.wait) == (1.5, 5, 1)
    assert np.all(best.params[0] == 5)

    maximum = train.BestWeights("val_acc", mode="max")
    for epoch, value in enumerate([0.1, 0.5, 0.4, 0.5, 0.6, 0.2]):
        weight[...] = epoch
        maximum(epoch, {"val_acc": value}, model)
    assert (maximum.value, maximum.epoch) == (0.6, 4)
    maximum.restore(model)
    assert np.all(weight == 4)


def test_min_delta_requires_a_real_improvement():
    model = nn.Dense(2, 2, rng=np.random.default_rng(0))
    best = train.BestWeights(min_delta=0.1)
    for epoch, value in enumerate([1.0, 0.95, 0.91, 0.85]):
        best(epoch, {"val_loss": value}, model)
    assert (best.value, best.epoch) == (0.85, 3)
    best = train.BestWeights("acc", mode="max", min_delta=0.1)
    for epoch, value in enumerate([0.5, 0.55, 0.61]):
        best(epoch, {"acc": value}, model)
    assert (best.value, best.epoch) == (0.61, 2)


def test_patience_counts_epochs_without_improvement():
    model = nn.Dense(2, 2, rng=np.random.default_rng(0))
    best = train.BestWeights(patience=2)
    best(0, {"val_loss": 1.0}, model)
    best(1, {"val_loss": 1.1}, model)
    best(2, {"val_loss": 0.9}, model)  # an improvement resets the count
    best(3, {"val_loss": 0.9}, model)  # equal is no improvement
    with pytest.raises(train.StopTraining, match=r"val_loss has not improved on 0.9 \(epoch 2\)"):
        best(4, {"val_loss": 1.2}, model)
    assert best.wait == 2 and best.epoch == 2


def test_early_stopping_in_fit(digits_split):
    best = train.BestWeights(patience=3)
    model, history = _optimizers_style_run(digits_split, [best], epochs=40)
    assert history.stopped_epoch is not None and history.stopped_epoch < 40
    assert history.stopped_epoch == best.epoch + 3 == history[-1]["epoch"]
    val = [r["val_loss"] for r in history]
    assert best.value == min(val) and val.index(best.value) == best.epoch
    # up to the stop the run is the one without early stopping
    _, full = _optimizers_style_run(digits_split, [], epochs=40)
    assert val == [r["val_loss"] for r in full[: len(history)]]


def test_best_weights_needs_the_monitored_key(digits64):
    X, y = digits64
    with pytest.raises(ValueError, match=r"monitors 'val_loss'.*keys: epoch, train_loss"):
        fit(mlp([64, 8, 10], np.random.default_rng(0)), X, y, callbacks=[train.BestWeights()])


def test_restore_before_any_improvement_raises():
    best = train.BestWeights()
    model = nn.Dense(2, 2, rng=np.random.default_rng(0))
    best(1, {"val_loss": float("nan")}, model)
    assert best.epoch is None and best.value == math.inf
    with pytest.raises(RuntimeError, match="nothing to restore"):
        best.restore(model)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"monitor": 3}, r"monitor must be a record key .* got 3"),
        ({"mode": "lowest"}, r"unknown mode 'lowest'; valid choices: max, min"),
        ({"patience": 0}, r"patience must be >= 1, got 0"),
        ({"patience": 2.5}, r"patience must be an integer >= 1, got 2.5"),
        ({"min_delta": -0.1}, r"min_delta must be a finite number >= 0, got -0.1"),
        ({"min_delta": float("nan")}, r"min_delta .* got nan"),
        ({"min_delta": float("inf")}, r"min_delta .* got inf"),
        ({"min_delta": "0"}, r"min_delta .* got '0'"),
    ],
)
def test_best_weights_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.BestWeights(**kwargs)


# --------------------------------------------------------------------------- epochs_to_target


def test_epochs_to_target_interpolates_the_crossing():
    assert train.epochs_to_target([1.5, 1.3, 1.2, 1.1], 1.25) == 1.5
    assert train.epochs_to_target([1.5, 1.0], 1.25) == 0.5
    assert train.epochs_to_target([1.2, 1.0], 1.25) == 0.0
    assert train.epochs_to_target([1.5, 1.4], 1.25) == math.inf
    assert train.epochs_to_target([2.0, 1.0, 0.5], 1.0) == 1.0, "reaching is <=, not <"
    assert train.epochs_to_target([2.0, 3.0, 1.0], 1.5) == 1.75, "the first crossing counts"
    assert train.epochs_to_target([5.0], 1.0) == math.inf
    assert train.epochs_to_target(np.array([1.5, 1.0]), 1.25) == 0.5


def test_epochs_to_target_matches_the_study_on_random_curves():
    rng = np.random.default_rng(0)
    for _ in range(500):
        curve = list(np.cumsum(rng.normal(-0.1, 0.3, rng.integers(1, 12))) + 2.0)
        curve = [float(v) for v in curve]
        target = float(rng.uniform(0.5, 2.5))
        assert train.epochs_to_target(curve, target) == study_epochs_to_target(curve, target)


def test_epochs_to_target_for_rising_curves_and_later_starts():
    assert train.epochs_to_target([0.2, 0.6, 0.9], 0.8, mode="max") == pytest.approx(
        1 + 2 / 3, abs=1e-15
    )
    assert train.epochs_to_target([0.9, 0.95], 0.8, mode="max") == 0.0
    assert train.epochs_to_target([0.2, 0.3], 0.8, mode="max") == math.inf
    assert train.epochs_to_target([1.5, 1.0], 1.25, first_epoch=1) == 1.5
    assert train.epochs_to_target([1.0], 1.25, first_epoch=1) == 1.0


def test_epochs_to_target_skips_nan():
    assert train.epochs_to_target([float("nan"), 2.0, 1.0], 1.5) == 1.5
    assert train.epochs_to_target([2.0, float("nan"), float("nan")], 1.5) == math.inf


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (([], 1.0), {}, "at least one value"),
        (([1.0], float("nan")), {}, r"target must be a finite number, got nan"),
        (([1.0], "1"), {}, r"target must be a finite number, got '1'"),
        (([1.0], 1.0), {"mode": "down"}, r"unknown mode 'down'"),
        (([1.0], 1.0), {"first_epoch": -1}, r"first_epoch must be >= 0, got -1"),
    ],
)
def test_epochs_to_target_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.epochs_to_target(*args, **kwargs)
