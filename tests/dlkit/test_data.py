"""Tests for dlkit.data: loaders, splits, scaling, the MNIST-1D cache, minibatches."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from dlkit import data

SMALL_MNIST1D = {"num_samples": 200}

# name -> (n_train, n_test, n_features, n_classes) with the default options and test_size=0.2
EXPECTED_SHAPES = {
    "digits": (1437, 360, 64, 10),
    "breast_cancer": (455, 114, 30, 2),
    "iris": (120, 30, 4, 3),
    "wine": (142, 36, 13, 3),
    "xor": (800, 200, 2, 2),
    "spirals": (800, 200, 2, 2),
    "moons": (800, 200, 2, 2),
}


def small_options(name):
    return SMALL_MNIST1D if name == "mnist1d" else {}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own empty cache directory; nothing touches ~/.cache."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    return cache


@pytest.fixture
def count_generations(monkeypatch):
    """Wrap the MNIST-1D generator and return a list that records each call's arguments."""
    calls = []
    generate = data.mnist1d._generate_mnist1d

    def counting(args):
        calls.append(args)
        return generate(args)

    monkeypatch.setattr(data.mnist1d, "_generate_mnist1d", counting)
    return calls


def check_dataset(ds, n_train, n_test, n_features, n_classes):
    assert ds.X_train.shape == (n_train, n_features)
    assert ds.X_test.shape == (n_test, n_features)
    assert ds.y_train.shape == (n_train,)
    assert ds.y_test.shape == (n_test,)
    assert ds.X_train.dtype == np.float32 and ds.X_test.dtype == np.float32
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.n_features == n_features
    assert ds.n_classes == n_classes
    assert ds.X_train.flags.c_contiguous and ds.X_test.flags.c_contiguous
    assert np.isfinite(ds.X_train).all() and np.isfinite(ds.X_test).all()
    assert set(np.unique(ds.y_train)) == set(range(n_classes))
    assert set(np.unique(ds.y_test)) <= set(range(n_classes))
    assert ds.meta["n_train"] == n_train and ds.meta["n_test"] == n_test
    assert len(ds.meta["class_names"]) == n_classes


@pytest.mark.parametrize("name", sorted(EXPECTED_SHAPES))
def test_load_shapes_dtypes_classes(name):
    ds = data.load(name)
    check_dataset(ds, *EXPECTED_SHAPES[name])
    assert ds.name == name
    assert name in repr(ds)


def test_mnist1d_default_is_the_papers_4000_1000_split():
    ds = data.load("mnist1d")
    check_dataset(ds, 4000, 1000, 40, 10)
    assert ds.meta["options"]["num_samples"] == 5000
    # Balanced by construction: num_samples // 10 per class overall.
    assert np.bincount(np.concatenate([ds.y_train, ds.y_test])).tolist() == [500] * 10


def test_all_registered_names_are_tested():
    assert set(data.DATASETS) == set(EXPECTED_SHAPES) | {"mnist1d"}


@pytest.mark.parametrize("name", data.DATASETS)
def test_same_seed_same_arrays_other_seed_other_split(name):
    a = data.load(name, seed=3, **small_options(name))
    b = data.load(name, seed=3, **small_options(name))
    c = data.load(name, seed=4, **small_options(name))
    for field in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.meta == b.meta
    assert a.X_test.shape == c.X_test.shape
    assert not np.array_equal(a.X_test, c.X_test)


@pytest.mark.parametrize("name", ["digits", "wine"])
def test_split_is_stratified(name):
    ds = data.load(name, scale="none")
    train = np.bincount(ds.y_train) / len(ds.y_train)
    test = np.bincount(ds.y_test) / len(ds.y_test)
    # Stratification keeps class proportions within one sample's worth of the test size.
    np.testing.assert_allclose(train, test, atol=1.5 / len(ds.y_test) * ds.n_classes)


