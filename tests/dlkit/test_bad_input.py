"""Bad input to dlkit gets one clear ValueError, never silent garbage (issue 15, item 1).

The contract: every public constructor and every ``fit`` / ``evaluate`` argument rejects a
non-finite, wrong-typed or out-of-range value with a ValueError whose message names the
argument, the value and what is allowed (``"<argument> must be <allowed>, got <value>"``).
``CASES`` lists one bad value per row; ``test_bad_argument_is_a_clear_value_error`` checks the
contract on each. The tests after it pin the defects the adversarial pass found one by one,
and the few things that must stay accepted (a diverging run is data, not an error; an
optimizer over part of the model fine-tunes that part).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from dlkit import losses, nn, optim, regularizers, train

N, D, C = 12, 4, 3


def _model(seed: int = 0) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Dense(D, 8, rng=rng), nn.ReLU(), nn.Dense(8, C, rng=rng))


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, D)).astype(np.float32), rng.integers(0, C, N)


def _with(array: np.ndarray, index: tuple, value: float) -> np.ndarray:
    out = array.astype(np.float32 if array.dtype.kind == "f" else np.float64, copy=True)
    out[index] = value
    return out


def fit_with(**overrides):
    """``train.fit`` on a small MLP and random data, with some arguments replaced."""
    model = overrides.pop("model") if "model" in overrides else _model()
    X, y = _data()
    if "optimizer" not in overrides:
        trained = model if isinstance(model, nn.Layer) else _model()
        overrides["optimizer"] = optim.SGD(trained.parameters(), lr=0.1)
    kwargs = {
        "loss": losses.CrossEntropyLoss(),
        "X": X,
        "y": y,
        "epochs": 2,
        "batch_size": 4,
        "rng": np.random.default_rng(0),
    }
    kwargs.update(overrides)
    return train.fit(
        model,
        kwargs.pop("loss"),
        kwargs.pop("optimizer"),
        kwargs.pop("X"),
        kwargs.pop("y"),
        **kwargs,
    )


def evaluate_with(**overrides):
    """``train.evaluate`` on a small MLP and random data, with some arguments replaced."""
    X, y = _data()
    kwargs = {"model": _model(), "loss": losses.CrossEntropyLoss(), "X": X, "y": y}
    kwargs.update(overrides)
    return train.evaluate(
        kwargs.pop("model"), kwargs.pop("loss"), kwargs.pop("X"), kwargs.pop("y"), **kwargs
    )


def _params():
    return _model().parameters()


@dataclass(frozen=True)
class Case:
    """One bad argument: ``call(value)`` must raise a ValueError naming ``argument``,
    showing ``shown`` (the value's repr unless given) and saying what ``must`` be."""

    id: str
    call: Callable[[object], object]
    argument: str
    value: object
    shown: str | None = None

    @property
    def text(self) -> str:
        return repr(self.value) if self.shown is None else self.shown


X0, Y0 = _data()
NAN, INF = float("nan"), float("inf")


def _constructor_cases() -> list[Case]:
    cases = []

    def add(label, call, argument, *values):
        for v in values:
            cases.append(Case(f"{label}-{argument}={v!r}", call, argument, v))

    add("Dense", lambda v: nn.Dense(v, 8), "in_features", 4.5, True, 0, "4", None)
    add("Dense", lambda v: nn.Dense(4, v), "out_features", 2.0, False, -1)
    add("Dense", lambda v: nn.Dense(4, 8, bias=v), "bias", "yes", 1, None)
    add("Dense", lambda v: nn.Dense(4, 8, rng=v), "rng", 0, "seed")
    add("Conv1d", lambda v: nn.Conv1d(v, 2, 3), "in_channels", 2.5, True, 0)
    add("Conv1d", lambda v: nn.Conv1d(2, 2, v), "kernel_size", 0, 1.5)
    add("Conv2d", lambda v: nn.Conv2d(2, 2, 3, bias=v), "bias", "no")
    add("Conv2d", lambda v: nn.Conv2d(2, 2, 3, rng=v), "rng", 7)
    add("MaxPool1d", lambda v: nn.MaxPool1d(v), "kernel_size", 0, 2.0, True)
    add("AvgPool2d", lambda v: nn.AvgPool2d(2, stride=v), "stride", 0, 1.5)
    add("BatchNorm1d", lambda v: nn.BatchNorm1d(v), "num_features", 0, 4.5, True, "4")
    add("BatchNorm1d", lambda v: nn.BatchNorm1d(4, momentum=v), "momentum", NAN, 1.5, "0.1")
    add("BatchNorm1d", lambda v: nn.BatchNorm1d(4, eps=v), "eps", -1e-5, INF, NAN, "1e-5")
    add("LayerNorm", lambda v: nn.LayerNorm(v), "normalized_shape", 0, 2.5, False, (3, 0), ())
    add("BatchNorm2d", lambda v: nn.BatchNorm2d(v), "num_features", 0, 2.5, True)
    add("BatchNorm2d", lambda v: nn.BatchNorm2d(4, affine=v), "affine", 1, "yes")
    add("BatchNorm1d", lambda v: nn.BatchNorm1d(4, track_running_stats=v), "track_running_stats", 0)
    add("GroupNorm", lambda v: nn.GroupNorm(v, 4), "num_groups", 0, 1.5, 3)
    add("GroupNorm", lambda v: nn.GroupNorm(2, v), "num_channels", 0, 5)
    add("GroupNorm", lambda v: nn.GroupNorm(2, 4, eps=v), "eps", -1.0, NAN)
    add("InstanceNorm1d", lambda v: nn.InstanceNorm1d(v), "num_features", 0, "3")
    add("InstanceNorm2d", lambda v: nn.InstanceNorm2d(3, momentum=v), "momentum", 2.0, "0.1")
    add("LayerNorm", lambda v: nn.LayerNorm(4, eps=v), "eps", -1.0, NAN)
    add("Dropout", lambda v: nn.Dropout(v), "p", NAN, 1.0, "0.5", True)
    add("Dropout", lambda v: nn.Dropout(0.5, rng=v), "rng", 3)
    add("LeakyReLU", lambda v: nn.LeakyReLU(negative_slope=v), "negative_slope", -1, NAN, INF)
    add("LeakyReLU", lambda v: nn.LeakyReLU(negative_slope=v), "negative_slope", "0.1")
    add("ELU", lambda v: nn.ELU(alpha=v), "alpha", -1.0, NAN, "1")
    add("PReLU", lambda v: nn.PReLU(init=v), "init", NAN, INF, "0.25")
    add("Sequential", lambda v: nn.Sequential(nn.ReLU(), v), "Sequential item 1", 5, "relu")

    all_optimizers = (optim.SGD, optim.Adagrad, optim.Adadelta, optim.RMSprop)
    all_optimizers += (optim.Adam, optim.AdamW)
    for cls in all_optimizers:
        name = cls.__name__
        add(name, lambda v, c=cls: c(_params(), lr=v), "lr", INF, NAN, -1.0, "0.1", True, None)
        if cls is not optim.SGD:
            add(name, lambda v, c=cls: c(_params(), lr=0.1, eps=v), "eps", INF, "1e-8")
        add(name, lambda v, c=cls: c(_params(), lr=0.1, weight_decay=v), "weight_decay", INF)
        add(name, lambda v, c=cls: c(v, lr=0.1), "params", 5, "weights")
    add("SGD", lambda v: optim.SGD(_params(), lr=0.1, momentum=v), "momentum", INF, "0.9")
    add("SGD", lambda v: optim.SGD(_params(), lr=0.1, dampening=v), "dampening", NAN, "0")
    add("SGD", lambda v: optim.SGD(_params(), lr=0.1, momentum=0.9, nesterov=v), "nesterov", 1)
    add("Adam", lambda v: optim.Adam(_params(), betas=(v, 0.999)), "betas[0]", NAN, "0.9", True)
    add("Adam", lambda v: optim.Adam(_params(), betas=v), "betas", "0.9", 0.9)
    add("Adam", lambda v: optim.Adam(_params(), amsgrad=v), "amsgrad", "no")
    add("AdamW", lambda v: optim.AdamW(_params(), amsgrad=v), "amsgrad", 0)
    add("Adadelta", lambda v: optim.Adadelta(_params(), rho=v), "rho", NAN, "0.9")
    add("Adagrad", lambda v: optim.Adagrad(_params(), lr_decay=v), "lr_decay", INF)
    add("RMSprop", lambda v: optim.RMSprop(_params(), alpha=v), "alpha", NAN, "0.99")
    add("RMSprop", lambda v: optim.RMSprop(_params(), centered=v), "centered", "yes")
    add("build", lambda v: optim.build("adam", _params(), lr=v), "lr", INF, "0.001")
    add("L1", lambda v: regularizers.L1(v), "lam", INF, NAN, "0.1")
    add("L2", lambda v: regularizers.L2(v), "lam", INF, -1.0)
    add("clip_grad_norm", lambda v: optim.clip_grad_norm(_params(), v), "max_norm", INF, "1")
    add("clip_grad_value", lambda v: optim.clip_grad_value(_params(), v), "clip_value", -1.0, NAN)
    add("clip_grad_value", lambda v: optim.clip_grad_value(_params(), v), "clip_value", "1")
    return cases


def _with_y_val(**overrides):
    return fit_with(y_val=Y0, **overrides)


def _with_x_val(**overrides):
    return fit_with(X_val=X0, **overrides)


def _fit_cases() -> list[Case]:
    cases = []

    def add(argument, *values, shown=None, via=fit_with, label="fit"):
        for i, v in enumerate(values):
            text = None if shown is None else shown[i]
            call = lambda x, a=argument: via(**{a: x})  # noqa: E731
            cases.append(Case(f"{label}-{argument}-{len(cases)}", call, argument, v, text))

    add("model", 5, "mlp")
    add("loss", "cross_entropy", None)
    add("optimizer", "sgd", None, shown=["'sgd'", "None"])
    add("X", X0.tolist(), shown=["list"])
    add("X", X0[:0], shown=["an empty array of shape (0, 4)"])
    add("X", _with(X0, (3, 1), NAN), shown=["nan, at index (3, 1)"])
    add("X", _with(X0, (0, 2), INF), shown=["inf, at index (0, 2)"])
    add("X", X0.astype(str), shown=["dtype <U"])
    add("y", _with(Y0, (5,), NAN), shown=["nan, at index (5,)"])
    add("y", Y0.tolist(), shown=["list"])
    add("y", Y0[:-1], shown=[f"({N}), got {N - 1}"])
    add("y", Y0.astype(np.float32), Y0 > 0, shown=["dtype float32", "dtype bool"])
    add("y", Y0[:, None], shown=[f"shape ({N}, 1)"])
    add("y", Y0 - 1, shown=["-1"])
    add("epochs", 1.5, "2", -1, True, None)
    add("batch_size", 0, 2.5, "4", INF)
    add("X_val", _with(X0, (1, 1), NAN), shown=["nan, at index (1, 1)"], via=_with_y_val)
    add("y_val", Y0[:5], shown=[f"({N}), got 5"], via=_with_x_val)
    add("rng", None, 0)
    add("callbacks", train.BestWeights("train_loss"), [5], shown=["BestWeights(", "5"])
    add("regularizer", "l2", 0.01)
    add("clip_norm", INF, NAN, -1.0, "1")
    add("clip_value", INF, NAN, -1.0, "1")
    add("record_initial", "yes", 1)
    add("model", 5, via=evaluate_with, label="evaluate")
    add("loss", "mse", via=evaluate_with, label="evaluate")
    add("X", _with(X0, (2, 0), NAN), via=evaluate_with, label="evaluate", shown=["nan"])
    add("X", _with(X0, (2, 0), -INF), via=evaluate_with, label="evaluate", shown=["-inf"])
    add("X", X0[:0], via=evaluate_with, label="evaluate", shown=["empty"])
    add("X", X0.tolist(), via=evaluate_with, label="evaluate", shown=["list"])
    add("y", Y0[:3], via=evaluate_with, label="evaluate", shown=[f"({N}), got 3"])
    add("y", Y0.astype(float), via=evaluate_with, label="evaluate", shown=["float64"])
    add("batch_size", 0, 1.5, via=evaluate_with, label="evaluate")
    return cases


CASES = _constructor_cases() + _fit_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_argument_is_a_clear_value_error(case):
    with pytest.raises(ValueError) as info:
        case.call(case.value)
    message = str(info.value)
    assert case.argument in message, message
    assert case.text in message, message
    assert " must " in message, message


# --------------------------------------------------------------------------- the defects


def test_optimizer_over_another_models_parameters_is_refused():
    model, other = _model(0), _model(1)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"optimizer must be built over model\.parameters\(\)"):
        fit_with(model=model, optimizer=optim.Adam(other.parameters(), lr=0.1))
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)


