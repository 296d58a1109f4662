"""Learning-rate schedules vs torch.optim.lr_scheduler, step for step; state round trip;
resuming with last_epoch; per_batch; validation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from dlkit import optim
from dlkit.nn.base import Parameter
from dlkit.optim import lr_scheduler as S

STEPS = 60


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip(
        "torch", reason="PyTorch reference tests need torch (CI installs torch==2.13.0)"
    )


def dl_optimizer(name: str = "SGD", **kwargs) -> optim.Optimizer:
    kwargs.setdefault("lr", 0.1)
    return getattr(optim, name)([Parameter(np.zeros(3, np.float32))], **kwargs)


def torch_optimizer(torch, name: str = "SGD", **kwargs):
    kwargs.setdefault("lr", 0.1)
    return getattr(torch.optim, name)([torch.zeros(3, requires_grad=True)], **kwargs)


def momentum_of(opt) -> float | None:
    """SGD/RMSprop momentum or Adam's beta1, for dlkit and torch optimizers alike."""
    if hasattr(opt, "param_groups"):
        group = opt.param_groups[0]
        if "betas" in group:
            return group["betas"][0]
        return group.get("momentum")
    if hasattr(opt, "betas"):
        return opt.betas[0]
    return getattr(opt, "momentum", None)


def lr_of(opt) -> float:
    return opt.param_groups[0]["lr"] if hasattr(opt, "param_groups") else opt.lr


def trace(opt, sched, steps: int, metrics=None) -> list[tuple]:
    """(lr, get_last_lr()[0], momentum) after construction and after each step."""
    rows = [(lr_of(opt), sched.get_last_lr()[0], momentum_of(opt))]
    for k in range(steps):
        if hasattr(opt, "param_groups"):
            opt.step()  # a no-op without gradients; keeps torch's order check quiet
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
        rows.append((lr_of(opt), sched.get_last_lr()[0], momentum_of(opt)))
    return rows


