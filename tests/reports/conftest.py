"""Synthetic studies for the report tests: as frames (no MLflow) and as a real SQLite store.

One generator makes the trials; ``frames_of`` turns them into the ``StudyRuns`` that
``load_runs`` should return, and ``write_store`` logs them with ``MlflowClient`` in the layout
the study engine writes (experiment per study, summary run with claims/study/timing JSON, a
parent run per arm with seed aggregates, a nested child run per trial). A round trip through
the store must give back the same frames.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from scipy import stats

from reports.render import render_report
from studies.store.reader import CONFIG_PREFIX, FACTOR_PREFIX, TRIAL_ID_COLUMNS, StudyRuns
from studies.store.schema import encode_param, flatten

XSS = "<script>alert(1)</script>"
N_LAYERS = 4


@dataclass
class FakeTrial:
    """One synthetic trial: the engine's TrialSpec and TrialResult in one record."""

    stage: str
    arm: str
    seed: int
    config: dict
    factors: dict
    history: list[dict]
    summary: dict
    status: str = "ok"
    diverged_epoch: int | None = None
    artifacts: dict = field(default_factory=dict)


@dataclass
class FakeStudy:
    """A study definition as ``study.json`` stores it, plus the claims' logged verdicts."""

    name: str
    question: str
    base_config: dict
    arms: dict
    seeds: list[int]
    plots: list[dict]
    claims: list[dict]
    data: str = "toy spirals, 200 train / 100 test points"
    quick: bool = False
    # Which way each summary metric is better, as ``Study(metrics=...)`` declares it.
    metrics: dict = field(
        default_factory=lambda: {
            "test_acc": "higher",
            "final_val_loss": "lower",
            "epochs_to_target": "lower",
        }
    )

    def study_json(self) -> dict:
        return {
            "name": self.name,
            "question": self.question,
            "description": "A synthetic study for the report tests.",
            "data": self.data,
            "quick": self.quick,
            "base_config": self.base_config,
            "arms": self.arms,
            "seeds": self.seeds,
            "stages": [{"name": "main", "arms": list(self.arms), "seeds": self.seeds}],
            "plots": self.plots,
            "metrics": self.metrics,
            "claims": [{k: c[k] for k in ("id", "text", "statistic")} for c in self.claims],
        }


def deep_merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def make_study(
    name: str = "toy",
    *,
    activations: tuple[str, ...] = ("relu", "tanh"),
    lrs: tuple[float, ...] = (0.01, 0.1),
    seeds: int = 3,
    note: str = XSS,
) -> FakeStudy:
    """A 2-factor study (activation x learning rate) declaring every plot kind."""
    arms = {}
    for act in activations:
        for lr in lrs:
            arms[f"{act}-lr{lr}"] = {
                "overrides": {"model": {"activation": act}, "optimizer": {"lr": lr}},
                "factors": {"activation": act, "lr": str(lr)},
                "stage": "main",
            }
    first = next(iter(arms))
    arms[first]["overrides"]["note"] = note
    plots = [
        {
            "kind": "learning_curves",
            "title": "Validation loss",
            "options": {"metric": "val_loss", "log_y": True},
        },
        {"kind": "final_metric", "title": "Test accuracy", "options": {"metric": "test_acc"}},
        {
            "kind": "sweep",
            "title": "Accuracy vs lr",
            "options": {"x": "lr", "metric": "test_acc", "hue": "activation", "log_x": True},
        },
        {
            "kind": "heatmap",
            "title": "Accuracy grid",
            "options": {"row": "activation", "col": "lr", "metric": "test_acc"},
        },
        {
            "kind": "per_layer",
            "title": "Gradient norm per layer",
            "options": {"prefix": "grad_norm/layer_", "epoch": 0},
        },
        {"kind": "histogram_grid", "title": "Activations", "options": {"artifact": "activations"}},
        {
            "kind": "layer_epochs",
            "title": "Gradient norm per layer over training",
            "options": {"prefix": "grad_norm/layer_", "log_color": True},
        },
        {"kind": "trajectories_2d", "title": "Paths", "options": {"artifact": "trajectory"}},
    ]
    claims = [
        {
            "id": "lr_matters",
            "text": "A larger learning rate reaches a lower validation loss in 10 epochs.",
            "statistic": "paired t-test across seeds, one-sided",
            "verdict": "supported",
            "numbers": {"mean_diff": -0.21, "p_value": 0.003, "n": 3},
            "detail": "The larger rate wins in every seed.",
        },
        {
            "id": "tanh_better",
            "text": "tanh beats relu <i>on this toy</i>.",
            "statistic": "Wilcoxon signed-rank",
            "verdict": "not supported",
            "numbers": {"p_value": 0.41},
            "detail": "No difference.",
        },
        {
            "id": "deep_stable",
            "text": "Gradient norms stay within one order of magnitude across layers.",
            "statistic": "max/min ratio threshold 10",
            "verdict": "inconclusive",
            "numbers": {"ratio": float("nan")},
            "detail": "Too few seeds.",
        },
    ]
    base = {
        "model": {"hidden": 16, "activation": "relu", "layers": N_LAYERS},
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.0},
        "train": {"epochs": 10, "batch_size": 32},
        "note": "plain",
    }
    return FakeStudy(
        name,
        "Does the learning rate matter more than the activation?",
        base,
        arms,
        list(range(seeds)),
        plots,
        claims,
    )