def test_optimizer_over_part_of_the_model_still_fine_tunes_that_part():
    """Freezing layers is legitimate: only parameters outside the model are refused."""
    model = _model()
    head = model[2]
    first = model[0].weight.data.copy()
    head_before = head.weight.data.copy()
    fit_with(model=model, optimizer=optim.SGD(head.parameters(), lr=0.1))
    np.testing.assert_array_equal(model[0].weight.data, first)
    assert np.any(head.weight.data != head_before)


def test_fit_on_empty_data_raises_instead_of_reporting_zero_loss():
    with pytest.raises(ValueError, match=r"X must hold at least 1 sample\(s\), got an empty"):
        fit_with(X=X0[:0], y=Y0[:0])


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
@pytest.mark.parametrize("argument", ["X", "X_val"])
def test_non_finite_input_is_an_error_not_a_divergence(argument, bad):
    X = _with(X0, (4, 3), bad)
    extra = {"X_val": X, "y_val": Y0} if argument == "X_val" else {"X": X}
    with pytest.raises(ValueError, match=rf"^{argument} must hold only finite values"):
        fit_with(**extra)


def test_evaluate_on_nan_input_raises_instead_of_returning_a_loss():
    with pytest.raises(ValueError, match=r"^X must hold only finite values, got 1 NaN"):
        evaluate_with(X=_with(X0, (0, 0), NAN))


