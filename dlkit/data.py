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
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import sklearn
from sklearn import datasets as skdatasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dlkit.validation import check_choice, check_non_negative

__all__ = [
    "DATASETS",
    "SCALINGS",
    "Dataset",
    "ValidationSplit",
    "cache_dir",
    "load",
    "minibatches",
]

log = logging.getLogger(__name__)

SCALINGS = ("standardize", "minmax", "none")

#: Environment variable naming the cache directory (default ``~/.cache/dlkit``).
CACHE_ENV = "DLKIT_CACHE_DIR"

# Bumped whenever the layout of a cache file changes, so old files are never misread.
_CACHE_FORMAT = 1
_MNIST1D_ARRAYS = ("x", "y", "x_test", "y_test", "seq_permutation")


class ValidationSplit(NamedTuple):
    """A train/validation split of a dataset's training part (unpacks as a 4-tuple)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split with its metadata, as returned by :func:`load`.

    Attributes
    ----------
    X_train : ndarray, shape (N_train, D), float32
        Training features, scaled with statistics of these rows only.
    y_train : ndarray, shape (N_train,), int64
        Training labels in ``0 .. n_classes - 1``.
    X_test : ndarray, shape (N_test, D), float32
        Test features, scaled with the *training* statistics.
    y_test : ndarray, shape (N_test,), int64
        Test labels.
    n_classes : int
        Number of classes.
    name : str
        The name passed to :func:`load`.
    meta : dict
        JSON-serialisable description: ``source``, ``n_train``, ``n_test``, ``seed``,
        ``test_size``, ``scaling``, ``class_names`` and, for generated sets, ``options`` (the
        effective generator arguments).
    scaler : StandardScaler or MinMaxScaler or None
        The fitted scikit-learn scaler (fitted in float64 on the unscaled training rows), to
        transform new data the same way; ``None`` for ``scale="none"``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str
    meta: dict[str, Any] = field(default_factory=dict)
    scaler: StandardScaler | MinMaxScaler | None = None

    @property
    def n_features(self) -> int:
        """Number of features D."""
        return int(self.X_train.shape[1])

    def split_validation(self, fraction: float, rng: np.random.Generator) -> ValidationSplit:
        """Split the training part into train and validation rows, stratified by class.

        The test set is never touched. The rows keep the scaling of the whole training part
        (one scaler for train, validation and test, so a model sees every split in the same
        units); the validation rows therefore took part in fitting that scaler, as with
        Keras' ``validation_split``.

        Parameters
        ----------
        fraction : float
            Fraction of the training rows that go to validation, in (0, 1).
        rng : numpy.random.Generator
            Source of the split's randomness.

        Returns
        -------
        ValidationSplit
            ``(X_train, y_train, X_val, y_val)`` with shapes (N_train - N_val, D),
            (N_train - N_val,), (N_val, D), (N_val,), where N_val = ceil(fraction * N_train).
        """
        _check_fraction("fraction", fraction)
        _check_generator(rng)
        X_tr, X_val, y_tr, y_val = train_test_split(
            self.X_train,
            self.y_train,
            test_size=fraction,
            random_state=_sklearn_seed(rng),
            stratify=self.y_train,
        )
        return ValidationSplit(X_tr, y_tr, X_val, y_val)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, X_train={self.X_train.shape}, "
            f"X_test={self.X_test.shape}, n_classes={self.n_classes}, "
            f"scaling={self.meta.get('scaling')!r})"
        )


# ----------------------------------------------------------------------------- validation


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise ValueError(f"{name} must be a float in (0, 1), got {value!r}")
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _check_float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(check_non_negative(name, float(value)))


def _check_generator(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {rng!r}"
        )
    return rng


def _sklearn_seed(rng: np.random.Generator) -> int:
    # scikit-learn takes an int seed (< 2**32) rather than a Generator.
    return int(rng.integers(0, 2**32))


# ----------------------------------------------------------------------------- loaders

# A loader takes (seed, test_size, **options) and returns unscaled float64 or float32
# arrays X, y, X_test, y_test plus the dataset-specific part of ``meta``.
_Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]


def _bundled(loader_name: str) -> Callable[..., _Raw]:
    def load_bundled(seed: int, test_size: float) -> _Raw:
        bunch = getattr(skdatasets, loader_name)()
        X, X_test, y, y_test = train_test_split(
            bunch.data, bunch.target, test_size=test_size, random_state=seed, stratify=bunch.target
        )
        meta = {
            "source": f"sklearn.datasets.{loader_name} (scikit-learn {sklearn.__version__})",
            "class_names": [str(c) for c in bunch.target_names],
            "split": "sklearn.model_selection.train_test_split, stratified, random_state=seed",
        }
        return X, y, X_test, y_test, meta

    return load_bundled


def _split_synthetic(X: np.ndarray, y: np.ndarray, seed: int, test_size: float) -> _Raw:
    X, X_test, y, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    meta = {
        "class_names": ["0", "1"],
        "split": "sklearn.model_selection.train_test_split, stratified, random_state=seed",
    }
    return X, y, X_test, y_test, meta


def _load_xor(seed: int, test_size: float, *, n_samples: int = 1000, noise: float = 0.3) -> _Raw:
    """Noisy XOR: n_samples points in four Gaussian clusters of std ``noise``.

    The clusters sit at the corners (+-1, +-1) with (as near as possible) equally many points
    each; the label is 1 where the corner's coordinates differ in sign (the XOR of the two
    signs). Labels come from the corner, not from the noisy point, so a large ``noise`` makes
    clusters overlap and puts an irreducible error on the problem.
    """
    n = _check_int("n_samples", n_samples, 4)
    noise = _check_float("noise", noise)
    rng = np.random.default_rng(seed)
    corners = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    corner = np.arange(n) % 4
    X = corners[corner] + noise * rng.standard_normal((n, 2))
    y = (corners[corner, 0] != corners[corner, 1]).astype(np.int64)
    raw = _split_synthetic(X, y, seed, test_size)
    raw[4]["source"] = "synthetic noisy XOR: Gaussian clusters at (+-1, +-1), std=noise"
    return raw


def _load_spirals(
    seed: int, test_size: float, *, n_samples: int = 1000, noise: float = 0.05
) -> _Raw:
    """Two interleaved spirals (Lang & Witbrock, 1988), one per class.

    Point i has class ``i % 2`` and position t ~ U(0, 1) along its arm: radius ``t`` and angle
    ``3 * pi * t + pi * class`` (1.5 turns; the second arm is the first rotated by 180
    degrees), plus isotropic Gaussian noise of std ``noise``. Along a ray, neighbouring arms
    are 1/3 apart, so ``noise`` well below 0.1 keeps the classes separable except near the
    centre, where both arms start.
    """
    n = _check_int("n_samples", n_samples, 4)
    noise = _check_float("noise", noise)
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    t = rng.uniform(0.0, 1.0, n)
    angle = 3.0 * np.pi * t + np.pi * y
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    X += noise * rng.standard_normal((n, 2))
    raw = _split_synthetic(X, y, seed, test_size)
    raw[4]["source"] = "synthetic two spirals: radius t, angle 3*pi*t + pi*class, t ~ U(0, 1)"
    return raw


def _load_moons(seed: int, test_size: float, *, n_samples: int = 1000, noise: float = 0.1) -> _Raw:
    """Two interleaving half circles from ``sklearn.datasets.make_moons(random_state=seed)``."""
    n = _check_int("n_samples", n_samples, 4)
    noise = _check_float("noise", noise)
    X, y = skdatasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    raw = _split_synthetic(X, y.astype(np.int64), seed, test_size)
    raw[4]["source"] = f"sklearn.datasets.make_moons (scikit-learn {sklearn.__version__})"
    return raw


# ----------------------------------------------------------------------------- MNIST-1D

# Defaults of ``mnist1d.data.get_dataset_args`` (package 0.0.2): 5000 samples, 80 % train,
# which is the paper's 4000 / 1000 split. ``seed`` and ``train_split`` come from load()'s
# ``seed`` and ``test_size``; ``template_len`` must match the package's 12-point templates.
_MNIST1D_OPTIONS: dict[str, Any] = {
    "num_samples": 5000,
    "padding": (36, 60),
    "scale_coeff": 0.4,
    "max_translation": 48,
    "corr_noise_scale": 0.25,
    "iid_noise_scale": 2e-2,
    "shear_scale": 0.75,
    "final_seq_length": 40,
    "shuffle_seq": False,
}


def _mnist1d_args(seed: int, test_size: float, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the options and return the generator arguments (without ``shuffle_seq``)."""
    padding = options["padding"]
    if (
        not isinstance(padding, (tuple, list))
        or len(padding) != 2
        or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in padding)
        or not 0 <= padding[0] <= padding[1]
    ):
        raise ValueError(f"padding must be a pair of integers 0 <= low <= high, got {padding!r}")
    return {
        # make_dataset draws num_samples // 10 samples per class.
        "num_samples": _check_int("num_samples", options["num_samples"], 10),
        "train_split": 1.0 - test_size,
        "template_len": 12,
        "padding": [int(padding[0]), int(padding[1])],
        "scale_coeff": _check_float("scale_coeff", options["scale_coeff"]),
        "max_translation": _check_int("max_translation", options["max_translation"], 1),
        "corr_noise_scale": _check_float("corr_noise_scale", options["corr_noise_scale"]),
        "iid_noise_scale": _check_float("iid_noise_scale", options["iid_noise_scale"]),
        "shear_scale": _check_float("shear_scale", options["shear_scale"]),
        "final_seq_length": _check_int("final_seq_length", options["final_seq_length"], 2),
        "seed": seed,
    }