def make_trials(
    study: FakeStudy,
    *,
    epochs: int = 10,
    diverged: dict | None = None,
    failed: set | None = None,
    missing: set | None = None,
) -> list[FakeTrial]:
    """Synthetic trials: loss decays at a rate set by lr and activation, plus seed noise.

    ``diverged`` maps (arm, seed) -> epoch; ``failed`` and ``missing`` hold (arm, seed) pairs.
    """
    diverged, failed, missing = diverged or {}, failed or set(), missing or set()
    trials = []
    for a, (arm, spec) in enumerate(study.arms.items()):
        config = deep_merge(study.base_config, spec["overrides"])
        rate = 2.0 * config["optimizer"]["lr"] + (
            0.1 if config["model"]["activation"] == "tanh" else 0.05
        )
        for seed in study.seeds:
            if (arm, seed) in missing:
                continue
            rng = np.random.default_rng(1000 * a + seed)
            status, stop = "ok", epochs
            if (arm, seed) in diverged:
                status, stop = "diverged", diverged[(arm, seed)]
            if (arm, seed) in failed:
                status, stop = "failed", 0
            history = []
            for epoch in range(stop + 1 if status != "failed" else 0):
                loss = 2.0 * math.exp(-rate * epoch) + 0.05 * rng.random()
                record = {
                    "epoch": epoch,
                    "train_loss": loss * 0.9,
                    "val_loss": loss,
                    "train_acc": 1 - loss / 2.5,
                    "val_acc": 1 - loss / 2.2,
                }
                record.update(
                    {
                        f"grad_norm/layer_{k}": 10.0 ** (-k * rate) * (1 + 0.1 * rng.random())
                        for k in range(N_LAYERS)
                    }
                )
                history.append(record)
            if status == "diverged":
                history[-1]["val_loss"] = math.inf
            last = history[-1] if history else {}
            summary = (
                {}
                if status == "failed"
                else {
                    "test_acc": 1 - min(last["val_loss"], 2.2) / 2.2 + 0.01 * rng.standard_normal(),
                    "final_val_loss": last["val_loss"],
                    "epochs_to_target": float(
                        next((r["epoch"] for r in history if r["val_loss"] < 0.5), math.inf)
                    ),
                }
            )
            edges = np.linspace(-1, 1, 11)
            artifacts = {
                "activations": {
                    f"layer {k}": {
                        "edges": edges.tolist(),
                        "counts": rng.integers(0, 50, 10).tolist(),
                    }
                    for k in range(N_LAYERS)
                },
                "trajectory": {
                    "path": np.cumsum(rng.normal(-0.1, 0.05, (20, 2)), axis=0).tolist(),
                    "contour": {
                        "x": [-2, 0, 2],
                        "y": [-2, 0, 2],
                        "z": [[8, 4, 8], [4, 0.1, 4], [8, 4, 8]],
                    },
                },
            }
            full = {**config, "arm": arm, "seed": seed}
            trials.append(
                FakeTrial(
                    "main",
                    arm,
                    seed,
                    full,
                    spec["factors"],
                    history,
                    summary,
                    status,
                    diverged.get((arm, seed)),
                    artifacts if status != "failed" else {},
                )
            )
    return trials


