"""Conv1d/Conv2d and the pooling layers: gradient checks in float64, PyTorch references in
float32 (forward, dx, dW, db), max-pool ties, no mutation of inputs, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlkit import gradcheck
from dlkit.nn.conv import Conv1d, Conv2d
from dlkit.nn.pool import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d

TORCH_REASON = "PyTorch reference tests need torch (CI installs torch==2.13.0)"

# (N, in_channels, out_channels, spatial, kernel_size, stride, padding)
CONV1D_CASES = [
    (2, 2, 3, (7,), 3, 1, "valid"),
    (2, 2, 3, (7,), 3, 1, "same"),
    (2, 2, 3, (8,), 4, 1, "same"),  # even kernel: the extra zero goes at the end
    (2, 2, 3, (9,), 3, 2, 1),
    (2, 1, 2, (11,), 5, 2, 1),  # the MNIST-1D CNN's first layer, shorter
    (2, 2, 2, (5,), 5, 1, "valid"),  # kernel = input size
    (2, 3, 2, (6,), 2, 3, 2),  # stride > kernel: some inputs are never read
    (1, 1, 1, (1,), 1, 1, 0),
]
CONV2D_CASES = [
    (2, 2, 3, (5, 6), 3, 1, "valid"),
    (2, 2, 2, (5, 6), (2, 3), 1, "same"),
    (2, 2, 2, (7, 5), 3, (2, 1), (1, 2)),
    (1, 2, 2, (4, 5), (4, 5), 1, 0),  # kernel = input size
    (2, 1, 2, (6, 7), 2, 3, 1),
]
# (layer class, input shape, kernel_size, stride, padding)
POOL_CASES = [
    (cls, shape, k, s, p)
    for cls in (MaxPool1d, AvgPool1d)
    for shape, k, s, p in [
        ((2, 3, 9), 3, None, 0),
        ((2, 3, 9), 3, 2, 1),
        ((2, 2, 8), 2, 1, 1),
        ((2, 2, 7), 7, None, 0),  # kernel = input size
        ((2, 2, 10), 4, 3, 2),
    ]
] + [
    (cls, shape, k, s, p)
    for cls in (MaxPool2d, AvgPool2d)
    for shape, k, s, p in [
        ((2, 2, 6, 7), 2, None, 0),
        ((2, 2, 7, 6), (3, 2), (2, 1), (1, 1)),
        ((1, 2, 5, 5), 5, None, 0),  # kernel = input size
        ((2, 1, 6, 7), 3, 2, 1),
    ]
]
CONV_CLASSES = {1: Conv1d, 2: Conv2d}


def _conv(case, rng, **kwargs):
    n, c_in, c_out, spatial, k, s, p = case
    layer = CONV_CLASSES[len(spatial)](c_in, c_out, k, s, p, rng=rng, **kwargs)
    if layer.bias is not None:
        layer.bias.data[...] = rng.standard_normal(c_out)
    x = rng.standard_normal((n, c_in, *spatial)).astype(np.float32)
    return layer, x


def _case_id(case):
    return "-".join(str(v).replace(" ", "") for v in case[1:] if not isinstance(v, type))


def _pool_id(case):
    cls, *rest = case
    return cls.__name__ + "-" + "-".join(str(v).replace(" ", "") for v in rest)


# ---------------------------------------------------------------------------------------------
# gradient checks (float64, centred differences)


@pytest.mark.parametrize("case", CONV1D_CASES + CONV2D_CASES, ids=_case_id)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_gradcheck(case, bias):
    rng = np.random.default_rng(0)
    layer, x = _conv(case, rng, bias=bias)
    assert gradcheck.check(layer, x.astype(np.float64), rng=rng) < 1e-6


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool_gradcheck(case):
    cls, shape, k, s, p = case
    rng = np.random.default_rng(1)
    # continuous random values: no two elements of a window within the 1e-6 step of a tie
    x = rng.standard_normal(shape)
    assert gradcheck.check(cls(k, s, p), x, rng=rng) < 1e-6


# ---------------------------------------------------------------------------------------------
# PyTorch references (float32)


def _torch():
    return pytest.importorskip("torch", reason=TORCH_REASON)


def _assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", CONV1D_CASES + CONV2D_CASES, ids=_case_id)
def test_conv_matches_torch(case):
    torch = _torch()
    f = torch.nn.functional
    rng = np.random.default_rng(2)
    layer, x = _conv(case, rng)
    y = layer.forward(x, train=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(layer.weight.data, requires_grad=True)
    bt = torch.tensor(layer.bias.data, requires_grad=True)
    conv = f.conv1d if x.ndim == 3 else f.conv2d
    yt = conv(xt, wt, bt, stride=case[5], padding=case[6])
    yt.backward(torch.tensor(dy))

    assert y.dtype == dx.dtype == np.float32
    _assert_close(y, yt.detach().numpy())
    _assert_close(dx, xt.grad.numpy())
    _assert_close(layer.weight.grad, wt.grad.numpy())
    _assert_close(layer.bias.grad, bt.grad.numpy())


def _torch_pool(torch, cls, x, k, s, p):
    f = torch.nn.functional
    fn = {
        MaxPool1d: f.max_pool1d,
        MaxPool2d: f.max_pool2d,
        AvgPool1d: f.avg_pool1d,
        AvgPool2d: f.avg_pool2d,
    }[cls]
    return fn(x, k, s, p)


@pytest.mark.torch
@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_id)
def test_pool_matches_torch(case):
    torch = _torch()
    cls, shape, k, s, p = case
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    layer = cls(k, s, p)
    y = layer.forward(x, train=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)

    xt = torch.tensor(x, requires_grad=True)
    yt = _torch_pool(torch, cls, xt, k, s, p)
    yt.backward(torch.tensor(dy))
    assert y.dtype == dx.dtype == np.float32
    _assert_close(y, yt.detach().numpy())
    _assert_close(dx, xt.grad.numpy())


@pytest.mark.torch
@pytest.mark.parametrize(
    ("cls", "shape", "k", "s", "p"),
    [
        (MaxPool1d, (2, 3, 16), 3, 1, 1),
        (MaxPool1d, (2, 3, 16), 4, 2, 2),
        (MaxPool2d, (2, 3, 7, 8), 3, 1, 1),
        (MaxPool2d, (2, 3, 8, 8), 2, None, 0),
        (MaxPool2d, (2, 3, 9, 8), (3, 2), (2, 1), (1, 0)),
    ],
)
def test_max_pool_ties_match_torch(cls, shape, k, s, p):
    """Windows full of equal values: the gradient goes where PyTorch sends it (first max)."""
    torch = _torch()
    rng = np.random.default_rng(4)
    x = rng.integers(-1, 2, size=shape).astype(np.float32)
    layer = cls(k, s, p)
    y = layer.forward(x, train=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)

    xt = torch.tensor(x, requires_grad=True)
    yt = _torch_pool(torch, cls, xt, k, s, p)
    yt.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    _assert_close(dx, xt.grad.numpy())


def test_max_pool_tie_goes_to_first_maximum():
    x = np.array([[[1.0, 3.0, 3.0, 2.0, 3.0, 3.0]]], np.float32)
    layer = MaxPool1d(3)
    np.testing.assert_array_equal(layer.forward(x, train=True), [[[3.0, 3.0]]])
    dx = layer.backward(np.array([[[10.0, 20.0]]], np.float32))
    np.testing.assert_array_equal(dx, [[[0.0, 10.0, 0.0, 0.0, 20.0, 0.0]]])


@pytest.mark.torch
def test_max_pool_nan_matches_torch():
    torch = _torch()
    x = np.array([[[0.0, np.nan, 2.0, np.nan, 1.0, 5.0, 4.0]]], np.float32)
    layer = MaxPool1d(3, 1, 1)
    y = layer.forward(x, train=True)
    dy = np.arange(1, y.shape[-1] + 1, dtype=np.float32)[None, None]
    dx = layer.backward(dy)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool1d(xt, 3, 1, 1)
    yt.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(dx, xt.grad.numpy())


def test_max_pool_routes_non_finite_dy_only_to_the_maximum():
    x = np.array([[[1.0, 3.0, 2.0, 0.0, 5.0, 4.0]]], np.float32)
    layer = MaxPool1d(3)
    layer.forward(x, train=True)
    dx = layer.backward(np.array([[[np.inf, np.nan]]], np.float32))
    np.testing.assert_array_equal(dx, [[[0.0, np.inf, 0.0, 0.0, np.nan, 0.0]]])


@pytest.mark.torch
def test_conv_pool_stack_matches_torch():
    """Layers fed with each other's outputs and gradients (whatever their memory layout)."""
    torch = _torch()
    f = torch.nn.functional
    rng = np.random.default_rng(5)
    conv1 = Conv2d(2, 4, 3, padding="same", rng=rng)
    pool1 = MaxPool2d(2)
    # unpadded: reads the previous layers' output views in place
    conv2 = Conv2d(4, 3, 2, stride=(1, 2), rng=rng)
    pool2 = AvgPool2d(2, 1)
    for conv in (conv1, conv2):
        conv.bias.data[...] = rng.standard_normal(conv.bias.shape)
    layers = [conv1, pool1, conv2, pool2]
    x = rng.standard_normal((3, 2, 8, 9)).astype(np.float32)
    h = x
    for layer in layers:
        h = layer.forward(h, train=True)
    dy = rng.standard_normal(h.shape).astype(np.float32)
    g = dy
    for layer in reversed(layers):
        g = layer.backward(g)

    xt = torch.tensor(x, requires_grad=True)
    ws = [torch.tensor(c.weight.data, requires_grad=True) for c in (conv1, conv2)]
    bs = [torch.tensor(c.bias.data, requires_grad=True) for c in (conv1, conv2)]
    ht = f.max_pool2d(f.conv2d(xt, ws[0], bs[0], padding="same"), 2)
    ht = f.avg_pool2d(f.conv2d(ht, ws[1], bs[1], stride=(1, 2)), 2, 1)
    ht.backward(torch.tensor(dy))
    _assert_close(h, ht.detach().numpy())
    _assert_close(g, xt.grad.numpy())
    for conv, wt, bt in zip((conv1, conv2), ws, bs, strict=True):
        _assert_close(conv.weight.grad, wt.grad.numpy())
        _assert_close(conv.bias.grad, bt.grad.numpy())


