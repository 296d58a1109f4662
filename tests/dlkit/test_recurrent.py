"""Recurrent layers ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` (issue 21).

PyTorch is the reference answer: from copied parameters, the output, ``h_n`` (``c_n``), the
input gradient, the initial-state gradients and every parameter gradient agree with
``torch.nn.RNN/LSTM/GRU(batch_first=True)`` at rtol 1e-4 for T in {1, 3, 7}, one and two
layers, with and without ``h0``, and a loss on the output sequence or on the last state only.
Float64 centred differences (``dlkit.gradcheck``) check the same gradients without torch; the
rest pins the layer contract (accumulation, no mutation, ``input_grad``, dtype) and bad input.

The generic registry contract of ``test_layers_contract.py`` does not apply (``forward``
returns a tuple); its coverage test exempts exactly ``TESTED_IN_TEST_RECURRENT``, which
``test_exemption_in_the_contract_is_exactly_these_classes`` keeps honest.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_layers_contract import TESTED_IN_TEST_RECURRENT, exported_layer_classes

from dlkit import losses, nn, optim
from dlkit.gradcheck import numerical_gradient, relative_error
from dlkit.nn.recurrent import _Recurrent

try:
    import torch
except ImportError:  # pragma: no cover - CI installs torch
    torch = None


def needs_torch(test):
    """Mark a PyTorch reference test: ``torch`` marker, skipped when torch is absent."""
    skip = pytest.mark.skipif(torch is None, reason="PyTorch reference tests need torch")
    return pytest.mark.torch(skip(test))


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Run torch on one thread here: these tensors are tiny, and on a busy machine torch's
    intra-op threads made each comparison 10 to 50 times slower. Restored afterwards."""
    if torch is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


#: case name -> (dlkit class name, extra constructor keywords)
KINDS = {
    "RNN-tanh": ("RNN", {}),
    "RNN-relu": ("RNN", {"nonlinearity": "relu"}),
    "LSTM": ("LSTM", {}),
    "GRU": ("GRU", {}),
}
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
N, F, H = 3, 2, 4


def build(kind: str, num_layers: int = 1, *, seed: int = 0, f: int = F, h: int = H, **kw):
    cls, extra = KINDS[kind]
    return getattr(nn, cls)(f, h, num_layers, rng=np.random.default_rng(seed), **extra, **kw)


def is_lstm(layer) -> bool:
    return isinstance(layer, nn.LSTM)


def draw(rng, *shape, scale=1.0) -> np.ndarray:
    return (scale * rng.standard_normal(shape)).astype(np.float32)


# --------------------------------------------------------------------------- torch


def torch_twin(layer):
    """A torch module with the same configuration and copies of ``layer``'s parameters."""
    cls = type(layer).__name__
    kwargs = {"batch_first": True, "bias": layer.bias}
    if cls == "RNN":
        kwargs["nonlinearity"] = layer.nonlinearity
    module = getattr(torch.nn, cls)(layer.input_size, layer.hidden_size, layer.num_layers, **kwargs)
    named = list(module.named_parameters())
    assert [n for n, _ in named] == [p.name for p in layer.parameters()]
    with torch.no_grad():
        for (_, tp), p in zip(named, layer.parameters(), strict=True):
            assert tuple(tp.shape) == p.shape
            tp.copy_(torch.from_numpy(p.data.copy()))
    return module


def torch_pass(module, x, h0, c0, d_out, d_hn, d_cn):
    """Torch's forward and the gradients of ``sum(out*d_out) + sum(h_n*d_hn) [+ c_n*d_cn]``."""
    xt = torch.tensor(x, requires_grad=True)
    states = []
    if h0 is not None:
        states = [torch.tensor(h0, requires_grad=True)]
        if c0 is not None:
            states.append(torch.tensor(c0, requires_grad=True))
    if isinstance(module, torch.nn.LSTM):
        out, (hn, cn) = module(xt, tuple(states) if states else None)
    else:
        out, hn = module(xt, states[0] if states else None)
        cn = None
    loss = 0 * out.sum()
    if d_out is not None:
        loss = loss + (out * torch.from_numpy(d_out)).sum()
    if d_hn is not None:
        loss = loss + (hn * torch.from_numpy(d_hn)).sum()
    if d_cn is not None:
        loss = loss + (cn * torch.from_numpy(d_cn)).sum()
    loss.backward()
    return {
        "output": out.detach().numpy(),
        "h_n": hn.detach().numpy(),
        "c_n": None if cn is None else cn.detach().numpy(),
        "dx": xt.grad.numpy(),
        "h0_grad": None if not states else states[0].grad.numpy(),
        "c0_grad": None if len(states) < 2 else states[1].grad.numpy(),
        "grads": [p.grad.numpy() for p in module.parameters()],
    }


