"""`data mcqa`: --from needs no --split; --split all compares with the progress report's totals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from probllms_tui.core.errors import InputError
from probllms_train.data.mcqa.build import build_mcqa, hub_splits, report_total_check
from probllms_train.data.mcqa.sources import REPORT_TOTALS, SOURCES


def test_from_file_needs_no_split(cli, tmp_path, fixtures):
    out = tmp_path / "arc.jsonl"
    res = cli("mcqa", "--source", "arc-easy", "--from", fixtures / "arc.jsonl", "--out", out, "--allow-degenerate")
    assert res.exit_code == 0, res.output
    report = json.loads(out.with_name("arc.report.json").read_text())
    assert report["split"] is None and report["written"] == len(out.read_text().splitlines()) > 0
    assert "report_total_check" not in report


def test_split_all_checks_the_total_against_the_report(cli, tmp_path, fixtures):
    out = tmp_path / "arc-all.jsonl"
    res = cli("mcqa", "--source", "arc-challenge", "--from", fixtures / "arc.jsonl", "--split", "all",
              "--out", out, "--allow-degenerate")
    assert res.exit_code == 0, res.output
    check = json.loads(out.with_name("arc-all.report.json").read_text())["report_total_check"]
    assert check == {"rows_read": 4, "report_total": 2590, "difference": 4 - 2590, "matches_report": False}
    assert "differs by -2586 from the progress report's 2,590" in res.output


def test_report_totals_and_the_known_hub_counts():
    assert REPORT_TOTALS == {"arc-easy": 5196, "arc-challenge": 2590, "mmlu-science": 4219,
                             "gsm8k": 8792, "math": 12500}
    # the hub's ARC-Easy has one question more than the report counts (2,251 + 570 + 2,376)
    assert report_total_check("arc-easy", 2251 + 570 + 2376)["difference"] == 1
    assert report_total_check("gsm8k", 7473 + 1319)["matches_report"]
    assert report_total_check("math", 7500 + 5000)["matches_report"]
    assert hub_splits("mmlu-science", "all") == SOURCES["mmlu-science"].splits == ("dev", "validation", "test")
    assert hub_splits("gsm8k", "test") == ("test",)


def test_hub_without_split_is_refused_before_any_download():
    with pytest.raises(InputError, match=r"give --split \(train, validation, test or all\)"):
        build_mcqa("arc-easy", None)
    with pytest.raises(InputError, match="'dev' is not one of train, validation, test"):
        build_mcqa("arc-easy", "dev")


def test_cli_error_is_one_line_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "from probllms_train.cli import run; run()", "data", "mcqa",
                           "--source", "gsm8k", "--out", str(tmp_path / "o.jsonl")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: give --split (train, test or all) to read gsm8k from the hub, or --from FILE"]