def _ci(values: list[float]) -> tuple[float, float, float]:
    x = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    if x.size == 1:
        return float(x[0]), float(x[0]), float(x[0])
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)


def frames_of(
    study: FakeStudy, trials: list[FakeTrial], uri: str = "sqlite:///unused.db"
) -> StudyRuns:
    """The StudyRuns ``load_runs`` should return for ``write_store(uri, study, trials)``."""
    summary_keys = sorted({k for t in trials for k in t.summary})
    history_keys = sorted({k for t in trials for r in t.history for k in r} - {"epoch"})
    start = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    rows, hist, arts = [], [], []
    for i, t in enumerate(trials):
        run_id = f"run{i:04d}"
        row = dict.fromkeys(TRIAL_ID_COLUMNS)
        row.update(
            run_id=run_id,
            run_name=f"{t.arm}/seed={t.seed}",
            stage=t.stage,
            arm=t.arm,
            seed=t.seed,
            status=t.status,
            diverged_epoch=t.diverged_epoch,
            run_status="FAILED" if t.status == "failed" else "FINISHED",
            parent_run_id=f"arm-{t.arm}",
            start_time=start,
        )
        row.update({k: t.summary.get(k, math.nan) for k in summary_keys})
        row.update({CONFIG_PREFIX + k: v for k, v in flatten(t.config).items()})
        row.update({FACTOR_PREFIX + k: v for k, v in t.factors.items()})
        rows.append(row)
        for record in t.history:
            hist.append(
                {
                    "run_id": run_id,
                    "stage": t.stage,
                    "arm": t.arm,
                    "seed": t.seed,
                    "status": t.status,
                    **record,
                }
            )
        for name, content in t.artifacts.items():
            arts.append(
                {"run_id": run_id, "arm": t.arm, "seed": t.seed, "name": name, "content": content}
            )
    trials_frame = pd.DataFrame(rows)
    trials_frame["diverged_epoch"] = trials_frame["diverged_epoch"].astype("Int64")
    history = pd.DataFrame(hist)
    history = history[["run_id", "stage", "arm", "seed", "status", "epoch", *history_keys]]
    arm_rows = []
    for arm, spec in study.arms.items():
        group = [t for t in trials if t.arm == arm]
        if not group:
            continue
        row = {
            "arm": arm,
            "run_id": f"arm-{arm}",
            "n_trials": len(group),
            "n_diverged": sum(t.status == "diverged" for t in group),
            "n_failed": sum(t.status == "failed" for t in group),
        }
        row.update({CONFIG_PREFIX + k: v for k, v in flatten(spec["overrides"]).items()})
        for key in summary_keys:
            mean, lo, hi = _ci([t.summary.get(key, math.nan) for t in group])
            row.update({f"{key}_mean": mean, f"{key}_ci_lo": lo, f"{key}_ci_hi": hi})
        arm_rows.append(row)
    claims = pd.DataFrame(study.claims)[["id", "text", "statistic", "verdict", "numbers", "detail"]]
    return StudyRuns(
        name=study.name,
        tracking_uri=uri,
        experiment={
            "id": "1",
            "name": study.name,
            "question": study.question,
            "description": "",
            "tags": {},
        },
        study=json.loads(json.dumps(study.study_json())),
        summary_run={
            "run_id": "summary0",
            "run_name": "summary-20260102T030400Z",
            "start_time": start,
            "end_time": start,
            "run_status": "FINISHED",
            "command": f"python -m studies run {study.name}",
            "git_commit": "0123456789abcdef",
            "dlkit_version": "0.1.0",
            "quick": study.quick,
            "tags": {},
            "timing": {"wall_seconds": 12.5, "tracking_seconds": 0.8},
            "n_summary_runs": 1,
        },
        claims=claims,
        trials=trials_frame,
        history=history,
        arms=pd.DataFrame(arm_rows),
        artifacts=pd.DataFrame(arts, columns=["run_id", "arm", "seed", "name", "content"]),
        summary_keys=summary_keys,
        history_keys=history_keys,
    )


