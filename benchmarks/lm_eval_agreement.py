"""Does `probllms-train bench mcqa` agree with lm-evaluation-harness, and is it faster?

    python benchmarks/lm_eval_agreement.py --n 100                 # ARC-Easy, cloze and letter
    python benchmarks/lm_eval_agreement.py --n 50 --methods cloze --data data/ARC-Challenge_mcqa.jsonl

The same questions go to both as one custom local lm-eval task per method, rendered with our
prompt functions (render_cloze_prefix + cloze_continuation, render_letter_prompt +
letter_continuation; target_delimiter "" so lm-eval adds nothing), on the same HF weights
(the embedded Gemma 3 270M dequantized to an HF folder, cached). lm-eval runs in its own
venv (installing it beside chromadb downgrades python-dateutil): --venv, created on demand
with `pip install "lm-eval[hf]==0.4.13" torch==2.13.0 transformers accelerate`.

Reported:
- identical predictions, ours (HF backend) vs lm-eval, under the same rule: letter = argmax of
  the letter log-likelihoods; cloze = lm-eval's per-option log-likelihoods normalised with
  the engine's rule (our token counts), and lm-eval's own ``acc`` (raw sum) vs our raw sums.
  Goal: >= 99%.
- ours on the GGUF Q4_K_M through the engine vs lm-eval on the fp32 HF weights: agreement
  (4-bit vs fp32 differ numerically) and the speed ratio of wall times. Goal: >= 3x faster.
Skips cleanly (exit 0, message) without the shared data or without lm-eval.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import require_shared_file  # noqa: E402

LM_EVAL_PINS = ["lm-eval[hf]==0.4.13", "torch==2.13.0", "transformers", "accelerate"]
TASK_YAML = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: context
doc_to_choice: choices
doc_to_target: gold
target_delimiter: ""
metric_list:
  - metric: acc
"""


def lm_eval_python(venv: Path, install: bool) -> Path | None:
    py = venv / "bin" / "python"
    probe = [str(py), "-c", "import lm_eval"]
    if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    if not install:
        print(f"skip: lm-eval not installed in {venv} (run without --no-install to create it)", file=sys.stderr)
        return None
    print(f"creating {venv} with {' '.join(LM_EVAL_PINS)} (a few minutes) ...", file=sys.stderr)
    ok = subprocess.run([sys.executable, "-m", "venv", str(venv)]).returncode == 0 and subprocess.run(
        [str(py), "-m", "pip", "install", "-q", *LM_EVAL_PINS]).returncode == 0
    if not ok or subprocess.run(probe, capture_output=True).returncode != 0:
        print(f"skip: could not install lm-eval into {venv}", file=sys.stderr)
        return None
    return py


def hf_weights(work: Path, given: Path | None) -> Path:
    if given:
        return given
    from export_gemma import build_hf_copy  # the export benchmark's cached GGUF -> HF copy

    return build_hf_copy(work)[0]


def write_tasks(questions, folder: Path, methods: list[str]) -> dict[str, Path]:
    from probllms_tui.core.prompt import (
        cloze_continuation, letter_continuation, render_cloze_prefix, render_letter_prompt)

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for method in methods:
        rows = []
        for q in questions:
            if method == "cloze":
                ctx, choices = render_cloze_prefix(q), [cloze_continuation(o) for o in q.options]
            else:
                ctx, choices = render_letter_prompt(q), [letter_continuation(l) for l in q.letters]
            rows.append({"id": q.id, "context": ctx, "choices": choices, "gold": q.letters.index(q.answer)})
        data = folder / f"probllms_{method}.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        (folder / f"probllms_{method}.yaml").write_text(TASK_YAML.format(task=f"probllms_{method}", data=data))
        paths[method] = data
    return paths


def run_lm_eval(py: Path, hf_dir: Path, tasks_dir: Path, method: str, out: Path, threads: int) -> tuple[list[dict], float]:
    cmd = [str(py), "-m", "lm_eval", "--model", "hf",
           "--model_args", f"pretrained={hf_dir},dtype=float32,add_bos_token=True",
           "--tasks", f"probllms_{method}", "--include_path", str(tasks_dir), "--device", "cpu",
           "--batch_size", "1", "--log_samples", "--output_path", str(out)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"lm-eval failed:\n{proc.stderr[-3000:]}")
    files = sorted(out.rglob(f"samples_probllms_{method}_*.jsonl"))
    samples = [json.loads(l) for l in files[-1].read_text().splitlines() if l.strip()]
    return sorted(samples, key=lambda s: s["doc_id"]), wall


def ours(spec_arg: str, bank: Path, n: int, method: str, out: Path, threads: int):
    """`probllms-train bench mcqa` as a user runs it: a fresh process, timed from the outside
    like lm-eval (start-up, imports and model load included on both sides). Both get the
    same number of threads (llama.cpp batch threads here, OMP threads for torch)."""
    cmd = [sys.executable, "-m", "probllms_train.cli", "bench", "mcqa", "--model", spec_arg, "--data", str(bank),
           "--limit", str(n), "--method", method, "--no-rag", "--out", str(out), "--no-progress",
           "--threads", f"1,{threads}"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"probllms-train bench mcqa failed:\n{proc.stderr[-3000:]}")
    run = json.loads((out / "results.json").read_text())["runs"][0]
    samples = [json.loads(l) for l in open(run["samples"])]
    return samples, wall


