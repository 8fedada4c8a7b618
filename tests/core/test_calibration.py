"""Calibrated probabilities: the form, the bands, storing with the model, the shipped file."""

from __future__ import annotations

import json
import math

import pytest

from probllms_tui.core.calibration import Calibration, band, builtin_record, load_calibrations
from probllms_tui.core.registry import DEFAULT_MODEL, ModelEntry, Registry

STEM, OPTIONS, LETTERS = "Which is prime?", ["4", "6", "7", "9"], ["A", "B", "C", "D"]


def test_temperature_keeps_the_pick_and_order_and_sums_to_one():
    scores = {"A": -3.0, "B": -1.0, "C": -0.2, "D": -2.5}
    cal = Calibration(method="cloze", features=["spread"], weights=[1.0, 0.3])
    p = cal.probabilities(STEM, OPTIONS, LETTERS, scores)
    assert math.isclose(sum(p.values()), 1.0)
    assert sorted(p, key=p.get) == sorted(scores, key=scores.get)
    raw_top = math.exp(-0.2) / sum(math.exp(v) for v in scores.values())
    assert p["C"] < raw_top  # T > 1 here: less sure than the raw softmax


def test_letter_prior_removes_a_letter_bias():
    always_d = {"A": 1.0, "B": 1.0, "C": 1.2, "D": 2.0}
    cal = Calibration(method="letter", weights=[0.0], prior={"A": 0.0, "B": 0.0, "C": 0.0, "D": -1.0})
    p = cal.probabilities(STEM, OPTIONS, LETTERS, always_d)
    assert max(p, key=p.get) == "C"


@pytest.mark.parametrize("p_top, n, expected", [(0.30, 4, "guessing"), (0.34, 4, "guessing"), (0.36, 4, "unsure"),
                                                (0.69, 4, "unsure"), (0.70, 4, "confident"), (0.55, 2, "guessing"),
                                                (0.65, 2, "unsure")])
def test_bands_follow_chance_and_the_confident_threshold(p_top, n, expected):
    assert band(p_top, n) == expected


def test_a_broken_calibration_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="2 weights for 0 features"):
        Calibration.from_json({"method": "cloze", "features": [], "weights": [1.0, 2.0]})
    with pytest.raises(ValueError, match="unknown features"):
        Calibration.from_json({"method": "cloze", "features": ["magic"], "weights": [1.0, 2.0]})


def test_near_chance_lists_sets_whose_interval_includes_chance():
    cal = Calibration(method="cloze", measured={"sets": {
        "hard": {"n": 356, "accuracy": 0.27, "chance": 0.25, "ci95": [0.22, 0.31]},
        "easy": {"n": 300, "accuracy": 0.60, "chance": 0.25, "ci95": [0.54, 0.65]}}})
    assert [w["set"] for w in cal.near_chance()] == ["hard"]


def test_the_manifest_keeps_calibrations_when_models_are_registered(tmp_path):
    reg = Registry(tmp_path)
    record = {"scoring_method": "letter", "calibrations": {"letter": {"weights": [0.5], "features": []}}}
    reg.set_calibration("my-model", record)
    reg.register(ModelEntry(name="my-model", file="my.gguf"))
    assert reg.calibration("my-model") == record
    assert [e.name for e in reg._read_manifest()] == ["my-model"]
    assert load_calibrations(record["calibrations"])["letter"].weights == [0.5]


def test_the_default_model_ships_a_calibration_measured_on_a_set_it_was_not_fitted_on(tmp_path):
    record = builtin_record(DEFAULT_MODEL)
    assert record is not None and Registry(tmp_path).calibration(DEFAULT_MODEL) == record
    cal = load_calibrations(record["calibrations"])[record["scoring_method"]]
    fitted = set(cal.fitted_on["datasets"])
    reported = set(cal.measured["sets"])
    assert reported and not fitted & reported
    for s in cal.measured["sets"].values():
        assert s["n"] >= 300 and s["ece"] <= 0.05 < s["ece_raw"]
    json.dumps(record)  # stored as plain JSON


def test_the_model_list_says_which_models_are_calibrated(tmp_path):
    from probllms_tui.core.catalog import catalog

    (tmp_path / "mine.gguf").write_bytes(b"GGUF" + b"\x00" * 60)
    rows = {r["name"]: r for r in catalog(tmp_path, sources=())}
    default = rows[DEFAULT_MODEL]["calibration"]
    assert default["calibrated"] and default["ece"] <= 0.05 and default["n"] >= 300
    mine = rows["mine"]["calibration"]
    assert mine == {"calibrated": False, "fix": "probllms-train bench calibrate --model mine --data BANK.jsonl --out calibration"}