@pytest.mark.torch
def test_mnist1d_cnn_stack_matches_torch():
    """The MNIST-1D CNN's three convolutions at full batch size, forward and backward."""
    torch = _torch()
    f = torch.nn.functional
    rng = np.random.default_rng(6)
    convs = [
        Conv1d(1, 25, 5, 2, 1, rng=rng),
        Conv1d(25, 25, 3, 2, 1, rng=rng),
        Conv1d(25, 25, 3, 2, 1, rng=rng),
    ]
    x = rng.standard_normal((100, 1, 40)).astype(np.float32)
    h = x
    for conv in convs:
        h = np.maximum(conv.forward(h, train=True), 0)
    assert h.shape == (100, 25, 5)
    dy = rng.standard_normal(h.shape).astype(np.float32)
    xt = torch.tensor(x)
    ws = [torch.tensor(c.weight.data, requires_grad=True) for c in convs]
    ht = xt
    for wt, conv in zip(ws, convs, strict=True):
        ht = torch.relu(f.conv1d(ht, wt, torch.tensor(conv.bias.data), stride=2, padding=1))
    ht.backward(torch.tensor(dy))
    _assert_close(h, ht.detach().numpy())

    convs[0].input_grad = False
    g = dy
    outs = []
    h = x
    for conv in convs:
        h = np.maximum(conv.forward(h, train=True), 0)
        outs.append(h)
    for conv, out in zip(reversed(convs), reversed(outs), strict=True):
        g = conv.backward(g * (out > 0))
    assert g is None
    for conv, wt in zip(convs, ws, strict=True):
        _assert_close(conv.weight.grad, wt.grad.numpy())


