"""A study as data: question, base config, arms, seeds, trial function, claims and plots.

A *trial* is one (arm, seed): its config is ``deep_merge(base_config, arm.overrides)`` plus
``{"arm": name, "seed": s}``, and a pure function ``trial(config) -> TrialResult`` turns it into
metric histories, summary figures and small artifacts. Nothing here trains, tracks or plots;
:mod:`studies.engine.runner` executes trials and logs them, :mod:`reports` draws them.

A study may run in *stages* whose arms depend on the results of the stages before it
(DeepOBS-style tuning: stage 1 sweeps a learning rate with one seed, stage 2 reruns each
optimizer at its best rate with several seeds). A study without explicit stages has one,
called ``"main"``.

The frames claims are judged on are built by :mod:`studies.engine.frames`; configs are
merged and hashed by :mod:`studies.engine.config`.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from dlkit.validation import check_choice
from studies.engine.config import config_hash, deep_merge, jsonable, seed_list
from studies.stats import (
    DIRECTIONS,
    NOT_EVALUATED,
    VERDICTS,
    ClaimResult,
    Evidence,
    SequentialDesign,
)
from studies.store.schema import canonical_json

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EXPECTED",
    "ArmChoiceError",
    "PLOT_KINDS",
    "STATUSES",
    "VERDICTS",
    "Arm",
    "Claim",
    "ClaimResult",
    "Plot",
    "Stage",
    "Study",
    "TrialResult",
    "TrialSpec",
    "data_inputs",
]

STATUSES = ("ok", "diverged", "failed")
PLOT_KINDS = (
    "learning_curves",
    "final_metric",
    "sweep",
    "heatmap",
    "per_layer",
    "histogram_grid",
    "layer_epochs",
    "trajectories_2d",
)
NESTINGS = ("arm", "stage")
# What a claim's source reports: the verdicts a source can give (not "inconclusive").
EXPECTED = ("supported", "not supported")
# What a stage's seed index stands for (names and tags its child runs).
SEED_LABELS = ("seed", "fold")
# Keys the engine adds to every trial config; arms may not override them.
RESERVED_KEYS = ("arm", "seed")


class ArmChoiceError(RuntimeError):
    """A stage's arms factory could not choose its arms from the earlier stages' results."""


def _first_non_finite_loss(history: Sequence[Mapping[str, Any]]) -> int | None:
    """The epoch of the first record with a NaN or infinite ``*loss*`` value, else None."""
    for record in history:
        for key, value in record.items():
            if "loss" in key and isinstance(value, (int, float)) and not math.isfinite(value):
                return int(record.get("epoch", 0))
    return None


#: Keys every entry of ``TrialResult.datasets`` has (as strings).
DATASET_KEYS = ("name", "digest", "source", "context")


@dataclass
class TrialResult:
    """What a trial returns: per-epoch history, final figures and small artifacts.

    Attributes
    ----------
    history : list of dict
        One record per epoch, e.g. ``{"epoch": 1, "train_loss": 0.9, "val_loss": 1.1}``;
        ``epoch`` is the step the metrics are logged at (1-based; 0 = before training).
    summary : dict of str to float
        Final figures such as ``"test_acc"`` or ``"epochs_to_target"``; ``inf`` is allowed.
    status : {"ok", "diverged", "failed"}
    diverged_epoch : int or None
        The epoch in which a non-finite loss stopped training (status ``"diverged"``).
    artifacts : dict of str to (bytes, str, dict or list)
        Small files; a dict or list is written as ``artifacts/<name>.json``, a str as
        ``artifacts/<name>`` text, bytes verbatim.
    datasets : list of dict
        The data the trial used, logged as MLflow dataset inputs: each ``{"name", "digest",
        "source", "context"}`` (context e.g. ``"train"``, ``"validation"``, ``"test"``) with
        optional ``"n"`` (rows) and ``"shape"``. Optional: left empty, the store derives one
        training dataset from the config's ``data`` section
        (:func:`studies.store.writer.derived_datasets`).
    """

    history: list[dict[str, float]] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    diverged_epoch: int | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    datasets: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        check_choice("trial status", self.status, STATUSES)
        for entry in self.datasets:
            missing = [k for k in DATASET_KEYS if not isinstance(entry.get(k), str)]
            if missing:
                raise ValueError(f"dataset entry {entry!r} needs string value(s) for {missing}")
        if self.status == "ok":
            # A loss that went NaN or infinite is a divergence, whatever the trial reported.
            blown = _first_non_finite_loss(self.history)
            if blown is not None:
                self.status, self.diverged_epoch = "diverged", blown
        if self.status == "diverged" and self.diverged_epoch is None:
            raise ValueError("a diverged TrialResult needs diverged_epoch (the epoch it blew up)")
        history_keys: set[str] = set()
        for record in self.history:
            if "epoch" not in record:
                raise ValueError(f"every history record needs an 'epoch' key, got {record!r}")
            history_keys.update(record)
        # MLflow stores both under one metric key (history at step = epoch, summary at step
        # 0), so a reused trial or the reporter could no longer tell them apart.
        clash = sorted((history_keys - {"epoch"}) & set(self.summary))
        if clash:
            raise ValueError(
                f"summary key(s) {clash} are also history keys; a metric is either per-epoch "
                "(history) or final (summary), so rename one of them (e.g. 'final_<key>')"
            )

    @classmethod
    def from_history(
        cls,
        history: Sequence[Mapping[str, float]],
        summary: Mapping[str, float] | None = None,
        *,
        records: Sequence[Mapping[str, float]] | None = None,
        artifacts: Mapping[str, Any] | None = None,
        datasets: Sequence[Mapping[str, Any]] = (),
    ) -> TrialResult:
        """The result of a trial trained by :func:`dlkit.train.fit`, divergence included.

        Parameters
        ----------
        history : dlkit.train.History
            What ``fit`` returned; its ``diverged`` / ``diverged_epoch`` set the status.
        summary : dict, optional
            Final figures (a diverged trial may report none, or ``inf``/NaN ones).
        records : sequence of dict, optional
            The per-epoch records to keep (default: every record of ``history`` as is), for
            a trial that renames, filters or thins its curves.
        artifacts : dict, optional
        datasets : sequence of dict, optional
            The data the trial used (:func:`data_inputs`).

        Returns
        -------
        TrialResult
            ``status="diverged"`` with ``diverged_epoch`` when training hit a non-finite
            loss, else ``"ok"``.
        """
        diverged = bool(getattr(history, "diverged", False))
        return cls(
            history=[dict(r) for r in (history if records is None else records)],
            summary=dict(summary or {}),
            status="diverged" if diverged else "ok",
            diverged_epoch=history.diverged_epoch if diverged else None,
            artifacts=dict(artifacts or {}),
            datasets=[dict(d) for d in datasets],
        )


def data_inputs(name: str, source: str, **splits: Sequence[Any]) -> list[dict[str, Any]]:
    """``TrialResult.datasets`` entries: one per split the trial used, with its arrays' digest.

    Parameters
    ----------
    name : str
        The data set, e.g. ``"mnist1d"``.
    source : str
        How it was made, e.g. ``"dlkit.data.load('mnist1d', seed=0)"``.
    **splits : sequence of arrays
        ``context=(X, y, ...)`` per split, e.g. ``train=(X_tr, y_tr), validation=(X_val,
        y_val), test=(X_te, y_te)``; the digest is the first 8 hex digits of the SHA-256 of
        the arrays' bytes (with their dtypes and shapes), so the same split has the same digest
        in every trial and study.

    Returns
    -------
    list of dict
        ``{"name", "digest", "source", "context", "n", "shape"}`` per split.
    """
    entries = []
    for context, arrays in splits.items():
        digest = hashlib.sha256()
        for array in arrays:
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.tobytes())
        first = np.asarray(arrays[0])
        entries.append(
            {
                "name": name,
                "digest": digest.hexdigest()[:8],
                "source": source,
                "context": context,
                "n": int(first.shape[0]),
                "shape": list(first.shape),
            }
        )
    return entries


@dataclass(frozen=True)
class Arm:
    """A named variant of the base config.

    Attributes
    ----------
    overrides : dict
        Nested dict deep-merged into the base config; every key must exist there.
    factors : dict of str to str
        Labels for multi-factor designs (e.g. ``{"activation": "relu", "init": "he"}``) so a
        report can facet by them.
    """

    overrides: Mapping[str, Any] = field(default_factory=dict)
    factors: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"overrides": jsonable(self.overrides), "factors": dict(self.factors)}


@dataclass(frozen=True)
class Plot:
    """A figure the report draws from the logged runs, by kind (see :data:`PLOT_KINDS`).

    Parameters
    ----------
    kind : str
        One of :data:`PLOT_KINDS`.
    title : str
    **options
        Kind-specific options (``metric``, ``hue``, ``x``, ``log_x``, ``stage``, ...).
    """

    kind: str
    title: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, kind: str, title: str, **options: Any):
        check_choice("plot kind", kind, PLOT_KINDS)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "options", dict(options))

    def to_json(self) -> dict:
        return {"kind": self.kind, "title": self.title, "options": jsonable(self.options)}


@dataclass(frozen=True)
class Claim:
    """A hypothesis from the literature, evaluated on the trials' results.

    Attributes
    ----------
    id : str
        Short identifier, e.g. ``"adam_faster_than_sgd"``.
    text : str
        The claim as a sentence.
    statistic : str
        How it is judged (shown in the report next to the verdict).
    evaluate : callable
        ``evaluate(summaries, histories) -> Evidence``, a pure function of the frames
        described in this module's docstring (see :mod:`studies.engine.claims` for the
        helpers): the per-seed comparisons the study's sequential design judges. An evaluator
        may instead return a finished ``ClaimResult`` (a fixed-sample verdict of its own),
        which is taken as it is, outside the Holm family, with no seeds added for it.
    source : str
        Where the claim comes from: the paper (authors, year) and the figure, table or
        section it restates, e.g. ``"Kingma & Ba 2015, Fig. 2 (MNIST MLP)"``.
    setting : str
        The source's set-up in one line (data, model, budget), so a reader can see how far
        the study's own setting is from it.
    expected : {"supported", "not supported"}, optional
        The source's verdict on the claim as stated: ``"supported"`` for a claim that
        restates the source, ``"not supported"`` for one the source refutes; None (default)
        for a claim with no source to compare with (every catalogue claim names one).
    explanation : str
        Why the measured verdict may differ from ``expected``, backed by the study's own
        numbers (an arm that reproduces the source's setting, or a difference of setting the
        report shows matters). Shown, and written to ``NAME.json``, only when the verdict
        differs from ``expected``.
    """

    id: str
    text: str
    statistic: str
    evaluate: Callable[[pd.DataFrame, pd.DataFrame], Evidence | ClaimResult]
    source: str = ""
    setting: str = ""
    expected: str | None = None
    explanation: str = ""

    def __post_init__(self) -> None:
        if self.expected is not None:
            check_choice(f"expected verdict of claim {self.id!r}", self.expected, EXPECTED)

    def explains(self, verdict: str) -> str | None:
        """The explanation to show for a measured ``verdict`` (None when it is as expected,
        when the claim names no expected verdict, or when the run left it out)."""
        if self.expected is None or verdict in (self.expected, NOT_EVALUATED):
            return None
        return self.explanation.strip() or None


ArmsSpec = Mapping[str, Arm | Mapping[str, Any]] | Sequence[tuple[str, Arm | Mapping]]
ArmsFactory = Callable[["pd.DataFrame"], ArmsSpec]


@dataclass(frozen=True)
class Stage:
    """One round of trials; later stages may choose their arms from earlier results.

    Attributes
    ----------
    name : str
    arms : mapping or callable
        ``{name: Arm or overrides dict}``, or ``arms(previous) -> mapping`` where
        ``previous`` is the summaries frame of the earlier stages' trials.
    seeds : int or sequence of int
        Seeds of a ``fixed_seeds`` stage (``n`` means ``0 .. n-1``). Any other stage runs the
        study's sequential design: ``design.looks[0]`` seeds first, then the next look's seeds
        for the arms of claims still undecided (``--seeds N`` instead runs exactly ``N``).
    fixed_seeds : bool
        If True, the stage runs exactly ``seeds``, whatever the design or ``--seeds`` say
        (a one-seed tuning sweep, the folds of a cross-validation).
    quick_arms : mapping or callable, optional
        Arms used with ``--quick`` (default: ``arms``).
    quick_seeds : int or sequence of int, optional
        Seeds used with ``--quick`` (default: ``min(2, seeds)``).
    base_config : dict, optional
        A base config of the stage's own (default: the study's).
    trial : callable, optional
        A trial function of the stage's own (default: the study's).
    quick : dict, optional
        ``--quick`` overrides of the stage's own base config (default: the study's ``quick``
        when the stage uses the study's base config).
    nest : {"arm", "stage"}
        Parent runs in MLflow: one per arm carrying the seed aggregates (default), or one for
        the whole stage — for a one-seed sweep, where per-arm aggregates would only repeat
        each trial.
    seed_label : str
        What the seed index means in this stage, for the child runs: ``"fold"`` names them
        ``<arm>/fold=<k>`` and tags them ``fold=<k>`` (besides ``seed``) when the seed picks a
        cross-validation fold. Frames keep the ``seed`` column either way.
    """

    name: str
    arms: ArmsSpec | ArmsFactory
    seeds: int | Sequence[int] = 5
    fixed_seeds: bool = False
    quick_arms: ArmsSpec | ArmsFactory | None = None
    quick_seeds: int | Sequence[int] | None = None
    base_config: Mapping[str, Any] | None = None
    trial: Callable[[dict], TrialResult] | None = None
    quick: Mapping[str, Any] | None = None
    nest: str = "arm"
    seed_label: str = "seed"

    def __post_init__(self) -> None:
        check_choice("stage nest", self.nest, NESTINGS)
        check_choice("stage seed_label", self.seed_label, SEED_LABELS)


@dataclass(frozen=True)
class TrialSpec:
    """One trial to run: where it belongs, its resolved config and that config's hash."""

    study: str
    stage: str
    arm: str
    seed: int
    config: Mapping[str, Any]
    config_hash: str
    factors: Mapping[str, str] = field(default_factory=dict)
    seed_label: str = "seed"

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.stage, self.arm, self.seed)

    @property
    def run_name(self) -> str:
        return f"{self.arm}/{self.seed_label}={self.seed}"


