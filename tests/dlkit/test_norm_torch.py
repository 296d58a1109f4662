"""Normalization layers and gradient clipping against PyTorch at rtol 1e-5 (float32).

The registry cases (``test_layers_contract.REGISTRY``) already get the contract, float64
gradient checks and a torch comparison at the suite's rtol 1e-4; here every normalization
case is compared again at 1e-5, plus what a single forward cannot show: running statistics
after several training steps (momentum, the cumulative average, unbiased variance), eval mode
after them, batch sizes 1 and 2, and the clipping functions and ``fit``'s clip options.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_layers_contract import REGISTRY, registry_params
from test_torch_reference import _tensor, assert_close, torch_pass, twin

from dlkit import losses, nn, optim, train
from dlkit.data import minibatches
from dlkit.optim.clip import grad_norm_of

torch = pytest.importorskip("torch", reason="PyTorch reference tests need torch")

pytestmark = pytest.mark.torch

RTOL = 1e-5
NORM_CLASSES = {"BatchNorm1d", "BatchNorm2d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d"}
NORM_CASES = [n for n, c in REGISTRY.items() if c.cls in NORM_CLASSES | {"LayerNorm"}]


def _pass(layer, module, x, dy, *, train_mode):
    layer.zero_grad()
    y = layer.forward(x, train=train_mode)
    dx = layer.backward(dy)
    y_ref, dx_ref = torch_pass(module, x, dy, train=train_mode)
    return y, dx, y_ref, dx_ref


def _compare(layer, module, pairs, x, dy, *, train_mode, what=""):
    for _, tp, _ in pairs:
        tp.grad = None
    y, dx, y_ref, dx_ref = _pass(layer, module, x, dy, train_mode=train_mode)
    assert_close(y, y_ref, RTOL, f"forward {what}")
    assert_close(dx, dx_ref, RTOL, f"input gradient {what}")
    for p, tp, layout in pairs:
        assert_close(p.grad, layout(tp.grad.numpy()), RTOL, f"{p.name} gradient {what}")


@pytest.mark.parametrize("train_mode", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", registry_params(NORM_CASES))
def test_norm_case_matches_torch_at_1e_5(name, train_mode, rng):
    case = REGISTRY[name]
    layer = case.build(rng)
    if not train_mode:
        layer.forward(case.sample(rng), train=True)
    module, pairs = twin(layer)
    x = (1.5 + 2 * case.sample(rng)).astype(np.float32)
    dy = rng.standard_normal(case.out_shape).astype(np.float32)
    _compare(layer, module, pairs, x, dy, train_mode=train_mode)


def _jittered(layer, rng):
    for p in layer.parameters():
        p.data[...] = (1.0 if p.name == "gamma" else 0.0) + 0.4 * rng.standard_normal(p.shape)
    return layer


RUNNING = [
    ("BatchNorm1d", (16, 4), {}),
    ("BatchNorm1d", (8, 4, 6), {"momentum": 0.3}),
    ("BatchNorm1d", (8, 4), {"momentum": None}),
    ("BatchNorm1d", (2, 4), {}),
    ("BatchNorm2d", (4, 4, 3, 5), {}),
    ("BatchNorm2d", (3, 4, 2, 2), {"momentum": None, "affine": False}),
    ("BatchNorm2d", (2, 4, 1, 1), {"momentum": 0.5}),
    ("InstanceNorm1d", (3, 4, 7), {"track_running_stats": True, "affine": True}),
    ("InstanceNorm2d", (2, 4, 3, 3), {"track_running_stats": True, "momentum": None}),
]


@pytest.mark.parametrize("cls, shape, kwargs", RUNNING, ids=[f"{c}-{s}-{k}" for c, s, k in RUNNING])
def test_running_statistics_and_eval_after_training_steps_match_torch(cls, shape, kwargs, rng):
    layer = _jittered(getattr(nn, cls)(4, **kwargs), rng)
    module, pairs = twin(layer)
    for step in range(6):
        x = (step - 2 + (1 + step) * rng.standard_normal(shape)).astype(np.float32)
        dy = rng.standard_normal(shape).astype(np.float32)
        _compare(layer, module, pairs, x, dy, train_mode=True, what=f"train step {step}")
    steps = 0 if cls.startswith("Instance") else 6  # torch's InstanceNorm counts no batches
    assert layer.num_batches_tracked == int(module.num_batches_tracked) == steps
    assert_close(layer.running_mean, module.running_mean, RTOL, "running mean")
    assert_close(layer.running_var, module.running_var, RTOL, "running variance")
    for n in (1, shape[0]):  # eval mode takes a single sample too
        x = (2 + 3 * rng.standard_normal((n, *shape[1:]))).astype(np.float32)
        dy = rng.standard_normal(x.shape).astype(np.float32)
        _compare(layer, module, pairs, x, dy, train_mode=False, what=f"eval, batch {n}")


def test_running_variance_is_unbiased_and_the_output_uses_the_biased_one(rng):
    layer = nn.BatchNorm2d(2, momentum=1.0)
    x = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    y = layer.forward(x, train=True)
    per_channel = x.transpose(1, 0, 2, 3).reshape(2, -1)
    np.testing.assert_allclose(layer.running_var, per_channel.var(axis=1, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(layer.running_mean, per_channel.mean(axis=1), atol=1e-6)
    biased = (per_channel - per_channel.mean(1, keepdims=True)) / np.sqrt(
        per_channel.var(axis=1, keepdims=True) + 1e-5
    )
    np.testing.assert_allclose(y.transpose(1, 0, 2, 3).reshape(2, -1), biased, atol=1e-5)


ONE_VALUE = [
    ("BatchNorm1d", (1, 3), {}, True),
    ("BatchNorm1d", (1, 3, 1), {}, True),
    ("BatchNorm2d", (1, 3, 1, 1), {}, True),
    ("BatchNorm1d", (1, 3), {"track_running_stats": False}, False),
    ("InstanceNorm1d", (4, 3, 1), {}, True),
    ("InstanceNorm2d", (2, 3, 1, 1), {}, False),
]


@pytest.mark.parametrize(
    "cls, shape, kwargs, train_mode",
    ONE_VALUE,
    ids=[f"{c}-{s}-{'train' if t else 'eval'}-{k}" for c, s, k, t in ONE_VALUE],
)
def test_one_value_per_channel_raises_a_value_error_as_torch(cls, shape, kwargs, train_mode, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    layer = getattr(nn, cls)(3, **kwargs)
    with pytest.raises(ValueError, match="expected more than 1"):
        layer.forward(x, train=train_mode)
    module = getattr(torch.nn, cls)(3, **kwargs).train(train_mode)
    with pytest.raises(ValueError, match="Expected more than 1"):
        module(_tensor(x))


def test_batchnorm_single_sample_is_fine_in_eval_and_with_positions(rng):
    layer = nn.BatchNorm1d(3)
    layer.forward(rng.standard_normal((5, 3)).astype(np.float32), train=True)
    module, pairs = twin(layer)
    x = rng.standard_normal((1, 3)).astype(np.float32)
    _compare(layer, module, pairs, x, np.ones_like(x), train_mode=False)
    x = rng.standard_normal((1, 3, 4)).astype(np.float32)  # N = 1 but L = 4 values
    _compare(
        layer, module, pairs, x, rng.standard_normal(x.shape).astype(np.float32), train_mode=True
    )


def test_instance_norm_defaults_are_torchs():
    for cls in ("InstanceNorm1d", "InstanceNorm2d"):
        ours, theirs = getattr(nn, cls)(3), getattr(torch.nn, cls)(3)
        assert ours.affine is theirs.affine is False
        assert ours.track_running_stats is theirs.track_running_stats is False
        assert ours.parameters() == [] and ours.running_mean is None
        assert ours.eps == theirs.eps and ours.momentum == theirs.momentum


def test_batchnorm_and_norm_defaults_are_torchs():
    pairs = [
        (nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)),
        (nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
    ]
    for ours, theirs in pairs:
        assert (ours.eps, ours.momentum, ours.affine, ours.track_running_stats) == (
            theirs.eps,
            theirs.momentum,
            theirs.affine,
            theirs.track_running_stats,
        )
    assert nn.GroupNorm(2, 4).eps == torch.nn.GroupNorm(2, 4).eps
    assert nn.LayerNorm((2, 3)).normalized_shape == torch.nn.LayerNorm((2, 3)).normalized_shape


def test_untracked_batchnorm_uses_batch_statistics_in_eval(rng):
    layer = nn.BatchNorm1d(3, track_running_stats=False)
    x = (4 + 2 * rng.standard_normal((10, 3))).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x, train=False), layer.forward(x, train=True))
    assert layer.running_mean is None and layer.num_batches_tracked == 0


def test_group_norm_is_independent_of_the_rest_of_the_batch(rng):
    layer = _jittered(nn.GroupNorm(2, 4), rng)
    x = rng.standard_normal((5, 4, 6)).astype(np.float32)
    whole = layer.forward(x, train=True)
    alone = layer.forward(x[2:3], train=True)
    np.testing.assert_allclose(whole[2:3], alone, rtol=1e-6)


def test_group_norm_extremes_are_instance_norm_and_layer_norm(rng):
    x = (3 + rng.standard_normal((3, 4, 5))).astype(np.float32)
    instance = nn.InstanceNorm1d(4).forward(x, train=True)
    np.testing.assert_allclose(nn.GroupNorm(4, 4).forward(x, train=True), instance, atol=1e-5)
    layer = nn.LayerNorm((4, 5)).forward(x, train=True)
    np.testing.assert_allclose(nn.GroupNorm(1, 4).forward(x, train=True), layer, atol=1e-5)


def test_layer_norm_over_two_trailing_dims_matches_torch(rng):
    layer = _jittered(nn.LayerNorm((3, 4)), rng)
    module, pairs = twin(layer)
    x = (2 + rng.standard_normal((2, 5, 3, 4))).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    _compare(layer, module, pairs, x, dy, train_mode=True)
    with pytest.raises(ValueError, match=r"expects input of shape \(\.\.\., 3, 4\)"):
        layer.forward(x.transpose(0, 1, 3, 2).copy(), train=True)


# --------------------------------------------------------------------------- clipping


def _param_pairs(rng, scale=3.0):
    shapes = [(4, 3), (3,), (2, 2, 2)]
    ours, theirs = [], []
    for i, shape in enumerate(shapes):
        p = nn.Parameter(np.zeros(shape, np.float32), "weight" if i != 1 else "bias")
        p.grad[...] = scale * rng.standard_normal(shape)
        tp = torch.zeros(shape, requires_grad=True)
        tp.grad = torch.from_numpy(p.grad.copy())
        ours.append(p)
        theirs.append(tp)
    return ours, theirs


@pytest.mark.parametrize("clip_value", [0.0, 0.5, 2.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value, rng):
    ours, theirs = _param_pairs(rng)
    assert optim.clip_grad_value(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad, tp.grad.numpy())
        assert np.max(np.abs(p.grad)) <= clip_value


def test_clip_grad_value_keeps_nan_as_torch_and_counts_shared_params_once():
    p = nn.Parameter(np.zeros(3, np.float32), "weight")
    p.grad[...] = [np.nan, -5.0, 0.25]
    tp = torch.nn.Parameter(torch.zeros(3))
    tp.grad = torch.from_numpy(p.grad.copy())
    optim.clip_grad_value([p, p], 1.0)
    torch.nn.utils.clip_grad_value_([tp], 1.0)
    np.testing.assert_array_equal(p.grad, tp.grad.numpy())  # NaN where torch has NaN
    np.testing.assert_array_equal(p.grad[1:], [-1.0, 0.25])


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e3])
def test_clip_grad_norm_matches_torch_and_keeps_the_direction(max_norm, rng):
    ours, theirs = _param_pairs(rng)
    raw = np.concatenate([p.grad.ravel() for p in ours])
    total = optim.clip_grad_norm(ours, max_norm)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    np.testing.assert_allclose(total, float(ttotal), rtol=RTOL)
    for p, tp in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=RTOL, atol=1e-9)
    clipped = np.concatenate([p.grad.ravel() for p in ours])
    cosine = raw @ clipped / (np.linalg.norm(raw) * np.linalg.norm(clipped))
    assert cosine == pytest.approx(1.0, abs=1e-6)


def test_clip_by_value_turns_the_gradient_clip_by_norm_does_not(rng):
    ours, _ = _param_pairs(rng)
    raw = np.concatenate([p.grad.ravel() for p in ours])
    optim.clip_grad_value(ours, 0.5)
    clipped = np.concatenate([p.grad.ravel() for p in ours])
    cosine = raw @ clipped / (np.linalg.norm(raw) * np.linalg.norm(clipped))
    assert cosine < 0.99


# --------------------------------------------------------------------------- fit


class _Recorder:
    """An optimizer wrapper recording the global gradient norm and the largest element
    that ``step`` sees (after any clipping)."""

    def __init__(self, inner):
        self.inner = inner
        self.params = inner.params
        self.norms: list[float] = []
        self.largest: list[float] = []

    @property
    def lr(self):
        return self.inner.lr

    def zero_grad(self):
        self.inner.zero_grad()

    def step(self):
        self.norms.append(grad_norm_of(p.grad for p in self.params))
        self.largest.append(max(float(np.max(np.abs(p.grad))) for p in self.params))
        self.inner.step()


def _setup(seed=0, n=40):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5)).astype(np.float32)
    y = rng.integers(0, 3, n)
    model = nn.Sequential(
        nn.Dense(5, 8, rng=rng), nn.BatchNorm1d(8), nn.ReLU(), nn.Dense(8, 3, rng=rng)
    )
    return model, X, y


def test_fit_records_pre_clip_gradient_norms_per_epoch():
    model, X, y = _setup()
    opt = _Recorder(optim.SGD(model.parameters(), lr=0.5))
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=3,
        batch_size=8,
        rng=np.random.default_rng(1),
        clip_norm=1e30,
    )
    steps = 5  # 40 samples in batches of 8
    for e, record in enumerate(history):
        norms = opt.norms[e * steps : (e + 1) * steps]
        assert record["grad_norm_mean"] == pytest.approx(np.mean(norms), rel=1e-6)
        assert record["grad_norm_max"] == pytest.approx(np.max(norms), rel=1e-6)


def test_fit_clip_norm_clips_after_recording():
    model, X, y = _setup()
    opt = _Recorder(optim.SGD(model.parameters(), lr=0.5))
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=2,
        batch_size=8,
        rng=np.random.default_rng(1),
        clip_norm=0.05,
    )
    assert max(opt.norms) <= 0.05 * (1 + 1e-5)
    assert min(r["grad_norm_max"] for r in history) > 0.05, "the record is the pre-clip norm"


def test_fit_clip_value_equals_a_manual_loop_with_clip_grad_value():
    model, X, y = _setup()
    twin_model, _, _ = _setup()
    opt = _Recorder(optim.SGD(model.parameters(), lr=0.5))
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=2,
        batch_size=8,
        rng=np.random.default_rng(3),
        clip_value=0.02,
    )
    assert max(opt.largest) <= 0.02
    assert {"grad_norm_mean", "grad_norm_max"} <= set(history[0])

    loss = losses.CrossEntropyLoss()
    sgd = optim.SGD(twin_model.parameters(), lr=0.5)
    rng, norms = np.random.default_rng(3), []
    for _ in range(2):
        for xb, yb in minibatches(X, y, 8, rng):
            loss.forward(twin_model.forward(xb, train=True), yb)
            sgd.zero_grad()
            twin_model.backward(loss.backward())
            norms.append(grad_norm_of(p.grad for p in twin_model.parameters()))
            optim.clip_grad_value(twin_model.parameters(), 0.02)
            sgd.step()
    for p, q in zip(model.parameters(), twin_model.parameters(), strict=True):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-7)
    assert history[1]["grad_norm_max"] == pytest.approx(max(norms[5:]), rel=1e-6)


def test_fit_without_clipping_records_no_gradient_norms():
    model, X, y = _setup()
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        X,
        y,
        epochs=1,
        batch_size=8,
        rng=np.random.default_rng(0),
    )
    assert "grad_norm_mean" not in history[0] and "grad_norm_max" not in history[0]


def test_fit_refuses_both_clip_norm_and_clip_value():
    model, X, y = _setup()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match="clip_norm and clip_value") as info:
        train.fit(
            model,
            losses.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.1),
            X,
            y,
            epochs=1,
            batch_size=8,
            rng=np.random.default_rng(0),
            clip_norm=1.0,
            clip_value=0.5,
        )
    assert "clip_norm=1.0" in str(info.value) and "clip_value=0.5" in str(info.value)
    for a, p in zip(before, model.parameters(), strict=True):
        np.testing.assert_array_equal(a, p.data)