def dlkit_pass(layer, x, h0, c0, d_out, d_hn, d_cn):
    layer.zero_grad()
    if is_lstm(layer):
        out, (hn, cn) = layer.forward(x, None if h0 is None else (h0, c0), train=True)
        d_state = None if d_hn is None and d_cn is None else (d_hn, d_cn)
    else:
        out, hn = layer.forward(x, h0, train=True)
        cn, d_state = None, d_hn
    dx = layer.backward(d_out, d_state)
    return {
        "output": out,
        "h_n": hn,
        "c_n": cn,
        "dx": dx,
        "h0_grad": layer.h0_grad,
        "c0_grad": layer.c0_grad,
        "grads": [p.grad.copy() for p in layer.parameters()],
    }


def assert_close(actual, expected, what, rtol=1e-4, atol=1e-6):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def compare_with_torch(layer, x, h0, c0, d_out, d_hn, d_cn):
    ours = dlkit_pass(layer, x, h0, c0, d_out, d_hn, d_cn)
    ref = torch_pass(torch_twin(layer), x, h0, c0, d_out, d_hn, d_cn)
    for key in ("output", "h_n", "c_n", "dx"):
        if ref[key] is not None:
            assert ours[key].dtype == np.float32, key
            assert_close(ours[key], ref[key], key)
    for key in ("h0_grad", "c0_grad"):
        if ref[key] is not None:
            assert_close(ours[key], ref[key], key)
    for p, g, tg in zip(layer.parameters(), ours["grads"], ref["grads"], strict=True):
        assert_close(g, tg, f"{p.name} gradient")


@needs_torch
@pytest.mark.parametrize("loss_on", ["output", "last_state"])
@pytest.mark.parametrize("with_h0", [False, True], ids=["no_h0", "h0"])
@pytest.mark.parametrize("T", [1, 3, 7])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_matches_torch(kind, num_layers, T, with_h0, loss_on, rng):
    layer = build(kind, num_layers)
    L = num_layers
    x = draw(rng, N, T, F, scale=1.5)
    h0 = draw(rng, L, N, H) if with_h0 else None
    c0 = draw(rng, L, N, H) if with_h0 and is_lstm(layer) else None
    if loss_on == "output":
        d_out, d_hn, d_cn = draw(rng, N, T, H), None, None
    else:
        d_out, d_hn = None, draw(rng, L, N, H)
        d_cn = draw(rng, L, N, H) if is_lstm(layer) else None
    compare_with_torch(layer, x, h0, c0, d_out, d_hn, d_cn)


@needs_torch
@pytest.mark.parametrize("kind", list(KINDS))
def test_matches_torch_with_every_gradient_at_once_and_large_weights(kind, rng):
    """Output and state gradients together, weights scaled up so gates saturate."""
    layer = build(kind, 2, bias=True)
    for p in layer.parameters():
        p.data *= 3
    L, T = 2, 5
    x = draw(rng, N, T, F, scale=2.0)
    h0, c0 = draw(rng, L, N, H), draw(rng, L, N, H)
    d_cn = draw(rng, L, N, H) if is_lstm(layer) else None
    compare_with_torch(
        layer, x, h0, c0 if is_lstm(layer) else None, draw(rng, N, T, H), draw(rng, L, N, H), d_cn
    )


@needs_torch
@pytest.mark.parametrize("kind", list(KINDS))
def test_matches_torch_without_bias(kind, rng):
    layer = build(kind, 2, bias=False)
    assert all(p.name.startswith("weight") for p in layer.parameters())
    compare_with_torch(layer, draw(rng, N, 4, F), None, None, draw(rng, N, 4, H), None, None)


@needs_torch
def test_lstm_loss_on_cell_state_only(rng):
    layer = build("LSTM", 2)
    compare_with_torch(layer, draw(rng, N, 3, F), None, None, None, None, draw(rng, 2, N, H))


@needs_torch
@pytest.mark.parametrize("kind", ["RNN-tanh", "GRU"])
def test_hidden_grad_is_the_gradient_at_every_step(kind, rng):
    """``hidden_grad[0][:, t]`` is dL/dh_t: the output gradient at t plus the gradient of the
    rest of the loss with respect to the initial state of a torch run on steps t+1..T-1."""
    T = 5
    layer = build(kind, 1)
    x, dy, dhn = draw(rng, N, T, F), draw(rng, N, T, H), draw(rng, 1, N, H)
    out, _ = layer.forward(x, train=True)
    layer.backward(dy, dhn)
    assert layer.hidden_grad.shape == (1, N, T, H)
    module = torch_twin(layer)
    for t in range(T):
        if t == T - 1:
            expected = dy[:, t] + dhn[0]
        else:
            h_t = np.ascontiguousarray(out[:, t])[None]
            ref = torch_pass(module, x[:, t + 1 :], h_t, None, dy[:, t + 1 :], dhn, None)
            expected = dy[:, t] + ref["h0_grad"][0]
        assert_close(layer.hidden_grad[0][:, t], expected, f"dL/dh_{t}")