def _generate_mnist1d(args: dict[str, Any]) -> dict[str, np.ndarray]:
    """Run ``mnist1d.data.make_dataset`` (never its download path) without shuffling positions.

    Parameters
    ----------
    args : dict
        Generator arguments as built by ``_mnist1d_args``.

    Returns
    -------
    dict of ndarray
        ``x`` (N_train, L) and ``x_test`` (N_test, L) float64, ``y`` and ``y_test`` int64, and
        ``seq_permutation`` (L,) int64: the permutation of positions the package applies when
        ``shuffle_seq=True`` for these arguments.
    """
    # Imported here: the package pulls in matplotlib and requests, which only this path needs.
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    # make_dataset seeds and draws from the global NumPy and Python RNGs; restoring them keeps
    # load() free of side effects on the caller's random state.
    np_state = np.random.get_state()  # noqa: NPY002
    py_state = random.getstate()
    try:
        dataset = make_dataset(ObjectView({**args, "shuffle_seq": False}))
        # With shuffle_seq=True the package draws np.random.permutation(L) right after the
        # sample shuffle, the last draw before this point, and normalises with permutation-
        # invariant scalars: this draw is exactly its permutation, and one generation serves
        # both variants.
        seq_permutation = np.random.permutation(args["final_seq_length"])  # noqa: NPY002
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return {
        "x": np.asarray(dataset["x"], dtype=np.float64),
        "y": np.asarray(dataset["y"], dtype=np.int64),
        "x_test": np.asarray(dataset["x_test"], dtype=np.float64),
        "y_test": np.asarray(dataset["y_test"], dtype=np.int64),
        "seq_permutation": seq_permutation.astype(np.int64),
    }