# name -> (optimizer name, optimizer kwargs, scheduler class name, scheduler kwargs, steps).
# Every class and argument name is torch's, so the same case builds both sides.
CASES = {
    "step_7_half": ("SGD", {}, "StepLR", {"step_size": 7, "gamma": 0.5}, STEPS),
    "step_1": ("SGD", {"lr": 0.3}, "StepLR", {"step_size": 1, "gamma": 0.93}, STEPS),
    "step_10_default": ("Adam", {}, "StepLR", {"step_size": 10}, STEPS),
    "multistep": ("SGD", {}, "MultiStepLR", {"milestones": [5, 20, 33], "gamma": 0.3}, STEPS),
    "multistep_repeated": ("SGD", {}, "MultiStepLR", {"milestones": [40, 12, 12]}, STEPS),
    "exponential": ("SGD", {}, "ExponentialLR", {"gamma": 0.95}, STEPS),
    "exponential_fast": ("Adam", {"lr": 3e-3}, "ExponentialLR", {"gamma": 0.7}, STEPS),
    "cosine": ("SGD", {}, "CosineAnnealingLR", {"T_max": 50}, STEPS),
    # T_max < steps: through the bottom (the special branch) and up again, twice.
    "cosine_eta_min": ("SGD", {}, "CosineAnnealingLR", {"T_max": 20, "eta_min": 1e-3}, STEPS),
    "cosine_short": ("SGD", {"lr": 0.5}, "CosineAnnealingLR", {"T_max": 7, "eta_min": 0.05}, STEPS),
    "linear_default": ("SGD", {}, "LinearLR", {}, STEPS),
    "linear_warmup": ("SGD", {}, "LinearLR", {"start_factor": 0.1, "total_iters": 10}, STEPS),
    "linear_decay": (
        "SGD",
        {},
        "LinearLR",
        {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 30},
        STEPS,
    ),
    "linear_to_zero": (
        "Adam",
        {},
        "LinearLR",
        {"start_factor": 0.5, "end_factor": 0.0, "total_iters": 50},
        STEPS,
    ),
    "onecycle_cos": (
        "SGD",
        {"momentum": 0.9},
        "OneCycleLR",
        {"max_lr": 0.5, "total_steps": STEPS},
        STEPS,
    ),
    "onecycle_linear": (
        "SGD",
        {"momentum": 0.9, "nesterov": True},
        "OneCycleLR",
        {"max_lr": 0.5, "total_steps": STEPS, "anneal_strategy": "linear", "pct_start": 0.25},
        STEPS,
    ),
    "onecycle_three_phase_cos": (
        "Adam",
        {},
        "OneCycleLR",
        {"max_lr": 1e-2, "total_steps": 64, "three_phase": True},
        64,
    ),
    "onecycle_three_phase_linear": (
        "AdamW",
        {},
        "OneCycleLR",
        {
            "max_lr": 1e-2,
            "epochs": 6,
            "steps_per_epoch": 10,
            "three_phase": True,
            "anneal_strategy": "linear",
            "base_momentum": 0.8,
            "max_momentum": 0.9,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        STEPS,
    ),
    "onecycle_rmsprop": (
        "RMSprop",
        {"momentum": 0.5},
        "OneCycleLR",
        {"max_lr": 0.05, "total_steps": 55, "pct_start": 0.4},
        55,
    ),
    "onecycle_no_momentum": (
        "Adagrad",
        {},
        "OneCycleLR",
        {"max_lr": 0.2, "total_steps": STEPS, "cycle_momentum": False},
        STEPS,
    ),
}


def build_pair(torch, case: str):
    opt_name, opt_kwargs, sched_name, sched_kwargs, steps = CASES[case]
    d_opt = dl_optimizer(opt_name, **opt_kwargs)
    t_opt = torch_optimizer(torch, opt_name, **opt_kwargs)
    d = (d_opt, getattr(S, sched_name)(d_opt, **sched_kwargs))
    t = (t_opt, getattr(torch.optim.lr_scheduler, sched_name)(t_opt, **sched_kwargs))
    return d, t, steps


def assert_same_trace(ours: list[tuple], theirs: list[tuple]) -> None:
    assert len(ours) == len(theirs)
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        # Python floats on both sides and the same operations: equal to the last bit.
        assert a == b, f"step {k}: dlkit {a} != torch {b}"


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(CASES))
def test_rates_match_torch(torch, case):
    (d_opt, d_sched), (t_opt, t_sched), steps = build_pair(torch, case)
    ours, theirs = trace(d_opt, d_sched, steps), trace(t_opt, t_sched, steps)
    if CASES[case][2] == "OneCycleLR":
        # The step after the last batch: torch's linear anneal extrapolates below 0 there,
        # dlkit clips at 0 (documented); every earlier rate is compared exactly.
        lr, last, momentum = theirs[-1]
        assert (lr < 0) == ("linear" in case)
        theirs[-1] = (max(lr, 0.0), max(last, 0.0), momentum)
    assert_same_trace(ours, theirs)
    assert d_sched.last_epoch == t_sched.last_epoch == steps
    # The schedule moved: a test of a constant rate would pass for a scheduler that did nothing.
    assert len({row[0] for row in ours}) > 2


@pytest.mark.torch
def test_onecycle_stepping_past_total_steps_raises_like_torch(torch):
    (d_opt, d_sched), (t_opt, t_sched), steps = build_pair(torch, "onecycle_cos")
    trace(d_opt, d_sched, steps)
    trace(t_opt, t_sched, steps)
    with pytest.raises(ValueError, match="Tried to step 61 times"):
        t_sched.step()
    with pytest.raises(ValueError, match="Tried to step 61 times"):
        d_sched.step()


# name -> (optimizer kwargs, [(class name, kwargs), ...], milestones)
SEQUENTIAL = {
    "warmup_cosine": (
        {"lr": 0.4},
        [
            ("LinearLR", {"start_factor": 0.1, "total_iters": 5}),
            ("CosineAnnealingLR", {"T_max": 45, "eta_min": 1e-4}),
        ],
        [5],
    ),
    "warmup_exponential_step": (
        {"lr": 0.1, "momentum": 0.9},
        [
            ("LinearLR", {"start_factor": 0.25, "total_iters": 8}),
            ("ExponentialLR", {"gamma": 0.9}),
            ("StepLR", {"step_size": 6, "gamma": 0.5}),
        ],
        [8, 25],
    ),
    "cosine_then_multistep": (
        {"lr": 0.2},
        [
            ("CosineAnnealingLR", {"T_max": 10}),
            ("MultiStepLR", {"milestones": [5, 15], "gamma": 0.2}),
        ],
        [20],
    ),
}


