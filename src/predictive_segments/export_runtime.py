"""dbt-duckdb plugin: what the exports need at run time and dbt must not see.

With this plugin (profiles.yml `plugins:`) every DuckDB connection of a build
has three SQL functions:

- `segments_export_salt()`: the salt that pseudonymizes customer ids in the
  exports (int_customer_ids_pseudonymized), read from the environment
  variable SEGMENTS_EXPORT_SALT by this process. dbt never reads it: a value
  that passes through `env_var()` in Jinja is written to the manifest, the
  partial parse, the compiled SQL, run_results.json and dbt.log, and with the
  salt anyone can recompute the pseudonyms of candidate ids. The SQL names
  the function, DuckDB calls it while the query runs.
- `segments_export_salt_problem()`: null when the salt can be used, else a
  message that says what to do (the model stops the build with it).
- `segments_absolute_path(path)`: `path` made absolute against the directory
  dbt runs in, so that the warehouse's export views read their own files
  wherever a reader opens the warehouse from.
"""

from __future__ import annotations

import os
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin

SALT_VARIABLE = "SEGMENTS_EXPORT_SALT"
MIN_SALT_LENGTH = 16
SALT_FUNCTION = "segments_export_salt"
SALT_PROBLEM_FUNCTION = "segments_export_salt_problem"
ABSOLUTE_PATH_FUNCTION = "segments_absolute_path"


def salt_problem(salt: str | None) -> str | None:
    """What is wrong with `salt` as an export salt, as a message for the user
    (it never contains the salt); None when it can be used."""
    if salt and len(salt) >= MIN_SALT_LENGTH:
        return None
    state = (
        "not set or empty" if not salt else f"shorter than {MIN_SALT_LENGTH} characters"
    )
    return (
        f"var export_hash_customer_ids is true but the environment variable "
        f"{SALT_VARIABLE} is {state}: export {SALT_VARIABLE}=<a secret of at "
        f"least {MIN_SALT_LENGTH} characters, the same for every build> (e.g. "
        "`openssl rand -hex 32`), or set export_hash_customer_ids false."
    )


def export_salt() -> str:
    """The export salt from the environment; ValueError (with salt_problem's
    message) when it cannot be used, so that no weak pseudonym is written."""
    salt = os.environ.get(SALT_VARIABLE)
    problem = salt_problem(salt)
    if problem is not None:
        raise ValueError(problem)
    return salt


def export_salt_problem() -> str | None:
    """salt_problem of the salt in the environment."""
    return salt_problem(os.environ.get(SALT_VARIABLE))


def absolute_path(path: str | None) -> str | None:
    """`path` absolute (against the current directory) and normalised."""
    if path is None:
        return None
    return os.path.abspath(os.path.expanduser(path))


class Plugin(BasePlugin):
    """Registers the functions above on every connection of the build."""

    def configure_connection(self, conn: Any) -> None:
        # side_effects: DuckDB calls them when a query runs, never folds
        # them into a constant while planning, and the salt is read once
        # per call, from this process's environment only.
        conn.create_function(
            SALT_FUNCTION, export_salt, [], "VARCHAR", side_effects=True
        )
        conn.create_function(
            SALT_PROBLEM_FUNCTION,
            export_salt_problem,
            [],
            "VARCHAR",
            null_handling="special",
            side_effects=True,
        )
        conn.create_function(
            ABSOLUTE_PATH_FUNCTION,
            absolute_path,
            ["VARCHAR"],
            "VARCHAR",
            side_effects=True,
        )