def test_parameter_names_shapes_and_order_follow_torch():
    for kind in KINDS:
        layer = build(kind, 2, f=5, h=7)
        G = GATES[KINDS[kind][0]]
        expected = []
        for k in range(2):
            fan_in = 5 if k == 0 else 7
            expected += [
                (f"weight_ih_l{k}", (G * 7, fan_in)),
                (f"weight_hh_l{k}", (G * 7, 7)),
                (f"bias_ih_l{k}", (G * 7,)),
                (f"bias_hh_l{k}", (G * 7,)),
            ]
        assert [(p.name, p.shape) for p in layer.parameters()] == expected
        for p in layer.parameters():
            assert getattr(layer, p.name) is p
            assert p.data.dtype == np.float32


@pytest.mark.parametrize("kind", list(KINDS))
def test_init_is_torch_uniform_from_the_generator(kind):
    layer = build(kind, 2, h=16, seed=3)
    bound = 1 / np.sqrt(16)
    values = np.concatenate([p.data.ravel() for p in layer.parameters()])
    assert np.all(np.abs(values) <= bound)
    assert np.abs(values).max() > 0.95 * bound
    assert abs(values.mean()) < 0.1 * bound
    np.testing.assert_allclose(values.var(), bound**2 / 3, rtol=0.15)
    again = np.concatenate([p.data.ravel() for p in build(kind, 2, h=16, seed=3).parameters()])
    other = np.concatenate([p.data.ravel() for p in build(kind, 2, h=16, seed=4).parameters()])
    np.testing.assert_array_equal(values, again)
    assert not np.array_equal(values, other)


# --------------------------------------------------------------------------- float64 gradients


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradients_match_centred_differences_in_float64(kind, grad_tol):
    rng = np.random.default_rng(1)
    L, T, n, f, h = 2, 3, 2, 2, 3
    layer = build(kind, L, f=f, h=h)
    for p in layer.parameters():
        p.data = p.data.astype(np.float64) * 2
        p.grad = np.zeros_like(p.data)
    lstm = is_lstm(layer)
    x = rng.standard_normal((n, T, f))
    h0, c0 = rng.standard_normal((L, n, h)), rng.standard_normal((L, n, h))
    dy, dhn, dcn = (
        rng.standard_normal((n, T, h)),
        rng.standard_normal((L, n, h)),
        rng.standard_normal((L, n, h)),
    )

    def run():
        out, state = layer.forward(x, (h0, c0) if lstm else h0, train=True)
        if lstm:
            return out, state[0], state[1]
        return out, state, None

    def scalar() -> float:
        out, hn, cn = run()
        total = np.sum(out * dy) + np.sum(hn * dhn)
        return float(total + (np.sum(cn * dcn) if lstm else 0.0))

    out, hn, cn = run()
    assert out.dtype == np.float64
    dx = layer.backward(dy, (dhn, dcn) if lstm else dhn)
    checks = [(dx, x, "x"), (layer.h0_grad, h0, "h0")]
    if lstm:
        checks.append((layer.c0_grad, c0, "c0"))
    checks += [(p.grad.copy(), p.data, p.name) for p in layer.parameters()]
    for analytic, array, what in checks:
        err = relative_error(analytic, numerical_gradient(scalar, array))
        assert err < grad_tol, f"{kind} {what}: relative error {err:.2e}"


# --------------------------------------------------------------------------- the contract


def _one_pass(layer, x, d_out, d_state):
    layer.zero_grad()
    out, state = layer.forward(x, train=True)
    dx = layer.backward(d_out, d_state)
    return out, state, dx, [p.grad.copy() for p in layer.parameters()]