def build_sequential(module, opt, spec):
    _, parts, milestones = spec
    schedulers = [getattr(module, name)(opt, **kwargs) for name, kwargs in parts]
    return module.SequentialLR(opt, schedulers, milestones=milestones)


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(SEQUENTIAL))
def test_sequential_matches_torch(torch, case):
    spec = SEQUENTIAL[case]
    d_opt, t_opt = dl_optimizer(**spec[0]), torch_optimizer(torch, **spec[0])
    d_sched = build_sequential(S, d_opt, spec)
    t_sched = build_sequential(torch.optim.lr_scheduler, t_opt, spec)
    ours, theirs = trace(d_opt, d_sched, STEPS), trace(t_opt, t_sched, STEPS)
    assert_same_trace(ours, theirs)
    assert len({row[0] for row in ours}) > 10


def plateau_metrics(mode: str) -> list[float]:
    """80 epochs: improvement, exact plateaus, tiny (sub-threshold) gains, noise, a late drop."""
    rng = np.random.default_rng(3)
    values = list(np.linspace(2.0, 1.0, 10))
    values += [1.0] * 6
    values += [1.0 - 1e-6 * k for k in range(1, 7)]  # below a relative 1e-4 threshold
    values += list(0.9 + 0.02 * rng.standard_normal(20))
    values += [0.7] * 3 + [0.85] * 10
    values += list(0.6 + 0.05 * rng.standard_normal(19))
    values += [0.5] * 6
    values = [float(v) for v in values]
    assert len(values) == 80
    return values if mode == "min" else [-v for v in values]


PLATEAU = {
    "min_default": {"mode": "min"},
    "min_patience0": {"mode": "min", "patience": 0, "factor": 0.5},
    "min_abs_cooldown": {
        "mode": "min",
        "patience": 2,
        "threshold": 0.01,
        "threshold_mode": "abs",
        "cooldown": 3,
        "factor": 0.5,
    },
    "min_floor": {"mode": "min", "patience": 1, "factor": 0.3, "min_lr": 1e-3},
    "min_eps": {"mode": "min", "patience": 1, "factor": 0.5, "min_lr": 0.02, "eps": 0.01},
    # Threshold 0: an exact plateau is a tie, which must count as no improvement.
    "min_ties": {"mode": "min", "patience": 2, "threshold": 0.0, "threshold_mode": "abs"},
    "max_ties": {"mode": "max", "patience": 2, "threshold": 0.0, "factor": 0.5},
    "max_default": {"mode": "max", "patience": 3},
    "max_abs_cooldown": {
        "mode": "max",
        "patience": 1,
        "threshold": 0.005,
        "threshold_mode": "abs",
        "cooldown": 2,
        "factor": 0.7,
    },
    "max_rel_threshold": {"mode": "max", "patience": 2, "threshold": 0.05, "factor": 0.5},
}


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(PLATEAU))
def test_reduce_on_plateau_matches_torch(torch, case):
    kwargs = PLATEAU[case]
    metrics = plateau_metrics(kwargs["mode"])
    d_opt, t_opt = dl_optimizer(lr=0.1), torch_optimizer(torch, lr=0.1)
    d_sched = S.ReduceLROnPlateau(d_opt, **kwargs)
    t_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(t_opt, **kwargs)
    ours = trace(d_opt, d_sched, len(metrics), metrics)
    theirs = trace(t_opt, t_sched, len(metrics), metrics)
    assert_same_trace(ours, theirs)
    for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        assert getattr(d_sched, key) == getattr(t_sched, key), key
    assert len({row[0] for row in ours}) >= 2, "the metric sequence must trigger a reduction"


def test_reduce_on_plateau_counts_as_documented():
    """Without torch: patience 2 reduces on the third bad epoch, cooldown 1 skips one."""
    opt = dl_optimizer(lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=2, cooldown=1, factor=0.5)
    rates = []
    for m in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5]:
        sched.step(m)
        rates.append(opt.lr)
    assert rates == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]


ROUND_TRIP = ["step_7_half", "cosine_eta_min", "linear_warmup", "onecycle_three_phase_linear"]


def fresh(case: str):
    opt_name, opt_kwargs, sched_name, sched_kwargs, steps = CASES[case]
    opt = dl_optimizer(opt_name, **opt_kwargs)
    return opt, getattr(S, sched_name)(opt, **sched_kwargs), steps