def test_a_diverging_training_run_is_still_recorded_as_diverged():
    X = (1e3 * X0).astype(np.float32)
    model = _model()
    history = fit_with(model=model, X=X, optimizer=optim.SGD(model.parameters(), lr=1e6))
    assert history.diverged is True
    assert history[-1]["diverged"] == 1.0 and len(history) == history.diverged_epoch


@pytest.mark.parametrize(
    ("make_loss", "target", "match"),
    [
        (losses.CrossEntropyLoss, -np.full((4, 3), 1 / 3), r"probabilities in \[0, 1\]"),
        (losses.CrossEntropyLoss, np.full((4, 3), 1.5), r"got values in \[1.5, 1.5\]"),
        (losses.BCEWithLogitsLoss, np.full((4, 3), 2.0), r"target must hold probabilities"),
        (losses.BCEWithLogitsLoss, np.full((4, 3), -0.5), r"got values in \[-0.5, -0.5\]"),
    ],
)
def test_probability_targets_outside_the_unit_interval(make_loss, target, match):
    pred = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        make_loss().forward(pred, target.astype(np.float32))


def test_bce_target_outside_the_unit_interval_fails_fit_before_training():
    model = nn.Sequential(nn.Dense(D, 1, rng=np.random.default_rng(0)))
    y = np.full((N, 1), 2.0, np.float32)
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss: y must hold probabilities"):
        fit_with(
            model=model,
            loss=losses.BCEWithLogitsLoss(),
            optimizer=optim.SGD(model.parameters(), lr=0.1),
            y=y,
        )


