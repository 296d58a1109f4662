"""Recurrent layers ``RNN``, ``LSTM`` and ``GRU`` with PyTorch's equations and parameter layout.

All three read a batch-first sequence ``x`` of shape ``(N, T, F)`` and run one or more stacked
layers over it; layer ``k > 0`` reads the output sequence of layer ``k - 1``. With ``a_t`` the
pre-activations, ``W_i*`` the input-to-hidden and ``W_h*`` the hidden-to-hidden blocks:

- ``RNN`` (Elman 1990): ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, ``act`` tanh or
  ReLU;
- ``LSTM`` (Hochreiter & Schmidhuber 1997, with the forget gate of Gers, Schmidhuber &
  Cummins 2000), gates in torch's order ``i, f, g, o``::

      i = sigma(W_ii x + b_ii + W_hi h + b_hi)     f = sigma(W_if x + b_if + W_hf h + b_hf)
      g = tanh(W_ig x + b_ig + W_hg h + b_hg)      o = sigma(W_io x + b_io + W_ho h + b_ho)
      c_t = f * c_{t-1} + i * g                    h_t = o * tanh(c_t)

- ``GRU`` (Cho et al. 2014), gates in torch's order ``r, z, n``::

      r = sigma(W_ir x + b_ir + W_hr h + b_hr)     z = sigma(W_iz x + b_iz + W_hz h + b_hz)
      n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
      h_t = (1 - z) * n + z * h_{t-1}

Parameters are those of ``torch.nn.RNN/LSTM/GRU``: per layer ``k`` the ``Parameter`` attributes
``weight_ih_l{k}`` of shape ``(G*H, F_k)``, ``weight_hh_l{k}`` ``(G*H, H)``, ``bias_ih_l{k}``
and ``bias_hh_l{k}`` ``(G*H,)`` (``G`` = 1, 4, 3 gates; ``F_0 = input_size``, ``F_k = H``
above), listed by ``parameters()`` in that order, layer after layer, so that
``p.data[...] = torch_param.detach().numpy()`` copies a torch model across. They are drawn from
``U(-1/sqrt(H), 1/sqrt(H))`` as torch does.

Backpropagation through time (Werbos 1990) walks the steps backwards once: the gradient of
the loss with respect to ``h_t`` is the output gradient at ``t`` plus what flows back from
``h_{t+1}`` (and ``c_{t+1}``). The per-step pre-activation gradients are collected, and every
weight gradient is then one matrix product over all steps; the only Python loop is over time
steps (and layers), never over samples.

Internally sequences are time-major ``(T, N, .)`` so that a step is a contiguous slice;
``forward`` returns the output as a transposed **view** of shape ``(N, T, H)`` and ``backward``
returns ``dx`` likewise, the way :mod:`dlkit.nn.conv` returns its views.

Not provided (torch options): ``dropout`` between layers, ``bidirectional``, ``proj_size``,
``batch_first=False`` and unbatched ``(T, F)`` inputs.

References
----------
J. L. Elman, "Finding structure in time", Cognitive Science 14(2), 1990.
P. J. Werbos, "Backpropagation through time: what it does and how to do it", Proc. IEEE
78(10), 1990.
S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural Computation 9(8), 1997.
F. A. Gers, J. Schmidhuber and F. Cummins, "Learning to forget: continual prediction with
LSTM", Neural Computation 12(10), 2000.
K. Cho et al., "Learning phrase representations using RNN encoder-decoder for statistical
machine translation", EMNLP 2014.
PyTorch documentation of ``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit

from dlkit.nn.base import DTYPE, Layer, Parameter, check_array_input
from dlkit.validation import check_bool, check_choice, check_generator, check_int

NONLINEARITIES = ("relu", "tanh")


class _Recurrent(Layer):
    """Shared parts: arguments, parameters, input checks, the stacked forward and the weight
    gradients of backward. Subclasses set ``_GATES`` and implement ``_run`` (one layer's time
    loop) and ``_run_backward`` (its reverse time loop)."""

    _GATES = 1
    _HAS_CELL = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bias: bool = True,
        rng: np.random.Generator | None = None,
    ):
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.num_layers = check_int("num_layers", num_layers, 1)
        self.bias = check_bool("bias", bias)
        rng = np.random.default_rng() if rng is None else check_generator(rng)
        H, G = self.hidden_size, self._GATES
        bound = 1.0 / math.sqrt(H)
        self._layers: list[tuple[Parameter, Parameter, Parameter | None, Parameter | None]] = []
        for k in range(self.num_layers):
            fan_in = self.input_size if k == 0 else H
            shapes = {
                f"weight_ih_l{k}": (G * H, fan_in),
                f"weight_hh_l{k}": (G * H, H),
            }
            if self.bias:
                shapes[f"bias_ih_l{k}"] = (G * H,)
                shapes[f"bias_hh_l{k}"] = (G * H,)
            made = {}
            for name, shape in shapes.items():
                data = rng.uniform(-bound, bound, shape).astype(DTYPE)
                made[name] = Parameter(data, name)
                setattr(self, name, made[name])
            self._layers.append(
                (
                    made[f"weight_ih_l{k}"],
                    made[f"weight_hh_l{k}"],
                    made.get(f"bias_ih_l{k}"),
                    made.get(f"bias_hh_l{k}"),
                )
            )
        self._cache = None
        self.hidden_grad = None
        self.h0_grad = None
        self.c0_grad = None

    # ------------------------------------------------------------------ helpers

    @property
    def dtype(self) -> np.dtype:
        return self._layers[0][0].data.dtype

    def _state_shape(self, n: int) -> tuple[int, int, int]:
        return (self.num_layers, n, self.hidden_size)

    def _check_state(self, name: str, value, n: int) -> np.ndarray:
        """An initial state or a state gradient: ``(num_layers, N, H)``, cast to our dtype."""
        want = self._state_shape(n)
        if not isinstance(value, np.ndarray):
            raise ValueError(
                f"{self!r}: {name} must be a numpy array of shape {want}, "
                f"got {type(value).__name__}"
            )
        if value.shape != want:
            raise ValueError(
                f"{self!r}: {name} must have shape (num_layers, N, hidden_size) = {want}, "
                f"got {tuple(value.shape)}"
            )
        return value.astype(self.dtype, copy=False)

    def _check_x(self, x) -> np.ndarray:
        check_array_input(self, x)
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(
                f"{self!r} expects input of shape (N, T, {self.input_size}) with N, T >= 1 "
                f"(batch first), got {tuple(x.shape)}"
            )
        return np.ascontiguousarray(x.transpose(1, 0, 2), dtype=self.dtype)

    def _initial_states(self, h0, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``(h0, c0)`` arrays of shape ``(L, N, H)`` (zeros when not given)."""
        zeros = np.zeros(self._state_shape(n), self.dtype)
        if not self._HAS_CELL:
            return (zeros if h0 is None else self._check_state("h0", h0, n)), None
        if h0 is None:
            return zeros, zeros
        if not (isinstance(h0, tuple) and len(h0) == 2):
            raise ValueError(
                f"{self!r}: h0 must be None or a tuple (h0, c0) of arrays of shape "
                f"{self._state_shape(n)}, got {type(h0).__name__}"
            )
        return self._check_state("h0", h0[0], n), self._check_state("c0", h0[1], n)

    # ------------------------------------------------------------------ forward

    def forward(self, x: np.ndarray, h0=None, *, train: bool):
        """Run the stacked layers over the sequence.

        Parameters
        ----------
        x : ndarray, shape (N, T, input_size)
            Batch-first input sequence; cast to the parameters' dtype (float32).
        h0 : ndarray of shape (num_layers, N, hidden_size), optional
            Initial hidden state of every layer (zeros when omitted); for the LSTM a tuple
            ``(h0, c0)`` of two such arrays, as torch.
        train : bool
            The mode (recurrent layers compute the same in both modes).

        Returns
        -------
        output : ndarray, shape (N, T, hidden_size)
            The last layer's hidden state at every step (a transposed view of time-major
            storage).
        h_n : ndarray, shape (num_layers, N, hidden_size)
            Every layer's hidden state after the last step; for the LSTM ``(h_n, c_n)``.
        """
        xt = self._check_x(x)
        T, N, _ = xt.shape
        h0, c0 = self._initial_states(h0, N)
        H = self.hidden_size
        inp = xt
        caches = []
        h_n = np.empty(self._state_shape(N), self.dtype)
        c_n = np.empty_like(h_n) if self._HAS_CELL else None
        for k, (w_ih, w_hh, b_ih, b_hh) in enumerate(self._layers):
            xw = (inp.reshape(T * N, -1) @ w_ih.data.T).reshape(T, N, -1)
            if b_ih is not None:
                xw += b_ih.data
            cache = self._run(xw, h0[k], None if c0 is None else c0[k], w_hh.data, b_hh)
            cache["inp"] = inp
            caches.append(cache)
            inp = cache["hs"][1:]
            h_n[k] = cache["hs"][-1]
            if c_n is not None:
                c_n[k] = cache["cs"][-1]
        self._cache = (caches, N, T, H)
        output = inp.transpose(1, 0, 2)
        return output, ((h_n, c_n) if self._HAS_CELL else h_n)

    def __call__(self, x: np.ndarray, h0=None, *, train: bool):
        return self.forward(x, h0, train=train)

    # ------------------------------------------------------------------ backward

    def backward(self, d_output: np.ndarray | None, d_h_n=None) -> np.ndarray | None:
        """Backpropagation through time; accumulates every parameter's ``.grad``.

        Parameters
        ----------
        d_output : ndarray of shape (N, T, hidden_size), or None
            Gradient of the loss with respect to ``output``; None when the loss reads only
            the last state.
        d_h_n : ndarray of shape (num_layers, N, hidden_size), or None
            Gradient with respect to ``h_n``; for the LSTM a tuple ``(d_h_n, d_c_n)`` whose
            entries may each be None. At least one of ``d_output`` and ``d_h_n`` is needed.

        Returns
        -------
        dx : ndarray, shape (N, T, input_size), or None
            Gradient with respect to the input at every step (None when ``input_grad`` is
            False). Also set: ``hidden_grad`` of shape (num_layers, N, T, hidden_size), the
            gradient with respect to every layer's hidden state at every step (through all
            later steps and the layers above), and ``h0_grad`` (``c0_grad`` for the LSTM),
            the gradient with respect to the initial state(s).
        """
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward")
        caches, N, T, H = self._cache
        dtype = self.dtype
        dout = None
        if d_output is not None:
            check_array_input(self, d_output)
            if d_output.shape != (N, T, H):
                raise ValueError(
                    f"{self!r}: d_output must have the output's shape (N, T, hidden_size) = "
                    f"{(N, T, H)}, got {tuple(d_output.shape)}"
                )
            dout = d_output.astype(dtype, copy=False).transpose(1, 0, 2)
        d_h, d_c = None, None
        if self._HAS_CELL and d_h_n is not None:
            if not (isinstance(d_h_n, tuple) and len(d_h_n) == 2):
                raise ValueError(
                    f"{self!r}: d_h_n must be None or a tuple (d_h_n, d_c_n), "
                    f"got {type(d_h_n).__name__}"
                )
            d_h, d_c = d_h_n
        else:
            d_h = d_h_n
        if d_h is not None:
            d_h = self._check_state("d_h_n", d_h, N)
        if d_c is not None:
            d_c = self._check_state("d_c_n", d_c, N)
        if dout is None and d_h is None and d_c is None:
            raise ValueError(
                f"{self!r}: backward needs d_output or d_h_n (both are None: nothing to do)"
            )
        zeros = np.zeros((N, H), dtype)
        hidden_grad = np.empty((self.num_layers, T, N, H), dtype)
        h0_grad = np.empty(self._state_shape(N), dtype)
        c0_grad = np.empty_like(h0_grad) if self._HAS_CELL else None
        G = self._GATES * H
        for k in range(self.num_layers - 1, -1, -1):
            w_ih, w_hh, b_ih, b_hh = self._layers[k]
            cache = caches[k]
            dh = zeros if d_h is None else d_h[k]
            dc = zeros if d_c is None else d_c[k]
            da_x, da_h, dh0, dc0 = self._run_backward(
                cache, dout, dh, dc, w_hh.data, hidden_grad[k]
            )
            h0_grad[k] = dh0
            if c0_grad is not None:
                c0_grad[k] = dc0
            inp = cache["inp"]
            flat_x = da_x.reshape(T * N, G)
            flat_h = flat_x if da_h is da_x else da_h.reshape(T * N, G)
            w_ih.grad += flat_x.T @ inp.reshape(T * N, -1)
            w_hh.grad += flat_h.T @ cache["hs"][:-1].reshape(T * N, H)
            if b_ih is not None:
                sum_x = flat_x.sum(axis=0)
                b_ih.grad += sum_x
                b_hh.grad += sum_x if da_h is da_x else flat_h.sum(axis=0)
            need_dx = k > 0 or self.input_grad
            dout = (flat_x @ w_ih.data).reshape(T, N, -1) if need_dx else None
        self.hidden_grad = hidden_grad.transpose(0, 2, 1, 3)
        self.h0_grad = h0_grad
        self.c0_grad = c0_grad
        return None if dout is None else dout.transpose(1, 0, 2)

    def parameters(self) -> list[Parameter]:
        return [p for layer in self._layers for p in layer if p is not None]

    def _run(self, xw, h0, c0, w_hh, b_hh) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def _run_backward(self, cache, dout, dh, dc, w_hh, hidden_grad):  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        extra = "" if self.bias else ", bias=False"
        return (
            f"{type(self).__name__}({self.input_size}, {self.hidden_size}, "
            f"num_layers={self.num_layers}{extra})"
        )