@pytest.mark.parametrize("case", ROUND_TRIP)
def test_state_dict_round_trip(case):
    opt, sched, steps = fresh(case)
    first = trace(opt, sched, 23)
    state = sched.state_dict()
    rest = trace(opt, sched, steps - 23)

    opt2, sched2, _ = fresh(case)
    trace(opt2, sched2, 5)  # a different position, overwritten by the load
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == [first[-1][0]]
    assert lr_of(opt2) == first[-1][0] and momentum_of(opt2) == first[-1][2]
    assert trace(opt2, sched2, steps - 23) == rest


def test_state_dict_round_trip_sequential_and_plateau():
    spec = SEQUENTIAL["warmup_exponential_step"]
    opt = dl_optimizer(**spec[0])
    sched = build_sequential(S, opt, spec)
    trace(opt, sched, 20)
    state = sched.state_dict()
    rest = trace(opt, sched, 30)
    opt2 = dl_optimizer(**spec[0])
    sched2 = build_sequential(S, opt2, spec)
    sched2.load_state_dict(state)
    assert trace(opt2, sched2, 30) == rest

    metrics = plateau_metrics("min")
    opt = dl_optimizer()
    sched = S.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=2)
    trace(opt, sched, 40, metrics)
    state = sched.state_dict()
    rest = trace(opt, sched, 40, metrics[40:])
    opt2 = dl_optimizer()
    sched2 = S.ReduceLROnPlateau(opt2, patience=1, factor=0.5, cooldown=2)
    sched2.load_state_dict(state)
    assert trace(opt2, sched2, 40, metrics[40:]) == rest


def test_state_dict_is_a_copy():
    opt, sched, _ = fresh("multistep")
    state = sched.state_dict()
    state["milestones"][5] = 99
    state["base_lrs"][0] = 7.0
    assert sched.milestones[5] == 1 and sched.base_lrs == [0.1]


@pytest.mark.torch
@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("StepLR", {"step_size": 4, "gamma": 0.5}),
        ("ExponentialLR", {"gamma": 0.9}),
        ("CosineAnnealingLR", {"T_max": 12, "eta_min": 0.01}),
        ("LinearLR", {"start_factor": 0.2, "total_iters": 20}),
    ],
)
def test_resume_with_last_epoch_matches_torch(torch, name, kwargs):
    """Stop after 17 steps, build a new scheduler with last_epoch=17 on the same optimizer."""

    def run(module, opt):
        sched = getattr(module, name)(opt, **kwargs)
        trace(opt, sched, 17)
        resumed = getattr(module, name)(opt, last_epoch=17, **kwargs)
        return trace(opt, resumed, 40)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's step-order check on the second scheduler
        theirs = run(torch.optim.lr_scheduler, torch_optimizer(torch))
    assert_same_trace(run(S, dl_optimizer()), theirs)


def test_resume_without_initial_lr_is_refused():
    with pytest.raises(ValueError, match="last_epoch=3 resumes a schedule"):
        S.StepLR(dl_optimizer(), step_size=2, last_epoch=3)


def test_closed_forms_agree_with_the_recursion():
    """The closed forms (used by SequentialLR at a milestone) give the recursive rates."""
    for case in ("step_7_half", "multistep", "exponential", "cosine_eta_min", "linear_decay"):
        opt, sched, steps = fresh(case)
        for _ in range(steps):
            sched.step()
            (closed,) = sched._get_closed_form_lr()
            assert math.isclose(closed, opt.lr, rel_tol=1e-12, abs_tol=1e-15), case


def test_per_batch_flags():
    opt = dl_optimizer(momentum=0.9)
    assert S.OneCycleLR(opt, max_lr=0.1, total_steps=10).per_batch is True
    for cls, kwargs in [
        (S.StepLR, {"step_size": 2}),
        (S.MultiStepLR, {"milestones": [2]}),
        (S.ExponentialLR, {"gamma": 0.9}),
        (S.CosineAnnealingLR, {"T_max": 5}),
        (S.LinearLR, {}),
        (S.ReduceLROnPlateau, {}),
    ]:
        assert cls(dl_optimizer(), **kwargs).per_batch is False, cls.__name__
    opt = dl_optimizer()
    warm, cos = S.LinearLR(opt), S.CosineAnnealingLR(opt, T_max=5)
    assert S.SequentialLR(opt, [warm, cos], milestones=[5]).per_batch is False
    warm.per_batch = cos.per_batch = True  # a cosine over batches, set on the instances
    assert S.SequentialLR(opt, [warm, cos], milestones=[5]).per_batch is True
    cos.per_batch = False
    with pytest.raises(ValueError, match="all step per batch or all per epoch"):
        S.SequentialLR(opt, [warm, cos], milestones=[5])


