"""Learning-rate schedules with the semantics of ``torch.optim.lr_scheduler``, step for step.

Each class reproduces its PyTorch 2.13 namesake's arithmetic, not just its formula: most
schedules update the rate *recursively* from the optimizer's current rate (torch's chainable
``get_lr``), and the closed form is used only where torch uses it (``SequentialLR`` entering a
new schedule at a milestone), so the rates agree with torch's bit for bit on Python floats.
Construction performs the initial step (``last_epoch`` goes from -1 to 0 and the optimizer
gets the rate of step 0); every later ``step()`` advances ``last_epoch`` by one.

Usage, as in torch: call ``optimizer.step()`` then ``scheduler.step()``::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    warmup = LinearLR(opt, start_factor=0.1, total_iters=5)
    decay = CosineAnnealingLR(opt, T_max=45)
    sched = SequentialLR(opt, [warmup, decay], milestones=[5])
    for epoch in range(50):
        train_one_epoch(...)
        sched.step()

dlkit's optimizers differ from torch's in one way that shapes this module: they have a single
learning rate, ``optimizer.lr``, and no parameter groups. A scheduler therefore schedules
``optimizer.lr``; the per-group lists of torch keep their names and have one entry
(``base_lrs``, ``get_last_lr()``, ``min_lrs``), and per-group arguments (``max_lr``,
``min_lr``, momenta) are single numbers. Where torch stores ``initial_lr`` in the parameter
group, it is stored as the attribute ``optimizer.initial_lr``: the first scheduler built on an
optimizer sets it (``OneCycleLR`` overwrites it with ``max_lr / div_factor``, as torch does),
later ones read it, so every schedule of a ``SequentialLR`` starts from the same base rate.

Other differences from torch, all deliberate:

- ``step()`` takes no ``epoch`` argument (deprecated in torch since 1.4);
- torch's warnings about calling ``scheduler.step()`` before ``optimizer.step()`` are left out
  (torch detects that by wrapping ``optimizer.step``);
- ``state_dict()`` also holds ``"optimizer_state"``: the optimizer's ``lr`` and
  ``initial_lr`` (and for ``OneCycleLR`` with ``cycle_momentum`` its momentum or betas), which
  ``load_state_dict`` restores. In torch these live in ``optimizer.state_dict()``; dlkit's
  optimizers have none, so the scheduler's state carries them and a round trip is complete;
- bad arguments raise ``ValueError`` at construction (torch raises ``TypeError``, ``KeyError``
  or a late ``ZeroDivisionError`` for some, and accepts others silently);
- ``OneCycleLR``: the rate set by the step after the last batch is clipped at 0 (with the
  linear anneal torch extrapolates it below 0; that rate is never used for an update);
- ``OneCycleLR(cycle_momentum=True)`` needs an optimizer built with momentum > 0: dlkit's SGD
  and RMSprop allocate their momentum buffer at construction only when momentum > 0.

Per epoch or per batch: torch leaves it to the training loop. Here each class has a class
attribute ``per_batch``: ``False`` (step once per epoch) for all but ``OneCycleLR`` (step once
per batch, its ``total_steps`` counts batches). A loop reads ``scheduler.per_batch``; a user who
wants, say, a cosine schedule over batches sets ``scheduler.per_batch = True`` on the instance
(its ``T_max`` then counts batches). ``SequentialLR`` takes the common value of its schedules.
``ReduceLROnPlateau`` steps per epoch with a metric: ``scheduler.step(val_loss)``.
"""

from __future__ import annotations

import copy
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from dlkit.optim.optimizer import Optimizer
from dlkit.validation import (
    check_bool,
    check_choice,
    check_int,
    check_non_negative,
    check_range,
    is_real,
)

__all__ = [
    "LRScheduler",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "SequentialLR",
]


def _check_optimizer(optimizer: object) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        raise ValueError(
            "optimizer must be a dlkit optimizer (dlkit.optim.SGD, Adam, ...), "
            f"got {type(optimizer).__name__} {optimizer!r}"[:300]
        )
    return optimizer


