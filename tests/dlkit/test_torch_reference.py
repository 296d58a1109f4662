"""PyTorch as the reference answer: every layer, activation and loss, forward and backward,
in float32 from identical weights (rtol 1e-4).

Each registry layer gets a torch twin holding copies of its parameters (a dlkit ``Dense``
weight is ``(in, out)``, torch's ``Linear.weight`` its transpose). A registry class with
neither a twin nor a stated exclusion fails ``test_layer_matches_torch``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from test_gradcheck import LOSS_CASES
from test_layers_contract import REGISTRY, registry_params

from dlkit import losses, nn

torch = pytest.importorskip(
    "torch", reason="PyTorch reference tests need torch (CI installs torch==2.13.0)"
)

pytestmark = pytest.mark.torch

#: registry classes compared with torch elsewhere or not at all, and why
NO_TWIN = {
    "HardSigmoid": "the notes' clip(0.25 x + 0.5, 0, 1), not torch's relu6(x + 3) / 6",
    "Dropout": "torch draws its own masks; see the dropout tests below",
    "Step": "torch's heaviside has no backward; see test_step_matches_heaviside",
}

Pairs = list[tuple[nn.Parameter, "torch.nn.Parameter", Callable]]


def _same(g):
    return g


def _transpose(g):
    return g.T


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(np.ascontiguousarray(a))


def _with_params(module, pairs: Pairs):
    """Copy each dlkit parameter into its torch counterpart (through the layout map)."""
    with torch.no_grad():
        for p, tp, layout in pairs:
            tp.copy_(_tensor(layout(p.data)))
    return module, pairs


def _affine_pairs(layer: nn.Layer, module) -> Pairs:
    """A norm layer's (gamma, weight) and (beta, bias) pairs, those that exist."""
    pairs = []
    if layer.gamma is not None:
        pairs.append((layer.gamma, module.weight, _same))
    if layer.beta is not None:
        pairs.append((layer.beta, module.bias, _same))
    return pairs


def twin(layer: nn.Layer) -> tuple[torch.nn.Module, Pairs]:
    """A torch module computing what ``layer`` computes, and its parameter pairs
    ``(dlkit parameter, torch parameter, map from torch's layout to dlkit's)``."""
    name = type(layer).__name__
    simple = {
        "Identity": torch.nn.Identity,
        "Sigmoid": torch.nn.Sigmoid,
        "Tanh": torch.nn.Tanh,
        "ReLU": torch.nn.ReLU,
        "SiLU": torch.nn.SiLU,
        "Flatten": torch.nn.Flatten,
    }
    if name in simple:
        return simple[name](), []
    if name == "LeakyReLU":
        return torch.nn.LeakyReLU(layer.negative_slope), []
    if name == "ELU":
        return torch.nn.ELU(layer.alpha), []
    if name == "Softmax":
        return torch.nn.Softmax(dim=-1), []
    if name == "PReLU":
        module = torch.nn.PReLU(1)
        return _with_params(module, [(layer.alpha, module.weight, _same)])
    if name == "Dense":
        module = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
        pairs = [(layer.weight, module.weight, _transpose)]
        if layer.bias is not None:
            pairs.append((layer.bias, module.bias, _same))
        return _with_params(module, pairs)
    if name in ("Conv1d", "Conv2d"):
        module = getattr(torch.nn, name)(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            bias=layer.bias is not None,
        )
        pairs = [(layer.weight, module.weight, _same)]
        if layer.bias is not None:
            pairs.append((layer.bias, module.bias, _same))
        return _with_params(module, pairs)
    if name in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        module = getattr(torch.nn, name)(
            layer.kernel_size, stride=layer.stride, padding=layer.padding
        )
        return module, []
    if name in ("BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d"):
        module = getattr(torch.nn, name)(
            layer.num_features,
            eps=layer.eps,
            momentum=layer.momentum,
            affine=layer.affine,
            track_running_stats=layer.track_running_stats,
        )
        if layer.track_running_stats:
            with torch.no_grad():
                module.running_mean.copy_(_tensor(layer.running_mean))
                module.running_var.copy_(_tensor(layer.running_var))
                module.num_batches_tracked.fill_(layer.num_batches_tracked)
        return _with_params(module, _affine_pairs(layer, module))
    if name == "GroupNorm":
        module = torch.nn.GroupNorm(
            layer.num_groups, layer.num_channels, eps=layer.eps, affine=layer.affine
        )
        return _with_params(module, _affine_pairs(layer, module))
    if name == "LayerNorm":
        module = torch.nn.LayerNorm(
            layer.normalized_shape,
            eps=layer.eps,
            elementwise_affine=layer.elementwise_affine,
            bias=layer.bias,
        )
        return _with_params(module, _affine_pairs(layer, module))
    if name == "Sequential":
        modules, pairs = [], []
        for sub in layer.layers:
            module, sub_pairs = twin(sub)
            modules.append(module)
            pairs += sub_pairs
        return torch.nn.Sequential(*modules), pairs
    raise KeyError(f"no torch twin for {name}; add one to twin() or a reason to NO_TWIN")