def test_onecycle_momentum_requirements():
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        S.OneCycleLR(dl_optimizer("Adagrad"), max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="momentum > 0"):
        S.OneCycleLR(dl_optimizer("SGD"), max_lr=0.1, total_steps=10)
    opt = dl_optimizer("SGD")
    S.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)
    assert opt.momentum == 0.0 and opt.lr == pytest.approx(0.1 / 25)


def onecycle_trajectory(module, opt_name, opt_kwargs, params, cycle_momentum=True):
    """Train ``params`` 30 steps on fixed gradients under OneCycleLR; return the values."""
    rng = np.random.default_rng(7)
    grads = [(rng.standard_normal(3)).astype(np.float32) for _ in range(30)]
    optim_module = optim if module is optim else module.optim
    opt = getattr(optim_module, opt_name)(params, lr=0.01, **opt_kwargs)
    scheduler_module = optim_module.lr_scheduler
    sched = scheduler_module.OneCycleLR(
        opt, max_lr=0.05, total_steps=30, cycle_momentum=cycle_momentum
    )
    values = []
    for g in grads:
        p = params[0]
        if module is optim:
            p.grad[...] = g
            opt.step()
            values.append(p.data.copy())
        else:
            p.grad = module.from_numpy(g.copy())
            opt.step()
            values.append(p.detach().numpy().copy())
        sched.step()
    return np.array(values)


