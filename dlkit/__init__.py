"""dlkit: a NumPy deep-learning kit whose every gradient and optimizer step agrees with PyTorch.

``from dlkit import nn, losses, optim, init, data, train, classic, diagnostics, gradcheck``;
``dlkit.validation`` holds the argument checks they share, public for code built on dlkit.
"""

from importlib import import_module

__version__ = "0.1.0"

_SUBMODULES = (
    "nn",
    "losses",
    "optim",
    "init",
    "data",
    "train",
    "classic",
    "diagnostics",
    "gradcheck",
    "regularizers",
    "validation",
)

__all__ = [*_SUBMODULES, "__version__"]


def __getattr__(name: str):
    # Lazy submodules: `import dlkit` stays cheap and `dlkit.classic` pulls in scikit-learn
    # only when used.
    if name in _SUBMODULES:
        return import_module(f"dlkit.{name}")
    raise AttributeError(f"module 'dlkit' has no attribute {name!r}")
