"""The layout's encodings round-trip: what the writer encodes, the reader decodes."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from studies.store import schema
from studies.store.schema import (
    decode_bool,
    decode_keys,
    decode_optional_int,
    decode_param,
    encode_bool,
    encode_keys,
    encode_param,
    flatten,
    restore_inf,
    trial_artifact_path,
)


@pytest.mark.parametrize(
    "value",
    [0.05, 3, -1, True, False, None, [32, 16], {"lr": 0.1, "betas": [0.9, 0.999]}, {}, "relu"],
)
def test_params_round_trip(value):
    assert decode_param(encode_param(value)) == value


def test_params_are_compact_sorted_json_and_plain_strings():
    assert encode_param({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert encode_param("xavier_uniform") == "xavier_uniform"
    assert decode_param("not json {") == "not json {"


def test_numpy_values_and_tuples_become_plain_json():
    assert encode_param(np.float64(0.5)) == "0.5"
    assert encode_param(np.arange(3)) == "[0,1,2]"
    assert encode_param((1, 2)) == "[1,2]"
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        encode_param(object())


def test_bools_round_trip_and_a_missing_tag_is_false():
    assert [encode_bool(True), encode_bool(False)] == ["true", "false"]
    assert decode_bool(encode_bool(True)) is True
    assert decode_bool(encode_bool(False)) is False
    assert decode_bool(None) is False


@pytest.mark.parametrize(("text", "value"), [("7", 7), ("0", 0), (None, None), ("", None)])
def test_optional_ints(text, value):
    assert decode_optional_int(text) == value


def test_an_optional_int_logged_as_none_reads_as_none():
    assert decode_optional_int(str(None)) is None


def test_metric_key_lists_round_trip():
    keys = ["test_acc", "epochs_to_target", "grad_norm/layer_0"]
    assert decode_keys(encode_keys(keys)) == keys
    assert decode_keys(encode_keys([])) == [] and decode_keys(None) == []


def test_flatten_dots_nested_keys_and_keeps_empty_dicts():
    config = {"optimizer": {"name": "adam", "hyper": {}}, "sizes": [4, 2], "seed": 0}
    assert flatten(config) == {
        "optimizer.name": "adam",
        "optimizer.hyper": {},
        "sizes": [4, 2],
        "seed": 0,
    }
    assert flatten({"a": {"b": {"c": 1}}}, "config.") == {"config.a.b.c": 1}


def test_restore_inf_undoes_the_sql_stores_clamping_only():
    assert restore_inf(sys.float_info.max) == math.inf
    assert restore_inf(-sys.float_info.max) == -math.inf
    assert restore_inf(1e308) == 1e308
    assert math.isnan(restore_inf(math.nan))


def test_trial_artifact_paths():
    assert trial_artifact_path("weights") == "weights.json"
    assert trial_artifact_path("artifacts/weights") == "weights.json"  # an older plot option
    assert trial_artifact_path("weights.json") == "weights.json"


def test_every_name_is_defined_once_and_distinct():
    tags = [v for k, v in vars(schema).items() if k.endswith("_TAG")]
    assert len(tags) == len(set(tags))
    assert set(schema.__all__) <= set(vars(schema))