def _gradient_at(t: int, dh: np.ndarray, dout: np.ndarray | None, hidden_grad: np.ndarray):
    """dL/dh_t: the gradient carried back from step t + 1 plus the output's at step t,
    written into ``hidden_grad[t]`` (no temporary) and returned as that view."""
    if dout is None:
        hidden_grad[t] = dh
    else:
        np.add(dh, dout[t], out=hidden_grad[t])
    return hidden_grad[t]


class RNN(_Recurrent):
    """Elman recurrent layer(s), ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Parameters
    ----------
    input_size : int
        F, features per step of the input.
    hidden_size : int
        H, size of the hidden state.
    num_layers : int
        Stacked layers; layer k > 0 reads layer k - 1's output sequence.
    nonlinearity : {"tanh", "relu"}
        The activation ``act``.
    bias : bool
        Learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
    rng : numpy.random.Generator, optional
        Source of the initial parameters, ``U(-1/sqrt(H), 1/sqrt(H))`` as torch; None draws
        fresh OS entropy.

    Attributes
    ----------
    weight_ih_l{k} : Parameter, shape (H, F) for k = 0, (H, H) above
    weight_hh_l{k} : Parameter, shape (H, H)
    bias_ih_l{k}, bias_hh_l{k} : Parameter, shape (H,) (absent without ``bias``)
    hidden_grad : ndarray, shape (num_layers, N, T, H)
        After ``backward``: the loss gradient with respect to every hidden state.
    h0_grad : ndarray, shape (num_layers, N, H)
        After ``backward``: the loss gradient with respect to the initial state.

    Shapes
    ------
    forward: x (N, T, F), h0 (num_layers, N, H) -> output (N, T, H), h_n (num_layers, N, H);
    backward: d_output (N, T, H) or None, d_h_n (num_layers, N, H) or None -> dx (N, T, F).
    """

    _GATES = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        *,
        bias: bool = True,
        rng: np.random.Generator | None = None,
    ):
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(input_size, hidden_size, num_layers, bias=bias, rng=rng)

    def _run(self, xw, h0, c0, w_hh, b_hh) -> dict:
        T, N, H = xw.shape
        if b_hh is not None:
            xw += b_hh.data
        hs = np.empty((T + 1, N, H), xw.dtype)
        hs[0] = h0
        w_hh_t = w_hh.T
        relu = self.nonlinearity == "relu"
        a = np.empty((N, H), xw.dtype)
        for t in range(T):
            np.matmul(hs[t], w_hh_t, out=a)
            a += xw[t]
            if relu:
                np.maximum(a, 0, out=hs[t + 1])
            else:
                np.tanh(a, out=hs[t + 1])
        return {"hs": hs}

    def _run_backward(self, cache, dout, dh, dc, w_hh, hidden_grad):
        h = cache["hs"][1:]
        deriv = (h > 0).astype(h.dtype) if self.nonlinearity == "relu" else 1 - h * h
        T = h.shape[0]
        da = np.empty_like(h)
        for t in range(T - 1, -1, -1):
            dh = _gradient_at(t, dh, dout, hidden_grad)
            np.multiply(dh, deriv[t], out=da[t])
            dh = da[t] @ w_hh
        return da, da, dh, None

    def __repr__(self) -> str:
        base = super().__repr__()
        if self.nonlinearity == "tanh":
            return base
        return base[:-1] + f", nonlinearity={self.nonlinearity!r})"