def _log(client: MlflowClient, run_id: str, metrics=(), params=(), tags=()) -> None:
    """As few log_batch calls as MLflow's limits allow (1000 entries, 100 params/tags each)."""
    metrics, params, tags = list(metrics), list(params), list(tags)
    while metrics or params or tags:
        p, params = params[:100], params[100:]
        t, tags = tags[:100], tags[100:]
        m, metrics = metrics[: 1000 - len(p) - len(t)], metrics[1000 - len(p) - len(t) :]
        client.log_batch(run_id, metrics=m, params=p, tags=t)


def write_store(
    uri: str, study: FakeStudy, trials: list[FakeTrial], *, summary: bool = True
) -> str:
    """Log ``trials`` into the store at ``uri`` as the engine does; return the experiment id.

    Trial runs carry no ``summary_keys`` tag, so the loader's fallback (telling summaries
    from histories by their steps) is what reads them back.
    """
    client = MlflowClient(tracking_uri=uri)
    # Artifacts beside the database (as the engine does), never in the working directory.
    artifacts = Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts" / study.name
    exp_id = client.create_experiment(
        study.name,
        artifact_location=artifacts.as_uri(),
        tags={
            "study": study.name,
            "question": study.question,
            "mlflow.note.content": f"**{study.question}**",
        },
    )
    ts = 1_767_322_000_000
    listed: list[dict] = []  # the summary run's trials.json
    for arm, spec in study.arms.items():
        group = [t for t in trials if t.arm == arm]
        if not group:
            continue
        arm_run = client.create_run(
            exp_id,
            run_name=arm,
            tags={"study": study.name, "arm": arm, "kind": "arm", "stage": "main"},
        )
        arm_id = arm_run.info.run_id
        for t in group:
            tags = {
                "study": study.name,
                "arm": arm,
                "seed": str(t.seed),
                "stage": t.stage,
                "kind": "trial",
                "status": t.status,
                "config_hash": f"hash-{arm}-{t.seed}",
                "git_commit": "0123456789abcdef",
                "dlkit_version": "0.1.0",
                "mlflow.parentRunId": arm_id,
            }
            if t.diverged_epoch is not None:
                tags["diverged_epoch"] = str(t.diverged_epoch)
            run = client.create_run(exp_id, run_name=f"{arm}/seed={t.seed}", tags=tags)
            rid = run.info.run_id
            listed.append(
                {
                    "stage": t.stage,
                    "arm": arm,
                    "seed": t.seed,
                    "run_id": rid,
                    "config_hash": tags["config_hash"],
                    "status": t.status,
                    "reused": False,
                }
            )
            metrics = [
                Metric(k, float(v), ts, int(r["epoch"]))
                for r in t.history
                for k, v in r.items()
                if k != "epoch"
            ]
            metrics += [Metric(k, float(v), ts, 0) for k, v in t.summary.items()]
            params = [Param(k, encode_param(v)) for k, v in flatten(t.config).items()]
            _log(client, rid, metrics, params)
            for name, content in t.artifacts.items():
                # The layout of stores written before trial artifacts moved up a folder: the
                # reader still finds them there.
                client.log_dict(rid, content, f"artifacts/{name}.json")
            client.set_terminated(rid, "FAILED" if t.status == "failed" else "FINISHED")
        aggregates = []
        for key in sorted({k for t in group for k in t.summary}):
            mean, lo, hi = _ci([t.summary.get(key, math.nan) for t in group])
            aggregates += [
                Metric(f"{key}_mean", mean, ts, 0),
                Metric(f"{key}_ci_lo", lo, ts, 0),
                Metric(f"{key}_ci_hi", hi, ts, 0),
            ]
        counts = [
            RunTag("n_trials", str(len(group))),
            RunTag("n_diverged", str(sum(t.status == "diverged" for t in group))),
            RunTag("n_failed", str(sum(t.status == "failed" for t in group))),
        ]
        params = [Param(k, encode_param(v)) for k, v in flatten(spec["overrides"]).items()]
        _log(client, arm_id, aggregates, params, counts)
        client.set_terminated(arm_id, "FINISHED")
    if summary:
        run = client.create_run(
            exp_id,
            run_name="summary-20260102T030400Z",
            tags={
                "study": study.name,
                "kind": "summary",
                "command": f"python -m studies run {study.name}",
                "git_commit": "0123456789abcdef",
                "dlkit_version": "0.1.0",
                "quick": str(study.quick).lower(),
            },
        )
        rid = run.info.run_id
        client.log_dict(rid, study.claims, "claims.json")
        client.log_dict(rid, study.study_json(), "study.json")
        client.log_dict(rid, listed, "trials.json")
        client.log_dict(rid, {"wall_seconds": 12.5, "tracking_seconds": 0.8}, "timing.json")
        client.set_terminated(rid, "FINISHED")
    return exp_id