def cloze_lengths(hf_dir: Path, questions) -> list[dict]:
    """Our option token counts (the engine's rule needs them to normalise lm-eval's sums), from
    the scoring template's own requests: the tokenizer is all it needs, no model."""
    from transformers import AutoTokenizer

    from probllms_tui.core.prompt import render_cloze_prefix
    from probllms_train.bench.hf_scorer import HFScorer

    scorer = HFScorer(None, AutoTokenizer.from_pretrained(str(hf_dir)), name="tok", n_ctx=4096, method="cloze")
    out = []
    for q in questions:
        item = scorer.cloze_request(render_cloze_prefix(q), q.options)
        out.append({l: len(cont) for l, cont in zip(q.letters, item.conts)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--data", type=Path, default=None, help="default: ARC-Easy_mcqa.jsonl in $PROBLLMS_SHARED_DATA")
    ap.add_argument("--methods", default="cloze,letter")
    scratch = Path(tempfile.gettempdir())  # the system's temp folder: nothing here is kept
    ap.add_argument("--venv", type=Path, default=scratch / "lmeval-venv")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--work", type=Path, default=scratch / "probllms-export-bench", help="cache of the HF copy")
    ap.add_argument("--hf-model", type=Path, default=None, help="an HF folder of the same weights (skips the build)")
    ap.add_argument("--out", type=Path, default=scratch / "probllms-lmeval-agreement")
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = ap.parse_args()

    bank = args.data or require_shared_file("ARC-Easy_mcqa.jsonl")
    if bank is None or not Path(bank).is_file():
        print(f"skip: {bank} not found", file=sys.stderr)
        return 0
    py = lm_eval_python(args.venv, not args.no_install)
    if py is None:
        return 0
    from probllms_tui.core.readers import read_bank
    from probllms_tui.core.prompt import cloze_continuation
    from probllms_train.bench.hf_scorer import cloze_normalise

    questions = [q for q in read_bank(bank).questions if q.answer][: args.n]
    hf_dir = hf_weights(args.work, args.hf_model)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    tasks = args.out / "tasks"
    write_tasks(questions, tasks, methods)
    lengths = cloze_lengths(hf_dir, questions) if "cloze" in methods else None
    report = {"data": str(bank), "n": len(questions), "hf_model": str(hf_dir), "threads": args.threads}
    for method in methods:
        lm, lm_wall = run_lm_eval(py, hf_dir, tasks, method, args.out / f"lm_eval_{method}", args.threads)
        hf, hf_wall = ours(str(hf_dir), bank, args.n, method, args.out / f"ours_hf_{method}", args.threads)
        gg, gg_wall = ours("gemma3-270m-q4_k_m", bank, args.n, method, args.out / f"ours_gguf_{method}", args.threads)
        assert len(lm) == len(hf) == len(gg) == len(questions)
        same_rule, raw_same, gguf_same = 0, 0, 0
        for i, (q, s_lm, s_hf, s_gg) in enumerate(zip(questions, lm, hf, gg)):
            ll = {l: float(r[0]) for l, r in zip(q.letters, s_lm["filtered_resps"])}
            if method == "cloze":
                n_bytes = {l: len(cloze_continuation(o).encode("utf-8")) for l, o in zip(q.letters, q.options)}
                norm = cloze_normalise(ll, lengths[i], n_bytes)
                pred_lm = max(norm, key=norm.get)
                raw_ours = {l: v for l, v in s_hf["scores"].items()}  # normalised; raw below
                raw_pred_lm = max(ll, key=ll.get)
                # our raw sums = normalised score * length / mean length (undo the engine's rescale)
                mean_len = sum(lengths[i].values()) / len(lengths[i])
                raw_ours = {l: raw_ours[l] * lengths[i][l] / mean_len for l in raw_ours}
                raw_same += raw_pred_lm == max(raw_ours, key=raw_ours.get)
            else:
                pred_lm = max(ll, key=ll.get)
                raw_same += pred_lm == s_hf["prediction"]
            same_rule += pred_lm == s_hf["prediction"]
            gguf_same += pred_lm == s_gg["prediction"]
        n = len(questions)
        acc = lambda ss: sum(s["correct"] for s in ss) / n  # noqa: E731
        lm_acc = sum(float(s["acc"]) for s in lm) / n
        report[method] = {
            "identical_same_rule": same_rule / n, "identical_lm_eval_acc_rule": raw_same / n,
            "identical_gguf_vs_lm_eval": gguf_same / n,
            "accuracy": {"lm_eval_acc": lm_acc, "ours_hf": acc(hf), "ours_gguf": acc(gg)},
            "wall_s": {"lm_eval_hf": lm_wall, "ours_hf": hf_wall, "ours_gguf": gg_wall},
            "speed_ratio_gguf_vs_lm_eval": lm_wall / gg_wall, "speed_ratio_hf_vs_lm_eval": lm_wall / hf_wall,
        }
        r = report[method]
        print(f"[{method}] n={n}: identical predictions (same rule) {r['identical_same_rule']:.1%}; "
              f"lm-eval acc rule {r['identical_lm_eval_acc_rule']:.1%}; GGUF Q4_K_M vs lm-eval fp32 "
              f"{r['identical_gguf_vs_lm_eval']:.1%}")
        print(f"[{method}] accuracy: lm-eval acc {lm_acc:.3f}, ours HF {acc(hf):.3f}, ours GGUF {acc(gg):.3f}")
        print(f"[{method}] wall: lm-eval HF {lm_wall:.1f} s, ours HF {hf_wall:.1f} s, ours GGUF {gg_wall:.1f} s "
              f"-> ours GGUF {r['speed_ratio_gguf_vs_lm_eval']:.2f}x faster than lm-eval (goal >= 3x), "
              f"ours HF {r['speed_ratio_hf_vs_lm_eval']:.2f}x")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agreement.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out / 'agreement.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
