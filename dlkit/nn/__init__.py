"""Layers: the building blocks of a network, each with ``forward``, ``backward`` and
``parameters``; ``Sequential`` chains them and ``mlp`` builds the usual Dense/activation stack."""

from dlkit.nn.activations import (
    ACTIVATIONS,
    ELU,
    Activation,
    HardSigmoid,
    Identity,
    LeakyReLU,
    PReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Step,
    Tanh,
    activation,
)
from dlkit.nn.base import DTYPE, Layer, Parameter, Sequential
from dlkit.nn.builders import mlp
from dlkit.nn.conv import Conv1d, Conv2d
from dlkit.nn.dense import Dense
from dlkit.nn.norm import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    LayerNorm,
)
from dlkit.nn.pool import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from dlkit.nn.recurrent import GRU, LSTM, RNN
from dlkit.nn.regularization import Dropout
from dlkit.nn.reshape import Flatten

__all__ = [
    "ACTIVATIONS",
    "DTYPE",
    "ELU",
    "Activation",
    "AvgPool1d",
    "AvgPool2d",
    "Conv1d",
    "Conv2d",
    "MaxPool1d",
    "MaxPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "Dense",
    "Dropout",
    "Flatten",
    "GRU",
    "HardSigmoid",
    "Identity",
    "Layer",
    "LayerNorm",
    "LSTM",
    "LeakyReLU",
    "PReLU",
    "Parameter",
    "ReLU",
    "RNN",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Step",
    "Tanh",
    "activation",
    "mlp",
]