def cache_dir() -> Path:
    """Directory for generated datasets: ``$DLKIT_CACHE_DIR``, else ``~/.cache/dlkit``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else Path.home() / ".cache" / "dlkit"


def _mnist1d_identity(args: dict[str, Any]) -> str:
    # The package version is part of the identity: another version may draw differently.
    return json.dumps(
        {
            "generator": "mnist1d.data.make_dataset",
            "mnist1d": metadata.version("mnist1d"),
            "format": _CACHE_FORMAT,
            "args": args,
        },
        sort_keys=True,
    )


def _checksum(arrays: dict[str, np.ndarray], identity: str) -> str:
    digest = hashlib.sha256(identity.encode())
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def _read_cache(path: Path, identity: str) -> dict[str, np.ndarray] | None:
    """Return the arrays stored at ``path``, or None if absent, unreadable or corrupt."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in _MNIST1D_ARRAYS}
            checksum = str(stored["checksum"])
            stored_identity = str(stored["identity"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("unreadable dataset cache %s (%s); regenerating", path, err)
        return None
    if stored_identity != identity or checksum != _checksum(arrays, identity):
        log.warning("dataset cache %s fails its checksum; regenerating", path)
        return None
    return arrays


def _write_cache(path: Path, arrays: dict[str, np.ndarray], identity: str) -> None:
    """Store ``arrays`` at ``path`` atomically; a failure only costs a regeneration later."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a unique temporary file in the same directory and rename it into place:
        # readers (other processes included) see either no file or a complete one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                **arrays,
                checksum=np.array(_checksum(arrays, identity)),
                identity=np.array(identity),
            )
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        log.warning("could not write dataset cache %s (%s); continuing without it", path, err)
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _load_mnist1d(seed: int, test_size: float, **options: Any) -> _Raw:
    """MNIST-1D generated offline by the ``mnist1d`` package, cached on disk.

    ``seed`` is the generator's seed (the package's own default is 42) and the split is the
    package's: the first ``1 - test_size`` of the shuffled samples train, the rest test.
    ``shuffle_seq=True`` is the paper's shuffled-sequence variant, one fixed permutation of
    the L positions (the package's, recorded in ``meta["seq_permutation"]``) applied to every
    train and test sample. The package already centres and scales the whole set (train and
    test together) by one scalar mean and std; ``load``'s ``scale`` then applies on top.
    """
    merged = {**_MNIST1D_OPTIONS, **options}
    shuffle_seq = merged["shuffle_seq"]
    if not isinstance(shuffle_seq, (bool, np.bool_)):
        raise ValueError(f"shuffle_seq must be True or False, got {shuffle_seq!r}")
    args = _mnist1d_args(seed, test_size, merged)
    identity = _mnist1d_identity(args)
    key = hashlib.sha256(identity.encode()).hexdigest()[:20]
    path = cache_dir() / "mnist1d" / f"mnist1d-{key}.npz"

    arrays = _read_cache(path, identity)
    if arrays is None:
        log.info("generating MNIST-1D (%d samples, seed %d)", args["num_samples"], seed)
        start = time.perf_counter()
        arrays = _generate_mnist1d(args)
        log.info("generated MNIST-1D in %.1f s; caching at %s", time.perf_counter() - start, path)
        _write_cache(path, arrays, identity)
    else:
        log.debug("MNIST-1D read from cache %s", path)

    X, X_test = arrays["x"], arrays["x_test"]
    permutation = arrays["seq_permutation"]
    if shuffle_seq:
        X, X_test = X[:, permutation], X_test[:, permutation]
    meta = {
        "source": f"mnist1d.data.make_dataset (mnist1d {metadata.version('mnist1d')}), offline",
        "class_names": [str(d) for d in range(10)],
        "split": "the package's: first train_split of the shuffled samples",
        "options": {**args, "shuffle_seq": bool(shuffle_seq)},
        "seq_permutation": permutation.tolist() if shuffle_seq else None,
        "preprocessing": "package: whole set centred and scaled by one scalar mean and std",
    }
    return X, arrays["y"], X_test, arrays["y_test"], meta


# ----------------------------------------------------------------------------- registry

_SYNTHETIC_OPTIONS = ("n_samples", "noise")

# name -> (loader, valid keyword options, number of classes)
_REGISTRY: dict[str, tuple[Callable[..., _Raw], tuple[str, ...], int]] = {
    "digits": (_bundled("load_digits"), (), 10),
    "breast_cancer": (_bundled("load_breast_cancer"), (), 2),
    "iris": (_bundled("load_iris"), (), 3),
    "wine": (_bundled("load_wine"), (), 3),
    "mnist1d": (_load_mnist1d, tuple(_MNIST1D_OPTIONS), 10),
    "xor": (_load_xor, _SYNTHETIC_OPTIONS, 2),
    "spirals": (_load_spirals, _SYNTHETIC_OPTIONS, 2),
    "moons": (_load_moons, _SYNTHETIC_OPTIONS, 2),
}

#: Names accepted by :func:`load`.
DATASETS = tuple(_REGISTRY)


def _scale(
    X: np.ndarray, X_test: np.ndarray, scale: str
) -> tuple[np.ndarray, np.ndarray, StandardScaler | MinMaxScaler | None]:
    """Fit the scaler on the training rows (float64) and apply it to both splits (float32)."""
    X = np.asarray(X, dtype=np.float64)
    X_test = np.asarray(X_test, dtype=np.float64)
    if scale == "none":
        scaler = None
    else:
        # Both scikit-learn scalers leave zero-range features unscaled instead of dividing by
        # zero (StandardScaler still centres them, MinMaxScaler maps them to 0).
        scaler = StandardScaler() if scale == "standardize" else MinMaxScaler()
        X = scaler.fit_transform(X)
        X_test = scaler.transform(X_test)
    return (
        np.ascontiguousarray(X, dtype=np.float32),
        np.ascontiguousarray(X_test, dtype=np.float32),
        scaler,
    )


def load(
    name: str,
    *,
    seed: int = 0,
    test_size: float = 0.2,
    scale: str = "standardize",
    **options: Any,
) -> Dataset:
    """Load a dataset as a scaled train/test split.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`: ``digits``, ``breast_cancer``, ``iris``, ``wine``,
        ``mnist1d``, ``xor``, ``spirals``, ``moons``.
    seed : int
        0 <= seed < 2**32. Seeds the stratified train/test split of the scikit-learn and
        synthetic sets, the synthetic generators (``np.random.default_rng(seed)``; ``moons``
        passes ``random_state=seed`` to ``make_moons``) and the MNIST-1D generator. The same
        seed always gives identical arrays.
    test_size : float
        Fraction of the samples held out as the test set, in (0, 1). The default 0.2 gives
        MNIST-1D the paper's 4000 / 1000 split.
    scale : {"standardize", "minmax", "none"}
        Feature scaling fitted on the training rows only and applied to both splits:
        zero mean and unit variance (``sklearn.preprocessing.StandardScaler``), the range
        [0, 1] (``MinMaxScaler``), or none. Features constant on the training rows are not
        divided (no division by zero).
    **options
        Dataset-specific arguments; any other keyword is an error.

        - ``xor``, ``spirals``, ``moons``: ``n_samples`` (default 1000) and ``noise``
          (the std of the Gaussian noise; defaults 0.3, 0.05 and 0.1).
        - ``mnist1d``: ``num_samples`` (5000), ``shuffle_seq`` (False), and the package's
          generator arguments ``padding`` ((36, 60)), ``scale_coeff`` (0.4),
          ``max_translation`` (48), ``corr_noise_scale`` (0.25), ``iid_noise_scale`` (0.02),
          ``shear_scale`` (0.75), ``final_seq_length`` (40). Generated arrays are cached in
          :func:`cache_dir` under a hash of the generator arguments (``shuffle_seq`` excluded:
          both variants come from one generation) and verified by checksum on every read.
        - the scikit-learn sets take none.

    Returns
    -------
    Dataset
        ``X_train`` (N_train, D) and ``X_test`` (N_test, D) float32, ``y_train`` (N_train,)
        and ``y_test`` (N_test,) int64, plus ``n_classes``, ``n_features``, ``meta``.

    Raises
    ------
    ValueError
        For an unknown name, scaling or option, or an invalid value.
    """
    check_choice("dataset", name, _REGISTRY)
    check_choice("scaling", scale, SCALINGS)
    seed = _check_int("seed", seed, 0)
    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32, got {seed!r}")
    test_size = _check_fraction("test_size", test_size)
    loader, valid_options, n_classes = _REGISTRY[name]
    unknown = sorted(set(options) - set(valid_options))
    if unknown:
        valid = ", ".join(valid_options) if valid_options else "(none)"
        raise ValueError(
            f"unknown option(s) {', '.join(map(repr, unknown))} for dataset {name!r}; "
            f"valid options: {valid}"
        )

    X, y, X_test, y_test, meta = loader(seed, test_size, **options)
    X, X_test, scaler = _scale(X, X_test, scale)
    y = np.ascontiguousarray(y, dtype=np.int64)
    y_test = np.ascontiguousarray(y_test, dtype=np.int64)
    meta = {
        **meta,
        "seed": seed,
        "test_size": test_size,
        "n_train": int(len(y)),
        "n_test": int(len(y_test)),
        "scaling": scale,
        "scaling_fitted_on": "train",
    }
    return Dataset(
        X_train=X,
        y_train=y,
        X_test=X_test,
        y_test=y_test,
        n_classes=n_classes,
        name=name,
        meta=meta,
        scaler=scaler,
    )


def minibatches(
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None = None,
    *,
    shuffle: bool = True,
    drop_last: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield one epoch of aligned minibatches ``(X_batch, y_batch)``.

    Parameters
    ----------
    X : ndarray, shape (N, ...)
        Inputs; batches are taken along the first axis.
    y : ndarray, shape (N, ...)
        Targets aligned with ``X``.
    batch_size : int
        Rows per batch, >= 1. The last batch is smaller when N is not a multiple of it.
    rng : numpy.random.Generator, optional
        Draws the epoch's single permutation; required when ``shuffle`` is True.
    shuffle : bool
        Visit the rows in the order ``rng.permutation(N)`` (copies) instead of their stored
        order (views of ``X`` and ``y``).
    drop_last : bool
        Skip the final incomplete batch, so every batch has exactly ``batch_size`` rows.

    Yields
    ------
    X_batch : ndarray, shape (B, ...)
    y_batch : ndarray, shape (B, ...)
        With B = ``batch_size`` except possibly for the last batch. Without ``drop_last`` every
        row appears exactly once per call.
    """
    # Validation happens here, at the call, not at the first next() of a lazy generator.
    batch_size = _check_int("batch_size", batch_size, 1)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X and y must have the same length, got {n} and {len(y)}")
    order = _check_generator(rng).permutation(n) if shuffle else None
    stop = n - n % batch_size if drop_last else n
    return _batches(X, y, batch_size, order, stop)


def _batches(
    X: np.ndarray, y: np.ndarray, batch_size: int, order: np.ndarray | None, stop: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, stop, batch_size):
        if order is None:
            yield X[start : start + batch_size], y[start : start + batch_size]
        else:
            index = order[start : start + batch_size]
            yield X[index], y[index]