def test_standardize_is_fitted_on_train_only():
    raw = data.load("breast_cancer", seed=1, scale="none")
    ds = data.load("breast_cancer", seed=1)
    np.testing.assert_allclose(ds.X_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.X_train.std(axis=0), 1.0, atol=1e-4)
    # The test rows use the training statistics, so their mean is off zero.
    assert np.abs(ds.X_test.mean(axis=0)).max() > 0.01
    expected = StandardScaler().fit(raw.X_train.astype(np.float64))
    np.testing.assert_allclose(ds.X_test, expected.transform(raw.X_test), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ds.scaler.mean_, raw.X_train.mean(axis=0), rtol=1e-5)
    assert ds.meta["scaling"] == "standardize"
    assert ds.meta["scaling_fitted_on"] == "train"


def test_standardize_leaves_constant_features_undivided():
    raw = data.load("digits", scale="none")
    ds = data.load("digits")
    constant = raw.X_train.min(axis=0) == raw.X_train.max(axis=0)
    assert constant.any()  # digits has always-blank border pixels
    assert np.isfinite(ds.X_train).all() and np.isfinite(ds.X_test).all()
    np.testing.assert_array_equal(ds.X_train[:, constant], 0.0)
    # Centred but not divided: test values keep their raw offset from the train constant.
    np.testing.assert_allclose(
        ds.X_test[:, constant], raw.X_test[:, constant] - raw.X_train[0, constant]
    )
    np.testing.assert_allclose(ds.X_train[:, ~constant].std(axis=0), 1.0, atol=1e-4)


def test_minmax_maps_train_to_unit_interval():
    raw = data.load("wine", scale="none")
    ds = data.load("wine", scale="minmax")
    np.testing.assert_allclose(ds.X_train.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(ds.X_train.max(axis=0), 1.0, atol=1e-6)
    lo, hi = raw.X_train.min(axis=0), raw.X_train.max(axis=0)
    np.testing.assert_allclose(ds.X_test, (raw.X_test - lo) / (hi - lo), rtol=1e-5, atol=1e-6)
    assert ds.meta["scaling"] == "minmax"


def test_minmax_constant_feature_is_finite():
    ds = data.load("digits", scale="minmax")
    assert np.isfinite(ds.X_train).all()
    assert ds.X_train.min() >= 0.0 and ds.X_train.max() <= 1.0


def test_scale_none_keeps_raw_values():
    ds = data.load("iris", scale="none")
    assert ds.scaler is None
    assert ds.X_train.max() > 5.0  # sepal lengths in cm


def test_split_validation_partitions_train_and_is_stratified():
    ds = data.load("digits")
    split = ds.split_validation(0.25, np.random.default_rng(0))
    X_tr, y_tr, X_val, y_val = split
    assert len(X_val) == int(np.ceil(0.25 * len(ds.y_train)))
    assert len(X_tr) + len(X_val) == len(ds.X_train)
    assert X_val.dtype == np.float32 and y_val.dtype == np.int64
    # Validation rows come from the training part: the two pieces rebuild it exactly.
    rebuilt = np.concatenate([np.column_stack([X_tr, y_tr]), np.column_stack([X_val, y_val])])
    original = np.column_stack([ds.X_train, ds.y_train])
    np.testing.assert_array_equal(rebuilt[np.lexsort(rebuilt.T)], original[np.lexsort(original.T)])
    np.testing.assert_allclose(
        np.bincount(y_val) / len(y_val), np.bincount(y_tr) / len(y_tr), atol=0.02
    )
    assert split.X_val is X_val


def test_split_validation_is_deterministic_for_a_seeded_rng():
    ds = data.load("iris")
    a = ds.split_validation(0.2, np.random.default_rng(7))
    b = ds.split_validation(0.2, np.random.default_rng(7))
    c = ds.split_validation(0.2, np.random.default_rng(8))
    np.testing.assert_array_equal(a.X_val, b.X_val)
    assert not np.array_equal(a.X_val, c.X_val)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, "0.2"])
def test_split_validation_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        data.load("iris").split_validation(fraction, np.random.default_rng(0))