class LSTM(_Recurrent):
    """Long short-term memory layer(s) with torch's gates ``i, f, g, o`` (see the module).

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, rng
        As :class:`RNN` (the LSTM has no ``nonlinearity``).

    Attributes
    ----------
    weight_ih_l{k} : Parameter, shape (4H, F) for k = 0, (4H, H) above; rows ``[W_i; W_f;
        W_g; W_o]``
    weight_hh_l{k} : Parameter, shape (4H, H)
    bias_ih_l{k}, bias_hh_l{k} : Parameter, shape (4H,)
    hidden_grad, h0_grad : as :class:`RNN`
    c0_grad : ndarray, shape (num_layers, N, H)
        After ``backward``: the loss gradient with respect to the initial cell state.

    Shapes
    ------
    forward: x (N, T, F), h0 = (h0, c0) each (num_layers, N, H) -> output (N, T, H),
    (h_n, c_n) each (num_layers, N, H); backward: d_output (N, T, H) or None,
    d_h_n = (d_h_n, d_c_n) (either None) -> dx (N, T, F).
    """

    _GATES = 4
    _HAS_CELL = True

    def _run(self, xw, h0, c0, w_hh, b_hh) -> dict:
        T, N, G = xw.shape
        H = G // 4
        if b_hh is not None:
            xw += b_hh.data
        hs = np.empty((T + 1, N, H), xw.dtype)
        cs = np.empty((T + 1, N, H), xw.dtype)
        hs[0], cs[0] = h0, c0
        gates = np.empty_like(xw)
        tanh_c = np.empty((T, N, H), xw.dtype)
        w_hh_t = w_hh.T
        a = np.empty((N, G), xw.dtype)
        for t in range(T):
            np.matmul(hs[t], w_hh_t, out=a)
            a += xw[t]
            g = gates[t]
            expit(a, out=g)
            np.tanh(a[:, 2 * H : 3 * H], out=g[:, 2 * H : 3 * H])
            c = cs[t + 1]
            np.multiply(g[:, H : 2 * H], cs[t], out=c)
            c += g[:, :H] * g[:, 2 * H : 3 * H]
            np.tanh(c, out=tanh_c[t])
            np.multiply(g[:, 3 * H :], tanh_c[t], out=hs[t + 1])
        return {"hs": hs, "cs": cs, "gates": gates, "tanh_c": tanh_c}

    def _run_backward(self, cache, dout, dh, dc, w_hh, hidden_grad):
        gates, cs, tanh_c = cache["gates"], cache["cs"], cache["tanh_c"]
        T, N, G = gates.shape
        H = G // 4
        # derivative of each activation at its output: s (1 - s) for sigma, 1 - g^2 for tanh
        deriv = gates * (1 - gates)
        g_gate = gates[..., 2 * H : 3 * H]
        deriv[..., 2 * H : 3 * H] = 1 - g_gate * g_gate
        dtc = 1 - tanh_c * tanh_c
        da = np.empty_like(gates)
        for t in range(T - 1, -1, -1):
            dh = _gradient_at(t, dh, dout, hidden_grad)
            g = gates[t]
            o = g[:, 3 * H :]
            dc = dc + dh * o * dtc[t]
            d = da[t]
            np.multiply(dc, g[:, 2 * H : 3 * H], out=d[:, :H])
            np.multiply(dc, cs[t], out=d[:, H : 2 * H])
            np.multiply(dc, g[:, :H], out=d[:, 2 * H : 3 * H])
            np.multiply(dh, tanh_c[t], out=d[:, 3 * H :])
            d *= deriv[t]
            dc = dc * g[:, H : 2 * H]
            dh = d @ w_hh
        return da, da, dh, dc


