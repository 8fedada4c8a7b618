"""run.json through the one typed record: what the writer writes is what every reader reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probllms_tui.core.errors import InputError
from probllms_train.train.run_record import RunRecord


def _adapter(folder):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "peft-says-this"}))
    return folder


def test_writer_record_round_trips_and_feeds_every_reader(tmp_path):
    from probllms_train.bench.models import adapter_base
    from probllms_train.bench.reward import run_beta
    from probllms_train.export.source import resolve_source
    from probllms_train.train.config import load_recipe
    from probllms_train.train.report import run_record

    recipe, _ = load_recipe("tiny-cpu")
    run = tmp_path / "run"
    base = tmp_path / "base"
    base.mkdir()
    _adapter(run / "adapter")
    (run / "tokenizer").mkdir()
    rec = run_record(recipe, str(base), run, status="finished", step=40, recipe_source="tiny-cpu")
    rec.save(run)
    on_disk = json.loads((run / "run.json").read_text())
    # the keys callers rely on, spelled once
    assert {"format", "status", "recipe", "base_model", "base_model_label", "adapter", "tokenizer",
            "final_step", "beta"} <= set(on_disk)
    assert RunRecord.load(run) == rec
    # export: base folder, the label for the manifest, the adapter and tokenizer folders
    src = resolve_source(str(run))
    assert src.base_dir == base and src.base_model == "tiny Llama (built from a config)"
    assert src.adapter_dir == run / "adapter" and src.tokenizer_dir == run / "tokenizer"
    assert src.recipe == "tiny-cpu"
    # bench reward: beta from run.json alone (no recipe.yaml in this folder)
    assert run_beta(run) == recipe.dpo.beta
    # bench models: the run's base model wins over what PEFT recorded
    assert adapter_base(run / "adapter") == str(base)
    # train: a finished run folder is never overwritten
    from probllms_train.train.run import check_output

    with pytest.raises(InputError, match="already finished"):
        check_output(run, recipe)


def test_keys_the_writer_never_writes_are_refused_with_the_key_named(tmp_path):
    run = tmp_path / "run"
    _adapter(run / "adapter")
    (run / "run.json").write_text(json.dumps({"status": "finished", "base_model": "b", "adapter_dir": "adapter"}))
    with pytest.raises(InputError) as err:
        RunRecord.load(run)
    assert "adapter_dir" in str(err.value) and str(run / "run.json") in str(err.value)


def test_bad_input_is_one_line_naming_the_file(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"status": "finished",\n "base_model": }')
    with pytest.raises(InputError, match=r"run\.json:2: run\.json is not valid JSON"):
        RunRecord.load(run)
    (run / "run.json").write_text(json.dumps({"status": "done", "base_model": "b"}))
    with pytest.raises(InputError, match="'status'"):
        RunRecord.load(run)
    (run / "run.json").write_text(json.dumps({"format": 99, "status": "finished", "base_model": "b"}))
    with pytest.raises(InputError, match="newer"):
        RunRecord.load(run)


def test_adapter_folder_when_none_is_recorded(tmp_path):
    flat = tmp_path / "flat"
    _adapter(flat)  # adapter saved straight into the run folder
    assert RunRecord(status="finished", base_model="b").adapter_dir(flat) == flat
    nested = tmp_path / "nested"
    _adapter(nested / "adapter")
    assert RunRecord(status="finished", base_model="b").adapter_dir(nested) == nested / "adapter"
    assert RunRecord(status="finished", base_model="b", tokenizer="tok").tokenizer_dir(nested) is None


def test_a_base_model_inside_the_run_folder_is_found_from_any_directory(tmp_path, monkeypatch):
    """run.json held "../runs/ok/base-model", relative to where training ran."""
    from probllms_train.bench.models import adapter_base
    from probllms_train.train.report import recorded_base

    run_dir = tmp_path / "runs" / "ok"
    (run_dir / "base-model").mkdir(parents=True)
    (run_dir / "adapter").mkdir()
    monkeypatch.chdir(tmp_path / "runs")
    assert recorded_base("../runs/ok/base-model", Path("../runs/ok")) == "base-model"
    assert recorded_base("org/model-7b", run_dir) == "org/model-7b"  # a hub id stays one
    (run_dir / "run.json").write_text(json.dumps({"status": "finished", "base_model": "base-model",
                                                  "adapter": "adapter"}))
    monkeypatch.chdir(tmp_path)
    assert adapter_base(run_dir / "adapter") == str(run_dir / "base-model")
