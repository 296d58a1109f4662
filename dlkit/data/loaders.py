"""``load``: the registry of datasets, the scikit-learn and synthetic loaders, and scaling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sklearn
from sklearn import datasets as skdatasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from dlkit.data import mnist1d
from dlkit.data.dataset import Dataset, Raw
from dlkit.validation import (
    check_choice,
    check_fraction,
    check_int,
    check_non_negative_number,
)

SCALINGS = ("standardize", "minmax", "none")


def _bundled(loader_name: str) -> Callable[..., Raw]:
    def load_bundled(seed: int, test_size: float) -> Raw:
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


def _split_synthetic(X: np.ndarray, y: np.ndarray, seed: int, test_size: float) -> Raw:
    X, X_test, y, y_test = train_test_split(
        X, y, test_size=test_size, random_state=seed, stratify=y
    )
    meta = {
        "class_names": ["0", "1"],
        "split": "sklearn.model_selection.train_test_split, stratified, random_state=seed",
    }
    return X, y, X_test, y_test, meta


def _load_xor(seed: int, test_size: float, *, n_samples: int = 1000, noise: float = 0.3) -> Raw:
    """Noisy XOR: n_samples points in four Gaussian clusters of std ``noise``.

    The clusters sit at the corners (+-1, +-1) with (as near as possible) equally many points
    each; the label is 1 where the corner's coordinates differ in sign (the XOR of the two
    signs). Labels come from the corner, not from the noisy point, so a large ``noise`` makes
    clusters overlap and puts an irreducible error on the problem.
    """
    n = check_int("n_samples", n_samples, 4)
    noise = check_non_negative_number("noise", noise)
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
) -> Raw:
    """Two interleaved spirals (Lang & Witbrock, 1988), one per class.

    Point i has class ``i % 2`` and position t ~ U(0, 1) along its arm: radius ``t`` and angle
    ``3 * pi * t + pi * class`` (1.5 turns; the second arm is the first rotated by 180
    degrees), plus isotropic Gaussian noise of std ``noise``. Along a ray, neighbouring arms
    are 1/3 apart, so ``noise`` well below 0.1 keeps the classes separable except near the
    centre, where both arms start.
    """
    n = check_int("n_samples", n_samples, 4)
    noise = check_non_negative_number("noise", noise)
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.int64)
    t = rng.uniform(0.0, 1.0, n)
    angle = 3.0 * np.pi * t + np.pi * y
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    X += noise * rng.standard_normal((n, 2))
    raw = _split_synthetic(X, y, seed, test_size)
    raw[4]["source"] = "synthetic two spirals: radius t, angle 3*pi*t + pi*class, t ~ U(0, 1)"
    return raw


def _load_moons(seed: int, test_size: float, *, n_samples: int = 1000, noise: float = 0.1) -> Raw:
    """Two interleaving half circles from ``sklearn.datasets.make_moons(random_state=seed)``."""
    n = check_int("n_samples", n_samples, 4)
    noise = check_non_negative_number("noise", noise)
    X, y = skdatasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    raw = _split_synthetic(X, y.astype(np.int64), seed, test_size)
    raw[4]["source"] = f"sklearn.datasets.make_moons (scikit-learn {sklearn.__version__})"
    return raw


_SYNTHETIC_OPTIONS = ("n_samples", "noise")

# name -> (loader, valid keyword options, number of classes)
_REGISTRY: dict[str, tuple[Callable[..., Raw], tuple[str, ...], int]] = {
    "digits": (_bundled("load_digits"), (), 10),
    "breast_cancer": (_bundled("load_breast_cancer"), (), 2),
    "iris": (_bundled("load_iris"), (), 3),
    "wine": (_bundled("load_wine"), (), 3),
    "mnist1d": (mnist1d.load_raw, tuple(mnist1d.DEFAULT_OPTIONS), 10),
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
    seed = check_int("seed", seed, 0)
    if seed >= 2**32:
        raise ValueError(f"seed must be < 2**32, got {seed!r}")
    test_size = check_fraction("test_size", test_size)
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