def test_split_validation_requires_a_generator():
    with pytest.raises(ValueError, match="Generator"):
        data.load("iris").split_validation(0.2, 0)


# ----------------------------------------------------------------------------- synthetic


def test_synthetic_options_change_size_and_noise():
    ds = data.load("xor", n_samples=100, noise=0.0, scale="none")
    assert len(ds.y_train) + len(ds.y_test) == 100
    X = np.concatenate([ds.X_train, ds.X_test])
    y = np.concatenate([ds.y_train, ds.y_test])
    # Without noise every point is a corner and its label is the XOR of the signs.
    np.testing.assert_array_equal(np.abs(X), 1.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(np.int64))
    assert ds.meta["seed"] == 0


def test_spirals_without_noise_lie_on_two_rotated_arms():
    ds = data.load("spirals", n_samples=200, noise=0.0, scale="none")
    X = np.concatenate([ds.X_train, ds.X_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test])
    r = np.hypot(X[:, 0], X[:, 1])
    # The angle along the arm is 3*pi*r for class 0 and 3*pi*r + pi for class 1.
    expected = 3 * np.pi * r + np.pi * y
    residual = np.angle(np.exp(1j * (np.arctan2(X[:, 1], X[:, 0]) - expected)))
    np.testing.assert_allclose(residual, 0.0, atol=1e-4)
    assert np.bincount(y).tolist() == [100, 100]


def test_moons_match_sklearn_make_moons():
    from sklearn.datasets import make_moons

    ds = data.load("moons", n_samples=60, noise=0.2, seed=5, scale="none")
    X, _ = make_moons(n_samples=60, noise=0.2, random_state=5)
    got = np.concatenate([ds.X_train, ds.X_test])
    np.testing.assert_allclose(np.sort(got, axis=0), np.sort(X, axis=0), rtol=1e-6)


def test_noise_increases_spread():
    quiet = data.load("xor", noise=0.05, scale="none").X_train
    loud = data.load("xor", noise=0.5, scale="none").X_train
    assert np.abs(np.abs(loud) - 1).mean() > 5 * np.abs(np.abs(quiet) - 1).mean()


# ----------------------------------------------------------------------------- errors


def test_unknown_name_names_it_and_the_choices():
    with pytest.raises(ValueError, match=r"'mnist'.*digits.*moons"):
        data.load("mnist")


def test_unknown_scaling():
    with pytest.raises(ValueError, match=r"'zscore'.*minmax.*standardize"):
        data.load("iris", scale="zscore")


