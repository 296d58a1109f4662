"""Optimizers vs torch.optim, step by step; flat-buffer packing; build(); validation."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit import optim
from dlkit.nn.base import Parameter

SHAPES = {"weight": (5, 7), "bias": (7,), "conv.weight": (3, 2, 3), "gamma": (4,)}
STEPS = 25


def make_values(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(s)).astype(np.float32) for s in SHAPES.values()]


def make_params(values: list[np.ndarray]) -> list[Parameter]:
    return [Parameter(v.copy(), name=n.split(".")[-1]) for n, v in zip(SHAPES, values, strict=True)]


def mixed_scale_grads(seed: int = 1, steps: int = STEPS) -> list[list[np.ndarray]]:
    """Per-element magnitudes log-uniform in [1e-4, 1], random signs, fresh every step.

    Tiny magnitudes make ``sqrt(v)`` comparable to eps, so any misplaced eps shows; changing
    magnitudes across steps make AMSGrad's running maximum differ from ``v``.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        step = []
        for s in SHAPES.values():
            magnitude = 10.0 ** rng.uniform(-4, 0, size=s)
            step.append((rng.choice([-1.0, 1.0], size=s) * magnitude).astype(np.float32))
        out.append(step)
    return out


# (dlkit class name, kwargs); torch.optim uses the same class and argument names.
VARIANTS = {
    "sgd": ("SGD", {"lr": 0.05}),
    "sgd_momentum": ("SGD", {"lr": 0.05, "momentum": 0.9}),
    "sgd_dampening": ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    "sgd_nesterov": ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "sgd_weight_decay": ("SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    "sgd_nesterov_wd": (
        "SGD",
        {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.3},
    ),
    "adagrad": ("Adagrad", {"lr": 0.05}),
    "adagrad_decay_wd": (
        "Adagrad",
        {"lr": 0.05, "lr_decay": 0.1, "weight_decay": 0.05, "initial_accumulator_value": 0.1},
    ),
    "adagrad_eps": ("Adagrad", {"lr": 0.05, "eps": 1e-6}),
    "adadelta": ("Adadelta", {}),
    "adadelta_rho_wd": ("Adadelta", {"lr": 0.5, "rho": 0.5, "eps": 1e-7, "weight_decay": 0.1}),
    "rmsprop": ("RMSprop", {"lr": 0.01}),
    "rmsprop_momentum": ("RMSprop", {"lr": 0.01, "momentum": 0.5}),
    "rmsprop_centered": ("RMSprop", {"lr": 0.01, "centered": True}),
    "rmsprop_centered_momentum": (
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.3},
    ),
    "rmsprop_weight_decay": ("RMSprop", {"lr": 0.01, "weight_decay": 0.1}),
    "adam": ("Adam", {"lr": 0.01}),
    "adam_amsgrad": ("Adam", {"lr": 0.01, "amsgrad": True}),
    "adam_weight_decay": ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    "adam_betas_eps": ("Adam", {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-6}),
    "adamw": ("AdamW", {"lr": 0.01}),
    "adamw_amsgrad": ("AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
}


def torch_module():
    return pytest.importorskip(
        "torch", reason="PyTorch reference tests need torch (CI installs torch==2.13.0)"
    )


def run_both(cls_name, kwargs, values, grads, lr_schedule=None):
    """Run dlkit and torch side by side; yield (dlkit arrays, torch arrays) after each step."""
    torch = torch_module()
    params = make_params(values)
    opt = getattr(optim, cls_name)(params, **kwargs)
    tparams = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    topt = getattr(torch.optim, cls_name)(tparams, **kwargs)
    for t, step_grads in enumerate(grads):
        if lr_schedule is not None:
            opt.lr = lr_schedule(t)
            for group in topt.param_groups:
                group["lr"] = lr_schedule(t)
        opt.zero_grad()
        for p, tp, g in zip(params, tparams, step_grads, strict=True):
            p.grad += g
            tp.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        yield [p.data for p in params], [tp.detach().numpy() for tp in tparams]


def assert_same_trajectory(pairs, values):
    for t, (ours, theirs) in enumerate(pairs):
        for a, b, start in zip(ours, theirs, values, strict=True):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7, err_msg=f"step {t + 1}")
            # The displacement from the start is compared on its own scale, so a small
            # systematic difference (e.g. eps inside vs. outside a sqrt) cannot hide in atol.
            np.testing.assert_allclose(
                a - start, b - start, rtol=1e-4, atol=1e-7, err_msg=f"step {t + 1} displacement"
            )