def test_soft_targets_need_not_sum_to_one_as_in_torch():
    """torch accepts rows of class weights in [0, 1] that do not sum to 1; so does dlkit."""
    pred = np.zeros((2, 3), np.float32)
    value = losses.CrossEntropyLoss().forward(pred, np.array([[1, 1, 0], [0.5, 0, 0]], "f4"))
    assert value == pytest.approx((2 + 0.5) / 2 * math.log(3), rel=1e-6)


@pytest.mark.parametrize(("given", "missing"), [("X_val", "y_val"), ("y_val", "X_val")])
def test_validation_needs_both_arrays(given, missing):
    value = X0 if given == "X_val" else Y0
    with pytest.raises(ValueError, match=rf"^{missing} must be given with {given}"):
        fit_with(**{given: value})


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (Y0.astype(np.float64), r"y of shape \(N,\) must hold integer class labels, got dtype"),
        (Y0 > 0, r"must hold integer class labels, got dtype bool"),
        (Y0[:, None], r"got integer labels of shape \(12, 1\) \(use y\.ravel\(\)\)"),
    ],
    ids=["float-labels", "bool-labels", "column-labels"],
)
def test_class_labels_of_the_wrong_kind_say_so(y, match):
    with pytest.raises(ValueError, match=match):
        fit_with(y=y)


@pytest.mark.parametrize(
    "target", [np.array([0.0, 1, 2, 1]), np.array([[0], [1], [2], [1]])], ids=["float", "column"]
)
def test_cross_entropy_forward_explains_label_shape_and_dtype(target):
    pred = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"integer class labels of shape \(4,\) or class prob"):
        losses.CrossEntropyLoss().forward(pred, target)


@pytest.mark.parametrize("layer", [nn.Dense(4, 2), nn.ReLU(), nn.LayerNorm(4), nn.Flatten()])
def test_forward_on_a_list_names_the_layer_and_the_type(layer):
    with pytest.raises(ValueError, match=r"x must be a numpy array .*got list"):
        layer.forward([[1.0, 2.0, 3.0, 4.0]], train=False)


def test_learning_rate_assigned_later_is_checked_too():
    opt = optim.SGD(_params(), lr=0.1)
    with pytest.raises(ValueError, match=r"^lr must be a finite number >= 0, got inf$"):
        opt.lr = INF
    assert opt.lr == 0.1
