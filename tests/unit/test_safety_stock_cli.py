"""`sop safety-stock`: parser, output formats, exit codes (in-process and as a subprocess)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sop_pipeline.commands.safety_stock import add_parser, main, run

REPO = Path(__file__).resolve().parents[2]
LEGO = ["--mean-demand", "2500", "--sd-demand", "500", "--mean-lead-time", "2"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sop")
    sub = p.add_subparsers(dest="command")
    add_parser(sub)
    return p


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    args = _parser().parse_args(["safety-stock", *argv])
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cycle_service_text_output(capsys):
    # Chopra & Meindl Lego case: SS = 1.2816 * sqrt(2) * 500 = 906.2, ROP = 5,906.2
    code, out, err = _run([*LEGO, "--service-level", "0.90"], capsys)
    assert code == 0 and err == ""
    assert "906.2 units" in out and "5,906.2 units" in out and "z      1.2816" in out


def test_fill_rate_json_output(capsys):
    # Lego case, Q = 10,000, fill rate 0.975: k = 0.0943, SS = 66.7
    # (--min-cycle-service 0.5: no floor; k = 0.0943 is a cycle service of 53.8 %)
    code, out, _ = _run(
        [
            *LEGO,
            "--service-level",
            "0.975",
            "--service-type",
            "fill-rate",
            "--order-qty",
            "10000",
            "--min-cycle-service",
            "0.5",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"safety_stock", "reorder_point", "k", "service_type", "service_level", "sigma_dl", "method"}
    assert payload["safety_stock"] == pytest.approx(66.70, abs=0.01)
    assert payload["reorder_point"] == pytest.approx(5066.70, abs=0.01)
    assert payload["k"] == pytest.approx(0.0943, abs=1e-4)
    assert payload["sigma_dl"] == pytest.approx(707.107, abs=1e-3)
    assert payload["service_type"] == "fill_rate" and payload["service_level"] == 0.975
    assert payload["method"] == "normal"


def test_lead_time_variability_and_review_period(capsys):
    # D = 100, sd 30, L = 3 + R = 1, sd_L = 1: sigma = sqrt(4*900 + 100^2*1) = 116.62; z(0.95) = 1.6449
    code, out, _ = _run(
        [
            "--mean-demand",
            "100",
            "--sd-demand",
            "30",
            "--mean-lead-time",
            "3",
            "--sd-lead-time",
            "1",
            "--review-period",
            "1",
            "--service-level",
            "0.95",
            "--json",
        ],
        capsys,
    )
    payload = json.loads(out)
    assert code == 0
    assert payload["sigma_dl"] == pytest.approx(116.619, abs=1e-3)
    assert payload["reorder_point"] == pytest.approx(400 + 1.644854 * 116.619, abs=0.01)


def test_negative_k_is_reported_raw_and_stock_floored(capsys):
    code, out, _ = _run(
        [*LEGO, "--service-level", "0.5", "--service-type", "fill-rate", "--order-qty", "100000", "--json"], capsys
    )
    payload = json.loads(out)
    assert code == 0 and payload["k"] < 0 and payload["safety_stock"] == 0.0
    assert payload["reorder_point"] == pytest.approx(5000.0)


def test_intermittent_input_switches_to_gamma(capsys):
    code, out, _ = _run(
        ["--mean-demand", "2", "--sd-demand", "5", "--mean-lead-time", "2", "--service-level", "0.95", "--json"], capsys
    )
    assert code == 0 and json.loads(out)["method"] == "gamma"


@pytest.mark.parametrize(
    "argv,message",
    [
        ([*LEGO[:2], "--sd-demand", "-5", "--mean-lead-time", "2", "--service-level", "0.9"], "sd of demand is -5"),
        (["--mean-demand", "-1", *LEGO[2:], "--service-level", "0.9"], "mean demand is -1"),
        ([*LEGO, "--service-level", "1.5"], "strictly between 0 and 1"),
        ([*LEGO, "--service-level", "0"], "strictly between 0 and 1"),
        ([*LEGO, "--service-level", "0.9", "--service-type", "fill-rate"], "needs --order-qty"),
        ([*LEGO, "--service-level", "0.9", "--service-type", "fill-rate", "--order-qty", "0"], "order quantity is 0"),
        (
            [
                *LEGO,
                "--service-level",
                "0.9",
                "--service-type",
                "fill-rate",
                "--order-qty",
                "100",
                "--review-period",
                "1",
            ],
            "--order-qty applies to continuous review only",
        ),
        ([*LEGO, "--service-level", "0.9", "--min-cycle-service", "1"], "minimum cycle service is 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and err.startswith("sop safety-stock: error:")


@pytest.mark.parametrize(
    "argv",
    [
        [*LEGO[:4], "--mean-lead-time", "two", "--service-level", "0.9"],
        [*LEGO, "--service-level", "nan"],
        [*LEGO, "--service-level", "0.9", "--service-type", "poisson"],
        LEGO,  # --service-level missing
    ],
)
def test_argparse_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["safety-stock", *argv])
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_help_explains_every_option_and_unit(capsys):
    with pytest.raises(SystemExit) as exc:
        _parser().parse_args(["safety-stock", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--mean-demand",
        "--sd-demand",
        "--mean-lead-time",
        "--sd-lead-time",
        "--service-level",
        "--service-type",
        "--order-qty",
        "--review-period",
        "--distribution",
        "--json",
    ):
        assert option in text
    for word in ("units", "periods", "fill-rate", "cycle", "floored"):
        assert word in text


def test_module_entry_point_as_a_subprocess():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sop_pipeline.commands.safety_stock",
            "safety-stock",
            *LEGO,
            "--service-level",
            "0.90",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["safety_stock"] == pytest.approx(906.2, abs=0.1)


def test_main_accepts_arguments_with_or_without_the_command_name(capsys):
    assert main([*LEGO, "--service-level", "0.9", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["k"] == pytest.approx(1.28155, abs=1e-5)
    assert main(["safety-stock", *LEGO, "--service-level", "0.9", "--service-type", "fill-rate"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "sop safety-stock: error: --service-type fill-rate needs --order-qty (units per order) "
        "or --review-period (order-up-to)\n"
    )
    with pytest.raises(SystemExit) as exc:
        main([*LEGO, "--service-level", "high"])
    assert exc.value.code == 2 and "'high' is not a number" in capsys.readouterr().err
