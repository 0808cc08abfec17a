"""Great Expectations suites, one per extract, kept as JSON in `expectations/`.

The suites are generated from `sop_pipeline.contract` (`sop expectations --write`), committed,
and may be edited by hand: the ingest step validates with whatever the JSON says. Each
expectation carries `meta.sop_rule` (what kind of rule it is, used to sort failures) and
`meta.reason` (the sentence a planner reads next to a quarantined row).

Runtime parameters (GX `$PARAMETER`): `as_of` (the cycle date) and `ref__<extract>__<column>`
(the set of valid keys of a referenced extract). An expectation whose reference extract is
absent in this cycle is skipped, and the skip is reported.

This module builds plain dicts; GX is imported only by `to_gx_suite` (it takes ~9 s to import).
"""

from __future__ import annotations

import json
from pathlib import Path

from sop_pipeline.contract import EXTRACTS, Extract

# The rules the loader enforces itself before GX (reading and typing the file).
LOADER_RULES = ("csv_reject", "type")


def _exp(type_: str, rule: str, reason: str, **kwargs) -> dict:
    return {"type": type_, "kwargs": kwargs, "meta": {"sop_rule": rule, "reason": reason}}


def reference_parameter(extract: str, column: str) -> str:
    return f"ref__{extract}__{column}"


def build_suite(extract: Extract) -> dict:
    """The default suite for one extract, derived from the contract."""
    exps: list[dict] = []
    for col in extract.column_names:
        if col not in extract.optional:
            exps.append(_exp("expect_column_to_exist", "structure", f"required column '{col}' is missing", column=col))
    for col in extract.not_null:
        exps.append(
            _exp("expect_column_values_to_not_be_null", "not_null", f"'{col}' is empty but is required", column=col)
        )
    if len(extract.key) == 1:
        exps.append(
            _exp(
                "expect_column_values_to_be_unique",
                "duplicate_key",
                f"duplicate key: another row has the same {extract.key[0]}",
                column=extract.key[0],
            )
        )
    elif len(extract.key) > 1:
        exps.append(
            _exp(
                "expect_compound_columns_to_be_unique",
                "duplicate_key",
                f"duplicate key: another row has the same ({', '.join(extract.key)})",
                column_list=list(extract.key),
            )
        )
    for col, allowed in extract.categories.items():
        exps.append(
            _exp(
                "expect_column_values_to_be_in_set",
                "category",
                f"'{col}' must be one of {', '.join(allowed)}",
                column=col,
                value_set=list(allowed),
            )
        )
    for col, (lo, hi) in extract.ranges.items():
        bounds = {k: v for k, v in (("min_value", lo), ("max_value", hi)) if v is not None}
        if lo is not None and hi is not None:
            text = f"'{col}' must be between {lo:g} and {hi:g}"
        elif lo is not None:
            text = f"'{col}' must not be below {lo:g}" if lo else f"'{col}' must not be negative"
        else:
            text = f"'{col}' must not be above {hi:g}"
        exps.append(_exp("expect_column_values_to_be_between", "range", text, column=col, **bounds))
    for col in extract.positive:
        exps.append(
            _exp(
                "expect_column_values_to_be_between",
                "range",
                f"'{col}' must be above 0 (zero or negative)",
                column=col,
                min_value=0.0,
                strict_min=True,
            )
        )
    for col, (ref_extract, ref_col) in extract.references.items():
        e = _exp(
            "expect_column_values_to_be_in_set",
            "reference",
            f"'{col}' is not a known {ref_col} in {ref_extract}",
            column=col,
            value_set={"$PARAMETER": reference_parameter(ref_extract, ref_col)},
        )
        e["meta"]["references"] = [ref_extract, ref_col]
        exps.append(e)
    if extract.event_date:
        exps.append(
            _exp(
                "expect_column_values_to_be_between",
                "after_as_of",
                f"'{extract.event_date}' is after the cycle's as-of date: excluded from this cycle",
                column=extract.event_date,
                max_value={"$PARAMETER": "as_of"},
            )
        )
    return {
        "name": extract.name,
        "expectations": exps,
        "meta": {"generated_from": "sop_pipeline.contract", "grain": extract.grain, "description": extract.description},
    }


def write_suites(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, extract in EXTRACTS.items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(build_suite(extract), indent=2) + "\n")
        paths.append(path)
    return paths


def load_suite(directory: Path, name: str) -> dict:
    path = directory / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"Great Expectations suite {path} is missing; run `sop expectations --write` to recreate the defaults"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}): {exc.msg}") from None


def to_gx_suite(suite: dict):
    """A `great_expectations.ExpectationSuite` from the JSON dict (imports GX)."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    gx_suite = gx.ExpectationSuite(name=suite["name"])
    for exp in suite["expectations"]:
        gx_suite.add_expectation_configuration(
            ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta=exp.get("meta", {}))
        )
    return gx_suite
