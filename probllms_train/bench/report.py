"""Write what `bench mcqa` found: results.json, results.md (tables a report can paste) and
two PNG plots (accuracy vs model size on disk; accuracy per dataset with its chance level)."""

from __future__ import annotations

import re
from pathlib import Path

from probllms_tui.core.files import atomic_write_json, atomic_write_text

DEGENERATE = "DEGENERATE"


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f}" if n else "?"


def _acc_cell(r: dict) -> str:
    lo, hi = r["ci95"]
    cell = f"{r['accuracy']:.3f} [{lo:.3f}, {hi:.3f}]"
    return f"{DEGENERATE}: {cell} (not a skill measure)" if r["degenerate"] else cell


def markdown(results: dict) -> str:
    lines = ["# MCQ benchmark", ""]
    if results.get("partial"):
        lines += ["**Partial results: the run was interrupted.**", ""]
    lines += ["| model | quant | size MB | dataset | RAG | method | n | accuracy [95% CI] | chance | latency p50 / p95 ms |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        n = f"{r['n']}/{r['n_planned']}" if r.get("partial") else str(r["n"])
        lines.append(f"| {r['model']} | {r['quantization']} | {_mb(r['size_bytes'])} | {r['dataset']} | "
                     f"{'yes' if r['rag'] else 'no'} | {r['method']} | {n} | {_acc_cell(r)} | "
                     f"{r['chance']:.3f} | {r['latency_ms']['p50']:.0f} / {r['latency_ms']['p95']:.0f} |")
    lines += ["", "Latency: cloze questions are scored several to a llama.cpp decode; each one's latency "
              "is its share of its batch's wall time (the batch time divided over its questions)."]
    threads = dict.fromkeys(f"{r['model']}: {r['threads'][0]} generation / {r['threads'][1]} prompt "
                            f"threads ({r.get('threads_how') or 'given'})"
                            for r in results["runs"] if r.get("threads"))
    if threads:
        lines += ["", "Threads: " + "; ".join(threads)]
    lines += ["", "## Calibration of the probabilities shown", "",
              "ECE: 15 equal-width bins on the top option's probability. Accuracy at coverage: only the "
              "50% / 80% most confident answers.", "",
              "| model | dataset | RAG | calibrated | mean confidence | ECE | Brier | AUROC | acc @50% | acc @80% | diagram |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["runs"]:
        c = r.get("calibration") or {}
        if not c.get("n"):
            continue
        cov = c["accuracy_at_coverage"]
        auroc = "-" if c["auroc"] is None else f"{c['auroc']:.3f}"
        lines.append(f"| {r['model']} | {r['dataset']} | {'yes' if r['rag'] else 'no'} | "
                     f"{'yes' if c['calibrated'] else 'NO'} | {c['mean_confidence']:.3f} | {c['ece']:.3f} | "
                     f"{c['brier']:.3f} | {auroc} | {cov['0.5']:.3f} | {cov['0.8']:.3f} | {r.get('reliability_plot', '')} |")
    flagged = {k: v for k, v in results["datasets"].items() if v["flags"]}
    if flagged:
        lines += ["", "## Dataset warnings", ""]
        for name, d in flagged.items():
            tag = f"{DEGENERATE} " if d["degenerate"] else ""
            lines.append(f"- {tag}{name}: " + "; ".join(d["flags"]))
    if results["comparisons"]:
        lines += ["", "## Paired comparisons (McNemar)", "",
                  "| dataset | A | B | n | acc A | acc B | A only right | B only right | p | test |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for c in results["comparisons"]:
            m = c["mcnemar"]
            ds = f"{c['dataset']} ({DEGENERATE})" if c["degenerate"] else c["dataset"]
            lines.append(f"| {ds} | {c['a']} | {c['b']} | {c['n_paired']} | {c['accuracy_a']:.3f} | "
                         f"{c['accuracy_b']:.3f} | {m['only_a']} | {m['only_b']} | {m['p_value']:.3g} | {m['method']} |")
    subj_runs = [r for r in results["runs"] if len(r["per_subject"]) > 1]
    if subj_runs:
        lines += ["", "## Per subject", "", "| model | dataset | RAG | subject | n | accuracy |", "|---|---|---|---|---|---|"]
        for r in subj_runs:
            for s, v in r["per_subject"].items():
                lines.append(f"| {r['model']} | {r['dataset']} | {'yes' if r['rag'] else 'no'} | {s} | "
                             f"{v['n']} | {v['accuracy']:.3f} |")
    return "\n".join(lines) + "\n"


def _legend(ax) -> None:
    uniq: dict = {}
    handles, labels = ax.get_legend_handles_labels()
    for handle, label in zip(handles, labels):
        uniq.setdefault(label, handle)
    ax.legend(uniq.values(), uniq.keys(), fontsize=8)


def _plots(results: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["runs"]
    if not runs:
        return []
    written = []
    datasets = list(dict.fromkeys(r["dataset"] for r in runs))
    colors = {d: plt.cm.tab10(i % 10) for i, d in enumerate(datasets)}

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for d in datasets:
        rs = [r for r in runs if r["dataset"] == d]
        degenerate = rs[0]["degenerate"]
        for r in rs:
            x = r["size_bytes"] / 1e6
            lo, hi = r["ci95"]
            ax.errorbar(x, r["accuracy"], yerr=[[r["accuracy"] - lo], [hi - r["accuracy"]]],
                        fmt="x" if degenerate else ("s" if r["rag"] else "o"), color=colors[d], capsize=3,
                        label=f"{d}{' (degenerate)' if degenerate else ''}")
            ax.annotate(r["model"] + (" +RAG" if r["rag"] else ""), (x, r["accuracy"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
    _legend(ax)
    ax.set_xlabel("model size on disk (MB)")
    ax.set_ylabel("accuracy (95% Wilson CI)")
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy vs model size")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_size.png", dpi=120)
    plt.close(fig)
    written.append("accuracy_vs_size.png")

    systems = list(dict.fromkeys((r["model"], r["rag"]) for r in runs))
    width = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(datasets) + 2), 4.5))
    for j, (model, rag) in enumerate(systems):
        for i, d in enumerate(datasets):
            r = next((r for r in runs if r["dataset"] == d and r["model"] == model and r["rag"] == rag), None)
            if r is None:
                continue
            lo, hi = r["ci95"]
            ax.bar(i + (j - (len(systems) - 1) / 2) * width, r["accuracy"], width,
                   yerr=[[r["accuracy"] - lo], [hi - r["accuracy"]]], capsize=2,
                   color=plt.cm.tab10(j % 10), hatch="//" if r["degenerate"] else None,
                   label=model + (" +RAG" if rag else ""))
    for i, d in enumerate(datasets):
        chance = results["datasets"][d]["chance"]
        ax.hlines(chance, i - 0.45, i + 0.45, colors="k", linestyles="dashed", linewidth=1)
    _legend(ax)
    ax.set_xticks(range(len(datasets)),
                  [d + ("\n(degenerate)" if results["datasets"][d]["degenerate"] else "") for d in datasets],
                  fontsize=8)
    ax.set_ylabel("accuracy (dashed: chance)")
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy per dataset")
    fig.tight_layout()
    fig.savefig(out / "accuracy_per_dataset.png", dpi=120)
    plt.close(fig)
    written.append("accuracy_per_dataset.png")
    return written


def _reliability_plots(results: dict, out: Path) -> list[str]:
    from probllms_train.bench.calibration import plot_reliability

    written = []
    for r in results["runs"]:
        c = r.get("calibration") or {}
        if not c.get("n"):
            continue
        name = "reliability_" + "__".join(slug(x) for x in (r["model"], r["dataset"], "rag" if r["rag"] else "norag")) + ".png"
        tag = "calibrated" if c["calibrated"] else "UNCALIBRATED"
        plot_reliability(c, f"{r['model']} · {r['dataset']}{' +RAG' if r['rag'] else ''} · {r['method']} · {tag}", out / name)
        r["reliability_plot"] = name
        written.append(name)
    return written


def slug(text: str) -> str:
    """A file-name-safe form of a model or dataset name (the one rule for every output name)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def write_reports(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    results["plots"] = _plots(results, out) + _reliability_plots(results, out)
    atomic_write_text(out / "results.md", markdown(results))
    atomic_write_json(out / "results.json", results)
