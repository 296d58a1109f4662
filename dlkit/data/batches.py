"""One epoch of aligned mini-batches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dlkit.validation import check_generator, check_int


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
    batch_size = check_int("batch_size", batch_size, 1)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X and y must have the same length, got {n} and {len(y)}")
    order = check_generator(rng).permutation(n) if shuffle else None
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
