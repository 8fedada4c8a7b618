"""End to end on a tiny Llama: export, register, list, load and answer, merge, rerun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

QUESTION = "Which number is prime?\nA) four\nB) six\nC) seven\nD) nine"


def _cli_env(models: Path, home: Path) -> dict:
    return {**os.environ, "PROBLLMS_MODELS": str(models), "PROBLLMS_HOME": str(home)}


def test_export_writes_validated_registered_files(tiny_export):
    from probllms_tui.core.registry import Registry, sha256_file
    from probllms_tui.engine.gguf_check import read_metadata

    models, result = tiny_export
    names = {e.name: e for e in Registry(models).entries() if e.registered and not e.builtin}
    assert set(names) == {"tiny-f16", "tiny-q8_0", "tiny-q4_k_m"}
    expected_ftype = {"tiny-f16": 1, "tiny-q8_0": 7, "tiny-q4_k_m": 15}
    for name, entry in names.items():
        path = models / entry.file
        assert read_metadata(path)["general.file_type"] == expected_ftype[name]
        assert entry.sha256 == sha256_file(path)
        assert entry.size_bytes == path.stat().st_size
        assert entry.prompt_format == "probllms-v1" and entry.scoring_method == "cloze"
        modelfile = (models / f"Modelfile.{name}").read_text()
        assert modelfile.startswith(f"FROM ./{entry.file}\n") and 'PARAMETER stop "Question:"' in modelfile
    sizes = {n: e.size_bytes for n, e in names.items()}
    assert sizes["tiny-q4_k_m"] < sizes["tiny-q8_0"] < sizes["tiny-f16"]
    assert not [p for p in models.iterdir() if p.name.startswith(".export-")]  # staging removed


def test_quality_report_is_sane(tiny_export):
    models, result = tiny_export
    report = json.loads(result.report_json.read_text())
    rows = {r["quantization"]: r for r in report["quantizations"]}
    assert set(rows) == {"F16", "Q8_0", "Q4_K_M"}
    for q in ("Q8_0", "Q4_K_M"):
        r = rows[q]
        assert r["kld_mean"] >= 0 and r["kld_p99"] >= 0
        assert 0 <= r["top1_agreement"] <= 1 and r["n_positions"] > 100
        assert 0 <= r["flip_rate"] <= 1 and r["n_questions"] == 8 and r["n_answered"] == 8
        assert len(r["flipped_ids"]) == round(r["flip_rate"] * 8)
    assert rows["F16"]["flip_rate"] == 0 and rows["F16"]["kld_mean"] is None  # the reference itself
    assert "Q4_K_M" in result.report_md.read_text()


def test_exported_models_listed_and_answer_through_the_tui_cli(tiny_export, tmp_path):
    """`probllms-tui models` lists all three at once; each loads through the registry and
    answers, the 4-bit one through `probllms-tui ask` itself."""
    from probllms_tui.core.mcq import MCQ
    from probllms_tui.engine.load import open_engine

    models, _ = tiny_export
    env = _cli_env(models, tmp_path)
    listed = json.loads(subprocess.run(
        [sys.executable, "-m", "probllms_tui.cli.main", "models", "--json"],
        env=env, capture_output=True, text=True, check=True).stdout)
    by_name = {r["name"]: r for r in listed}
    for name, quant in (("tiny-f16", "F16"), ("tiny-q8_0", "Q8_0"), ("tiny-q4_k_m", "Q4_K_M")):
        assert by_name[name]["quantization"] == quant and by_name[name]["registered"]
    q = MCQ("Which number is prime?", ("four", "six", "seven", "nine"))
    for name in ("tiny-f16", "tiny-q8_0"):
        with open_engine(name, models_dir=models, n_ctx=256, threads=(1, 1)) as engine:
            result = engine.score(q)
        assert result.model == name and result.answer in "ABCD"
    out = subprocess.run(
        [sys.executable, "-m", "probllms_tui.cli.main", "ask", "--model", "tiny-q4_k_m", "--json", "--no-rag"],
        input=QUESTION, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["model"] == "tiny-q4_k_m" and answer["answer"] in "ABCD"
    assert abs(sum(answer["probabilities"].values()) - 1) < 1e-3


def test_lora_merge_changes_outputs_and_records_the_run(tiny_export, tiny_model_dir, lora_run_dir, tmp_path):
    from probllms_tui.core.mcq import MCQ
    from probllms_tui.core.registry import Registry
    from probllms_tui.engine.llama import LlamaEngine
    from probllms_train.export.pipeline import ExportOptions, run_export

    base_models, _ = tiny_export
    models = tmp_path / "models"
    result = run_export(ExportOptions(source=str(lora_run_dir), models_dir=models, quants=[],
                                      keep_f16=True, report_n=0), log=lambda m: None)
    (entry,) = result.entries
    assert entry.name == "tiny-dpo-run-f16"
    assert entry.adapter_run == str(lora_run_dir.resolve()) and entry.base_model == str(tiny_model_dir)
    registered, _ = Registry(models).resolve("tiny-dpo-run-f16")
    assert registered.adapter_run == entry.adapter_run and registered.base_model == entry.base_model
    q = MCQ("Which structure is last in, first out?", ("A queue", "A stack", "A heap", "A graph"))
    with LlamaEngine(base_models / "tiny-f16.gguf", n_ctx=256, threads=(1, 1)) as base, \
            LlamaEngine(models / entry.file, n_ctx=256, threads=(1, 1)) as merged:
        p_base, p_merged = base.score(q).probabilities, merged.score(q).probabilities
    assert max(abs(p_base[k] - p_merged[k]) for k in p_base) > 1e-3


def test_rerun_is_idempotent(tiny_model_dir, tmp_path):
    from probllms_train.export.pipeline import ExportOptions, run_export

    models = tmp_path / "models"
    opts = ExportOptions(source=str(tiny_model_dir), models_dir=models, quants=["Q8_0"], name="again", report_n=0)
    first = run_export(opts, log=lambda m: None)
    files_first = sorted(p.name for p in models.iterdir())
    second = run_export(opts, log=lambda m: None)
    manifest = json.loads((models / "manifest.json").read_text())["models"]
    assert [m["name"] for m in manifest] == ["again-q8_0"]  # replaced, not duplicated
    assert sorted(p.name for p in models.iterdir()) == files_first
    assert first.entries[0].sha256 == second.entries[0].sha256  # the same bytes again


def test_importance_matrix_reaches_the_quantizer(tiny_model_dir, tmp_path):
    import numpy as np

    from probllms_train.export.pipeline import ExportOptions, run_export
    from probllms_train.export.quantize import QuantizeError, quantize

    bank = Path(__file__).with_name("mcq_small.jsonl")
    models = tmp_path / "models"
    plain = run_export(ExportOptions(source=str(tiny_model_dir), models_dir=models, quants=["IQ4_NL"],
                                     name="plain", keep_f16=True, report_n=0), log=lambda m: None)
    weighted = run_export(ExportOptions(source=str(tiny_model_dir), models_dir=models, quants=["IQ4_NL"],
                                        name="imat", data=bank, imatrix=True), log=lambda m: None)
    assert json.loads(weighted.report_json.read_text())["imatrix"] is True
    # The quantizer used the matrix: the same F16 quantizes to different bytes with it.
    assert plain.entries[1].sha256 != weighted.entries[0].sha256
    # ...and it really reads the entries: a wrongly sized one is refused.
    with pytest.raises(QuantizeError):
        quantize(models / "plain-f16.gguf", tmp_path / "bad.gguf", "IQ4_NL",
                 imatrix={"blk.0.attn_q.weight": np.ones(3, dtype=np.float32)})


def test_sentencepiece_rebuilt_from_gguf_tokenizes_like_the_original(tiny_export, tiny_model_dir, tmp_path):
    """An HF folder whose tokenizer.model was rebuilt from a GGUF's vocabulary converts to a
    GGUF that llama.cpp tokenizes exactly like the original file."""
    import shutil

    from llama_cpp import Llama

    from probllms_train.export.convert import convert_to_f16
    from probllms_train.export.gguf_vocab import write_sentencepiece_model

    models, _ = tiny_export
    original = models / "tiny-f16.gguf"
    folder = shutil.copytree(tiny_model_dir, tmp_path / "from-gguf",
                             ignore=lambda d, names: [n for n in names if n.startswith("tokenizer")])
    write_sentencepiece_model(original, folder)
    rebuilt = convert_to_f16(folder, tmp_path / "rebuilt.gguf", model_name="rebuilt")
    texts = [QUESTION, "Question: What is the derivative of x squared?\nAnswer: two x", "  spaces\tand 123 ünï"]
    a = Llama(model_path=str(original), vocab_only=True, verbose=False)
    b = Llama(model_path=str(rebuilt), vocab_only=True, verbose=False)
    try:
        for t in texts:
            assert a.tokenize(t.encode(), add_bos=True) == b.tokenize(t.encode(), add_bos=True)
    finally:
        a.close()
        b.close()