@pytest.mark.torch
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_torch(variant):
    cls_name, kwargs = VARIANTS[variant]
    values = make_values()
    pairs = list(run_both(cls_name, kwargs, values, mixed_scale_grads()))
    assert len(pairs) >= 20
    assert_same_trajectory(pairs, values)
    # The run must actually have moved the parameters, or the comparison proves nothing.
    assert all(np.abs(a - v).max() > 1e-3 for a, v in zip(pairs[-1][0], values, strict=True))


@pytest.mark.torch
@pytest.mark.parametrize(
    "variant", ["sgd_momentum", "adagrad", "adadelta", "rmsprop_momentum", "adam", "adamw"]
)
def test_lr_change_between_steps_takes_effect(variant):
    cls_name, kwargs = VARIANTS[variant]
    values = make_values()

    def schedule(t):
        return [0.05, 0.0, 0.2][min(t // 8, 2)] * (kwargs.get("lr", 1.0) / 0.05)

    pairs = list(run_both(cls_name, kwargs, values, mixed_scale_grads(), lr_schedule=schedule))
    assert_same_trajectory(pairs, values)
    # Steps 9-16 run with lr 0: the parameters must not move (AdamW's decay scales with lr too).
    for before, after in zip(pairs[7][0], pairs[15][0], strict=True):
        np.testing.assert_array_equal(before, after)


def test_lr_setter_validates_and_stores_python_float():
    opt = optim.SGD(make_params(make_values()), lr=0.1)
    opt.lr = np.float64(0.5)
    assert type(opt.lr) is float and opt.lr == 0.5
    with pytest.raises(ValueError, match="lr must be >= 0, got -1"):
        opt.lr = -1


def test_float64_parameters_are_supported():
    values = [v.astype(np.float64) for v in make_values()]
    params = make_params(values)
    opt = optim.Adam(params, lr=0.1)
    for p in params:
        p.grad += 1.0
    opt.step()
    for p, v in zip(params, values, strict=True):
        assert p.data.dtype == np.float64
        np.testing.assert_allclose(p.data, v - 0.1, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Flat-buffer packing


def test_parameters_become_views_of_one_buffer_and_keep_their_values():
    values = make_values()
    params = make_params(values)
    params[0].grad[...] = 3.0  # a gradient accumulated before the optimizer exists survives
    opt = optim.SGD(params, lr=0.1)
    for p, v in zip(params, values, strict=True):
        np.testing.assert_array_equal(p.data, v)
        assert p.data.base is opt._data and p.grad.base is opt._grad
    np.testing.assert_array_equal(params[0].grad, 3.0)
    assert opt._data.size == sum(v.size for v in values)


def test_holder_of_the_parameter_sees_the_update():
    """A layer keeps the Parameter object and reads .data at each call: it sees each step."""
    param = Parameter(np.ones((2, 3), np.float32), name="weight")
    held = param  # what a layer keeps
    opt = optim.SGD([param], lr=0.5)
    held.grad += 1.0  # a layer's backward accumulates in place
    opt.step()
    np.testing.assert_array_equal(held.data, 0.5)


def test_zero_grad_clears_every_parameter():
    params = make_params(make_values())
    opt = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad += 1.0
    opt.zero_grad()
    assert all(not p.grad.any() for p in params)


def test_second_optimizer_reuses_the_buffer_without_rebinding():
    params = make_params(make_values())
    first = optim.SGD(params, lr=0.1)
    arrays = [(p.data, p.grad) for p in params]
    second = optim.Adam(params, lr=0.1)
    assert second._data is not None and np.shares_memory(second._data, first._data)
    assert all(p.data is d and p.grad is g for p, (d, g) in zip(params, arrays, strict=True))
    for p in params:
        p.grad += 1.0
    first.step()  # still bound: no RuntimeError
    second.step()
    np.testing.assert_allclose(params[1].data, make_values()[1] - 0.2, rtol=1e-5)


def test_optimizer_on_a_consecutive_subset_reuses_the_buffer():
    params = make_params(make_values())
    first = optim.SGD(params, lr=0.1)
    subset = optim.SGD(params[1:3], lr=0.1)
    assert np.shares_memory(subset._data, first._data)
    assert subset._data.size == params[1].size + params[2].size
    first.step()


def test_optimizer_on_a_non_consecutive_subset_disconnects_the_first_loudly():
    params = make_params(make_values())
    first = optim.SGD(params, lr=0.1)
    optim.SGD([params[0], params[2]], lr=0.1)  # must copy, rebinding those parameters
    with pytest.raises(RuntimeError, match="in place"):
        first.step()


@pytest.mark.parametrize("attribute", ["data", "grad"])
@pytest.mark.parametrize("method", ["step", "zero_grad"])
def test_rebinding_a_parameter_array_raises(attribute, method):
    params = make_params(make_values())
    opt = optim.Adam(params, lr=0.1)
    setattr(params[2], attribute, getattr(params[2], attribute).copy())
    with pytest.raises(RuntimeError, match=rf"'weight'.*\.{attribute} array was replaced"):
        getattr(opt, method)()


def test_in_place_updates_do_not_trip_the_guard():
    params = make_params(make_values())
    opt = optim.SGD(params, lr=0.1)
    params[0].data[...] = 1.0
    np.copyto(params[1].grad, 2.0)
    params[2].grad += 1.0
    opt.step()
    np.testing.assert_allclose(params[0].data, 1.0)
    np.testing.assert_allclose(params[1].data, make_values()[1] - 0.2, rtol=1e-6)


def test_duplicate_parameters_are_updated_once():
    values = make_values()
    params = make_params(values)
    opt = optim.SGD([params[0], params[1], params[0]], lr=0.1)
    assert len(opt.params) == 2
    params[0].grad += 1.0
    opt.step()
    np.testing.assert_allclose(params[0].data, values[0] - 0.1, rtol=1e-6)


def test_two_parameters_over_one_array_are_rejected():
    shared = np.zeros(4, np.float32)
    a, b = Parameter(shared, name="weight"), Parameter(shared, name="bias")
    with pytest.raises(ValueError, match="share memory"):
        optim.SGD([a, b], lr=0.1)


def test_mixed_dtypes_are_rejected():
    a = Parameter(np.zeros(3, np.float32), name="weight")
    b = Parameter(np.zeros(3, np.float64), name="bias")
    with pytest.raises(ValueError, match=r"'bias' has data float64.*float32"):
        optim.SGD([a, b], lr=0.1)


def test_empty_parameter_list_is_rejected():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])


def test_state_and_parameters_stay_float32():
    params = make_params(make_values())
    opt = optim.Adam(params, lr=np.float64(0.01), amsgrad=True, weight_decay=np.float64(0.1))
    for step_grads in mixed_scale_grads(steps=3):
        for p, g in zip(params, step_grads, strict=True):
            p.grad[...] = g
        opt.step()
    buffers = [opt._data, opt._grad, opt._exp_avg, opt._exp_avg_sq, opt._max_exp_avg_sq]
    assert all(b.dtype == np.float32 for b in buffers)
    assert all(p.data.dtype == np.float32 for p in params)


# ---------------------------------------------------------------------------------------------
# build() and validation


@pytest.mark.parametrize(
    ("name", "cls", "expected"),
    [
        ("sgd", optim.SGD, {"momentum": 0.0, "nesterov": False}),
        ("momentum", optim.SGD, {"momentum": 0.9, "nesterov": False}),
        ("nesterov", optim.SGD, {"momentum": 0.9, "nesterov": True}),
        ("adagrad", optim.Adagrad, {"eps": 1e-10}),
        ("adadelta", optim.Adadelta, {"rho": 0.9}),
        ("rmsprop", optim.RMSprop, {"alpha": 0.99}),
        ("adam", optim.Adam, {"betas": (0.9, 0.999), "weight_decay": 0.0}),
        ("adamw", optim.AdamW, {"betas": (0.9, 0.999), "weight_decay": 1e-2}),
    ],
)
def test_build_every_name(name, cls, expected):
    opt = optim.build(name, make_params(make_values()), lr=0.3)
    assert type(opt) is cls and opt.lr == 0.3
    for key, value in expected.items():
        assert getattr(opt, key) == value
    assert set(optim.NAMES) == {
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "adadelta",
        "rmsprop",
        "adam",
        "adamw",
    }


def test_build_overrides_the_alias_defaults():
    opt = optim.build("momentum", make_params(make_values()), lr=0.1, momentum=0.5)
    assert opt.momentum == 0.5
    opt = optim.build("adam", make_params(make_values()), betas=[0.8, 0.99])
    assert opt.betas == (0.8, 0.99) and opt.lr == 1e-3


def test_build_unknown_name_lists_choices():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamax'.*adadelta.*rmsprop.*sgd"):
        optim.build("adamax", make_params(make_values()), lr=0.1)


def test_build_bad_hyper_parameter_names_it_and_the_valid_ones():
    with pytest.raises(ValueError, match=r"'?momentum'?.*'adam'.*valid: lr, betas, eps"):
        optim.build("adam", make_params(make_values()), momentum=0.9)
    with pytest.raises(ValueError, match=r"nesterov.*'nesterov'; valid: lr, momentum"):
        optim.build("nesterov", make_params(make_values()), lr=0.1, nesterov=False)


def test_build_missing_lr_for_sgd():
    with pytest.raises(ValueError, match="'sgd' needs lr"):
        optim.build("sgd", make_params(make_values()))


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (optim.SGD, {"lr": -0.1}, "lr must be >= 0, got -0.1"),
        (optim.SGD, {"lr": float("nan")}, "lr must be a finite number >= 0, got nan"),
        (optim.SGD, {"lr": 0.1, "momentum": -0.5}, "momentum must be >= 0, got -0.5"),
        (optim.SGD, {"lr": 0.1, "nesterov": True}, r"nesterov=True requires.*momentum=0.0"),
        (
            optim.SGD,
            {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
            r"dampening == 0.*dampening=0.1",
        ),
        (optim.SGD, {"lr": 0.1, "weight_decay": -1}, "weight_decay must be >= 0, got -1"),
        (optim.Adagrad, {"eps": -1e-10}, "eps must be >= 0, got -1e-10"),
        (optim.Adagrad, {"lr_decay": -0.1}, "lr_decay must be >= 0, got -0.1"),
        (optim.Adagrad, {"initial_accumulator_value": -1}, "initial_accumulator_value"),
        (optim.Adadelta, {"rho": 1.5}, r"rho must be in \[0.0, 1.0\], got 1.5"),
        (optim.RMSprop, {"alpha": -0.1}, "alpha must be >= 0, got -0.1"),
        (optim.RMSprop, {"momentum": -0.1}, "momentum must be >= 0, got -0.1"),
        (optim.Adam, {"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0.0, 1.0\), got 1.0"),
        (optim.Adam, {"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0.0, 1.0\), got -0.1"),
        (optim.Adam, {"betas": (0.9,)}, r"betas must be a pair"),
        (optim.AdamW, {"eps": -1.0}, "eps must be >= 0, got -1.0"),
        (optim.AdamW, {"weight_decay": -0.1}, "weight_decay must be >= 0, got -0.1"),
    ],
)
def test_constructor_validation(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(make_params(make_values()), **kwargs)


# ---------------------------------------------------------------------------------------------
# clip_grad_norm


@pytest.mark.torch
@pytest.mark.parametrize("max_norm", [0.05, 1.0, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    torch = torch_module()
    grads = mixed_scale_grads(steps=1)[0]
    params = make_params(make_values())
    for p, g in zip(params, grads, strict=True):
        p.grad[...] = g
    tparams = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for tp, g in zip(tparams, grads, strict=True):
        tp.grad = torch.from_numpy(g.copy())
    total = optim.clip_grad_norm(params, max_norm)
    ttotal = torch.nn.utils.clip_grad_norm_(tparams, max_norm)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, float(ttotal), rtol=1e-5)
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-5, atol=1e-9)
    clipped = np.sqrt(sum(float((p.grad.astype(np.float64) ** 2).sum()) for p in params))
    assert clipped <= max_norm * (1 + 1e-5)
    if max_norm > total:
        for p, g in zip(params, grads, strict=True):
            np.testing.assert_array_equal(p.grad, g)


def test_clip_grad_norm_counts_a_shared_parameter_once():
    p = Parameter(np.zeros(4, np.float32), name="weight")
    p.grad[...] = [3.0, 4.0, 0.0, 0.0]
    assert optim.clip_grad_norm([p, p], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(np.linalg.norm(p.grad), 1.0, rtol=1e-5)


def test_clip_grad_norm_validates_max_norm():
    with pytest.raises(ValueError, match="max_norm must be >= 0, got -1"):
        optim.clip_grad_norm(make_params(make_values()), -1)
