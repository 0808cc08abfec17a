"""`sop safety-stock`: safety stock and reorder point of one item, from the command line.

    sop safety-stock --mean-demand 2500 --sd-demand 500 --mean-lead-time 2 --service-level 0.9
    sop safety-stock --mean-demand 2500 --sd-demand 500 --mean-lead-time 2 --service-level 0.975 \\
        --service-type fill-rate --order-qty 10000 --json

Demand is per period and lead time in the same periods (weeks and weeks, or days and days).
Exit codes: 0 success, 2 bad input (one line on stderr saying what to fix).
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from sop_pipeline.analytics.safety_stock import (
    DEFAULT_MIN_CYCLE_SERVICE,
    SafetyStockInputError,
    SafetyStockResult,
    safety_stock,
)

COMMAND = "safety-stock"

_DESCRIPTION = """\
Safety stock, reorder point and safety factor (z for cycle service, k for fill rate) of one
item, with the formulas of the S&OP pipeline.

  sigma_DL      = sqrt((L + R) * sd_D^2 + D^2 * sd_L^2)   sd of demand over lead time + review
  cycle (alpha) : SS = z(alpha) * sigma_DL
  fill-rate     : smallest k with sigma_DL * G(k) <= (1 - beta) * Q, SS = k * sigma_DL
                  (with --review-period R > 0: order-up-to, Q = D * R, one period's demand)
  floor         : SS >= z(min(target, --min-cycle-service)) * sigma_DL (both service types)
  reorder point = D * (L + R) + SS   (the order-up-to level with a review period)

Demand is per period and the lead time and review period are in the same periods. k is
reported raw (it can be negative when Q is large); the safety stock is floored at 0. When the
lead-time demand's CV (sigma_DL / mean) exceeds 0.5 the auto distribution switches from the
normal to a gamma with the same mean and sd, which never puts mass on negative demand.
"""


def _number(text: str) -> float:
    """argparse type: a finite number, with a message a planner understands."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the `safety-stock` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        COMMAND,
        help="safety stock and reorder point of one item (cycle service or fill rate)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--mean-demand",
        type=_number,
        required=True,
        metavar="D",
        help="mean demand per period, in units (e.g. 2500 units/week); >= 0",
    )
    p.add_argument(
        "--sd-demand",
        type=_number,
        required=True,
        metavar="S",
        help="standard deviation of demand (or of forecast error) per period, in units; >= 0",
    )
    p.add_argument(
        "--mean-lead-time",
        type=_number,
        required=True,
        metavar="L",
        help="mean replenishment lead time, in the same periods as the demand; >= 0",
    )
    p.add_argument(
        "--sd-lead-time",
        type=_number,
        default=0.0,
        metavar="SL",
        help="standard deviation of the lead time, in periods; >= 0 (default 0: fixed lead time)",
    )
    p.add_argument(
        "--service-level",
        type=_number,
        required=True,
        metavar="P",
        help="target strictly between 0 and 1: cycle service level or fill rate (0.95 = 95%%)",
    )
    p.add_argument(
        "--service-type",
        choices=("cycle", "fill-rate"),
        default="cycle",
        help="cycle: probability of no stockout per replenishment cycle (alpha, default); "
        "fill-rate: share of demand met from stock (beta, needs --order-qty under continuous review)",
    )
    p.add_argument(
        "--order-qty",
        type=_number,
        default=None,
        metavar="Q",
        help="order quantity in units per order; required for --service-type fill-rate under "
        "continuous review, not allowed with --review-period (each order is then D * R)",
    )
    p.add_argument(
        "--review-period",
        type=_number,
        default=0.0,
        metavar="R",
        help="periods between inventory reviews; above 0 the policy is order-up-to (R, S) with "
        "S = the reorder point and the protection interval is L + R (default 0: continuous review)",
    )
    p.add_argument(
        "--min-cycle-service",
        type=_number,
        default=DEFAULT_MIN_CYCLE_SERVICE,
        metavar="P",
        help="floor: the safety stock is at least z(min(--service-level, P)) x sigma_DL, so "
        f"variable demand always gets some (default {DEFAULT_MIN_CYCLE_SERVICE:g}; 0.5 adds nothing)",
    )
    p.add_argument(
        "--distribution",
        choices=("auto", "normal", "gamma"),
        default="auto",
        help="lead-time demand distribution: auto (gamma when sigma_DL / mean > 0.5, "
        "else normal; default), normal or gamma",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object with keys safety_stock and reorder_point (units), k, "
        "service_type, service_level, sigma_dl (units) and method, instead of text",
    )
    return p


def _text(result: SafetyStockResult, review_period: float) -> str:
    factor = "z" if result.service_type == "cycle" else "k"
    kind = "cycle service level" if result.service_type == "cycle" else "fill rate"
    lines = [
        f"Safety stock for a {result.service_level:.1%} {kind} ({result.method} lead-time demand"
        + (f", review every {review_period:g} periods)" if review_period else ", continuous review)"),
        f"  lead-time demand     {result.mean_lead_time_demand:,.1f} units (sd sigma_DL {result.sigma_dl:,.1f} units)",
        f"  safety factor {factor}      {result.k:.4f}",
        f"  safety stock         {result.safety_stock:,.1f} units"
        + (
            "  (set by the minimum cycle service: k is below it)"
            if result.min_cycle_service_binds
            else "  (floored at 0: k is negative)"
            if result.k < 0 and result.method != "none"
            else ""
        ),
        f"  reorder point        {result.reorder_point:,.1f} units",
    ]
    if result.expected_fill_rate is not None:
        lines.append(
            f"  expected fill rate   {result.expected_fill_rate:.2%}   "
            f"expected cycle service {result.expected_cycle_service:.2%}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compute and print; 0 on success, 2 with a one-line message on stderr for bad input."""
    service_type = "fill_rate" if args.service_type == "fill-rate" else "cycle"
    try:
        if service_type == "fill_rate" and args.order_qty is None and not args.review_period > 0:
            raise SafetyStockInputError(
                "--service-type fill-rate needs --order-qty (units per order) or --review-period (order-up-to)"
            )
        if args.review_period > 0 and args.order_qty is not None:
            raise SafetyStockInputError(
                "--order-qty applies to continuous review only: with --review-period "
                "the policy is order-up-to and each order is one period's demand"
            )
        result = safety_stock(
            args.mean_demand,
            args.sd_demand,
            args.mean_lead_time,
            args.sd_lead_time,
            service_level=args.service_level,
            service_type=service_type,
            order_qty=args.order_qty,
            review_period=args.review_period,
            method=args.distribution,
            min_cycle_service=args.min_cycle_service,
        )
    except SafetyStockInputError as exc:
        print(f"sop {COMMAND}: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(_text(result, args.review_period))
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m sop_pipeline.commands.safety_stock [safety-stock] --mean-demand ...`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] != [COMMAND]:
        argv = [COMMAND, *argv]
    parser = argparse.ArgumentParser(prog="sop")
    add_parser(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