def assert_close(actual, expected, rtol=1e-4, what=""):
    """float32 closeness: ``rtol``, plus an absolute floor of 1e-6 of the array's scale
    for the entries that cancel to nearly zero."""
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    assert actual.shape == expected.shape, what
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=1e-6 * scale, err_msg=what)


def torch_pass(module, x: np.ndarray, dy: np.ndarray, *, train: bool):
    """Forward and backward in torch; returns (y, dx)."""
    module.train(train)
    xt = _tensor(x).requires_grad_(True)
    yt = module(xt)
    yt.backward(_tensor(dy))
    return yt.detach().numpy(), xt.grad.numpy()


TWINNED = [name for name, case in REGISTRY.items() if case.cls not in NO_TWIN]


# torch notes that it pads a copy for an even kernel with padding="same"; the result stands
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", registry_params(TWINNED))
def test_layer_matches_torch(name, train, rng, torch_rtol):
    case = REGISTRY[name]
    layer = case.build(rng)
    if not train:
        layer.forward(case.sample(rng), train=True)  # non-initial running statistics
    module, pairs = twin(layer)
    assert len(pairs) == len(layer.parameters())
    x = case.sample(rng)
    dy = rng.standard_normal(case.out_shape).astype(np.float32)

    layer.zero_grad()
    y = layer.forward(x, train=train)
    dx = layer.backward(dy)
    y_ref, dx_ref = torch_pass(module, x, dy, train=train)

    assert_close(y, y_ref, torch_rtol, "forward")
    assert_close(dx, dx_ref, torch_rtol, "input gradient")
    for p, tp, layout in pairs:
        assert_close(p.grad, layout(tp.grad.numpy()), torch_rtol, f"{p.name} gradient")


def test_twins_exist_for_every_registry_class_but_the_exclusions():
    for name in TWINNED:
        case = REGISTRY[name]
        if case.available:
            twin(case.build(np.random.default_rng(0)))
    assert set(NO_TWIN) <= {case.cls for case in REGISTRY.values()}


def test_prelu_alpha_gradient(rng, torch_rtol):
    layer = nn.PReLU(init=0.2)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    dy = rng.standard_normal((16, 8)).astype(np.float32)
    layer.forward(x, train=True)
    layer.backward(dy)
    module = torch.nn.PReLU(1, init=0.2)
    torch_pass(module, x, dy, train=True)
    assert_close(layer.alpha.grad, module.weight.grad, torch_rtol)
    np.testing.assert_allclose(layer.alpha.grad, [np.sum(dy * x * (x <= 0))], rtol=1e-5)


def test_softmax_normalizes_the_last_axis(rng, torch_rtol):
    x = (3 * rng.standard_normal((2, 3, 5))).astype(np.float32)
    y = nn.Softmax().forward(x, train=False)
    assert_close(y, torch.softmax(_tensor(x), dim=-1), torch_rtol)
    np.testing.assert_allclose(y.sum(axis=-1), 1, rtol=1e-6)


def test_softmax_is_stable_for_large_logits(torch_rtol):
    x = np.array([[1000.0, -1000.0, 999.0]], np.float32)
    y = nn.Softmax().forward(x, train=False)
    assert np.all(np.isfinite(y))
    assert_close(y, torch.softmax(_tensor(x), dim=-1), torch_rtol)


def test_step_matches_heaviside(rng):
    x = REGISTRY["Step"].sample(rng)
    expected = torch.heaviside(_tensor(x), torch.tensor(0.0)).numpy()
    np.testing.assert_array_equal(nn.Step().forward(x, train=True), expected)


def test_hard_sigmoid_is_the_notes_hard_logistic(rng):
    x = REGISTRY["HardSigmoid"].sample(rng)
    expected = torch.clamp(0.25 * _tensor(x) + 0.5, 0, 1).numpy()
    np.testing.assert_allclose(nn.HardSigmoid().forward(x, train=True), expected, rtol=1e-6)


