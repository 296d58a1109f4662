"""Group-sequential designs: seeds are added look by look until a claim is decided.

A claim is judged at planned seed counts (the *looks*, e.g. 5, 10, 15 and 20 seeds) on the
paired differences ``a - b`` of its two arms. At each look it is **supported** when the
statistic crosses the upper boundary, **not supported** when it crosses the lower one (the
opposite direction, or for an equivalence claim the interval outside the margin), and
otherwise the decision is **continue** (run the seeds of the next look); undecided at the last
look it is **inconclusive**.

The boundaries come from an alpha-spending function (Lan & DeMets 1983) over the information
fractions ``n_k / n_K``: the O'Brien–Fleming-type ``2 - 2 Phi(z_{1-alpha/2} / sqrt(t))``
(spends almost nothing early, so the last look keeps nearly the fixed-sample level), the
Pocock-type ``alpha log(1 + (e - 1) t)`` (spends evenly), or Bonferroni (``alpha / K`` at every
look). Each direction spends its own ``alpha``, so over all looks the probability of a wrong
"supported" is at most ``alpha`` and likewise of a wrong "not supported" — exactly for
normal look statistics, and for the t-test at few seeds as checked by simulation (the tests
of this module: normal, t(3) and lognormal-difference nulls). The z-scale
boundaries are computed once per design by the recursive numerical integration of Armitage,
McPherson & Rowe (1969) (Jennison & Turnbull 2000, ch. 19) and cached; at ``n`` seeds a
boundary is applied as its one-sided nominal level, i.e. on the t-scale with ``n - 1``
degrees of freedom for the t-test, or to the p-value of a sign-flip permutation test.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from dlkit.validation import check_choice
from studies.stats.intervals import t_interval
from studies.stats.paired import _ratio
from studies.stats.verdicts import VERDICTS

__all__ = [
    "DECISIONS",
    "PERMUTATION_SEED",
    "SEQUENTIAL_TESTS",
    "SPENDINGS",
    "Decision",
    "SequentialDesign",
    "sign_flip_p_value",
    "spent_alpha",
]

#: Verdicts of a sequential decision: the claim verdicts plus "continue" (add seeds).
DECISIONS = (VERDICTS[0], VERDICTS[1], "continue", VERDICTS[2])
SPENDINGS = ("obrien_fleming", "pocock", "bonferroni")
SEQUENTIAL_TESTS = ("t", "permutation")
ALTERNATIVES = ("greater", "less")
#: Seed of the Monte Carlo sign flips (more than :data:`EXACT_MAX_PAIRS` pairs) when no
#: generator is passed, so a decision is reproducible.
PERMUTATION_SEED = 0
#: Up to this many pairs the sign-flip test enumerates all ``2**n`` sign patterns.
EXACT_MAX_PAIRS = 20
N_SIGN_FLIPS = 10_000
# Grid of the numerical integration: points per look, and how many SDs below 0 it reaches.
_GRID_POINTS = 2001
_GRID_LOW_SD = 10.0


def spent_alpha(fractions: Sequence[float], alpha: float, spending: str) -> tuple[float, ...]:
    """Cumulative one-sided alpha spent by each look.

    Parameters
    ----------
    fractions : sequence of float, shape (K,)
        Information fractions ``n_k / n_K``, increasing, the last equal to 1.
    alpha : float
        One-sided alpha of the whole design.
    spending : {"obrien_fleming", "pocock", "bonferroni"}
        Lan–DeMets O'Brien–Fleming-type, Lan–DeMets Pocock-type, or ``alpha k / K`` (an upper
        bound of what Bonferroni's ``alpha / K`` per look spends).

    Returns
    -------
    tuple of float, shape (K,)
    """
    check_choice("spending", spending, SPENDINGS)
    t = np.asarray(fractions, dtype=float)
    if spending == "obrien_fleming":
        spent = 2.0 * stats.norm.sf(stats.norm.isf(alpha / 2.0) / np.sqrt(t))
    elif spending == "pocock":
        spent = alpha * np.log1p((math.e - 1.0) * t)
    else:
        spent = alpha * np.arange(1, t.size + 1) / t.size
    return tuple(float(s) for s in spent)


@functools.cache
def _z_boundaries(fractions: tuple[float, ...], alpha: float, spending: str) -> tuple[float, ...]:
    """One-sided z-scale boundaries ``c_k``: P(Z_j < c_j for j < k, Z_k >= c_k) under the null
    equals the alpha spent at look ``k``, for the Brownian-motion look statistics ``Z_k``
    (correlation ``sqrt(t_j / t_k)``)."""
    if spending == "bonferroni":
        return (float(stats.norm.isf(alpha / len(fractions))),) * len(fractions)
    spent = spent_alpha(fractions, alpha, spending)
    t0 = fractions[0]
    bounds = [float(stats.norm.isf(spent[0]))]
    # Sub-density of the score S_1 = Z_1 sqrt(t_1) on the continuation region S_1 < c_1 sqrt(t_1).
    grid, weights = _grid(t0, bounds[0])
    density = stats.norm.pdf(grid, scale=math.sqrt(t0))
    for k in range(1, len(fractions)):
        tk, step = fractions[k], fractions[k] - fractions[k - 1]
        mass, sd = weights * density, math.sqrt(step)
        target = spent[k] - spent[k - 1]
        if target <= 1e-15:
            bound = math.inf
        else:
            args = (mass, grid * (1.0 / math.sqrt(tk)), math.sqrt(step / tk), target)
            bound = optimize.brentq(_excess_crossing, -10.0, 40.0, args=args, xtol=1e-10)
        bounds.append(float(bound))
        new_grid, weights = _grid(tk, bound)
        kernel = stats.norm.pdf((new_grid[:, None] - grid[None, :]) / sd) / sd
        density, grid = kernel @ mass, new_grid
    return tuple(bounds)


@functools.cache
def _look_levels(
    looks: tuple[int, ...], alpha: float, spending: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Nominal one-sided level and t-scale boundary of each look (cached per design)."""
    fractions = tuple(n / looks[-1] for n in looks)
    nominal = tuple(float(stats.norm.sf(c)) for c in _z_boundaries(fractions, alpha, spending))
    t_bounds = tuple(float(stats.t.isf(p, n - 1)) for p, n in zip(nominal, looks))
    return nominal, t_bounds


