"""The registry and draw_plot: every kind registered, looked up, checked and drawn."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from reports.plots import (
    FRAMES,
    KINDS,
    PLOT_KINDS,
    TITLE_CHARS,
    PlotKind,
    arm_order,
    arm_palette,
    draw_plot,
    plot_kind,
    plot_specs,
)
from studies.engine import spec as engine_spec
from studies.engine.registry import discover


def test_registry_holds_exactly_the_kinds_the_engine_accepts():
    assert tuple(KINDS) == tuple(engine_spec.PLOT_KINDS)
    assert list(PLOT_KINDS) == list(KINDS)
    for name, kind in KINDS.items():
        assert kind.name == name and PLOT_KINDS[name] is kind.draw
        assert set(kind.frames) <= set(FRAMES)


def test_every_catalogue_plot_names_a_kind_with_options_it_accepts():
    for name, study in discover().items():
        for plot in study.plots:
            options = dict(plot.options)
            options.pop("stage", None)
            try:
                plot_kind(plot.kind).check_options(options)
            except ValueError as err:
                pytest.fail(f"study {name!r}, plot {plot.title!r}: {err}")


def test_every_declared_kind_draws(toy_runs):
    palette = arm_palette(arm_order(toy_runs))
    specs = plot_specs(toy_runs)
    assert {s["kind"] for s in specs} == set(KINDS)
    for spec in specs:
        out = draw_plot(toy_runs, spec, palette)
        assert out.error == "", (spec, out.error)
        assert isinstance(out.figure, Figure)
        assert out.caption
        assert any(ax.has_data() for ax in out.figure.axes)


def test_an_unknown_option_is_one_value_error_naming_it_and_the_valid_ones():
    with pytest.raises(ValueError) as err:
        plot_kind("sweep").check_options({"x": "lr", "metric": "acc", "colour": "red"})
    assert str(err.value) == (
        "unknown option(s) colour for plot kind 'sweep'; valid options: hue, log_x, metric, x "
        "(required: metric, x)"
    )
    with pytest.raises(ValueError, match="missing option\\(s\\) x for plot kind 'sweep'"):
        plot_kind("sweep").check_options({"metric": "acc"})
    plot_kind("sweep").check_options({"x": "lr", "metric": "acc", "log_x": True})
    with pytest.raises(ValueError, match="unknown plot kind 'violin'; valid choices: final_metric"):
        plot_kind("violin")


def test_a_declaration_that_disagrees_with_its_draw_function_is_refused():
    def draw(frame, *, metric, log_y=False, title="", palette=None):
        return Figure()

    with pytest.raises(TypeError, match="declares options \\['metric'\\] but draw takes"):
        PlotKind("k", draw, frames=("trials",), options=("metric",), caption=lambda f, o: "")
    with pytest.raises(TypeError, match="frames must be among"):
        PlotKind("k", draw, frames=("runs",), options=("metric", "log_y"), caption=str)
    with pytest.raises(TypeError, match="no pick_frame"):
        PlotKind("k", draw, frames=("trials", "history"), options=("metric", "log_y"), caption=str)
    kind = PlotKind("k", draw, frames=("trials",), options=("log_y", "metric"), caption=str)
    assert kind.required == ("metric",)
    assert kind.context("T", {"a": "red"}) == {"title": "T", "palette": {"a": "red"}}


def test_missing_data_becomes_a_message_not_a_crash(toy_runs, spec):
    out = draw_plot(toy_runs, spec("learning_curves", metric="grad_norm/layer_9"))
    assert out.figure is None and "no metric 'grad_norm/layer_9'" in out.error
    out = draw_plot(toy_runs, spec("violin", metric="x"))
    assert "unknown plot kind 'violin'" in out.error and "learning_curves" in out.error
    out = draw_plot(toy_runs, spec("final_metric", metric="test_acc", colour="red"))
    assert "unknown option(s) colour" in out.error
    out = draw_plot(toy_runs, spec("sweep", metric="test_acc"))
    assert "missing option(s) x" in out.error


def test_stage_option_restricts_the_trials(toy_runs, spec):
    out = draw_plot(toy_runs, spec("final_metric", metric="test_acc", stage="main"))
    assert out.error == ""
    out = draw_plot(toy_runs, spec("final_metric", metric="test_acc", stage="tune"))
    assert "no trial of stage 'tune'; valid choices: main" in out.error


def test_stage_option_takes_a_list_of_stages(toy_runs, spec):
    first = arm_order(toy_runs)[0]
    stage = np.where(toy_runs.trials["arm"] == first, "other", "main")
    runs = dataclasses.replace(toy_runs, trials=toy_runs.trials.assign(stage=stage))

    def arms_drawn(stages) -> set[str]:
        out = draw_plot(runs, spec("final_metric", metric="test_acc", stage=stages))
        assert out.error == ""
        return {t.get_text() for t in out.figure.axes[0].get_yticklabels()}

    everything = set(toy_runs.trials["arm"])
    assert arms_drawn(["main"]) == everything - {first}
    assert arms_drawn(["other"]) == {first}
    assert arms_drawn(["main", "other"]) == everything
    out = draw_plot(runs, spec("final_metric", metric="test_acc", stage=["main", "tune"]))
    assert "no trial of stage 'tune'; valid choices: main, other" in out.error


def test_a_kind_reading_two_frames_picks_by_its_options(toy_runs, spec):
    per_layer = plot_kind("per_layer")
    assert per_layer.frame_name(toy_runs, {"prefix": "grad_norm/layer_"}) == "history"
    trials = pd.DataFrame(
        {"arm": ["a", "b"], "run_id": ["1", "2"], "w/layer_0": [1.0, 2.0], "w/layer_1": [3.0, 4.0]}
    )
    runs = dataclasses.replace(toy_runs, trials=trials.assign(stage="main"))
    assert per_layer.frame_name(runs, {"prefix": "w/layer_"}) == "trials"
    out = draw_plot(runs, spec("per_layer", prefix="w/layer_"))
    assert out.error == "" and out.figure.axes[0].get_ylabel() == "w"


def test_defaults_when_a_study_declares_no_plot(toy_runs):
    bare = dataclasses.replace(toy_runs, study={})
    kinds = [(s["kind"], s["options"]["metric"]) for s in plot_specs(bare)]
    assert kinds == [("learning_curves", "val_acc"), ("final_metric", "epochs_to_target")]


def test_caption_counts_trials_that_never_reached_a_target(toy_runs, spec):
    out = draw_plot(toy_runs, spec("final_metric", metric="epochs_to_target"))
    n_inf = int(np.isinf(toy_runs.trials["epochs_to_target"]).sum())
    assert n_inf > 0
    assert f"{n_inf} trial(s) with an infinite value (never reached) are not shown." in out.caption


def test_long_titles_are_wrapped_not_cut(toy_runs):
    title = "Gradient norm per layer at initialization (common Xavier initializer)"
    spec = {"kind": "final_metric", "title": title, "options": {"metric": "test_acc"}}
    out = draw_plot(toy_runs, spec)
    shown = out.figure.axes[0].get_title()
    assert shown.replace("\n", " ") == title
    assert max(len(line) for line in shown.splitlines()) <= TITLE_CHARS
    assert out.title == title
