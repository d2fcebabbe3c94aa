"""PersonaX tables: reading, writing, column conventions, validation, the embedded sample."""

from personax.data.aliases import AliasResult, canonicalize_columns
from personax.data.table import (
    ColumnGroups,
    column_groups,
    read_raw_table,
    read_table,
    read_table_with_aliases,
    write_table,
)
from personax.data.validate import Issue, ValidationReport, validate_table

__all__ = [
    "AliasResult",
    "ColumnGroups",
    "Issue",
    "ValidationReport",
    "canonicalize_columns",
    "column_groups",
    "read_raw_table",
    "read_table",
    "read_table_with_aliases",
    "validate_table",
    "write_table",
]
