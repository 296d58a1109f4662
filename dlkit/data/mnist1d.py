"""MNIST-1D (Greydanus & Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024),
generated offline by the ``mnist1d`` package and cached on disk.

:func:`load_raw` is the loader behind ``load("mnist1d")``: it returns the unscaled split,
generating it with ``mnist1d.data.make_dataset`` (never the package's download path) on the
first call and reading it back from :func:`cache_dir` afterwards. Cache files are named by a
hash of the generator arguments and the package version, written atomically and verified by
checksum on every read; a corrupt or foreign file is regenerated, never misread.
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
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.data.dataset import Raw
from dlkit.validation import check_int, check_non_negative_number

log = logging.getLogger(__name__)

#: Environment variable naming the cache directory (default ``~/.cache/dlkit``).
CACHE_ENV = "DLKIT_CACHE_DIR"

# Bumped whenever the layout of a cache file changes, so old files are never misread.
_CACHE_FORMAT = 1
_MNIST1D_ARRAYS = ("x", "y", "x_test", "y_test", "seq_permutation")

# Defaults of ``mnist1d.data.get_dataset_args`` (package 0.0.2): 5000 samples, 80 % train,
# which is the paper's 4000 / 1000 split. ``seed`` and ``train_split`` come from load()'s
# ``seed`` and ``test_size``; ``template_len`` must match the package's 12-point templates.
DEFAULT_OPTIONS: dict[str, Any] = {
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
        "num_samples": check_int("num_samples", options["num_samples"], 10),
        "train_split": 1.0 - test_size,
        "template_len": 12,
        "padding": [int(padding[0]), int(padding[1])],
        "scale_coeff": check_non_negative_number("scale_coeff", options["scale_coeff"]),
        "max_translation": check_int("max_translation", options["max_translation"], 1),
        "corr_noise_scale": check_non_negative_number(
            "corr_noise_scale", options["corr_noise_scale"]
        ),
        "iid_noise_scale": check_non_negative_number("iid_noise_scale", options["iid_noise_scale"]),
        "shear_scale": check_non_negative_number("shear_scale", options["shear_scale"]),
        "final_seq_length": check_int("final_seq_length", options["final_seq_length"], 2),
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


def load_raw(seed: int, test_size: float, **options: Any) -> Raw:
    """MNIST-1D generated offline by the ``mnist1d`` package, cached on disk.

    ``seed`` is the generator's seed (the package's own default is 42) and the split is the
    package's: the first ``1 - test_size`` of the shuffled samples train, the rest test.
    ``shuffle_seq=True`` is the paper's shuffled-sequence variant, one fixed permutation of
    the L positions (the package's, recorded in ``meta["seq_permutation"]``) applied to every
    train and test sample. The package already centres and scales the whole set (train and
    test together) by one scalar mean and std; ``load``'s ``scale`` then applies on top.
    """
    merged = {**DEFAULT_OPTIONS, **options}
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
