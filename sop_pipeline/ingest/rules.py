"""The row-level rules of a Great Expectations suite, evaluated in DuckDB SQL.

The suite JSON in `expectations/` stays the one definition of the rules. For the expectation
types the contract generates (not null, unique, compound unique, in set, not in set, between,
references via `$PARAMETER`), this module writes the SQL that finds *every* failing row of the
staged extract, with GX's semantics: nulls are ignored by every rule except not-null; unique
flags every row of a duplicated value; compound unique flags every row of a duplicated
combination (null equal to null, rows with all values missing ignored).

Any expectation it does not fully understand (another type, `mostly`, `row_condition`,
`ignore_row_if`, a value set of the wrong type for the column ...) returns None and is left to
Great Expectations itself, which also cross-checks the SQL counts (see `loader.gx_check`).
No Dagster and no GX import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

# kwargs that change nothing about which rows fail
_NEUTRAL = {"result_format", "catch_exceptions", "include_config", "meta", "notes", "description", "id"}
_NUMERIC = {"float", "int"}
_TEMPORAL = {"date", "timestamp"}


@dataclass(frozen=True)
class RowRule:
    """One translated expectation: `where` selects failing rows of `_cycle` (alias c)."""

    column: str
    where: str
    value: str  # SQL expression shown as the failing value
    reference: tuple[str, str] | None = None  # (extract, column) for a reference rule
    qualify: str = ""  # window condition (uniqueness), applied after `where`

    def sql(self) -> str:
        """select _source_row, value of the failing rows (reference rules are joined by the loader)."""
        text = f"select c._source_row, {self.value} as value from _cycle c where {self.where}"
        return text + (f" qualify {self.qualify}" if self.qualify else "")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def parse_reference(parameter: str) -> tuple[str, str] | None:
    """`ref__<extract>__<column>` -> (extract, column)."""
    parts = parameter.split("__")
    if len(parts) == 3 and parts[0] == "ref" and all(parts):
        return parts[1], parts[2]
    return None


def _literal(value, typ: str) -> str | None:
    """A SQL literal of `value` for a column of logical type `typ`, or None if the types differ."""
    if value is None or isinstance(value, dict):
        return None
    if typ == "str":
        return sql_str(value) if isinstance(value, str) else None
    if typ in _NUMERIC:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return repr(float(value)) if typ == "float" else (str(int(value)) if float(value).is_integer() else None)
    if typ == "bool":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if typ in _TEMPORAL:
        if isinstance(value, (date, datetime)):
            value = value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
        if not isinstance(value, str):
            return None
        return f"timestamp {sql_str(value)}" if typ == "timestamp" else f"cast({sql_str(value)} as timestamp)"
    return None


def _bound(value, typ: str, parameters: dict) -> str | None:
    if isinstance(value, dict):
        name = value.get("$PARAMETER")
        if set(value) != {"$PARAMETER"} or name not in parameters:
            return None
        value = parameters[name]
        if hasattr(value, "to_pydatetime"):
            value = value.to_pydatetime()
    return _literal(value, typ)


def translate(exp: dict, columns: dict[str, str], parameters: dict) -> RowRule | None:
    """SQL for one expectation, or None when it should be left to GX."""
    kwargs = {k: v for k, v in exp.get("kwargs", {}).items() if k not in _NEUTRAL}
    mostly = kwargs.pop("mostly", 1)
    if mostly not in (1, 1.0, None):
        return None
    typ = exp.get("type", "")
    if typ == "expect_compound_columns_to_be_unique":
        cols = kwargs.pop("column_list", None)
        if kwargs.pop("ignore_row_if", "all_values_are_missing") != "all_values_are_missing" or kwargs:
            return None
        if not cols or any(c not in columns for c in cols):
            return None
        part = ", ".join(f"c.{q(c)}" for c in cols)
        show = " || ', ' || ".join(f"coalesce(cast(c.{q(c)} as varchar), '')" for c in cols)
        return RowRule(
            ",".join(cols),
            f"not ({' and '.join(f'c.{q(c)} is null' for c in cols)})",
            show,
            qualify=f"count(*) over (partition by {part}) > 1",
        )
    column = kwargs.pop("column", None)
    if column not in columns:
        return None
    col_type = columns[column]
    ref = f"c.{q(column)}"
    show = f"cast({ref} as varchar)"
    if typ == "expect_column_values_to_not_be_null" and not kwargs:
        return RowRule(column, f"{ref} is null", "''")
    if typ == "expect_column_values_to_be_unique" and not kwargs:
        return RowRule(column, f"{ref} is not null", show, qualify=f"count(*) over (partition by {ref}) > 1")
    if typ in ("expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"):
        value_set = kwargs.pop("value_set", None)
        if kwargs:
            return None
        negate = typ.endswith("not_be_in_set")
        if isinstance(value_set, dict):
            target = parse_reference(value_set.get("$PARAMETER", "")) if set(value_set) == {"$PARAMETER"} else None
            if target is None or negate:
                return None
            return RowRule(column, f"{ref} is not null", show, reference=target)
        if not isinstance(value_set, list) or not value_set:
            return None
        literals = [_literal(v, col_type) for v in value_set]
        if any(lit is None for lit in literals):
            return None
        op = "in" if negate else "not in"
        return RowRule(column, f"{ref} is not null and {ref} {op} ({', '.join(literals)})", show)
    if typ == "expect_column_values_to_be_between":
        lo, hi = kwargs.pop("min_value", None), kwargs.pop("max_value", None)
        strict_lo, strict_hi = bool(kwargs.pop("strict_min", False)), bool(kwargs.pop("strict_max", False))
        if kwargs or (lo is None and hi is None) or col_type not in _NUMERIC | _TEMPORAL:
            return None
        conds = []
        for value, strict, fail_op, fail_strict in ((lo, strict_lo, "<", "<="), (hi, strict_hi, ">", ">=")):
            if value is None:
                continue
            lit = _bound(value, col_type, parameters)
            if lit is None:
                return None
            conds.append(f"{ref} {fail_strict if strict else fail_op} {lit}")
        return RowRule(column, f"{ref} is not null and ({' or '.join(conds)})", show)
    return None