def _excess_crossing(
    bound: float, mass: np.ndarray, z_grid: np.ndarray, z_step: float, target: float
) -> float:
    """Probability of first crossing ``bound`` at a look, minus the alpha it may spend.

    ``mass`` is the sub-density times the quadrature weights at the previous look on
    ``z_grid`` (the score divided by the square root of this look's information) and
    ``z_step`` the SD of the increment on the same scale.
    """
    return float(mass @ stats.norm.sf((bound - z_grid) / z_step)) - target


def _grid(fraction: float, bound: float) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid grid of the score at information ``fraction`` below the boundary ``bound``."""
    scale = math.sqrt(fraction)
    top = min(bound, _GRID_LOW_SD) * scale
    grid = np.linspace(-_GRID_LOW_SD * scale, top, _GRID_POINTS)
    weights = np.full(_GRID_POINTS, grid[1] - grid[0])
    weights[[0, -1]] /= 2.0
    return grid, weights


def _all_sign_sums(values: np.ndarray) -> np.ndarray:
    """``sum(s_i v_i)`` for all ``2**n`` sign patterns ``s``, shape (2**n,)."""
    sums = np.zeros(1)
    for v in values:
        sums = np.concatenate([sums + v, sums - v])
    return sums


def sign_flip_p_value(
    differences: Sequence[float],
    alternative: str = "greater",
    *,
    n_resamples: int = N_SIGN_FLIPS,
    rng: np.random.Generator | None = None,
) -> float:
    """One-sided p-value of a sign-flip permutation test of paired differences against 0.

    Under the null the differences are symmetric about 0, so every pattern of signs is equally
    likely; the p-value is the share of patterns whose sum is at least (``"greater"``) or at
    most (``"less"``) the observed sum. Valid at any ``n`` without assuming normality.

    Parameters
    ----------
    differences : array_like, shape (n,)
    alternative : {"greater", "less"}
    n_resamples : int
        Random sign patterns when ``n > EXACT_MAX_PAIRS`` (20); up to 20 pairs all ``2**n``
        patterns are enumerated (exact).
    rng : numpy.random.Generator, optional
        For the random patterns; defaults to ``np.random.default_rng(PERMUTATION_SEED)``.

    Returns
    -------
    float
        Exact: ``count / 2**n`` (at least ``2**-n``). Monte Carlo: ``(1 + count) /
        (1 + n_resamples)``.
    """
    check_choice("alternative", alternative, ALTERNATIVES)
    x = np.asarray(differences, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"differences must be a non-empty 1-D array, got shape {x.shape}")
    sign = 1.0 if alternative == "greater" else -1.0
    magnitudes = np.abs(x)
    observed = sign * float(x.sum())
    # Sums of the same numbers in another order differ by rounding; count those as ties.
    slack = observed - 1e-10 * max(1.0, float(magnitudes.sum()))
    if x.size <= EXACT_MAX_PAIRS:
        # Meet in the middle: 2**h sums of one half against the sorted 2**(n-h) of the other.
        half = x.size // 2
        first = _all_sign_sums(magnitudes[:half])
        second = np.sort(_all_sign_sums(magnitudes[half:]))
        count = second.size * first.size - np.searchsorted(second, slack - first).sum()
        return float(count) / 2.0**x.size
    rng = np.random.default_rng(PERMUTATION_SEED) if rng is None else rng
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_resamples, x.size))
    count = int(np.count_nonzero(signs @ magnitudes >= slack))
    return (1.0 + count) / (1.0 + n_resamples)


@dataclass(frozen=True)
class Decision:
    """What a sequential design says at one look.

    Attributes
    ----------
    verdict : {"supported", "not supported", "continue", "inconclusive"}
        "continue" (add seeds up to the next look) only before the last look.
    look : int
        1-based index into the design's looks of the look that decided the claim; for
        "continue" and "inconclusive", the look of the differences given.
    n : int
        Seeds (pairs) used at that look: ``looks[look - 1]``, or fewer when some trials gave
        no usable pair (see ``sizes`` of :meth:`SequentialDesign.decide`).
    statistic : float
        t statistic of the differences at that look, oriented so that positive values favour
        the claim (for an equivalence claim, the smaller of the two TOST t statistics).
    boundary : float
        The look's boundary on the scale of ``statistic`` (t with ``n - 1`` df): supported at
        ``statistic >= boundary``, not supported at ``statistic <= -boundary``.
    p_value : float
        One-sided p-value of the claim's test (for equivalence, the larger TOST p-value);
        supported when at most ``nominal_alpha``. For ``test="permutation"`` the verdict
        follows this sign-flip p-value (and ``statistic``/``boundary`` are its t-scale
        picture).
    p_opposite : float
        p-value of the opposite direction (equivalence: of the difference lying outside the
        margin; with a ``min_effect``: of the mean lying short of it); not supported when at
        most ``nominal_alpha``.
    nominal_alpha : float
        The look's one-sided nominal level, ``1 - Phi(z-boundary)``.
    mean_diff, ci_lo, ci_hi : float
        Mean paired difference and its ``1 - 2 nominal_alpha`` t-interval (a repeated
        confidence interval: it excludes 0, or for equivalence lies inside the margin, exactly
        when the claim is decided), in the metric's units.
    d_z : float
        Paired effect size ``mean / SD`` of the differences at that look.
    statistics : tuple of float
        ``statistic`` at looks ``1 .. look``, for a monitoring chart against the boundaries.
    test : {"t", "permutation"}
    alternative : {"greater", "less", "equivalence"}
    min_effect : float, optional
        The claim's smallest effect of interest, when it has one: then "not supported" means
        the mean is significantly short of it (see :meth:`SequentialDesign.decide`).
    """

    verdict: str
    look: int
    n: int
    statistic: float
    boundary: float
    p_value: float
    p_opposite: float
    nominal_alpha: float
    mean_diff: float
    ci_lo: float
    ci_hi: float
    d_z: float
    statistics: tuple[float, ...]
    test: str
    alternative: str
    min_effect: float | None = None

    def __post_init__(self) -> None:
        check_choice("verdict", self.verdict, DECISIONS)


@dataclass(frozen=True)
class SequentialDesign:
    """A group-sequential design of a paired claim: looks, alpha and a spending rule.

    Parameters
    ----------
    looks : tuple of int
        Planned seed counts, strictly increasing, each at least 2.
    alpha : float
        One-sided error rate of each wrong verdict over all looks, in ``(0, 0.5)``.
    spending : {"obrien_fleming", "pocock", "bonferroni"}
        See :func:`spent_alpha`.

    Examples
    --------
    >>> design = SequentialDesign(looks=(5, 10, 15, 20))
    >>> design.decide([1.2, 0.8, 1.5, 0.9, 1.1], alternative="greater").verdict
    'continue'
    """

    looks: tuple[int, ...] = (5, 10, 15, 20)
    alpha: float = 0.05
    spending: str = "obrien_fleming"

    def __post_init__(self) -> None:
        looks = tuple(self.looks)
        if not looks or not all(isinstance(n, int | np.integer) and n >= 2 for n in looks):
            raise ValueError(f"looks must be seed counts >= 2, got {self.looks!r}")
        if any(b <= a for a, b in zip(looks, looks[1:])):
            raise ValueError(f"looks must be strictly increasing, got {self.looks!r}")
        object.__setattr__(self, "looks", tuple(int(n) for n in looks))
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha must lie in (0, 0.5), got {self.alpha!r}")
        check_choice("spending", self.spending, SPENDINGS)

    @property
    def fractions(self) -> tuple[float, ...]:
        """Information fractions ``n_k / n_K`` of the looks."""
        return tuple(n / self.looks[-1] for n in self.looks)

    @property
    def z_boundaries(self) -> tuple[float, ...]:
        """One-sided z-scale boundaries, one per look (computed once per design, cached)."""
        return _z_boundaries(self.fractions, float(self.alpha), self.spending)

    @property
    def nominal_alpha(self) -> tuple[float, ...]:
        """One-sided nominal level of each look, ``1 - Phi(c_k)``."""
        return _look_levels(self.looks, float(self.alpha), self.spending)[0]

    @property
    def t_boundaries(self) -> tuple[float, ...]:
        """Boundaries on the t-scale: the nominal level's critical t with ``n_k - 1`` df."""
        return _look_levels(self.looks, float(self.alpha), self.spending)[1]

    def decide(
        self,
        differences: Sequence[float],
        alternative: str = "greater",
        test: str = "t",
        *,
        sizes: Sequence[int] | None = None,
        rng: np.random.Generator | None = None,
        min_effect: float | None = None,
    ) -> Decision:
        """Decide a directional claim on the paired differences seen so far.

        Every look up to ``len(differences)`` is checked in turn on the first ``n_k``
        differences, so the decision is the one the sequential procedure reached.

        Parameters
        ----------
        differences : array_like, shape (n,)
            Paired differences (arm A - arm B) in seed order; ``n`` must be one of the looks.
        alternative : {"greater", "less"}
            The claim: the mean difference is above (below) 0.
        test : {"t", "permutation"}
            One-sample t-test of the differences, or the sign-flip permutation test
            (:func:`sign_flip_p_value`) where they are not roughly normal.
        sizes : sequence of int, optional
            How many of ``differences`` each look so far holds, when some planned seeds gave
            no usable pair (a failed trial): non-decreasing, one per look reached, the last
            equal to ``len(differences)``. Default: the looks themselves.
        rng : numpy.random.Generator, optional
            For a Monte Carlo sign-flip test beyond 20 pairs.
        min_effect : float, optional
            The smallest effect the claim is about (> 0, in the differences' units). Without
            it, "not supported" means the mean lies significantly on the other side of 0;
            with it, that the mean lies significantly short of ``min_effect`` in the claimed
            direction (below ``min_effect`` for "greater", above ``-min_effect`` for "less"):
            a futility decision, which stops a claim whose effect is too small to matter
            instead of running it to an inconclusive last look. Its error rate, a "not
            supported" when the true effect is at least ``min_effect``, is held at ``alpha``
            by the same boundaries; the rate of a wrong "supported" is unchanged.

        Returns
        -------
        Decision
        """
        check_choice("alternative", alternative, ALTERNATIVES)
        if min_effect is not None and not (math.isfinite(min_effect) and min_effect > 0):
            raise ValueError(f"min_effect must be finite and > 0, got {min_effect!r}")
        check_choice("test", test, SEQUENTIAL_TESTS)
        x, sizes = self._check(differences, sizes)
        sign = 1.0 if alternative == "greater" else -1.0
        opposite = "less" if alternative == "greater" else "greater"
        rng = np.random.default_rng(PERMUTATION_SEED) if rng is None else rng

        # The opposite test's null: 0, or the smallest effect of interest on the claimed side.
        shift = sign * (min_effect or 0.0)

        def look_at(prefix: np.ndarray) -> tuple[float, float, float]:
            t_stat = sign * _t_statistic(prefix, 0.0)
            if test == "t":
                df = prefix.size - 1
                t_short = sign * _t_statistic(prefix, shift) if shift else t_stat
                return t_stat, _t_sf(t_stat, df), _t_sf(-t_short, df)
            return (
                t_stat,
                sign_flip_p_value(prefix, alternative, rng=rng),
                sign_flip_p_value(prefix - shift, opposite, rng=rng),
            )

        decision = self._run(x, sizes, look_at, test, alternative)
        return dataclasses.replace(decision, min_effect=min_effect)

    def equivalence(
        self,
        differences: Sequence[float],
        margin: float,
        test: str = "t",
        *,
        sizes: Sequence[int] | None = None,
        rng: np.random.Generator | None = None,
    ) -> Decision:
        """Decide "the mean difference lies within ``±margin``" by sequential TOST.

        Supported when both one-sided tests (mean > -margin, mean < margin) cross the look's
        boundary, i.e. the ``1 - 2 nominal_alpha`` interval lies inside the margin; not
        supported when one of the tests that the mean lies beyond a bound crosses it (the
        interval lies entirely outside the margin).

        Parameters
        ----------
        differences : array_like, shape (n,)
            Paired differences in seed order; ``n`` must be one of the looks.
        margin : float
            Positive equivalence margin, in the metric's units.
        test : {"t", "permutation"}
            t-tests of ``d + margin`` and ``d - margin``, or sign-flip tests of them.
        sizes : sequence of int, optional
            As for :meth:`decide`.
        rng : numpy.random.Generator, optional
            For a Monte Carlo sign-flip test beyond 20 pairs.

        Returns
        -------
        Decision
            With ``alternative="equivalence"``.
        """
        if not (math.isfinite(margin) and margin > 0):
            raise ValueError(f"margin must be finite and > 0, got {margin!r}")
        check_choice("test", test, SEQUENTIAL_TESTS)
        x, sizes = self._check(differences, sizes)
        rng = np.random.default_rng(PERMUTATION_SEED) if rng is None else rng

        def look_at(prefix: np.ndarray) -> tuple[float, float, float]:
            above = _t_statistic(prefix, -margin)  # H0: mean <= -margin
            below = -_t_statistic(prefix, margin)  # H0: mean >= margin
            if test == "t":
                df = prefix.size - 1
                p_in = _t_sf(min(above, below), df)
                p_out = _t_sf(-min(above, below), df)
            else:
                p_in = max(
                    sign_flip_p_value(prefix + margin, "greater", rng=rng),
                    sign_flip_p_value(prefix - margin, "less", rng=rng),
                )
                p_out = min(
                    sign_flip_p_value(prefix + margin, "less", rng=rng),
                    sign_flip_p_value(prefix - margin, "greater", rng=rng),
                )
            return min(above, below), p_in, p_out

        return self._run(x, sizes, look_at, test, "equivalence")

    def _check(
        self, differences: Sequence[float], sizes: Sequence[int] | None
    ) -> tuple[np.ndarray, tuple[int, ...]]:
        x = np.asarray(differences, dtype=float)
        if x.ndim != 1:
            raise ValueError(f"differences must be 1-D, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"differences must be finite, got {float(x[~np.isfinite(x)][0])!r}")
        if sizes is None:
            if x.size not in self.looks:
                raise ValueError(
                    f"len(differences) = {x.size} is not one of the looks {self.looks}"
                )
            return x, self.looks[: self.looks.index(x.size) + 1]
        sizes = tuple(int(n) for n in sizes)
        ok = (
            0 < len(sizes) <= len(self.looks)
            and all(0 <= n <= cap for n, cap in zip(sizes, self.looks))
            and all(b >= a for a, b in zip(sizes, sizes[1:]))
            and sizes[-1] == x.size
        )
        if not ok:
            raise ValueError(
                f"sizes must be non-decreasing counts of usable pairs, one per look reached "
                f"(at most the looks {self.looks}), the last equal to len(differences) = "
                f"{x.size}; got {sizes}"
            )
        return x, sizes

    def _run(
        self,
        x: np.ndarray,
        sizes: tuple[int, ...],
        look_at: Callable[[np.ndarray], tuple[float, float, float]],
        test: str,
        alternative: str,
    ) -> Decision:
        nominal, t_bounds = self.nominal_alpha, self.t_boundaries
        path: list[float] = []
        for k, size in enumerate(sizes):
            prefix = x[:size]
            if size >= 2:
                statistic, p_claim, p_opp = look_at(prefix)
            else:  # no test on fewer than 2 pairs: the look cannot decide
                statistic, p_claim, p_opp = math.nan, 1.0, 1.0
            path.append(statistic)
            if p_claim <= nominal[k]:
                verdict = "supported"
            elif p_opp <= nominal[k]:
                verdict = "not supported"
            elif k == len(self.looks) - 1:
                verdict = "inconclusive"
            else:
                verdict = "continue"
            if verdict != "continue":
                break
        if prefix.size >= 2:
            mean, lo, hi = t_interval(prefix, confidence=1.0 - 2.0 * nominal[k])
            d_z = _ratio(mean, float(prefix.std(ddof=1)))
        else:
            mean = float(prefix.mean()) if prefix.size else math.nan
            lo = hi = d_z = math.nan
        boundary = t_bounds[k]
        if 2 <= prefix.size != self.looks[k]:
            boundary = float(stats.t.isf(nominal[k], prefix.size - 1))
        return Decision(
            verdict=verdict,
            look=k + 1,
            n=int(prefix.size),
            statistic=statistic,
            boundary=boundary,
            p_value=p_claim,
            p_opposite=p_opp,
            nominal_alpha=nominal[k],
            mean_diff=mean,
            ci_lo=lo,
            ci_hi=hi,
            d_z=d_z,
            statistics=tuple(path),
            test=test,
            alternative=alternative,
        )


def _t_sf(t: float, df: int) -> float:
    """Upper tail of Student's t (:func:`scipy.special.stdtr`, without the distribution
    object's overhead in the look loop)."""
    return float(special.stdtr(df, -t))


def _t_statistic(x: np.ndarray, null: float) -> float:
    """One-sample t statistic of ``x`` against ``null`` (±inf or 0 at zero spread)."""
    return _ratio(float(x.mean()) - null, float(x.std(ddof=1)) / math.sqrt(x.size))
