"""bench/load.py's pure parts: percentiles, histogram quantiles, the SIPp files and counters."""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import load


def test_percentile_interpolates_between_ranks() -> None:
    assert load.percentile([], 0.5) is None
    assert load.percentile([5.0], 0.99) == 5.0
    assert load.percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert load.percentile(list(map(float, range(101))), 0.99) == pytest.approx(99.0)


def test_bucket_quantile_is_linear_inside_the_bucket() -> None:
    # 10 observations <= 1 ms, 90 more <= 5 ms, none above
    buckets = [(0.001, 10.0), (0.005, 100.0), (float("inf"), 100.0)]
    assert load.bucket_quantile(buckets, 0.1) == pytest.approx(0.001)
    assert load.bucket_quantile(buckets, 0.55) == pytest.approx(0.001 + 0.004 * 45 / 90)
    assert load.bucket_quantile(buckets, 0.99) == pytest.approx(0.001 + 0.004 * 89 / 90)


def test_bucket_quantile_in_the_inf_bucket_is_the_highest_bound_and_empty_is_none() -> None:
    assert load.bucket_quantile([(0.1, 1.0), (float("inf"), 10.0)], 0.99) == pytest.approx(0.1)
    assert load.bucket_quantile([(0.1, 0.0), (float("inf"), 0.0)], 0.5) is None
    assert load.bucket_quantile([], 0.5) is None


def test_bucket_delta_keeps_only_what_the_run_observed() -> None:
    before = {0.01: 5.0, float("inf"): 7.0}
    after = {0.01: 5.0, float("inf"): 9.0}
    delta = load.bucket_delta(after, before)
    assert sorted(delta) == [(0.01, 0.0), (float("inf"), 2.0)]
    assert load.bucket_quantile(delta, 0.5) == pytest.approx(0.01)


def test_histograms_and_gauges_read_the_exposition() -> None:
    text = (
        "# HELP callcenter_ticket_write_seconds w\n# TYPE callcenter_ticket_write_seconds histogram\n"
        'callcenter_ticket_write_seconds_bucket{le="0.005"} 3.0\n'
        'callcenter_ticket_write_seconds_bucket{le="+Inf"} 4.0\n'
        "callcenter_ticket_write_seconds_sum 0.1\ncallcenter_ticket_write_seconds_count 4.0\n"
        "# HELP callcenter_operators o\n# TYPE callcenter_operators gauge\n"
        'callcenter_operators{state="available"} 10.0\ncallcenter_operators{state="ringing"} 0.0\n'
        "# HELP callcenter_ticket_writes_pending p\n# TYPE callcenter_ticket_writes_pending gauge\n"
        "callcenter_ticket_writes_pending 2.0\n"
    )
    assert load.histograms(text) == {"callcenter_ticket_write_seconds": {0.005: 3.0, float("inf"): 4.0}}
    assert load.operators_available(text) == 10
    assert load.pending_writes(text) == 2


def test_step_rates() -> None:
    assert load.step_rates(20, None, 200) == [20]
    assert load.step_rates(5, 5, 20) == [5, 10, 15, 20]
    assert load.step_rates(2.5, 2.5, 9) == [2.5, 5.0, 7.5]


def test_parse_hold() -> None:
    assert load.parse_hold("2-10") == (2.0, 10.0)
    assert load.parse_hold("3") == (3.0, 3.0)
    with pytest.raises(argparse.ArgumentTypeError):
        load.parse_hold("10-2")


def test_caller_scenario_is_xml_with_the_hold_and_the_auth_retry() -> None:
    root = ET.fromstring(load.caller_scenario((2.0, 10.0), "2007"))
    pause = root.find("pause")
    assert pause is not None and (pause.get("min"), pause.get("max")) == ("2000", "10000")
    sends = [el.text or "" for el in root.findall("send")]
    assert [s.split()[0] for s in sends] == ["INVITE", "ACK", "INVITE", "ACK", "BYE"]
    assert "[authentication" in sends[2] and "[authentication" not in sends[0]
    assert [r.get("response") for r in root.findall("recv") if r.get("auth")] == ["401"]
    assert all("From: <sip:2007@" in s for s in sends)


def test_split_calls() -> None:
    assert load.split_calls(25, 10) == [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]
    assert sum(load.split_calls(1200, 7)) == 1200
    assert load.split_calls(3, 5) == [1, 1, 1, 0, 0]


def test_sipp_totals() -> None:
    stat = ("StartTime;TotalCallCreated(P);TotalCallCreated(C);SuccessfulCall(C);FailedCall(C);FailedMaxUDPRetrans(C);\n"
            "x;1;5;4;1;1;\n"
            "y;2;10;9;1;1;\n")
    assert load.sipp_totals(stat) == {"TotalCallCreated": 10, "SuccessfulCall": 9, "FailedCall": 1, "FailedMaxUDPRetrans": 1}
    assert load.sipp_totals("") == {}