class GRU(_Recurrent):
    """Gated recurrent unit layer(s) with torch's gates ``r, z, n`` (see the module).

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, rng
        As :class:`RNN` (the GRU has no ``nonlinearity``).

    Attributes
    ----------
    weight_ih_l{k} : Parameter, shape (3H, F) for k = 0, (3H, H) above; rows ``[W_r; W_z;
        W_n]``
    weight_hh_l{k} : Parameter, shape (3H, H)
    bias_ih_l{k}, bias_hh_l{k} : Parameter, shape (3H,)
    hidden_grad, h0_grad : as :class:`RNN`

    Shapes
    ------
    As :class:`RNN`.
    """

    _GATES = 3

    def _run(self, xw, h0, c0, w_hh, b_hh) -> dict:
        T, N, G = xw.shape
        H = G // 3
        b_hn = None
        if b_hh is not None:
            # r and z add b_hh outright; b_hn sits inside r * (W_hn h + b_hn)
            xw[..., : 2 * H] += b_hh.data[: 2 * H]
            b_hn = b_hh.data[2 * H :]
        hs = np.empty((T + 1, N, H), xw.dtype)
        hs[0] = h0
        rz = np.empty((T, N, 2 * H), xw.dtype)
        n = np.empty((T, N, H), xw.dtype)
        hn = np.empty((T, N, H), xw.dtype)
        w_hh_t = w_hh.T
        a = np.empty((N, G), xw.dtype)
        for t in range(T):
            np.matmul(hs[t], w_hh_t, out=a)
            x_t = xw[t]
            r_z = rz[t]
            np.add(x_t[:, : 2 * H], a[:, : 2 * H], out=r_z)
            expit(r_z, out=r_z)
            h_n = hn[t]
            if b_hn is None:
                h_n[...] = a[:, 2 * H :]
            else:
                np.add(a[:, 2 * H :], b_hn, out=h_n)
            n_t = n[t]
            np.multiply(r_z[:, :H], h_n, out=n_t)
            n_t += x_t[:, 2 * H :]
            np.tanh(n_t, out=n_t)
            # h = (1 - z) n + z h_prev = n + z (h_prev - n)
            h = hs[t + 1]
            np.subtract(hs[t], n_t, out=h)
            h *= r_z[:, H:]
            h += n_t
        return {"hs": hs, "rz": rz, "n": n, "hn": hn}

    def _run_backward(self, cache, dout, dh, dc, w_hh, hidden_grad):
        rz, n, hn, hs = cache["rz"], cache["n"], cache["hn"], cache["hs"]
        T, N, H = n.shape
        r, z = rz[..., :H], rz[..., H:]
        # per-step factors: d n_pre = dh * A, d z_pre = dh * B, d r_pre = d n_pre * C
        fac_n = (1 - z) * (1 - n * n)
        fac_z = (hs[:-1] - n) * z * (1 - z)
        fac_r = hn * r * (1 - r)
        da_h = np.empty((T, N, 3 * H), n.dtype)
        dn_pre = np.empty((T, N, H), n.dtype)
        for t in range(T - 1, -1, -1):
            dh = _gradient_at(t, dh, dout, hidden_grad)
            d = da_h[t]
            dn = dn_pre[t]
            np.multiply(dh, fac_n[t], out=dn)
            np.multiply(dn, fac_r[t], out=d[:, :H])
            np.multiply(dh, fac_z[t], out=d[:, H : 2 * H])
            np.multiply(dn, r[t], out=d[:, 2 * H :])
            dh = dh * z[t] + d @ w_hh
        da_x = da_h.copy()
        da_x[..., 2 * H :] = dn_pre
        return da_x, da_h, dh, None
