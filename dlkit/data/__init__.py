"""Datasets: scikit-learn's bundled sets, MNIST-1D generated offline, and synthetic 2-D problems.

Every dataset comes out of :func:`load` the same way: float32 features ``X`` of shape (N, D),
int64 class labels ``y`` in ``0 .. n_classes - 1``, a fixed train/test split, features scaled
with statistics fitted on the training part only, and a ``meta`` dict describing where the data
came from. Nothing is downloaded: the scikit-learn sets ship with scikit-learn, MNIST-1D is
generated locally with the ``mnist1d`` package (Greydanus & Kobak, "Scaling down deep learning
with MNIST-1D", ICML 2024) and cached on disk, and the synthetic sets are drawn from
``np.random.default_rng(seed)``.

========================  =======  ==========================================================
name                      D        source
========================  =======  ==========================================================
``digits``                64       ``sklearn.datasets.load_digits`` (8x8 images, 10 classes)
``breast_cancer``         30       ``sklearn.datasets.load_breast_cancer`` (2 classes)
``iris``                  4        ``sklearn.datasets.load_iris`` (3 classes)
``wine``                  13       ``sklearn.datasets.load_wine`` (3 classes)
``mnist1d``               40       ``mnist1d.data.make_dataset`` (10 classes)
``xor``                   2        noisy XOR: Gaussian clusters at the corners of a square
``spirals``               2        two interleaved spirals
``moons``                 2        ``sklearn.datasets.make_moons``
========================  =======  ==========================================================

Modules: :mod:`~dlkit.data.dataset` (the :class:`Dataset` a loader returns and its
validation split), :mod:`~dlkit.data.loaders` (:func:`load`, the scikit-learn and synthetic
loaders), :mod:`~dlkit.data.mnist1d` (the MNIST-1D generator and its on-disk cache) and
:mod:`~dlkit.data.batches` (:func:`minibatches`).
"""

from dlkit.data.batches import minibatches
from dlkit.data.dataset import Dataset, ValidationSplit
from dlkit.data.loaders import DATASETS, SCALINGS, load
from dlkit.data.mnist1d import CACHE_ENV, cache_dir

__all__ = [
    "CACHE_ENV",
    "DATASETS",
    "SCALINGS",
    "Dataset",
    "ValidationSplit",
    "cache_dir",
    "load",
    "minibatches",
]
