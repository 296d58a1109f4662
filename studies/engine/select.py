"""Choosing a later stage's arms from an earlier stage's results (tune, then rerun the best).

A :class:`~studies.engine.spec.Stage` whose ``arms`` is a callable gets the summaries frame of
the stages before it; :func:`best_setting` is the one rule both tuning studies use to read it.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from dlkit.validation import check_choice
from studies.stats import DIRECTIONS

__all__ = ["best_setting"]

log = logging.getLogger(__name__)


def best_setting(
    previous: pd.DataFrame,
    *,
    stage: str,
    metric: str,
    better: str,
    setting: str,
    within: str | None = None,
    ties: str = "smallest",
) -> dict[Any, float]:
    """The value of ``setting`` whose mean ``metric`` over seeds is best, per group.

    Parameters
    ----------
    previous : DataFrame
        Summaries of the earlier stages (one row per trial, see :mod:`studies.engine.spec`).
        Only finished trials (status ``"ok"``) of ``stage`` count: a diverged or failed trial
        never wins.
    stage : str
    metric : str
        A summary column, e.g. ``"min_val_loss"``.
    better : {"lower", "higher"}
    setting : str
        The tuned column, e.g. ``"config.optimizer.lr"``.
    within : str, optional
        A column to choose separately in, e.g. ``"factor.optimizer"``: one winner per value.
    ties : {"smallest", "largest"}
        Which setting wins a tie of the mean metric.

    Returns
    -------
    dict
        ``{group value: best setting}``; the single key ``None`` without ``within``.

    A setting that diverged on any seed loses to every setting that never did. A group some
    of whose trials failed (missing data) is chosen from the rest, and one without any
    finished trial is left out of the result; each is logged as a warning (the runner
    shows warnings of arm choices in the study's report).

    Raises
    ------
    ValueError
        For a missing column, or when no group has a finished trial of ``stage``.
    """
    check_choice("better", better, DIRECTIONS)
    check_choice("ties", ties, ("smallest", "largest"))
    needed = [metric, setting] + ([within] if within else [])
    missing = [c for c in needed if c not in previous.columns]
    if missing:
        raise ValueError(f"no column(s) {missing} in the summaries; valid: {sorted(previous)}")
    stage_rows = previous[previous["stage"] == stage]
    rows = stage_rows[stage_rows["status"] == "ok"]
    groups = stage_rows[within].unique() if within else [None]
    best: dict[Any, float] = {}
    for group in groups:
        mine = rows if within is None else rows[rows[within] == group]
        tried = stage_rows if within is None else stage_rows[stage_rows[within] == group]
        name = f" for {within} = {group!r}" if within else ""
        if mine.empty:
            log.warning("no finished %r trial%s: nothing to choose from", stage, name)
            continue
        # A diverged trial is evidence (that setting blows up); a failed one is missing data.
        lost = tried[tried["status"] == "failed"]
        if len(lost):
            log.warning(
                "%s%s chosen without %d of its %d %r trials (failed)",
                setting,
                name,
                len(lost),
                len(tried),
                stage,
            )
        # A setting that diverged on some seed is no candidate while another never did: the
        # mean of its surviving seeds would hide the blow-up.
        blew_up = set(tried.loc[tried["status"] == "diverged", setting])
        if blew_up and not set(mine[setting]) <= blew_up:
            mine = mine[~mine[setting].isin(blew_up)]
        means = mine.groupby(setting)[metric].mean()
        target = means.min() if better == "lower" else means.max()
        winners = means.index[means == target]
        best[group] = float(winners.min() if ties == "smallest" else winners.max())
    if not best:
        raise ValueError(f"no finished {stage!r} trial to choose {setting} from")
    return best