@pytest.mark.parametrize(
    ("name", "options", "bad"),
    [
        ("iris", {"n_samples": 10}, "n_samples"),
        ("moons", {"num_samples": 10}, "num_samples"),
        ("mnist1d", {"n_samples": 10, "noise": 0.1}, "n_samples"),
        ("xor", {"noise": 0.1, "turns": 2}, "turns"),
    ],
)
def test_unknown_options_are_named(name, options, bad):
    with pytest.raises(ValueError, match=rf"'{bad}'.*{name}"):
        data.load(name, **options)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("xor", {"noise": -0.1}, "noise"),
        ("spirals", {"n_samples": 2}, "n_samples"),
        ("moons", {"n_samples": 10.5}, "n_samples"),
        ("iris", {"test_size": 0.0}, "test_size"),
        ("iris", {"test_size": 1.5}, "test_size"),
        ("iris", {"seed": -1}, "seed"),
        ("iris", {"seed": 2**32}, "seed"),
        ("mnist1d", {"num_samples": 5}, "num_samples"),
        ("mnist1d", {"padding": (60, 36)}, "padding"),
        ("mnist1d", {"shuffle_seq": "yes"}, "shuffle_seq"),
        ("mnist1d", {"iid_noise_scale": -1.0}, "iid_noise_scale"),
    ],
)
def test_invalid_values_raise(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(name, **kwargs)


# ----------------------------------------------------------------------------- MNIST-1D cache


def cache_files(cache):
    return sorted((cache / "mnist1d").glob("*"))


def test_mnist1d_second_load_reads_the_cache(isolated_cache, count_generations):
    first = data.load("mnist1d", **SMALL_MNIST1D)
    assert len(count_generations) == 1
    assert [p.suffix for p in cache_files(isolated_cache)] == [".npz"]  # no temp file left
    second = data.load("mnist1d", **SMALL_MNIST1D)
    assert len(count_generations) == 1
    np.testing.assert_array_equal(first.X_train, second.X_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)


def test_mnist1d_cache_key_follows_generator_args(isolated_cache, count_generations):
    data.load("mnist1d", **SMALL_MNIST1D)
    data.load("mnist1d", num_samples=210)
    data.load("mnist1d", seed=1, **SMALL_MNIST1D)
    data.load("mnist1d", test_size=0.3, **SMALL_MNIST1D)
    data.load("mnist1d", iid_noise_scale=0.05, **SMALL_MNIST1D)
    assert len(count_generations) == 5
    assert len(cache_files(isolated_cache)) == 5
    # Both sequence variants come from one generation, so shuffle_seq reuses the entry.
    data.load("mnist1d", shuffle_seq=True, **SMALL_MNIST1D)
    assert len(count_generations) == 5
    # Scaling happens after the cache, so it does not need a new generation either.
    data.load("mnist1d", scale="none", **SMALL_MNIST1D)
    assert len(count_generations) == 5


def test_mnist1d_corrupt_cache_regenerates(isolated_cache, count_generations):
    good = data.load("mnist1d", **SMALL_MNIST1D)
    (path,) = cache_files(isolated_cache)
    path.write_bytes(path.read_bytes()[:1000])  # truncated by a crash mid-copy, say
    again = data.load("mnist1d", **SMALL_MNIST1D)
    assert len(count_generations) == 2
    np.testing.assert_array_equal(good.X_train, again.X_train)
    data.load("mnist1d", **SMALL_MNIST1D)
    assert len(count_generations) == 2  # the rewritten file is valid


def test_mnist1d_checksum_mismatch_regenerates(isolated_cache, count_generations):
    good = data.load("mnist1d", scale="none", **SMALL_MNIST1D)
    (path,) = cache_files(isolated_cache)
    with np.load(path) as stored:
        entries = dict(stored)
    entries["x"] = entries["x"] + 1.0  # a valid archive whose content no longer matches
    with path.open("wb") as f:
        np.savez(f, **entries)
    again = data.load("mnist1d", scale="none", **SMALL_MNIST1D)
    assert len(count_generations) == 2
    np.testing.assert_array_equal(good.X_train, again.X_train)


def test_mnist1d_failed_cache_write_leaves_no_file(isolated_cache, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    ds = data.load("mnist1d", **SMALL_MNIST1D)
    assert ds.X_train.shape == (160, 40)
    assert cache_files(isolated_cache) == []


def test_mnist1d_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(data.CACHE_ENV)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / ".cache" / "dlkit"


def test_mnist1d_shuffle_seq_is_one_fixed_permutation(count_generations):
    plain = data.load("mnist1d", scale="none", **SMALL_MNIST1D)
    shuffled = data.load("mnist1d", scale="none", shuffle_seq=True, **SMALL_MNIST1D)
    permutation = np.asarray(shuffled.meta["seq_permutation"])
    assert sorted(permutation.tolist()) == list(range(40))
    assert not np.array_equal(permutation, np.arange(40))
    inverse = np.argsort(permutation)
    np.testing.assert_array_equal(shuffled.X_train[:, inverse], plain.X_train)
    np.testing.assert_array_equal(shuffled.X_test[:, inverse], plain.X_test)
    np.testing.assert_array_equal(shuffled.y_train, plain.y_train)
    assert plain.meta["seq_permutation"] is None
    other = data.load("mnist1d", seed=1, shuffle_seq=True, **SMALL_MNIST1D)
    assert other.meta["seq_permutation"] != shuffled.meta["seq_permutation"]
    assert len(count_generations) == 2


def test_mnist1d_matches_the_package_generator_with_shuffle_seq():
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed, args.shuffle_seq = 200, 3, True
    expected = make_dataset(args)
    ds = data.load("mnist1d", seed=3, scale="none", shuffle_seq=True, **SMALL_MNIST1D)
    np.testing.assert_array_equal(ds.X_train, expected["x"].astype(np.float32))
    np.testing.assert_array_equal(ds.X_test, expected["x_test"].astype(np.float32))
    np.testing.assert_array_equal(ds.y_train, expected["y"])
    np.testing.assert_array_equal(ds.y_test, expected["y_test"])


def test_mnist1d_leaves_the_global_random_state_alone(count_generations):
    # The package seeds and draws from both global RNGs; load() must undo that.
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    expected = np.random.random(3), random.random()  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    random.seed(123)
    data.load("mnist1d", **SMALL_MNIST1D)
    assert len(count_generations) == 1
    np.testing.assert_array_equal(np.random.random(3), expected[0])  # noqa: NPY002
    assert random.random() == expected[1]


# ----------------------------------------------------------------------------- minibatches


def tagged(n, d=3):
    """Rows whose first column is their index, so batches can be traced back."""
    X = np.zeros((n, d), dtype=np.float32)
    X[:, 0] = np.arange(n)
    return X, np.arange(n, dtype=np.int64) * 10


def test_minibatches_cover_every_sample_once_and_stay_aligned():
    X, y = tagged(103)
    batches = list(data.minibatches(X, y, 10, np.random.default_rng(0)))
    assert [len(xb) for xb, _ in batches] == [10] * 10 + [3]
    seen = np.concatenate([xb[:, 0] for xb, _ in batches]).astype(np.int64)
    assert sorted(seen.tolist()) == list(range(103))
    assert not np.array_equal(seen, np.arange(103))  # actually shuffled
    for xb, yb in batches:
        np.testing.assert_array_equal(yb, xb[:, 0].astype(np.int64) * 10)


def test_minibatches_drop_last():
    X, y = tagged(103)
    batches = list(data.minibatches(X, y, 10, np.random.default_rng(0), drop_last=True))
    assert [len(xb) for xb, _ in batches] == [10] * 10
    seen = np.concatenate([xb[:, 0] for xb, _ in batches])
    assert len(np.unique(seen)) == 100


def test_minibatches_without_shuffle_keep_order():
    X, y = tagged(25)
    batches = list(data.minibatches(X, y, 10, shuffle=False))
    assert [len(xb) for xb, _ in batches] == [10, 10, 5]
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), X)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in batches]), y)


