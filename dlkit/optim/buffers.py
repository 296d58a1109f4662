"""Flat buffers: how an optimizer packs all its parameters into one contiguous array.

A tiny network trains in microseconds per batch, so per-parameter Python loops would dominate
the step. At construction an :class:`~dlkit.optim.optimizer.Optimizer` therefore packs all its
parameters into **one** contiguous data buffer and **one** gradient buffer (:func:`pack`): it
copies the current values in, then rebinds every ``p.data`` and ``p.grad`` to a view of those
buffers. Layers read ``self.weight.data`` at every call and accumulate into ``p.grad`` in
place, so they stay connected, and a step is a handful of in-place NumPy operations over the
whole flat array (preallocated state and scratch, no per-step allocation). ``zero_grad`` is
one ``fill(0)``.

Consequences for users:

- ``p.data`` and ``p.grad`` must be changed **in place** (``p.data[...] = x``,
  ``p.grad += g``, ``np.copyto``), never rebound. ``step`` and ``zero_grad`` check that every
  parameter still holds the arrays the optimizer bound (an identity check, no copy) and raise
  RuntimeError otherwise, instead of silently training arrays nobody reads.
- If the parameters already are consecutive views of one flat buffer (e.g. a second
  optimizer over the same parameters), that buffer is reused as is; nothing is rebound and
  the first optimizer keeps working.
- A parameter listed twice (weight tying) is packed once: its single ``.grad`` already holds
  the sum of both uses.
- All parameters must share one floating dtype (float32 normally, float64 for checks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _consecutive_views(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D buffer of which ``arrays`` are consecutive C-contiguous views, or None."""
    base = arrays[0].base
    if (
        not isinstance(base, np.ndarray)
        or base.ndim != 1
        or not base.flags.c_contiguous
        or base.dtype != arrays[0].dtype
    ):
        return None
    itemsize = base.itemsize
    start = _address(arrays[0]) - _address(base)
    if start < 0 or start % itemsize:
        return None
    position = _address(arrays[0])
    total = 0
    for a in arrays:
        if (
            a.base is not base
            or a.dtype != base.dtype
            or not a.flags.c_contiguous
            or a.size == 0
            or _address(a) != position
        ):
            return None
        position += a.nbytes
        total += a.size
    offset = start // itemsize
    if offset + total > base.size:
        return None
    return base[offset : offset + total]


def _check_disjoint(arrays: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """Packing copies each array, which would silently untie arrays sharing memory."""
    spans = sorted(
        (_address(a), _address(a) + a.nbytes, name)
        for a, name in zip(arrays, names, strict=True)
        if a.nbytes
    )
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:], strict=False):
        if begin < end:
            raise ValueError(
                f"parameters {first!r} and {second!r} share memory; tie weights by listing "
                "the same Parameter object twice, not two Parameters over one array"
            )


def pack(arrays: Sequence[np.ndarray], names: Sequence[str]) -> tuple[np.ndarray, list]:
    """Pack ``arrays`` into one flat buffer: reuse a buffer they already view, else copy in.

    Parameters
    ----------
    arrays : sequence of ndarray
        Same dtype, in the order they are packed.
    names : sequence of str
        One per array, for the error raised when two of them share memory.

    Returns
    -------
    flat : ndarray, shape (sum of sizes,)
    views : list of ndarray
        ``views[i]`` has the shape of ``arrays[i]`` and views its slice of ``flat``.
    """
    flat = _consecutive_views(arrays)
    if flat is not None:
        return flat, list(arrays)
    _check_disjoint(arrays, names)
    flat = np.empty(sum(a.size for a in arrays), dtype=arrays[0].dtype)
    views, offset = [], 0
    for a in arrays:
        view = flat[offset : offset + a.size].reshape(a.shape)
        view[...] = a
        views.append(view)
        offset += a.size
    return flat, views