@dataclass(frozen=True)
class Study:
    """A study: a question, a base config, arms, seeds, a trial function, claims and plots.

    Parameters
    ----------
    name : str
        Also the MLflow experiment name and the CLI name; equals the module name.
    question : str
        The question the study answers, in one sentence.
    base_config : dict
        Nested, JSON-serialisable config shared by every trial.
    arms : mapping, optional
        ``{name: Arm or overrides dict}`` for a one-stage study (give ``arms`` or ``stages``).
    seeds : int or sequence of int
        Unused by a one-stage study, which runs its ``design``; kept for the stage-less form
        ``Study(arms=..., seeds=...)``, whose stage is sequential.
    trial : callable
        ``trial(config) -> TrialResult``; must be a module-level function (it is pickled to
        worker processes). Optional only when every stage brings its own.
    claims : sequence of Claim
    plots : sequence of Plot
    stages : sequence of Stage, optional
        For multi-stage studies.
    quick : dict
        Config overrides used by ``--quick`` (fewer epochs, smaller grids).
    quick_seeds : int or sequence of int
        Seeds per arm with ``--quick`` for a one-stage study.
    description : str
        A paragraph of background for the report.
    data : str
        What data the trials use, for the report's setup section.
    design : SequentialDesign
        Looks (seed counts), alpha and spending rule of the claims' sequential design
        (default: looks 5, 10, 15, 20; alpha 0.05 per direction; O'Brien-Fleming-type).
    metrics : dict of str to {"higher", "lower", None}
        For every summary metric the trials report, which direction is better (None: neither,
        e.g. a signed bias or a wall time). The report marks the best arm by it and never
        guesses from a metric's name.
    """

    # DESIGN.md's order: Study(name, question, base_config, arms, seeds, trial, claims, plots).
    name: str
    question: str
    base_config: Mapping[str, Any]
    arms: ArmsSpec | None = None
    seeds: int | Sequence[int] = 5
    trial: Callable[[dict], TrialResult] | None = None
    claims: Sequence[Claim] = ()
    plots: Sequence[Plot] = ()
    stages: Sequence[Stage] = ()
    quick: Mapping[str, Any] = field(default_factory=dict)
    quick_seeds: int | Sequence[int] = 2
    description: str = ""
    data: str = ""
    metrics: Mapping[str, str | None] = field(default_factory=dict)
    design: SequentialDesign = SequentialDesign()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"study name must be a Python identifier, got {self.name!r}")
        if (self.arms is None) == (not self.stages):
            raise ValueError(f"study {self.name!r}: give exactly one of arms= or stages=")
        if self.arms is not None:
            stage = Stage("main", self.arms, self.seeds, quick_seeds=self.quick_seeds)
            object.__setattr__(self, "stages", (stage,))
        else:
            object.__setattr__(self, "stages", tuple(self.stages))
        if any(stage.trial is None for stage in self.stages) and not callable(self.trial):
            raise ValueError(f"study {self.name!r} needs a trial function (trial=...)")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"study {self.name!r}: stage names must be unique, got {names}")
        canonical_json(self.base_config)
        deep_merge(self.base_config, self.quick, what=f"study {self.name!r} quick override")
        for stage in self.stages:
            base = self.stage_base(stage)
            canonical_json(base)
            if stage.quick is not None:
                deep_merge(base, stage.quick, what=f"stage {stage.name!r} quick override")
            for arms in (stage.arms, stage.quick_arms):
                if arms is not None and not callable(arms):
                    self.check_arms(stage, normalize_arms(arms))
        for metric, direction in self.metrics.items():
            if direction is not None:
                check_choice(f"direction of metric {metric!r}", direction, DIRECTIONS)
        ids = [c.id for c in self.claims]
        if len(set(ids)) != len(ids):
            raise ValueError(f"study {self.name!r}: claim ids must be unique, got {ids}")

    def stage_base(self, stage: Stage, *, quick: bool = False) -> dict:
        """The base config of ``stage`` (with its ``--quick`` overrides when ``quick``)."""
        base = self.base_config if stage.base_config is None else stage.base_config
        if not quick:
            return copy.deepcopy(dict(base))
        override = (
            stage.quick
            if stage.quick is not None
            else (self.quick if stage.base_config is None else {})
        )
        return deep_merge(base, override, what=f"stage {stage.name!r} quick override")

    def stage_trial(self, stage: Stage) -> Callable[[dict], TrialResult]:
        # __post_init__ made sure one of the two is set.
        return stage.trial if stage.trial is not None else self.trial

    def check_arms(self, stage: Stage, arms: dict[str, Arm]) -> None:
        """Raise ValueError for an arm whose overrides do not fit the stage's base config."""
        base = self.stage_base(stage)
        for name, arm in arms.items():
            if not name or name != name.strip():
                raise ValueError(f"stage {stage.name!r}: bad arm name {name!r}")
            bad = sorted(set(arm.overrides) & set(RESERVED_KEYS))
            if bad:
                raise ValueError(f"arm {name!r} overrides reserved key(s) {bad}")
            deep_merge(base, arm.overrides, what=f"arm {name!r}")

    def stage_arms(self, stage: Stage, previous: pd.DataFrame, *, quick: bool) -> dict[str, Arm]:
        """Resolve the arms of ``stage`` (calling its factory on ``previous`` if needed)."""
        spec = stage.quick_arms if quick and stage.quick_arms is not None else stage.arms
        if callable(spec):
            try:
                chosen = spec(previous)
            except Exception as err:  # e.g. every tuning trial it chooses from failed
                raise ArmChoiceError(f"{type(err).__name__}: {err}") from err
            arms = normalize_arms(chosen)
            if not arms:
                raise ArmChoiceError(f"the arms factory of stage {stage.name!r} chose no arm")
        else:
            arms = normalize_arms(spec)
        if not arms:
            raise ValueError(f"stage {stage.name!r} of study {self.name!r} has no arms")
        self.check_arms(stage, arms)
        return arms

    def sequential_design(
        self, *, quick: bool = False, n_seeds: int | None = None, max_seeds: int | None = None
    ) -> SequentialDesign:
        """The design claims are judged by in one invocation.

        The study's ``design``; with ``--max-seeds N`` its looks below ``N`` and a last look
        at ``N``; with ``--seeds N`` (or ``--quick``, at the stages' quick seeds) one look, a
        fixed-sample test at the design's alpha.
        """
        design = self.design
        if n_seeds is not None:
            if n_seeds < 1:
                raise ValueError(f"--seeds must be >= 1, got {n_seeds}")
            return replace(design, looks=(max(2, n_seeds),))
        if quick:
            counts = [
                len(self.stage_seeds(s, quick=True, n_seeds=None))
                for s in self.stages
                if not s.fixed_seeds
            ]
            return replace(design, looks=(max([2, *counts]),))
        if max_seeds is not None:
            if max_seeds < 2:
                raise ValueError(
                    f"--max-seeds must be >= 2 (a paired test needs two seeds), got {max_seeds}"
                )
            if max_seeds < design.looks[-1]:
                looks = tuple(n for n in design.looks if n < max_seeds) + (max_seeds,)
                return replace(design, looks=looks)
        return design

    def stage_seeds(
        self,
        stage: Stage,
        *,
        quick: bool,
        n_seeds: int | None,
        design: SequentialDesign | None = None,
    ) -> list[int]:
        """The seeds ``stage`` starts with.

        A ``fixed_seeds`` stage runs its ``seeds`` (``quick_seeds`` with ``--quick``). Any
        other stage runs ``0 .. n_seeds - 1`` with ``--seeds``, its quick seeds with
        ``--quick``, and otherwise the first look of ``design`` (more seeds follow, look by
        look, for the arms of undecided claims).
        """
        if n_seeds is not None and not stage.fixed_seeds:
            if n_seeds < 1:
                raise ValueError(f"--seeds must be >= 1, got {n_seeds}")
            return list(range(n_seeds))
        if quick:
            if stage.quick_seeds is not None:
                return seed_list(stage.quick_seeds)
            return seed_list(stage.seeds)[:2]
        if stage.fixed_seeds or design is None:
            return seed_list(stage.seeds)
        return list(range(design.looks[0]))

    def trial_specs(
        self,
        stage: Stage,
        arms: Mapping[str, Arm],
        seeds: Sequence[int],
        *,
        quick: bool,
        code: Mapping[str, Any],
    ) -> list[TrialSpec]:
        """Every (arm, seed) of ``stage`` with its resolved config and ``config_hash``."""
        base = self.stage_base(stage, quick=quick)
        specs = []
        for name, arm in arms.items():
            merged = deep_merge(base, arm.overrides, what=f"arm {name!r}")
            for seed in seeds:
                config = {**merged, "arm": name, "seed": int(seed)}
                specs.append(
                    TrialSpec(
                        study=self.name,
                        stage=stage.name,
                        arm=name,
                        seed=int(seed),
                        config=config,
                        config_hash=config_hash(config, code),
                        factors=dict(arm.factors),
                        seed_label=stage.seed_label,
                    )
                )
        return specs

    def to_json(
        self,
        *,
        quick: bool,
        stage_arms: Mapping[str, Mapping[str, Arm]],
        stage_seeds: Mapping[str, Sequence[int]],
    ) -> dict:
        """What the reporter needs for the setup section (written as ``study.json``).

        ``arms`` maps every arm run in this invocation to ``{"overrides", "factors",
        "stage"}``; ``seeds`` are those of the stage with the most seeds (the main comparison
        of a study that tunes with one seed first).
        """
        arms: dict[str, dict] = {}
        stages = []
        for stage in self.stages:
            resolved = stage_arms.get(stage.name, {})
            for name, arm in resolved.items():
                arms[name] = {**arm.to_json(), "stage": stage.name}
            entry = {
                "name": stage.name,
                "arms": list(resolved),
                "seeds": list(stage_seeds.get(stage.name, [])),
                "nest": stage.nest,
                "seed_label": stage.seed_label,
            }
            if stage.base_config is not None:
                entry["base_config"] = self.stage_base(stage, quick=quick)
            stages.append(entry)
        widest = max(stage_seeds.values(), key=len, default=[])
        return {
            "name": self.name,
            "question": self.question,
            "description": self.description,
            "data": self.data,
            "quick": quick,
            "base_config": jsonable(
                deep_merge(self.base_config, self.quick if quick else {}, what="quick override")
            ),
            "arms": arms,
            "seeds": list(widest),
            "stages": stages,
            "plots": [p.to_json() for p in self.plots],
            "claims": [{"id": c.id, "text": c.text, "statistic": c.statistic} for c in self.claims],
            "metrics": {k: v for k, v in self.metrics.items() if v is not None},
        }


def normalize_arms(spec: ArmsSpec) -> dict[str, Arm]:
    """Turn ``{name: Arm | overrides}`` (or a list of pairs) into ``{name: Arm}``."""
    items = spec.items() if isinstance(spec, Mapping) else spec
    arms: dict[str, Arm] = {}
    for name, value in items:
        if name in arms:
            raise ValueError(f"duplicate arm name {name!r}")
        if isinstance(value, Arm):
            arms[str(name)] = value
        elif isinstance(value, Mapping):
            arms[str(name)] = Arm(overrides=dict(value))
        else:
            raise ValueError(f"arm {name!r} must be an Arm or a dict of overrides, got {value!r}")
    return arms
