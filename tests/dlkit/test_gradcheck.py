"""Analytic gradients against centred differences in float64, for every layer, activation,
loss and regularizer (relative error < 1e-6), plus checks that the checker itself can fail."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from test_layers_contract import REGISTRY, registry_params

from dlkit import gradcheck, losses, nn, regularizers


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", registry_params())
def test_layer_gradients(name, train, rng, grad_tol):
    case = REGISTRY[name]
    layer = case.build(rng)
    x = case.sample(rng, np.float64)
    if train is False:
        layer.forward(x.astype(np.float32), train=True)  # non-initial running statistics
    assert gradcheck.check(layer, x, rng=rng, train=train) < grad_tol


def test_step_passes_exactly_zero_gradient(rng):
    layer = nn.Step()
    x = REGISTRY["Step"].sample(rng)
    layer.forward(x, train=True)
    dx = layer.backward(rng.standard_normal(x.shape).astype(np.float32))
    assert dx.shape == x.shape
    assert not np.any(dx)


def test_gradients_flow_through_every_layer_of_a_deep_stack(rng, grad_tol):
    model = nn.Sequential(
        nn.Dense(3, 4, rng=rng),
        nn.LayerNorm(4),
        nn.SiLU(),
        nn.Dense(4, 4, rng=rng),
        nn.BatchNorm1d(4),
        nn.ELU(),
        nn.Dense(4, 2, rng=rng),
        nn.Softmax(),
    )
    assert gradcheck.check(model, rng.standard_normal((6, 3)), rng=rng) < grad_tol


# --------------------------------------------------------------------------- losses


@dataclass(frozen=True)
class LossCase:
    """A loss, a prediction shape and a target drawn for that shape."""

    cls: str
    shape: tuple
    target: Callable[[np.random.Generator, tuple], np.ndarray]


def _labels(rng, shape):
    return rng.integers(0, shape[1], shape[0])


def _distributions(rng, shape):
    return rng.dirichlet(np.ones(shape[1]), shape[0])


def _unnormalized(rng, shape):
    # torch accepts any non-negative class weights per row, e.g. several ones per row
    return rng.uniform(0.1, 1.0, shape)


def _binary(rng, shape):
    return rng.integers(0, 2, shape).astype(np.float64)


def _uniform(rng, shape):
    return rng.uniform(0, 1, shape)


def _normal(rng, shape):
    return rng.standard_normal(shape)


LOSS_CASES: dict[str, LossCase] = {
    "MSELoss": LossCase("MSELoss", (5, 3), _normal),
    "MSELoss-1d": LossCase("MSELoss", (7,), _normal),
    "CrossEntropyLoss-labels": LossCase("CrossEntropyLoss", (6, 4), _labels),
    "CrossEntropyLoss-soft": LossCase("CrossEntropyLoss", (6, 4), _distributions),
    "CrossEntropyLoss-soft-unnormalized": LossCase("CrossEntropyLoss", (6, 4), _unnormalized),
    "BCEWithLogitsLoss-binary": LossCase("BCEWithLogitsLoss", (5, 3), _binary),
    "BCEWithLogitsLoss-soft": LossCase("BCEWithLogitsLoss", (5, 3), _uniform),
    "BCEWithLogitsLoss-1d": LossCase("BCEWithLogitsLoss", (8,), _binary),
}


def exported_loss_classes() -> set[str]:
    return {
        name
        for name, obj in vars(losses).items()
        if not name.startswith("_")
        and inspect.isclass(obj)
        and issubclass(obj, losses.Loss)
        and obj is not losses.Loss
    }


def test_loss_cases_cover_every_loss():
    missing = sorted(exported_loss_classes() - {c.cls for c in LOSS_CASES.values()})
    assert not missing, f"losses without a LOSS_CASES entry (add one): {missing}"


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_gradients(name, rng, grad_tol):
    case = LOSS_CASES[name]
    pred = 2 * rng.standard_normal(case.shape)
    target = case.target(rng, case.shape)
    assert gradcheck.check(getattr(losses, case.cls)(), pred, target=target) < grad_tol


# --------------------------------------------------------------------------- regularizers

REGULARIZERS = {"L1": lambda: regularizers.L1(0.3), "L2": lambda: regularizers.L2(0.3)}


def test_regularizer_cases_cover_every_regularizer():
    public = {
        name
        for name, obj in vars(regularizers).items()
        if not name.startswith("_")
        and inspect.isclass(obj)
        and hasattr(obj, "penalty")
        and hasattr(obj, "backward")
    }
    assert public == set(REGULARIZERS)


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_regularizer_gradients(name, rng, grad_tol):
    reg = REGULARIZERS[name]()
    # |w| >= 0.2 keeps L1's kink at 0 out of reach of the finite differences
    w = nn.Parameter(REGISTRY["ReLU"].sample(rng, np.float64), "weight")
    b = nn.Parameter(rng.standard_normal(5), "bias")
    params = [w, b]
    reg.backward(params)
    for p in params:
        numeric = gradcheck.numerical_gradient(lambda: reg.penalty(params), p.data)
        assert gradcheck.relative_error(p.grad, numeric) < grad_tol
    assert not np.any(b.grad), "biases are never penalized"
    assert np.any(w.grad)


# --------------------------------------------------------------------------- the checker


class _WrongDense(nn.Dense):
    """Dense whose input gradient is off by 1 %."""

    def backward(self, dy):
        return 1.01 * super().backward(dy)


class _WrongBiasDense(nn.Dense):
    """Dense that forgets its bias gradient."""

    def backward(self, dy):
        dx = super().backward(dy)
        self.bias.grad[...] = 0
        return dx


class _WrongMSE(losses.MSELoss):
    """MSE with the classic forgotten factor 2."""

    def backward(self):
        return super().backward() / 2


def test_checker_flags_wrong_input_gradient(rng):
    layer = _WrongDense(3, 2, rng=rng)
    assert gradcheck.check(layer, rng.standard_normal((4, 3))) > 1e-3


def test_checker_flags_wrong_parameter_gradient(rng):
    layer = _WrongBiasDense(3, 2, rng=rng)
    assert gradcheck.check(layer, rng.standard_normal((4, 3))) > 0.5
    assert gradcheck.check(layer, rng.standard_normal((4, 3)), params=False) < 1e-6


def test_checker_flags_wrong_loss_gradient(rng):
    pred, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert gradcheck.check(_WrongMSE(), pred, target=target) > 0.1


def test_checker_restores_float32_parameters(rng):
    layer = nn.Dense(3, 2, rng=rng)
    weight = layer.weight.data.copy()
    gradcheck.check(layer, rng.standard_normal((4, 3)))
    assert layer.weight.data.dtype == np.float32 and layer.weight.grad.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, weight)


def test_checker_needs_a_target_for_a_loss(rng):
    with pytest.raises(ValueError, match="target"):
        gradcheck.check(losses.MSELoss(), rng.standard_normal(3))