def _state_grads(layer, rng, L):
    d_h = draw(rng, L, N, H)
    return (d_h, draw(rng, L, N, H)) if is_lstm(layer) else d_h


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradients_accumulate_and_inputs_are_not_mutated(kind, rng):
    layer = build(kind, 2)
    x, d_out = draw(rng, N, 4, F), draw(rng, N, 4, H)
    d_state = _state_grads(layer, rng, 2)
    inputs = [x, d_out, *(d_state if isinstance(d_state, tuple) else (d_state,))]
    copies = [a.copy() for a in inputs]
    _, _, _, once = _one_pass(layer, x, d_out, d_state)
    layer.forward(x, train=True)
    layer.backward(d_out, d_state)
    for p, g in zip(layer.parameters(), once, strict=True):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6, err_msg=p.name)
    for before, after in zip(copies, inputs, strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("kind", list(KINDS))
def test_without_input_grad_returns_none_and_same_parameter_grads(kind, rng):
    layer = build(kind, 2)
    x, d_out = draw(rng, N, 3, F), draw(rng, N, 3, H)
    _, _, dx, grads = _one_pass(layer, x, d_out, None)
    assert dx.shape == x.shape
    layer.input_grad = False
    _, _, dx_off, grads_off = _one_pass(layer, x, d_out, None)
    assert dx_off is None
    for g, g_off in zip(grads, grads_off, strict=True):
        np.testing.assert_array_equal(g, g_off)


@pytest.mark.parametrize("kind", list(KINDS))
def test_float64_input_gives_float32_and_same_seed_same_result(kind, rng):
    x = rng.standard_normal((N, 3, F))
    out, state = build(kind, 2).forward(x, train=False)
    out2, _ = build(kind, 2)(x, train=True)
    assert out.dtype == np.float32 and out.shape == (N, 3, H)
    hn = state[0] if isinstance(state, tuple) else state
    assert hn.dtype == np.float32 and hn.shape == (2, N, H)
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(out[:, -1], hn[-1])


def test_exemption_in_the_contract_is_exactly_these_classes():
    recurrent = {
        name for name, cls in exported_layer_classes().items() if issubclass(cls, _Recurrent)
    }
    assert recurrent == TESTED_IN_TEST_RECURRENT == {c for c, _ in KINDS.values()}


def test_a_gru_classifier_learns_with_adam(rng):
    """End to end: GRU + Dense head on the last state, Adam over both; the loss must fall on
    a task that needs memory (the class is the sign of the first step's value)."""
    T, n = 6, 64
    x = rng.standard_normal((n, T, 1)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.int64)
    gru = nn.GRU(1, 8, rng=rng)
    head = nn.Dense(8, 2, rng=rng)
    loss = losses.CrossEntropyLoss()
    opt = optim.Adam(gru.parameters() + head.parameters(), lr=0.05)
    history = []
    for _ in range(60):
        _, h_n = gru.forward(x, train=True)
        history.append(loss.forward(head.forward(h_n[-1], train=True), y))
        opt.zero_grad()
        d_h_last = head.backward(loss.backward())
        d_h_n = np.zeros_like(h_n)
        d_h_n[-1] = d_h_last
        gru.backward(None, d_h_n)
        opt.step()
    assert history[-1] < 0.5 * history[0]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"input_size": 0}, r"input_size must be >= 1, got 0"),
        ({"input_size": "3"}, r"input_size must be an integer >= 1, got '3'"),
        ({"hidden_size": -2}, r"hidden_size must be >= 1, got -2"),
        ({"hidden_size": 2.0}, r"hidden_size must be an integer >= 1, got 2.0"),
        ({"num_layers": 0}, r"num_layers must be >= 1, got 0"),
        ({"num_layers": True}, r"num_layers must be an integer >= 1, got True"),
        ({"bias": "yes"}, r"bias must be True or False, got 'yes'"),
        ({"rng": 0}, r"rng must be a numpy.random.Generator"),
    ],
)
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_bad_constructor_argument(cls, kwargs, match):
    args = {"input_size": 2, "hidden_size": 3, "num_layers": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        getattr(nn, cls)(**args)


def test_bad_nonlinearity_names_the_choices():
    message = r"unknown nonlinearity 'sigmoid'; valid choices: relu, tanh"
    with pytest.raises(ValueError, match=message):
        nn.RNN(2, 3, nonlinearity="sigmoid")


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_bad_forward_and_backward_input(cls, rng):
    layer = getattr(nn, cls)(F, H, 2, rng=rng)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(draw(rng, N, 3, H))
    for x in (draw(rng, N, F), draw(rng, N, 3, F + 1), draw(rng, N, 0, F), [[[0.0] * F]]):
        with pytest.raises(ValueError, match=r"expects input of shape \(N, T, 2\)|numpy array"):
            layer.forward(x, train=True)
    x = draw(rng, N, 3, F)
    wrong_state = draw(rng, 1, N, H)
    bad_h0 = (wrong_state, wrong_state) if cls == "LSTM" else wrong_state
    with pytest.raises(ValueError, match=r"h0 must have shape \(num_layers, N, hidden_size\)"):
        layer.forward(x, bad_h0, train=True)
    if cls == "LSTM":
        with pytest.raises(ValueError, match=r"h0 must be None or a tuple \(h0, c0\)"):
            layer.forward(x, draw(rng, 2, N, H), train=True)
    layer.forward(x, train=True)
    with pytest.raises(ValueError, match=r"d_output must have the output's shape"):
        layer.backward(draw(rng, N, 4, H))
    with pytest.raises(ValueError, match=r"needs d_output or d_h_n"):
        layer.backward(None)
    bad_state = (wrong_state, None) if cls == "LSTM" else wrong_state
    with pytest.raises(ValueError, match=r"d_h_n must have shape"):
        layer.backward(None, bad_state)
