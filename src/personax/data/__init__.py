"""PersonaX tables: reading, writing, column conventions, validation, the embedded sample."""

from personax.data.table import ColumnGroups, column_groups, read_table, write_table

__all__ = ["ColumnGroups", "column_groups", "read_table", "write_table"]