# ---------------------------------------------------------------------------------------------
# layer contract


ALL_LAYERS = [
    lambda rng: (Conv1d(2, 3, 3, 2, 1, rng=rng), (2, 2, 9)),
    lambda rng: (Conv2d(2, 3, (2, 3), 1, "same", rng=rng), (2, 2, 5, 6)),
    lambda rng: (MaxPool1d(3, 2, 1), (2, 2, 9)),
    lambda rng: (MaxPool2d(2), (2, 2, 6, 5)),
    lambda rng: (AvgPool1d(3, 2, 1), (2, 2, 9)),
    lambda rng: (AvgPool2d((2, 3), 1, (1, 1)), (2, 2, 6, 5)),
]


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_inputs_and_dy_not_mutated(make):
    rng = np.random.default_rng(7)
    layer, shape = make(rng)
    x = rng.standard_normal(shape).astype(np.float32)
    x0 = x.copy()
    y = layer.forward(x, train=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dy0 = dy.copy()
    dx = layer.backward(dy)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dy, dy0)
    assert dx.shape == x.shape
    assert not np.shares_memory(dx, dy)
    assert not np.shares_memory(y, x)


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_results_do_not_depend_on_memory_layout(make):
    """C-contiguous, batch-innermost and strided inputs and upstream gradients agree."""
    rng = np.random.default_rng(12)
    layer, shape = make(rng)
    x = rng.standard_normal(shape).astype(np.float32)
    batch_last = np.ascontiguousarray(np.moveaxis(x, 0, -1))
    strided = np.zeros((shape[0], shape[1], *(2 * m for m in shape[2:])), np.float32)
    strided[(slice(None), slice(None), *(slice(None, None, 2),) * (len(shape) - 2))] = x
    views = [
        x,
        np.moveaxis(batch_last, -1, 0),
        strided[(slice(None), slice(None), *(slice(None, None, 2),) * (len(shape) - 2))],
    ]
    y = layer.forward(x, train=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(dy)
    grads = [p.grad.copy() for p in layer.parameters()]
    for view in views[1:]:
        for p in layer.parameters():
            p.zero_grad()
        np.testing.assert_allclose(layer.forward(view, train=True), y, rtol=1e-6, atol=1e-6)
        dy_view = np.moveaxis(np.ascontiguousarray(np.moveaxis(dy, 0, -1)), -1, 0)
        np.testing.assert_allclose(layer.backward(dy_view), dx, rtol=1e-6, atol=1e-6)
        for p, g in zip(layer.parameters(), grads, strict=True):
            np.testing.assert_allclose(p.grad, g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [Conv1d, Conv2d])
def test_conv_gradients_accumulate_and_input_grad_off(cls):
    rng = np.random.default_rng(8)
    layer = cls(2, 3, 3, padding=1, rng=rng)
    spatial = (5,) if cls is Conv1d else (5, 5)
    x = rng.standard_normal((2, 2, *spatial)).astype(np.float32)
    y = layer.forward(x, train=True)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    layer.backward(dy)
    once = [p.grad.copy() for p in layer.parameters()]
    layer.input_grad = False
    assert layer.backward(dy) is None
    for p, g in zip(layer.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6)


@pytest.mark.parametrize(
    ("cls", "kernel", "fan_in"), [(Conv1d, 5, 3 * 5), (Conv2d, (3, 4), 3 * 12)]
)
def test_conv_default_init_is_torch_default(cls, kernel, fan_in):
    layer = cls(3, 64, kernel, rng=np.random.default_rng(9))
    w = layer.weight.data
    k = (kernel,) if isinstance(kernel, int) else kernel
    assert w.shape == (64, 3, *k) and w.dtype == np.float32
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    np.testing.assert_array_equal(layer.bias.data, 0)
    assert layer.parameters() == [layer.weight, layer.bias]
    again = cls(3, 64, kernel, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(again.weight.data, w)
    assert cls(3, 4, kernel, bias=False, rng=np.random.default_rng(0)).parameters()[0].name == (
        "weight"
    )


def test_conv_init_name_and_callable():
    rng = np.random.default_rng(10)
    layer = Conv1d(4, 8, 3, init="kaiming_normal", rng=rng)
    assert layer.weight.shape == (8, 4, 3)
    const = Conv2d(1, 2, 2, init=lambda shape, rng: np.full(shape, 0.5), rng=rng)
    np.testing.assert_array_equal(const.weight.data, np.full((2, 1, 2, 2), 0.5, np.float32))
    assert const.weight.data.dtype == np.float32


def test_float64_input_to_float32_layer_gives_float32():
    layer = Conv1d(1, 2, 3, rng=np.random.default_rng(11))
    y = layer.forward(np.ones((2, 1, 6)), train=False)
    assert y.dtype == np.float32 and y.shape == (2, 2, 4)


def test_same_padding_keeps_size_and_even_kernel_pads_at_end():
    # one input channel, kernel of ones: each output is the sum of its window
    layer = Conv1d(1, 1, 4, padding="same", init=lambda s, r: np.ones(s), bias=False)
    x = np.arange(1, 6, dtype=np.float32)[None, None]
    y = layer.forward(x, train=False)
    # total padding 3: one zero before, two after
    np.testing.assert_array_equal(y, [[[6.0, 10.0, 14.0, 12.0, 9.0]]])
    layer2 = Conv2d(1, 1, (3, 2), padding="same", rng=np.random.default_rng(0))
    assert layer2.forward(np.ones((1, 1, 5, 7), np.float32), train=False).shape == (1, 1, 5, 7)


# ---------------------------------------------------------------------------------------------
# validation


def test_bad_padding_string_names_it_and_choices():
    with pytest.raises(ValueError, match=r"'full'.*same.*valid"):
        Conv1d(1, 1, 3, padding="full")


def test_same_padding_with_stride_raises():
    with pytest.raises(ValueError, match="same"):
        Conv2d(1, 1, 3, stride=2, padding="same")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kernel_size": 0},
        {"kernel_size": (3, 3)},
        {"kernel_size": None},
        {"kernel_size": "3"},
        {"stride": (True,)},
        {"stride": 0},
        {"padding": -1},
        {"in_channels": 0},
        {"out_channels": 2.5},
    ],
)
def test_bad_conv_arguments_raise(kwargs):
    args = {"in_channels": 1, "out_channels": 2, "kernel_size": 3} | kwargs
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Conv1d(**args)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (Conv1d(3, 2, 3), (4, 2, 10)),  # wrong channel count
        (Conv1d(3, 2, 3), (4, 3, 10, 1)),  # wrong ndim
        (Conv2d(3, 2, 3), (4, 3, 10)),
        (MaxPool1d(2), (4, 10)),
        (AvgPool2d(2), (4, 3, 10)),
    ],
    ids=["conv1d-channels", "conv1d-ndim", "conv2d-ndim", "maxpool1d-ndim", "avgpool2d-ndim"],
)
def test_input_shape_mismatch_names_layer_and_shapes(layer, shape):
    name = type(layer).__name__
    with pytest.raises(ValueError, match=rf"{name}.*expects input of shape.*got \({shape[0]}, "):
        layer.forward(np.zeros(shape, np.float32), train=False)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (Conv1d(1, 1, 5), (2, 1, 4)),
        (Conv1d(1, 1, 7, padding=1), (2, 1, 4)),
        (Conv2d(1, 1, (2, 6)), (2, 1, 5, 5)),
        (MaxPool1d(4, padding=1), (2, 1, 1)),
        (AvgPool2d(3), (2, 1, 2, 5)),
    ],
)
def test_kernel_larger_than_padded_input_raises(layer, shape):
    with pytest.raises(ValueError, match="larger than the padded input"):
        layer.forward(np.zeros(shape, np.float32), train=False)


@pytest.mark.parametrize("cls", [MaxPool1d, AvgPool1d])
def test_pool_padding_more_than_half_kernel_raises(cls):
    with pytest.raises(ValueError, match="at most half"):
        cls(3, padding=2)


def test_backward_checks_dy_shape_and_order():
    layer = Conv1d(1, 2, 3, rng=np.random.default_rng(0))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 2, 3), np.float32))
    layer.forward(np.zeros((2, 1, 6), np.float32), train=True)
    with pytest.raises(ValueError, match=r"dy must have shape \(2, 2, 4\)"):
        layer.backward(np.zeros((2, 2, 5), np.float32))
    pool = MaxPool2d(2)
    pool.forward(np.zeros((1, 1, 4, 4), np.float32), train=True)
    with pytest.raises(ValueError, match="dy must have shape"):
        pool.backward(np.zeros((1, 1, 4, 4), np.float32))


def test_repr_names_the_configuration():
    assert repr(Conv1d(1, 25, 5, 2, 1, rng=np.random.default_rng(0))) == (
        "Conv1d(1, 25, kernel_size=5, stride=2, padding=1, bias=True)"
    )
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