@pytest.mark.torch
@pytest.mark.parametrize("opt_name,opt_kwargs", [("SGD", {"momentum": 0.9}), ("Adam", {})])
def test_onecycle_momentum_reaches_the_update_as_in_torch(torch, opt_name, opt_kwargs):
    """A 30-step run with cycled momentum (or beta1) follows torch's parameter trajectory, and
    differs from the run without cycling, so the cycled value is the one the step reads."""
    start = np.linspace(-1.0, 1.0, 3).astype(np.float32)

    def ours(cycle):
        return onecycle_trajectory(optim, opt_name, opt_kwargs, [Parameter(start.copy())], cycle)

    theirs = onecycle_trajectory(
        torch, opt_name, opt_kwargs, [torch.tensor(start.copy(), requires_grad=True)]
    )
    cycled = ours(True)
    assert cycled.dtype == np.float32
    np.testing.assert_allclose(cycled, theirs, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(cycled - start, theirs - start, rtol=1e-4, atol=1e-7)
    assert np.abs(cycled - ours(False)).max() > 1e-4


def opt_():
    return dl_optimizer()


BAD = [
    (lambda: S.StepLR("sgd", step_size=2), "optimizer must be a dlkit optimizer"),
    (lambda: S.StepLR(opt_(), step_size=0), "step_size must be >= 1, got 0"),
    (lambda: S.StepLR(opt_(), step_size=2.5), "step_size must be an integer >= 1, got 2.5"),
    (lambda: S.StepLR(opt_(), step_size=2, gamma=-0.1), "gamma must be >= 0, got -0.1"),
    (lambda: S.StepLR(opt_(), step_size=2, last_epoch=-2), "last_epoch must be >= -1"),
    (lambda: S.MultiStepLR(opt_(), milestones=5), "milestones must be a list of integers"),
    (lambda: S.MultiStepLR(opt_(), milestones=[3, 0]), r"milestones\[1\] must be >= 1, got 0"),
    (lambda: S.ExponentialLR(opt_(), gamma=float("nan")), "gamma must be a finite number"),
    (lambda: S.CosineAnnealingLR(opt_(), T_max=0), "T_max must be >= 1, got 0"),
    (lambda: S.CosineAnnealingLR(opt_(), T_max=5, eta_min=-1e-3), "eta_min must be >= 0"),
    (
        lambda: S.LinearLR(opt_(), start_factor=0.0),
        r"start_factor must be a number in \(0, 1\], got 0.0",
    ),
    (
        lambda: S.LinearLR(opt_(), start_factor=1.5),
        r"start_factor must be a number in \(0, 1\], got 1.5",
    ),
    (lambda: S.LinearLR(opt_(), end_factor=-0.5), r"end_factor must be in \[0.0, 1.0\]"),
    (lambda: S.LinearLR(opt_(), total_iters=0), "total_iters must be >= 1, got 0"),
    (lambda: S.OneCycleLR(opt_(), max_lr=0.1), "needs total_steps, or both epochs"),
    (
        lambda: S.OneCycleLR(opt_(), max_lr=0.1, total_steps=0),
        "total_steps must be >= 1, got 0",
    ),
    (
        lambda: S.OneCycleLR(opt_(), max_lr=0.1, epochs=3, steps_per_epoch=0),
        "steps_per_epoch must be >= 1, got 0",
    ),
    (
        lambda: S.OneCycleLR(opt_(), max_lr=0.0, total_steps=10, cycle_momentum=False),
        "max_lr must be a finite number > 0, got 0.0",
    ),
    (
        lambda: S.OneCycleLR(opt_(), max_lr=0.1, total_steps=10, pct_start=1.2),
        r"pct_start must be in \[0.0, 1.0\], got 1.2",
    ),
    (
        lambda: S.OneCycleLR(opt_(), max_lr=0.1, total_steps=10, pct_start=0.1),
        "gives a phase of length 0",
    ),
    (
        lambda: S.OneCycleLR(opt_(), max_lr=0.1, total_steps=10, anneal_strategy="exp"),
        "unknown anneal_strategy 'exp'; valid choices: cos, linear",
    ),
    (
        lambda: S.OneCycleLR(opt_(), max_lr=0.1, total_steps=10, div_factor=-1.0),
        "div_factor must be a finite number > 0, got -1.0",
    ),
    (
        lambda: S.OneCycleLR(
            dl_optimizer(momentum=0.9), max_lr=0.1, total_steps=10, max_momentum=1.0
        ),
        r"max_momentum must be in \[0.0, 1.0\), got 1.0",
    ),
    (lambda: S.ReduceLROnPlateau(opt_(), mode="lowest"), "unknown mode 'lowest'"),
    (lambda: S.ReduceLROnPlateau(opt_(), factor=1.0), r"factor must be in \[0.0, 1.0\)"),
    (lambda: S.ReduceLROnPlateau(opt_(), patience=-1), "patience must be >= 0, got -1"),
    (lambda: S.ReduceLROnPlateau(opt_(), threshold_mode="pct"), "unknown threshold_mode 'pct'"),
    (lambda: S.ReduceLROnPlateau(opt_(), threshold=-1e-4), "threshold must be >= 0"),
    (lambda: S.ReduceLROnPlateau(opt_(), cooldown=1.5), "cooldown must be an integer >= 0"),
    (lambda: S.ReduceLROnPlateau(opt_(), min_lr=-1.0), "min_lr must be >= 0, got -1.0"),
    (lambda: S.ReduceLROnPlateau(opt_(), eps=float("inf")), "eps must be a finite number"),
    (lambda: S.ReduceLROnPlateau(opt_()).step("low"), "metrics must be a real number"),
]


@pytest.mark.parametrize("make,message", BAD, ids=[m for _, m in BAD])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_sequential_arguments():
    opt = dl_optimizer()
    warm, cos = S.LinearLR(opt), S.CosineAnnealingLR(opt, T_max=5)
    with pytest.raises(ValueError, match="at least one scheduler"):
        S.SequentialLR(opt, [], milestones=[])
    with pytest.raises(ValueError, match="one entry fewer than schedulers"):
        S.SequentialLR(opt, [warm, cos], milestones=[])
    with pytest.raises(ValueError, match=r"milestones\[0\] must be >= 1, got 0"):
        S.SequentialLR(opt, [warm, cos], milestones=[0])
    with pytest.raises(ValueError, match="strictly increasing"):
        S.SequentialLR(opt, [warm, cos, S.ExponentialLR(opt, 0.9)], milestones=[5, 5])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [warm, S.ReduceLROnPlateau(opt)], milestones=[5])
    with pytest.raises(ValueError, match="built on another optimizer"):
        S.SequentialLR(opt, [warm, S.CosineAnnealingLR(dl_optimizer(), T_max=5)], [5])
    with pytest.raises(ValueError, match=r"schedulers\[1\] must be a dlkit scheduler"):
        S.SequentialLR(opt, [warm, "cosine"], milestones=[5])
    with pytest.raises(ValueError, match="state_dict must be a dict"):
        S.SequentialLR(opt, [warm, cos], milestones=[5]).load_state_dict({"last_epoch": 3})
