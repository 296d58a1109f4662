"""Parameters, the layer protocol and ``Sequential``.

A layer keeps what ``forward`` computed that ``backward`` needs (the "Deep Learning from
Scratch" shape). ``forward(x, *, train)`` always receives the mode explicitly; ``backward(dy)``
returns ``dx`` and *accumulates* (``+=``) into its parameters' ``.grad`` so a parameter used
twice gets the sum of both contributions (micrograd). Neither method modifies its input.
"""

from __future__ import annotations

import numpy as np

DTYPE = np.float32


def check_array_input(layer: object, x: object) -> None:
    """Raise a ValueError naming ``layer`` (a layer or its name) unless ``x`` is a numpy
    array; an isinstance test, cheap enough for every forward call."""
    if not isinstance(x, np.ndarray):
        who = layer if isinstance(layer, str) else repr(layer)
        raise ValueError(
            f"{who}: x must be a numpy array (np.asarray(...)), got {type(x).__name__}"
        )


class Parameter:
    """A trainable array and its gradient.

    Attributes
    ----------
    data : ndarray
        The value, float32 by default. Optimizers update it **in place**; never rebind it
        while a model or optimizer holds the parameter.
    grad : ndarray
        Same shape and dtype as ``data``; layers accumulate into it, ``zero_grad`` clears it.
    name : str
        A readable name such as ``"weight"``.
    """

    __slots__ = ("data", "grad", "name")

    def __init__(self, data: np.ndarray, name: str = "param"):
        data = np.asarray(data)
        if data.dtype.kind != "f":
            data = data.astype(DTYPE)
        self.data = np.ascontiguousarray(data)
        self.grad = np.zeros_like(self.data)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"


class Layer:
    """Base class of every layer: ``forward``, ``backward``, ``parameters``.

    Subclasses implement ``forward(x, *, train)`` and ``backward(dy)``. Layers with
    parameters store them as ``Parameter`` attributes and list them in ``parameters()``
    (weight before bias, gamma before beta, as PyTorch does).

    ``input_grad`` tells ``backward`` whether anybody needs ``dx``. ``Sequential`` switches it
    off for its first parameterized layer when its caller asks (``fit`` does), so a Dense
    first layer skips the ``dy @ W.T`` product nobody reads; such a ``backward`` returns None.
    """

    input_grad: bool = True

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dy: np.ndarray) -> np.ndarray | None:  # pragma: no cover
        raise NotImplementedError

    def parameters(self) -> list[Parameter]:
        return []

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def __call__(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        return self.forward(x, train=train)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sequential(Layer):
    """Layers applied in order; itself a layer.

    Parameters
    ----------
    *layers : Layer
        Applied first to last in ``forward``, last to first in ``backward``.
    """

    def __init__(self, *layers: Layer):
        for i, layer in enumerate(layers):
            if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
                raise ValueError(
                    f"Sequential item {i} must be a layer (with forward and backward), "
                    f"got {layer!r}"
                )
        self.layers = list(layers)

    def forward(self, x: np.ndarray, *, train: bool) -> np.ndarray:
        check_array_input("Sequential", x)
        for layer in self.layers:
            x = layer.forward(x, train=train)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray | None:
        """Back-propagate ``dy``; returns ``dx`` unless ``self.input_grad`` is False.

        With ``input_grad=False`` the layers before the first parameterized one are not
        visited at all and that layer is told not to compute its input gradient.
        """
        layers = self.layers
        stop = 0
        if not self.input_grad:
            stop = next((i for i, l in enumerate(layers) if l.parameters()), len(layers))
        for i in range(len(layers) - 1, stop - 1, -1):
            layer = layers[i]
            if i == stop and not self.input_grad:
                saved = layer.input_grad
                layer.input_grad = False
                try:
                    dy = layer.backward(dy)
                finally:
                    layer.input_grad = saved
            else:
                dy = layer.backward(dy)
        return None if not self.input_grad else dy

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"
