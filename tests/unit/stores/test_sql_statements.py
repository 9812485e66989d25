"""The n-row upsert of PostgreSQL and SQLite is built from the one-row template (its VALUES row repeated):
the very text SQLAlchemy's compile of n rows gives, with the same typed parameters."""

from __future__ import annotations

import pytest

from shared.stores.sql import statements
from shared.stores.sql.schema import COLUMNS, trades_table


@pytest.mark.parametrize("dialect_name", ["sqlite", "postgresql"])
@pytest.mark.parametrize("n", [1, 2, 3, 11, 64])
def test_the_built_upsert_is_the_text_sqlalchemy_compiles_with_the_same_parameters(
    dialect_name: str, n: int
) -> None:
    built = statements.upsert_statement(dialect_name, n)
    assert built.text == statements.compiled_upsert_text(dialect_name, n)  # type: ignore[attr-defined]
    table = trades_table(dialect_name)
    binds = built._bindparams  # type: ignore[attr-defined]
    assert list(binds) == [f"{c}_{i}" for i in range(n) for c in COLUMNS]
    for i in range(n):
        for c in COLUMNS:
            assert type(binds[f"{c}_{i}"].type) is type(table.c[c].type)