@pytest.fixture
def toy_study() -> FakeStudy:
    return make_study()


@pytest.fixture
def toy_trials(toy_study) -> list[FakeTrial]:
    return make_trials(toy_study, diverged={("tanh-lr0.1", 2): 4}, failed={("relu-lr0.1", 1)})


@pytest.fixture
def toy_runs(toy_study, toy_trials) -> StudyRuns:
    """Frames of a 4-arm, 3-seed study with one diverged and one failed trial (no MLflow)."""
    return frames_of(toy_study, toy_trials)


@pytest.fixture
def runs_of():
    """``runs_of(study, **make_trials_options) -> StudyRuns`` (frames only, no MLflow)."""

    def build(study: FakeStudy, **options) -> StudyRuns:
        return frames_of(study, make_trials(study, **options))

    return build


@pytest.fixture
def store_of():
    """``store_of(uri, study, summary=True, **make_trials_options)``: write a SQLite store."""

    def build(uri: str, study: FakeStudy, *, summary: bool = True, **options) -> str:
        return write_store(uri, study, make_trials(study, **options), summary=summary)

    return build


@pytest.fixture(scope="session")
def toy_page() -> tuple[str, dict]:
    """The toy study's page and JSON twin, rendered once (drawing every plot takes seconds)."""
    study = make_study()
    trials = make_trials(study, diverged={("tanh-lr0.1", 2): 4}, failed={("relu-lr0.1", 1)})
    return render_report(frames_of(study, trials), built_at=datetime(2026, 1, 2, tzinfo=UTC))


@pytest.fixture
def lean(toy_runs):
    """``lean(runs=toy_runs, **replacements)``: the runs with one cheap plot (a heatmap), for
    tests about everything but the plots."""

    def build(runs: StudyRuns | None = None, **replacements) -> StudyRuns:
        runs = runs or toy_runs
        heatmap = {
            "kind": "heatmap",
            "title": "grid",
            "options": {"row": "activation", "col": "lr", "metric": "test_acc"},
        }
        study = {**runs.study, "plots": [heatmap]} if runs.study else {}
        return dataclasses.replace(runs, **{"study": study, **replacements})

    return build


@pytest.fixture
def study_factory():
    """``study_factory(name, activations=..., lrs=..., seeds=...) -> FakeStudy``."""
    return make_study