def _check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number ``> 0``."""
    if not is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


class LRScheduler:
    """Base class: the initial step, ``step``, ``get_last_lr`` and the state round trip.

    Subclasses define ``get_lr`` (the rate of step ``last_epoch``, usually computed from the
    optimizer's current rate) and, where torch has one, ``_get_closed_form_lr``.

    Parameters
    ----------
    optimizer : Optimizer
        A dlkit optimizer; its ``lr`` is scheduled.
    last_epoch : int
        Index of the last step taken, -1 to start a schedule. A value >= 0 resumes one and
        needs ``optimizer.initial_lr`` (set by the scheduler that started the schedule).

    Attributes
    ----------
    per_batch : bool
        Whether a training loop should call ``step`` after every batch (True) or after every
        epoch (False); see the module docstring.
    base_lrs : list of float
        ``[optimizer.initial_lr]``, the rate the schedule scales.
    last_epoch : int
        Number of ``step`` calls since the start (0 right after construction).
    """

    per_batch: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        self.optimizer = _check_optimizer(optimizer)
        last_epoch = check_int("last_epoch", last_epoch, -1)
        if last_epoch == -1:
            if not hasattr(optimizer, "initial_lr"):
                optimizer.initial_lr = optimizer.lr
        elif not hasattr(optimizer, "initial_lr"):
            raise ValueError(
                f"last_epoch={last_epoch} resumes a schedule, which needs optimizer.initial_lr "
                "(set by the scheduler that started it, or by load_state_dict); this optimizer "
                "has none. Use last_epoch=-1 to start a schedule."
            )
        self.base_lrs: list[float] = [optimizer.initial_lr]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and take the step that sets the rate of ``last_epoch + 1``."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover
        """The rate of step ``last_epoch``; called by ``step`` (use ``get_last_lr`` to read)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance the schedule by one step and set ``optimizer.lr``.

        Call it after ``optimizer.step()``: once per epoch, or once per batch if
        ``per_batch``."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        (self.optimizer.lr,) = values
        self._last_lr = [self.optimizer.lr]

    def get_last_lr(self) -> list[float]:
        """The rate set by the last step, as torch's one-entry-per-group list: ``[lr]``."""
        return list(self._last_lr)

    def _optimizer_state(self) -> dict[str, Any]:
        """The optimizer values this schedule sets (what torch keeps in the param group)."""
        state = {"lr": self.optimizer.lr}
        if hasattr(self.optimizer, "initial_lr"):
            state["initial_lr"] = self.optimizer.initial_lr
        return state

    def state_dict(self) -> dict[str, Any]:
        """A copy of the scheduler's state (every attribute but the optimizer) and, under
        ``"optimizer_state"``, the optimizer values it schedules."""
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}
        state["optimizer_state"] = self._optimizer_state()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`, including the optimizer's scheduled values.

        Build the scheduler with the same arguments first, then load."""
        if not isinstance(state_dict, dict) or "optimizer_state" not in state_dict:
            raise ValueError(
                "state_dict must be a dict returned by a scheduler's state_dict(), got "
                f"{type(state_dict).__name__}"
            )
        state = copy.deepcopy(state_dict)
        for key, value in state.pop("optimizer_state").items():
            setattr(self.optimizer, key, value)
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr[0]!r})"


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps.

    ``lr = base_lr * gamma ** (last_epoch // step_size)``, computed recursively as torch does:
    at every non-zero multiple of ``step_size`` the current rate is multiplied by ``gamma``.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Period of the decay, >= 1.
    gamma : float
        Multiplicative factor, finite and >= 0.
    last_epoch : int
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ):
        self.step_size = check_int("step_size", step_size, 1)
        self.gamma = check_non_negative("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [self.optimizer.lr]
        return [self.optimizer.lr * self.gamma]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs
        ]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone.

    A milestone listed ``n`` times multiplies by ``gamma ** n`` (torch keeps a ``Counter``).

    Parameters
    ----------
    optimizer : Optimizer
    milestones : iterable of int
        Step indices, each >= 1.
    gamma : float
        Multiplicative factor, finite and >= 0.
    last_epoch : int
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ):
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Iterable):
            raise ValueError(f"milestones must be a list of integers >= 1, got {milestones!r}")
        milestones = list(milestones)
        for i, m in enumerate(milestones):
            check_int(f"milestones[{i}]", m, 1)
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = check_non_negative("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return [self.optimizer.lr]
        return [self.optimizer.lr * self.gamma ** self.milestones[self.last_epoch]]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [
            base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` at every step: ``lr = base_lr * gamma ** last_epoch``
    (computed recursively).

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Multiplicative factor, finite and >= 0.
    last_epoch : int
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = check_non_negative("gamma", gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # On resuming (last_epoch >= 0) the initial step must not decay the rate once more.
        if self._is_initial:
            return [self.optimizer.lr]
        return [self.optimizer.lr * self.gamma]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the base rate to ``eta_min`` over ``T_max`` steps
    (Loshchilov & Hutter, SGDR, ICLR 2017; without restarts).

    The target is ``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``; as in
    torch it is computed recursively, each step multiplying ``lr - eta_min`` by
    ``(1 + cos(pi * t / T_max)) / (1 + cos(pi * (t - 1) / T_max))``. Past ``T_max`` the rate
    rises again (the cosine continues), as torch's does.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Half-period in steps, >= 1.
    eta_min : float
        Lowest rate, finite and >= 0.
    last_epoch : int
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ):
        self.T_max = check_int("T_max", T_max, 1)
        self.eta_min = check_non_negative("eta_min", eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lr, base_lr, t, T = self.optimizer.lr, self.base_lrs[0], self.last_epoch, self.T_max
        if self._is_initial:
            return [lr]
        if self._step_count == 1 and t > 0:
            return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(t * math.pi / T)) / 2]
        if (t - 1 - T) % (2 * T) == 0:
            # The recursion's denominator is 0 here (the bottom of the cosine): step up directly.
            return [lr + (base_lr - self.eta_min) * (1 - math.cos(math.pi / T)) / 2]
        return [
            (1 + math.cos(math.pi * t / T))
            / (1 + math.cos(math.pi * (t - 1) / T))
            * (lr - self.eta_min)
            + self.eta_min
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """Scale the base rate by a factor going linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` steps, then keep it: the usual warm-up (Goyal et al. 2017).

    The target is ``base_lr * (start + (end - start) * min(t, total_iters) / total_iters)``,
    computed recursively as torch does.

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float
        In (0, 1].
    end_factor : float
        In [0, 1].
    total_iters : int
        Steps of the linear change, >= 1.
    last_epoch : int
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not is_real(start_factor) or not 0 < start_factor <= 1:
            raise ValueError(f"start_factor must be a number in (0, 1], got {start_factor!r}")
        self.start_factor = float(start_factor)
        self.end_factor = check_range("end_factor", end_factor, 0.0, 1.0, high_inclusive=True)
        self.total_iters = check_int("total_iters", total_iters, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        lr = self.optimizer.lr
        if self.last_epoch == 0:
            return [lr * self.start_factor]
        if self._is_initial or self.last_epoch > self.total_iters:
            return [lr]
        change = self.end_factor - self.start_factor
        return [
            lr
            * (
                1.0
                + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
            )
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr
            * (
                self.start_factor
                + (self.end_factor - self.start_factor)
                * min(self.total_iters, self.last_epoch)
                / self.total_iters
            )
            for base_lr in self.base_lrs
        ]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2019, "Super-convergence"), stepped per batch.

    The rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    ``total_steps``, then falls to ``max_lr / div_factor / final_div_factor``; with
    ``three_phase`` it first falls back to the initial rate symmetrically, then to the minimum.
    Each phase anneals by cosine or linearly in the phase's fraction done; the rate is computed
    in closed form from the step number (torch's OneCycleLR is not chainable). With
    ``cycle_momentum`` the momentum (SGD, RMSprop) or Adam's ``beta1`` moves inversely between
    ``max_momentum`` and ``base_momentum``. At most ``total_steps`` steps may be taken after
    construction; one more raises ValueError, as torch does. The rate set by that last
    permitted step (after the last batch) is torch's clipped at 0: with ``"linear"`` torch's
    is negative, which dlkit's optimizers refuse.

    Parameters
    ----------
    optimizer : Optimizer
        For ``cycle_momentum``, one with a ``momentum`` > 0 (SGD, RMSprop) or ``betas``
        (Adam, AdamW).
    max_lr : float
        Peak rate, finite and > 0.
    total_steps : int, optional
        Length of the cycle in steps (batches), >= 1; else ``epochs * steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
        Each >= 1; used when ``total_steps`` is None.
    pct_start : float
        Fraction of the cycle spent raising the rate, in [0, 1].
    anneal_strategy : {"cos", "linear"}
    cycle_momentum : bool
    base_momentum, max_momentum : float
        Each in [0, 1).
    div_factor : float
        ``initial_lr = max_lr / div_factor``, > 0.
    final_div_factor : float
        ``min_lr = initial_lr / final_div_factor``, > 0.
    three_phase : bool
    last_epoch : int
        Number of batches already taken when resuming; -1 to start.
    """

    per_batch = True

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float,
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        _check_optimizer(optimizer)
        if total_steps is not None:
            self.total_steps = check_int("total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = check_int("epochs", epochs, 1) * check_int(
                "steps_per_epoch", steps_per_epoch, 1
            )
        else:
            raise ValueError(
                "OneCycleLR needs total_steps, or both epochs and steps_per_epoch; got "
                f"total_steps={total_steps!r}, epochs={epochs!r}, "
                f"steps_per_epoch={steps_per_epoch!r}"
            )
        pct_start = check_range("pct_start", pct_start, 0.0, 1.0, high_inclusive=True)
        self.three_phase = check_bool("three_phase", three_phase)
        if self.three_phase:
            self._schedule_phases = [
                {
                    "end_step": float(pct_start * self.total_steps) - 1,
                    "start_lr": "initial_lr",
                    "end_lr": "max_lr",
                    "start_momentum": "max_momentum",
                    "end_momentum": "base_momentum",
                },
                {
                    "end_step": float(2 * pct_start * self.total_steps) - 2,
                    "start_lr": "max_lr",
                    "end_lr": "initial_lr",
                    "start_momentum": "base_momentum",
                    "end_momentum": "max_momentum",
                },
                {
                    "end_step": self.total_steps - 1,
                    "start_lr": "initial_lr",
                    "end_lr": "min_lr",
                    "start_momentum": "max_momentum",
                    "end_momentum": "max_momentum",
                },
            ]
        else:
            self._schedule_phases = [
                {
                    "end_step": float(pct_start * self.total_steps) - 1,
                    "start_lr": "initial_lr",
                    "end_lr": "max_lr",
                    "start_momentum": "max_momentum",
                    "end_momentum": "base_momentum",
                },
                {
                    "end_step": self.total_steps - 1,
                    "start_lr": "max_lr",
                    "end_lr": "min_lr",
                    "start_momentum": "base_momentum",
                    "end_momentum": "max_momentum",
                },
            ]
        # torch divides by a phase's length: a first phase of length 0 fails at step 0 and a
        # last one at step total_steps (ZeroDivisionError there); refuse them up front.
        first, last = self._schedule_phases[0], self._schedule_phases[-1]
        previous_end = self._schedule_phases[-2]["end_step"]
        if first["end_step"] == 0 or last["end_step"] == previous_end:
            raise ValueError(
                f"pct_start={pct_start!r} with total_steps={self.total_steps} gives a phase of "
                "length 0 (pct_start * total_steps must not be 1, nor "
                f"{'(total_steps + 1) / 2' if self.three_phase else 'total_steps'}); "
                "change pct_start"
            )
        self._anneal_func_type = check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"))
        max_lr = _check_positive("max_lr", max_lr)
        div_factor = _check_positive("div_factor", div_factor)
        final_div_factor = _check_positive("final_div_factor", final_div_factor)
        # torch keeps these in the param group; dlkit has none, so they live here.
        self._group: dict[str, float] = {"max_lr": max_lr}
        self._group["initial_lr"] = max_lr / div_factor
        self._group["min_lr"] = self._group["initial_lr"] / final_div_factor
        if last_epoch == -1:
            optimizer.initial_lr = self._group["initial_lr"]

        self.cycle_momentum = check_bool("cycle_momentum", cycle_momentum)
        if self.cycle_momentum:
            if not hasattr(optimizer, "momentum") and not hasattr(optimizer, "betas"):
                raise ValueError(
                    "optimizer must support momentum or beta1 with `cycle_momentum` option "
                    f"enabled; {type(optimizer).__name__} has neither: pass cycle_momentum=False"
                )
            self.use_beta1 = hasattr(optimizer, "betas")
            if not self.use_beta1 and optimizer.momentum == 0:
                raise ValueError(
                    f"cycle_momentum=True needs {type(optimizer).__name__} built with "
                    "momentum > 0 (dlkit allocates the momentum buffer at construction), got "
                    "momentum=0: build it with momentum=0.9, say, or pass cycle_momentum=False"
                )
            self._group["max_momentum"] = check_range("max_momentum", max_momentum, 0.0, 1.0)
            self._group["base_momentum"] = check_range("base_momentum", base_momentum, 0.0, 1.0)
            if last_epoch == -1:
                self._set_momentum(self._group["max_momentum"], optimizer)
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, momentum: float, optimizer: Optimizer | None = None) -> None:
        optimizer = self.optimizer if optimizer is None else optimizer
        if self.use_beta1:
            optimizer.betas = (momentum, *optimizer.betas[1:])
        else:
            optimizer.momentum = momentum

    def _anneal_func(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return self._annealing_cos(start, end, pct)
        return self._annealing_linear(start, end, pct)

    @staticmethod
    def _annealing_cos(start: float, end: float, pct: float) -> float:
        """Cosine anneal from ``start`` to ``end`` as ``pct`` goes from 0 to 1."""
        cos_out = math.cos(math.pi * pct) + 1
        return end + (start - end) / 2.0 * cos_out

    @staticmethod
    def _annealing_linear(start: float, end: float, pct: float) -> float:
        """Linear anneal from ``start`` to ``end`` as ``pct`` goes from 0 to 1."""
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. The specified number of total steps is "
                f"{self.total_steps}"
            )
        group = {**self._group, "initial_lr": self.optimizer.initial_lr}
        start_step = 0.0
        for i, phase in enumerate(self._schedule_phases):
            end_step = phase["end_step"]
            if step_num <= end_step or i == len(self._schedule_phases) - 1:
                pct = (step_num - start_step) / (end_step - start_step)
                computed_lr = self._anneal_func(
                    group[phase["start_lr"]], group[phase["end_lr"]], pct
                )
                if self.cycle_momentum:
                    computed_momentum = self._anneal_func(
                        group[phase["start_momentum"]], group[phase["end_momentum"]], pct
                    )
                break
            start_step = phase["end_step"]
        if self.cycle_momentum:
            self._set_momentum(computed_momentum)
        # torch allows one step past the last batch (step_num == total_steps), where the
        # linear anneal extrapolates below min_lr, usually below 0; dlkit's optimizers refuse a
        # negative rate, so that last rate (never used by an update) is clipped at 0.
        return [max(computed_lr, 0.0)]

    def _optimizer_state(self) -> dict[str, Any]:
        state = super()._optimizer_state()
        if self.cycle_momentum:
            key = "betas" if self.use_beta1 else "momentum"
            state[key] = getattr(self.optimizer, key)
        return state


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when a metric has stopped improving.

    ``step(metric)`` after each epoch: a metric better than the best so far by more than the
    threshold (``best * (1 - threshold)`` in mode "min" with "rel", ``best - threshold`` with
    "abs"; mirrored for "max") resets the count of bad epochs; after more than ``patience`` bad
    epochs the rate becomes ``max(lr * factor, min_lr)`` (skipped if that changes it by no
    more than ``eps``) and ``cooldown`` epochs follow in which bad epochs are not counted.
    There is no initial step: the rate is untouched at construction.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}
    factor : float
        In [0, 1).
    patience : int
        Bad epochs tolerated, >= 0.
    threshold : float
        Finite, >= 0.
    threshold_mode : {"rel", "abs"}
    cooldown : int
        >= 0.
    min_lr : float
        Lower bound on the rate, finite and >= 0.
    eps : float
        Smallest change applied, finite and >= 0.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ):
        self.factor = check_range("factor", factor, 0.0, 1.0)
        self.optimizer = _check_optimizer(optimizer)
        self.default_min_lr = check_non_negative("min_lr", min_lr)
        self.min_lrs = [self.default_min_lr]
        self.patience = check_int("patience", patience, 0)
        self.cooldown = check_int("cooldown", cooldown, 0)
        self.eps = check_non_negative("eps", eps)
        self.last_epoch = 0
        self._last_lr = [self.optimizer.lr]
        self._init_is_better(
            mode=mode,
            threshold=check_non_negative("threshold", threshold),
            threshold_mode=threshold_mode,
        )
        self._reset()

    def _reset(self) -> None:
        """Reset the bad-epoch and cooldown counters."""
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: float) -> None:  # type: ignore[override]
        """Record one epoch's metric (e.g. the validation loss) and reduce the rate if due."""
        if not is_real(metrics) and not (hasattr(metrics, "ndim") and metrics.ndim == 0):
            raise ValueError(f"metrics must be a real number, got {metrics!r}"[:300])
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown are ignored
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [self.optimizer.lr]

    def _reduce_lr(self) -> None:
        old_lr = float(self.optimizer.lr)
        new_lr = max(old_lr * self.factor, self.min_lrs[0])
        if old_lr - new_lr > self.eps:
            self.optimizer.lr = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min" and self.threshold_mode == "abs":
            return a < best - self.threshold
        if self.mode == "max" and self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.threshold = threshold

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


