"""First-order optimizers with the update rules documented for ``torch.optim``.

Every optimizer here follows, line by line, the pseudo-code of its ``torch.optim`` namesake
(same hyper-parameter names, defaults, eps placement, bias corrections), so a run can be
checked step by step against PyTorch; each ``step`` spells its rule out in full, one rule per
module: :mod:`~dlkit.optim.sgd`, :mod:`~dlkit.optim.adagrad`, :mod:`~dlkit.optim.adadelta`,
:mod:`~dlkit.optim.rmsprop`, :mod:`~dlkit.optim.adam`, :mod:`~dlkit.optim.adamw`.

All of them derive from :class:`~dlkit.optim.optimizer.Optimizer`, which packs the
parameters into one flat buffer so that a step is a few in-place NumPy operations over all
of them (:mod:`~dlkit.optim.buffers` explains the packing and its one rule for users: change
``p.data`` and ``p.grad`` in place, never rebind them). :func:`build` makes an optimizer
from a study's config name (:mod:`~dlkit.optim.registry`); :func:`clip_grad_norm` is in
:mod:`~dlkit.optim.clip`. Learning-rate schedules belong in a sibling module
``lr_scheduler``, as in ``torch.optim``.

Hyper-parameters are plain Python floats, so ``float32 * scalar`` stays float32; ``lr`` is a
property read at every step, so a schedule may assign ``optimizer.lr`` between steps.
"""

from dlkit.optim.adadelta import Adadelta
from dlkit.optim.adagrad import Adagrad
from dlkit.optim.adam import Adam
from dlkit.optim.adamw import AdamW
from dlkit.optim.clip import clip_grad_norm, clip_grad_value
from dlkit.optim.optimizer import Optimizer
from dlkit.optim.registry import NAMES, build
from dlkit.optim.rmsprop import RMSprop
from dlkit.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adagrad",
    "Adadelta",
    "RMSprop",
    "Adam",
    "AdamW",
    "Optimizer",
    "build",
    "clip_grad_norm",
    "clip_grad_value",
    "NAMES",
]

# Learning-rate schedules, a submodule as in torch: optim.lr_scheduler.StepLR, ...
from dlkit.optim import lr_scheduler  # noqa: E402

__all__ += ["lr_scheduler"]
