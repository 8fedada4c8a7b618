"""Bad input and interruptions: one clear line, and models/ left exactly as it was."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from probllms_tui.core.errors import InputError, ProbLLMsError
from probllms_train.export import pipeline
from probllms_train.export.pipeline import ExportOptions, run_export

BANK = Path(__file__).with_name("mcq_small.jsonl")


def _copy(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> Path:
    shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if n in skip])
    return dst


def _everything(d: Path) -> list[str]:
    """All entries of a models dir, hidden staging folders included."""
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def _export_cli(*args: str, env_models: Path) -> subprocess.Popen:
    env = {**os.environ, "PROBLLMS_MODELS": str(env_models)}
    return subprocess.Popen([sys.executable, "-m", "probllms_train.cli", "export", *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_missing_tokenizer_is_one_line_and_writes_nothing(tiny_model_dir, tmp_path):
    broken = _copy(tiny_model_dir, tmp_path / "no-tok",
                   skip=("tokenizer.model", "tokenizer.json", "tokenizer_config.json"))
    models = tmp_path / "models"
    proc = _export_cli(str(broken), env_models=models)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "tokenizer" in err and "no-tok" in err
    assert "Traceback" not in err
    assert _everything(models) == []


def test_unsupported_architecture(tiny_model_dir, tmp_path):
    model = _copy(tiny_model_dir, tmp_path / "alien")
    cfg = json.loads((model / "config.json").read_text())
    cfg["architectures"] = ["AlienForCausalLM"]
    (model / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="AlienForCausalLM is not supported"):
        run_export(ExportOptions(source=str(model), models_dir=tmp_path / "models"), log=lambda m: None)
    assert _everything(tmp_path / "models") == []


def test_quantized_base_is_refused(tiny_model_dir, tmp_path):
    model = _copy(tiny_model_dir, tmp_path / "fourbit")
    cfg = json.loads((model / "config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (model / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="bitsandbytes-quantized.*bf16/fp32"):
        run_export(ExportOptions(source=str(model), models_dir=tmp_path / "models"), log=lambda m: None)


def test_not_enough_disk_space_is_checked_before_writing(tiny_model_dir, tmp_path, monkeypatch):
    from probllms_train.export import convert

    real = shutil.disk_usage
    monkeypatch.setattr(convert.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=1000))
    with pytest.raises(ProbLLMsError, match="not enough disk space.*GiB"):
        run_export(ExportOptions(source=str(tiny_model_dir), models_dir=tmp_path / "models"), log=lambda m: None)
    assert _everything(tmp_path / "models") == []


def test_unknown_quant_type_names_the_choices():
    from probllms_train.export.quant_types import parse_quants

    with pytest.raises(InputError, match="unknown quantization type 'q3_z'.*q4_k_m"):
        parse_quants("q8_0,q3_z")
    assert parse_quants("f16,Q8_0,q4_k_m") == (["Q8_0", "Q4_K_M"], True)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_export_leaves_models_dir_untouched(tiny_model_dir, tmp_path, monkeypatch, how):
    """Interrupted after the first quantized file: the earlier export's files and manifest
    stay as they were, and no new or partial file appears."""
    models = tmp_path / "models"
    run_export(ExportOptions(source=str(tiny_model_dir), models_dir=models, quants=["Q8_0"],
                             name="keep", report_n=0), log=lambda m: None)
    before = {p.name: p.read_bytes() for p in models.iterdir()}
    real_quantize = pipeline.quantize
    calls = []

    def interrupted(src, dst, qtype, **kw):
        calls.append(qtype)
        out = real_quantize(src, dst, qtype, **kw)
        if len(calls) == 2:
            if how == "ctrl-c":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGTERM)  # the staging handler turns it into an exception
            time.sleep(1)
        return out

    monkeypatch.setattr(pipeline, "quantize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_export(ExportOptions(source=str(tiny_model_dir), models_dir=models,
                                 quants=["Q8_0", "Q4_K_M", "Q5_K_M"], name="keep", data=BANK), log=lambda m: None)
    assert calls == ["Q8_0", "Q4_K_M"]
    assert {p.name: p.read_bytes() for p in models.iterdir()} == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.slow
def test_killed_export_leaves_no_visible_partial_file(tiny_model_dir, tmp_path):
    """SIGKILL cannot be caught: only the hidden staging folder may remain, never a .gguf,
    Modelfile or manifest entry, and the next export clears it."""
    models = tmp_path / "models"
    proc = _export_cli(str(tiny_model_dir), "--name", "killed", "--data", str(BANK), env_models=models)
    deadline = time.time() + 60
    staged = None
    while time.time() < deadline and proc.poll() is None:
        staged = next(models.glob(".export-killed.partial/*.gguf"), None) if models.exists() else None
        if staged:
            break
        time.sleep(0.02)
    assert staged is not None, "the export never reached the staging step"
    proc.kill()
    proc.communicate(timeout=30)
    visible = [n for n in _everything(models) if not n.startswith(".export-")]
    assert visible == []
    run_export(ExportOptions(source=str(tiny_model_dir), models_dir=models, quants=["Q8_0"],
                             name="next", report_n=0), log=lambda m: None)
    assert not [n for n in _everything(models) if n.startswith(".export-")]


def test_unfinished_run_is_refused(tmp_path):
    run = tmp_path / "run-preempted"
    run.mkdir()
    from probllms_train.train.run_record import RunRecord

    RunRecord(status="preempted", base_model="x").save(run)
    with pytest.raises(InputError, match="'preempted', not finished"):
        run_export(ExportOptions(source=str(run), models_dir=tmp_path / "models"), log=lambda m: None)


def test_bad_run_json_names_file_and_line(tmp_path):
    run = tmp_path / "run-broken"
    run.mkdir()
    (run / "run.json").write_text('{\n  "base_model": "x",\n  oops\n}')
    with pytest.raises(InputError) as err:
        run_export(ExportOptions(source=str(run), models_dir=tmp_path / "models"), log=lambda m: None)
    assert str(err.value).startswith(f"{run / 'run.json'}:3: run.json is not valid JSON")