class SequentialLR(LRScheduler):
    """Run schedules one after another, switching at the milestones (warm-up, then decay).

    As torch's: building the schedules stepped the rate, so the rate is reset to
    ``optimizer.initial_lr``, every schedule's ``last_epoch`` is wound back by one and the
    first schedule takes the initial step again. At milestone ``m_i`` schedule ``i + 1`` is
    restarted at its own step 0 with its closed form (so it starts from the base rate, not
    from where the previous schedule left the rate); between milestones the active schedule
    steps normally.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer every schedule was built on.
    schedulers : list of LRScheduler
        At least one; not ``ReduceLROnPlateau`` (its step needs a metric).
    milestones : list of int
        ``len(schedulers) - 1`` strictly increasing step indices, each >= 1.
    last_epoch : int

    Attributes
    ----------
    per_batch : bool
        The schedules' common ``per_batch``; mixing per-batch and per-epoch schedules is a
        ValueError.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ):
        _check_optimizer(optimizer)
        if isinstance(schedulers, (str, bytes)) or not isinstance(schedulers, Sequence):
            raise ValueError(f"schedulers must be a list of schedulers, got {schedulers!r}")
        if len(schedulers) < 1:
            raise ValueError("schedulers must hold at least one scheduler, got an empty list")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"schedulers[{i}] is a ReduceLROnPlateau, which SequentialLR does not "
                    "support: its step needs a metric"
                )
            if not isinstance(scheduler, LRScheduler):
                raise ValueError(
                    f"schedulers[{i}] must be a dlkit scheduler, got {type(scheduler).__name__}"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(
                    f"schedulers[{i}] ({type(scheduler).__name__}) was built on another "
                    "optimizer; every schedule must belong to the SequentialLR's optimizer"
                )
        if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence):
            raise ValueError(f"milestones must be a list of integers, got {milestones!r}")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "milestones must hold one entry fewer than schedulers, got "
                f"{len(schedulers)} schedulers and {len(milestones)} milestones {milestones!r}"
            )
        for i, m in enumerate(milestones):
            check_int(f"milestones[{i}]", m, 1)
            if i and m <= milestones[i - 1]:
                raise ValueError(f"milestones must be strictly increasing, got {milestones!r}")
        modes = {bool(s.per_batch) for s in schedulers}
        if len(modes) > 1:
            raise ValueError(
                "schedulers must all step per batch or all per epoch, got per_batch="
                f"{[s.per_batch for s in schedulers]}"
            )
        self.per_batch = modes.pop()
        last_epoch = check_int("last_epoch", last_epoch, -1)
        self._schedulers = list(schedulers)
        self._milestones = [int(m) for m in milestones]
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        optimizer.lr = optimizer.initial_lr
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def recursive_undo(self, sched: LRScheduler | None = None) -> None:
        """Wind back by one the step every (nested) schedule took when it was built."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:
        """Advance by one step: restart the next schedule at a milestone, else step the
        active one."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """The state, with every schedule's own state under ``"_schedulers"``."""
        state = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "_schedulers")
        }
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        state["optimizer_state"] = self._optimizer_state()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not isinstance(state_dict, dict) or "_schedulers" not in state_dict:
            raise ValueError(
                "state_dict must be a dict returned by SequentialLR.state_dict(), got "
                f"{type(state_dict).__name__}"
            )
        state = {k: v for k, v in state_dict.items() if k != "_schedulers"}
        super().load_state_dict(state)
        for scheduler, sub_state in zip(self._schedulers, state_dict["_schedulers"], strict=True):
            scheduler.load_state_dict(sub_state)
