"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator, fresh for every test, so each test reproduces on its own."""
    return np.random.default_rng(0)


@pytest.fixture
def grad_tol() -> float:
    """Largest accepted float64 relative error of an analytic gradient (CS231n's bar)."""
    return 1e-6


@pytest.fixture
def torch_rtol() -> float:
    """Relative tolerance of float32 comparisons with PyTorch."""
    return 1e-4
