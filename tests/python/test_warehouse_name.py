"""warehouse_lock.check_warehouse_name: a quote in the warehouse file's name
stops the build with what to do; quotes and spaces in folders are fine."""

from __future__ import annotations

import pytest

from predictive_segments.warehouse_lock import WarehouseNameError, check_warehouse_name


@pytest.mark.parametrize(
    "path",
    [
        "warehouse.duckdb",
        "/data/it's a folder/the warehouse copy.duckdb",
        ":memory:",
        "md:my_db",
        "",
    ],
)
def test_names_dbt_duckdb_can_quote_pass(path):
    check_warehouse_name(path)


@pytest.mark.parametrize("name", ["it's.duckdb", 'say "hi".duckdb'])
def test_a_quote_in_the_file_name_is_refused_with_a_name_that_works(name):
    with pytest.raises(WarehouseNameError) as error:
        check_warehouse_name(f"/data/it's a folder/{name}")
    message = str(error.value)
    assert name in message or repr(name) in message
    suggested = message.rsplit("SEGMENTS_DB=", 1)[1].rstrip(".")
    check_warehouse_name(suggested)
    assert suggested.startswith("/data/it's a folder/")
