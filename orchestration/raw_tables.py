"""The raw input tables (interfaces §1, docs/data-model.md) and how each column is typed.

Everything here is data plus SQL text: `loader.py` reads the files, these specs say which
columns exist, which are required, and how a text value becomes a typed value (or a
rejection reason). All parsing happens in DuckDB; no Python loop ever sees a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """How a raw text value is parsed."""

    TEXT = "text"
    CURRENCY = "currency"
    TIMESTAMP = "timestamp"
    DATE = "date"
    AMOUNT = "amount"
    RATE = "rate"
    POINTS = "points"


SQL_TYPES: dict[Kind, str] = {
    Kind.TEXT: "VARCHAR",
    Kind.CURRENCY: "VARCHAR",
    Kind.TIMESTAMP: "TIMESTAMP",
    Kind.DATE: "DATE",
    Kind.AMOUNT: "DECIMAL(18,2)",
    Kind.RATE: "DECIMAL(18,8)",
    Kind.POINTS: "BIGINT",
}

# Shapes a value must have before it is cast; the cast then checks the calendar/range.
# Timestamps: ISO 8601 date, optional time (minutes, seconds, fraction), optional offset
# (`Z`, `+10`, `+1000`, `+10:00`); matched on the upper-cased value so `t`/`z` also pass.
_TIMESTAMP_RE = (
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?( ?(Z|[+-]\d{2}(:?\d{2})?))?$"
)
_DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_DECIMAL_RE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_INTEGER_RE = r"^[+-]?\d+(\.0*)?$"
_CURRENCY_RE = r"^[A-Z]{3}$"

# Longest excerpt of a bad value quoted in a rejection reason.
_QUOTE_CHARS = 60


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = False

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]

    def parse_sql(self, text: str) -> str:
        """SQL turning the (trimmed, non-empty or NULL) text expression into the typed value;
        NULL when it does not parse."""
        return _PARSERS[self.kind](text)

    def problem_sql(self, text: str, parsed: str) -> str:
        """SQL giving this column's rejection reason for a row, or NULL when it is fine.
        `parsed` names the value `parse_sql(text)` gave in the same query: parsing a
        timestamp or an amount twice costs seconds at millions of rows."""
        quoted = f"'''' || left({text}, {_QUOTE_CHARS}) || ''''"
        missing = f"'missing required {self.name}'"
        unparseable = f"'unparseable {self.name}: ' || {quoted}"
        parse_fails = f"{text} is not null and {parsed} is null"
        if self.required:
            return (
                f"case when {text} is null then {missing} when {parse_fails} then {unparseable} end"
            )
        return f"case when {parse_fails} then {unparseable} end"


def _parse_text(text: str) -> str:
    return text


def _parse_currency(text: str) -> str:
    return f"case when regexp_full_match(upper({text}), '{_CURRENCY_RE}') then upper({text}) end"


def _parse_timestamp(text: str) -> str:
    value = f"upper({text})"
    return (
        f"case when regexp_full_match({value}, '{_TIMESTAMP_RE}') "
        f"then timezone('UTC', try_cast({value} as TIMESTAMPTZ)) end"
    )


def _parse_date(text: str) -> str:
    return f"case when regexp_full_match({text}, '{_DATE_RE}') then try_cast({text} as DATE) end"


def _decimal_parser(sql_type: str, pattern: str):
    def parse(text: str) -> str:
        return (
            f"case when regexp_full_match({text}, '{pattern}') "
            f"then try_cast({text} as {sql_type}) end"
        )

    return parse


_PARSERS = {
    Kind.TEXT: _parse_text,
    Kind.CURRENCY: _parse_currency,
    Kind.TIMESTAMP: _parse_timestamp,
    Kind.DATE: _parse_date,
    Kind.AMOUNT: _decimal_parser("DECIMAL(18,2)", _DECIMAL_RE),
    Kind.RATE: _decimal_parser("DECIMAL(18,8)", _DECIMAL_RE),
    Kind.POINTS: _decimal_parser("BIGINT", _INTEGER_RE),
}


@dataclass(frozen=True)
class RawTable:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    must_exist: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    @property
    def has_program(self) -> bool:
        return "program_id" in self.column_names

    def row_key_sql(self, alias: str = "") -> str:
        """SQL building the row key text, e.g. `order_id=o1` or `currency=EUR,...`."""
        prefix = f"{alias}." if alias else ""
        parts = [
            f"'{name}=' || coalesce({prefix}{name}, '(missing)')"
            for name in self.key
            if name != "program_id"
        ]
        return " || ',' || ".join(parts)


def _req(name: str, kind: Kind = Kind.TEXT) -> Column:
    return Column(name, kind, required=True)


RAW_TABLES: tuple[RawTable, ...] = (
    RawTable(
        "customers",
        (
            _req("program_id"),
            _req("customer_id"),
            Column("email"),
            Column("first_name"),
            Column("last_name"),
            Column("birthday", Kind.DATE),
            Column("enrolled_at", Kind.TIMESTAMP),
            Column("unenrolled_at", Kind.TIMESTAMP),
        ),
        key=("program_id", "customer_id"),
        must_exist=True,
    ),
    RawTable(
        "orders",
        (
            _req("program_id"),
            _req("order_id"),
            _req("customer_id"),
            _req("ordered_at", Kind.TIMESTAMP),
            _req("currency", Kind.CURRENCY),
            _req("total_amount", Kind.AMOUNT),
            Column("cancelled_at", Kind.TIMESTAMP),
        ),
        key=("program_id", "order_id"),
        must_exist=True,
    ),
    RawTable(
        "refunds",
        (
            _req("program_id"),
            _req("refund_id"),
            _req("order_id"),
            _req("refunded_at", Kind.TIMESTAMP),
            _req("amount", Kind.AMOUNT),
        ),
        key=("program_id", "refund_id"),
    ),
    RawTable(
        "points_ledger",
        (
            _req("program_id"),
            _req("entry_id"),
            _req("customer_id"),
            _req("occurred_at", Kind.TIMESTAMP),
            _req("activity"),
            _req("points", Kind.POINTS),
            Column("order_id"),
        ),
        key=("program_id", "entry_id"),
    ),
    RawTable(
        "manual_tier_assignments",
        (
            _req("program_id"),
            _req("assignment_id"),
            _req("customer_id"),
            _req("tier_code"),
            _req("assigned_at", Kind.TIMESTAMP),
            Column("reason"),
            Column("assigned_by"),
        ),
        key=("program_id", "assignment_id"),
    ),
    RawTable(
        "fx_rates",
        (
            _req("currency", Kind.CURRENCY),
            _req("quote_currency", Kind.CURRENCY),
            _req("rate_date", Kind.DATE),
            _req("rate", Kind.RATE),
        ),
        key=("currency", "quote_currency", "rate_date"),
    ),
)

RAW_TABLES_BY_NAME: dict[str, RawTable] = {table.name: table for table in RAW_TABLES}

LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_source_file", "VARCHAR"),
    ("_source_row", "BIGINT"),
)

LOAD_REJECTIONS_TABLE = "load_rejections"
LOAD_REJECTIONS_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source_table", "VARCHAR"),
    ("program_id", "VARCHAR"),
    ("row_key", "VARCHAR"),
    ("reason", "VARCHAR"),
    *LINEAGE_COLUMNS,
)