def test_dropout_eval_matches_torch(rng):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    ref = torch.nn.Dropout(0.4).eval()(_tensor(x)).numpy()
    np.testing.assert_array_equal(nn.Dropout(0.4, rng=rng).forward(x, train=False), ref)


def test_dropout_training_scales_survivors_as_torch(rng):
    p = 0.4
    x = rng.uniform(1, 2, (50, 40)).astype(np.float32)
    y = nn.Dropout(p, rng=rng).forward(x, train=True)
    torch.manual_seed(0)
    ref = torch.nn.Dropout(p).train()(_tensor(x)).numpy()
    np.testing.assert_allclose(y[y != 0] / x[y != 0], 1 / (1 - p), rtol=1e-6)
    np.testing.assert_allclose(ref[ref != 0] / x[ref != 0], 1 / (1 - p), rtol=1e-6)


@pytest.mark.parametrize("momentum", [0.1, 0.3])
@pytest.mark.parametrize("shape", [(16, 4), (8, 4, 6)], ids=["2d", "3d"])
def test_batchnorm_after_training_steps_matches_torch(shape, momentum, rng, torch_rtol):
    layer = nn.BatchNorm1d(4, momentum=momentum)
    layer.gamma.data[...] = 1 + 0.3 * rng.standard_normal(4)
    layer.beta.data[...] = rng.standard_normal(4)
    module, _ = twin(layer)
    for step in range(5):
        x = (step + (1 + step) * rng.standard_normal(shape)).astype(np.float32)
        y = layer.forward(x, train=True)
        module.train()
        assert_close(y, module(_tensor(x)), torch_rtol, f"train output, step {step}")
    assert_close(layer.running_mean, module.running_mean, torch_rtol, "running mean")
    assert_close(layer.running_var, module.running_var, torch_rtol, "running variance")
    x = (2 + 3 * rng.standard_normal(shape)).astype(np.float32)
    module.eval()
    assert_close(layer.forward(x, train=False), module(_tensor(x)), torch_rtol, "eval output")


# --------------------------------------------------------------------------- losses


def torch_loss(cls: str, pred: np.ndarray, target: np.ndarray):
    """(value, gradient) of torch's namesake loss with reduction="mean"."""
    pt = _tensor(pred).requires_grad_(True)
    tt = _tensor(target)
    if target.dtype.kind == "f":
        tt = tt.to(pt.dtype)
    value = getattr(torch.nn, cls)()(pt, tt)
    value.backward()
    return value.item(), pt.grad.numpy()


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
def test_loss_matches_torch(name, rng, torch_rtol):
    case = LOSS_CASES[name]
    pred = (2 * rng.standard_normal(case.shape)).astype(np.float32)
    target = case.target(rng, case.shape)
    if target.dtype.kind == "f":
        target = target.astype(np.float32)
    loss = getattr(losses, case.cls)()
    value = loss.forward(pred, target)
    grad = loss.backward()
    ref_value, ref_grad = torch_loss(case.cls, pred, target)
    assert value == pytest.approx(ref_value, rel=torch_rtol)
    assert grad.dtype == np.float32
    assert_close(grad, ref_grad, torch_rtol, "gradient")


@pytest.mark.parametrize(
    "name", ["CrossEntropyLoss-labels", "CrossEntropyLoss-soft", "BCEWithLogitsLoss-binary"]
)
def test_loss_with_logits_of_1000_is_finite_and_matches_torch(name, rng, torch_rtol):
    case = LOSS_CASES[name]
    pred = 1000 * rng.choice([-1.0, 1.0], case.shape) + rng.standard_normal(case.shape)
    pred = pred.astype(np.float32)
    target = case.target(rng, case.shape)
    if target.dtype.kind == "f":
        target = target.astype(np.float32)
    loss = getattr(losses, case.cls)()
    value = loss.forward(pred, target)
    grad = loss.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    ref_value, ref_grad = torch_loss(case.cls, pred, target)
    assert value == pytest.approx(ref_value, rel=torch_rtol)
    assert_close(grad, ref_grad, torch_rtol, "gradient")


def test_mse_reduction_averages_over_every_element(rng):
    pred = rng.standard_normal((4, 3)).astype(np.float32)
    target = np.zeros_like(pred)
    loss = losses.MSELoss()
    assert loss.forward(pred, target) == pytest.approx(float(np.mean(pred**2)), rel=1e-6)
    np.testing.assert_allclose(loss.backward(), 2 * pred / pred.size, rtol=1e-6)
