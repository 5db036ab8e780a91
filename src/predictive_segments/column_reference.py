"""Column reference for BI users, generated from the dbt YAML docs.

The YAML files that document the marts and the exports are the contract (every
column has a name, a data type and a description); this module renders them
as one Markdown page, ``docs/columns.md``, so that a BI user can read them
without dbt. It reads every ``*.yml`` in ``models/marts`` and
``models/exports``, the folder's ``_<folder>__models.yml`` first, then the
others by name; files without models (exposures) add nothing. Run from the
project root::

    python -m predictive_segments.column_reference           # write the page
    python -m predictive_segments.column_reference --check   # fail if stale

Models whose name starts with ``int_`` (internal, not published) are left out.
YAML anchors, aliases and merge keys (``<<: *x``) are resolved by PyYAML.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_DIRS = (Path("models/marts"), Path("models/exports"))
DEFAULT_OUTPUT = Path("docs/columns.md")
REGENERATE_COMMAND = ".venv/bin/python -m predictive_segments.column_reference"
INTERNAL_PREFIX = "int_"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    description: str
    is_sensitive: bool = False


@dataclass(frozen=True)
class Model:
    name: str
    description: str
    source: str
    columns: tuple[Column, ...]


def _one_line(text: object) -> str:
    """Collapse a YAML (folded or literal) string to one line of Markdown."""
    if text is None:
        return ""
    return " ".join(str(text).split())


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell (pipes escaped)."""
    return _one_line(text).replace("|", "\\|")


def _is_sensitive(column: dict) -> bool:
    meta = {
        **(column.get("meta") or {}),
        **((column.get("config") or {}).get("meta") or {}),
    }
    return bool(meta.get("sensitive"))


def load_models(path: Path, source: str | None = None) -> list[Model]:
    """Return the published models documented in one dbt properties file.

    `source` is the path shown in the page (default: `path` as given). A file
    without a ``models`` list gives no models; a model or column without a
    name is an error that names the file.
    """
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a dbt properties file (a YAML mapping)")
    models = []
    for position, entry in enumerate(document.get("models") or [], start=1):
        if not isinstance(entry, dict) or not entry.get("name"):
            raise ValueError(f"{path}: model number {position} has no name")
        if str(entry["name"]).startswith(INTERNAL_PREFIX):
            continue
        columns = []
        for column in entry.get("columns") or []:
            if not isinstance(column, dict) or not column.get("name"):
                raise ValueError(
                    f"{path}: a column of model {entry['name']} has no name"
                )
            columns.append(
                Column(
                    name=str(column["name"]),
                    data_type=_one_line(column.get("data_type")),
                    description=_one_line(column.get("description")),
                    is_sensitive=_is_sensitive(column),
                )
            )
        models.append(
            Model(
                name=str(entry["name"]),
                description=_one_line(entry.get("description")),
                source=source if source is not None else str(path),
                columns=tuple(columns),
            )
        )
    return models


def render(models: Iterable[Model]) -> str:
    """Return the Markdown page: a contents list, then one table per model."""
    models = list(models)
    lines = [
        "# Column reference",
        "",
        "<!-- Generated from the dbt YAML docs; do not edit. Regenerate with",
        f"     {REGENERATE_COMMAND} -->",
        "",
        "Every column of the tables and files a BI or activation tool reads, with",
        "its type and meaning, as documented (and, for contracted models, enforced)",
        "in the dbt YAML files named under each model. Money is in the reporting",
        "currency (EUR), major units; every row is computed as of `as_of_date`.",
        "",
    ]
    lines += [f"- [`{model.name}`](#{model.name})" for model in models]
    for model in models:
        lines += ["", f"## {model.name}", ""]
        if model.description:
            lines += [model.description, ""]
        lines += [f"Documented in `{model.source}`.", ""]
        if not model.columns:
            lines.append("No columns documented.")
            continue
        lines += ["| column | type | description |", "| --- | --- | --- |"]
        for column in model.columns:
            description = _cell(column.description)
            if column.is_sensitive and not description.lower().startswith("sensitive"):
                description = f"SENSITIVE. {description}".rstrip()
            lines.append(
                f"| `{column.name}` | {_cell(column.data_type)} | {description} |"
            )
    return "\n".join(lines) + "\n"


def discover_sources(
    project_dir: Path, directories: Sequence[Path] = DEFAULT_DIRS
) -> list[Path]:
    """Return the properties files of `directories`, relative to `project_dir`.

    Per directory, ``_<directory>__models.yml`` comes first, then the other
    ``*.yml`` files by name.
    """
    sources = []
    for directory in directories:
        main_file = f"_{directory.name}__models.yml"
        files = sorted(
            (project_dir / directory).glob("*.yml"),
            key=lambda path: (path.name != main_file, path.name),
        )
        sources += [directory / path.name for path in files]
    return sources


def generate(project_dir: Path, sources: Sequence[Path] | None = None) -> str:
    """Return the page for the properties files `sources` (under `project_dir`).

    Default: every properties file of the marts and exports folders.
    """
    if sources is None:
        sources = discover_sources(project_dir)
    models = []
    for source in sources:
        models += load_models(project_dir / source, source=source.as_posix())
    return render(models)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the page, or with --check compare it; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m predictive_segments.column_reference",
        description="Generate docs/columns.md from the marts and exports YAML docs.",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 when the page differs from what would be written",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path("."),
        help="the dbt project (default: the current directory)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"the page, relative to the project (default: {DEFAULT_OUTPUT})",
    )
    args = parser.parse_args(argv)
    if not discover_sources(args.project_dir):
        folders = " or ".join(str(args.project_dir / d) for d in DEFAULT_DIRS)
        print(
            f"no YAML files in {folders}: run from the project root "
            "or pass --project-dir",
            file=sys.stderr,
        )
        return 2
    page = generate(args.project_dir)
    output = args.project_dir / args.output
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != page:
            state = "is missing" if current is None else "is out of date"
            print(
                f"{args.output} {state} with the YAML docs: run `{REGENERATE_COMMAND}`"
                " from the project root and commit the result",
                file=sys.stderr,
            )
            return 1
        print(f"{args.output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
