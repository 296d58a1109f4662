"""Network builders: ``mlp``, the one multi-layer perceptron builder of dlkit."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np

from dlkit import init as _init
from dlkit.nn.activations import ACTIVATIONS
from dlkit.nn.activations import activation as _activation
from dlkit.nn.base import Layer, Sequential
from dlkit.nn.dense import Dense
from dlkit.nn.regularization import Dropout
from dlkit.validation import check_choice, check_range


def _check_sizes(sizes: object) -> list[int]:
    message = (
        "sizes must be a sequence of at least two integers >= 1 ([n_in, hidden..., n_out]), "
        f"got {sizes!r}"
    )
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray)):
        raise ValueError(message)
    if len(sizes) < 2 or not all(
        isinstance(n, (int, np.integer)) and not isinstance(n, (bool, np.bool_)) and n >= 1
        for n in sizes
    ):
        raise ValueError(message)
    return [int(n) for n in sizes]


def _check_init(name: str, value: object) -> None:
    if isinstance(value, str):
        check_choice(name, value, _init.NAMES)
    elif not callable(value):
        raise ValueError(
            f"{name} must be a dlkit.init name ({', '.join(_init.NAMES)}) or a callable "
            f"f(shape, rng), got {value!r}"
        )


def _activation_factory(value: object) -> Callable[[], Layer]:
    if isinstance(value, str):
        name = check_choice("activation", value, ACTIVATIONS)
        return lambda: _activation(name)
    if isinstance(value, Layer):
        raise ValueError(
            f"activation must be a name or a callable returning a new layer (e.g. "
            f"{type(value).__name__}, not the instance {value!r}): each hidden layer needs "
            "its own"
        )
    if callable(value):
        return value  # type: ignore[return-value]
    raise ValueError(
        f"activation must be an nn.activation name ({', '.join(sorted(ACTIVATIONS))}) or a "
        f"callable returning a new layer, got {value!r}"
    )


def mlp(
    sizes: Sequence[int],
    *,
    activation: str | Callable[[], Layer] = "relu",
    init: str | Callable = "xavier_uniform",
    output_init: str | Callable | None = None,
    dropout: float = 0.0,
    bias: bool = True,
    rng: np.random.Generator | None = None,
) -> Sequential:
    """A multi-layer perceptron: ``Dense -> activation [-> Dropout]`` per hidden layer, then a
    linear output layer (logits out).

    The feed-forward network trained by back-propagation of Rumelhart, Hinton & Williams,
    "Learning representations by back-propagating errors", Nature 1986.

    Layers are built, and weights drawn from ``rng``, in network order: hidden layer 1's
    ``Dense``, its activation, its ``Dropout`` (which keeps ``rng`` for its masks), hidden
    layer 2's ``Dense``, ..., the output ``Dense``. A hand-written stack of the same layers
    built in the same order with the same generator therefore has identical parameters and,
    dropout masks included, identical outputs.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_in, h_1, ..., h_k, n_out]``, each >= 1; ``[n_in, n_out]`` is a single ``Dense``
        (no activation).
    activation : str or callable
        An :func:`dlkit.nn.activation` name (``"relu"``, ``"tanh"``, ``"prelu"``, ...) or a
        zero-argument callable returning a new layer (e.g. ``nn.LeakyReLU`` or
        ``functools.partial(nn.ELU, alpha=0.5)``). Every hidden layer gets its own instance,
        so each PReLU learns its own slope.
    init : str or callable
        Weight initializer of the hidden ``Dense`` layers: a :mod:`dlkit.init` name or a
        callable ``f(shape, rng)`` such as ``init.get("kaiming_normal", nonlinearity="relu")``.
        Biases start at zero.
    output_init : str or callable, optional
        Weight initializer of the output layer; None uses ``init``.
    dropout : float in [0, 1)
        Drop probability of a :class:`~dlkit.nn.Dropout` after every hidden activation; 0
        adds no dropout layers.
    bias : bool
        Whether every ``Dense`` layer learns a bias.
    rng : numpy.random.Generator, optional
        Draws the weights, layer by layer, and then the dropout masks. None draws fresh OS
        entropy (one generator shared by all layers).

    Returns
    -------
    Sequential
        Maps x (N, n_in) to logits (N, n_out).

    Raises
    ------
    ValueError
        Naming the argument, the value and what is allowed, for any invalid argument.

    Examples
    --------
    >>> net = mlp([40, 100, 100, 10], init="standard", rng=np.random.default_rng(0))
    >>> net.forward(np.zeros((5, 40), np.float32), train=False).shape
    (5, 10)
    """
    sizes = _check_sizes(sizes)
    new_activation = _activation_factory(activation)
    _check_init("init", init)
    if output_init is None:
        output_init = init
    else:
        _check_init("output_init", output_init)
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise ValueError(f"dropout must be a number in [0.0, 1.0), got {dropout!r}")
    dropout = float(check_range("dropout", dropout, 0.0, 1.0))
    if not isinstance(bias, (bool, np.bool_)):
        raise ValueError(f"bias must be True or False, got {bias!r}")
    if rng is None:
        rng = np.random.default_rng()
    elif not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)) or None, "
            f"got {rng!r}"
        )

    layers: list[Layer] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers.append(Dense(fan_in, fan_out, init=init, bias=bool(bias), rng=rng))
        layer = new_activation()
        if not (hasattr(layer, "forward") and hasattr(layer, "backward")):
            raise ValueError(f"activation must build a layer, but it returned {layer!r}")
        if any(layer is built for built in layers):
            raise ValueError(f"activation must return a new layer on every call, got {layer!r}")
        layers.append(layer)
        if dropout > 0:
            layers.append(Dropout(dropout, rng=rng))
    layers.append(Dense(sizes[-2], sizes[-1], init=output_init, bias=bool(bias), rng=rng))
    return Sequential(*layers)
