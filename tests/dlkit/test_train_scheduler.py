"""fit(..., scheduler=...) steps a schedule as torch users do: per epoch, per batch
(OneCycleLR), or with the epoch's validation loss (ReduceLROnPlateau)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlkit import losses, nn, optim, train
from dlkit.optim import lr_scheduler


def problem(n: int = 40):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.mlp([4, 8, 2], rng=rng)
    return model, X, y, rng


def test_a_per_epoch_schedule_sets_each_epochs_rate():
    model, X, y, rng = problem()
    opt = optim.build("sgd", model.parameters(), lr=0.1)
    sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=6,
        batch_size=8,
        rng=rng,
        scheduler=sched,
    )
    rates = [r["lr"] for r in history]
    np.testing.assert_allclose(rates, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    assert opt.lr == pytest.approx(0.0125) and sched.last_epoch == 6


def test_a_per_batch_schedule_steps_after_every_optimizer_step():
    model, X, y, rng = problem(40)
    opt = optim.build("sgd", model.parameters(), lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.5, epochs=3, steps_per_epoch=5)
    reference = lr_scheduler.OneCycleLR(
        optim.build("sgd", problem()[0].parameters(), lr=0.1, momentum=0.9),
        max_lr=0.5,
        epochs=3,
        steps_per_epoch=5,
    )
    expected = [reference.get_last_lr()[0]]
    for _ in range(15):
        reference.step()
        expected.append(reference.get_last_lr()[0])
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=3,
        batch_size=8,
        rng=rng,
        scheduler=sched,
    )
    assert [r["lr"] for r in history] == [expected[0], expected[5], expected[10]]
    assert [r["lr_end"] for r in history] == [expected[5], expected[10], expected[15]]
    assert sched.last_epoch == 15


def test_plateau_is_stepped_with_the_validation_loss():
    seen = []

    class Watched(lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics):
            seen.append(metrics)
            super().step(metrics)

    model, X, y, rng = problem()
    opt = optim.build("sgd", model.parameters(), lr=0.1)
    history = train.fit(
        model,
        losses.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=4,
        batch_size=8,
        rng=rng,
        X_val=X[:10],
        y_val=y[:10],
        scheduler=Watched(opt, patience=0),
        record_initial=True,
    )
    assert seen == [r["val_loss"] for r in history[1:]]  # not at epoch 0


def test_bad_schedulers_are_refused_before_training():
    model, X, y, rng = problem()
    opt = optim.build("sgd", model.parameters(), lr=0.1)
    other = optim.build("sgd", problem()[0].parameters(), lr=0.1)
    kw = {"epochs": 3, "batch_size": 8, "rng": rng}
    loss = losses.CrossEntropyLoss()
    with pytest.raises(ValueError, match="scheduler must be None or a dlkit.optim.lr_scheduler"):
        train.fit(model, loss, opt, X, y, scheduler="cosine", **kw)
    with pytest.raises(ValueError, match="built over the optimizer given to fit"):
        train.fit(model, loss, opt, X, y, scheduler=lr_scheduler.StepLR(other, 1), **kw)
    short = lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=10, cycle_momentum=False)
    with pytest.raises(ValueError, match=r"cover the run's 15 steps .* got total_steps=10"):
        train.fit(model, loss, opt, X, y, scheduler=short, **kw)
    assert math.isclose(opt.lr, short.get_last_lr()[0])  # nothing was trained or stepped