def test_minibatches_same_seed_same_order_and_one_permutation_per_call():
    X, y = tagged(50)
    rng = np.random.default_rng(1)
    epoch1 = np.concatenate([yb for _, yb in data.minibatches(X, y, 8, rng)])
    epoch2 = np.concatenate([yb for _, yb in data.minibatches(X, y, 8, rng)])
    assert not np.array_equal(epoch1, epoch2)  # the generator advanced between epochs
    replay = np.concatenate([yb for _, yb in data.minibatches(X, y, 8, np.random.default_rng(1))])
    np.testing.assert_array_equal(epoch1, replay)
    np.testing.assert_array_equal(epoch1 // 10, np.random.default_rng(1).permutation(50))


def test_minibatches_batch_larger_than_data():
    X, y = tagged(5)
    assert [len(xb) for xb, _ in data.minibatches(X, y, 8, shuffle=False)] == [5]
    assert list(data.minibatches(X, y, 8, shuffle=False, drop_last=True)) == []


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True])
def test_minibatches_reject_bad_batch_size_at_call(batch_size):
    X, y = tagged(5)
    with pytest.raises(ValueError, match="batch_size"):
        data.minibatches(X, y, batch_size, np.random.default_rng(0))


def test_minibatches_reject_mismatch_and_missing_rng():
    X, y = tagged(5)
    with pytest.raises(ValueError, match="same length"):
        data.minibatches(X, y[:4], 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        data.minibatches(X, y, 2)
