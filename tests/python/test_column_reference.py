"""The column reference page (docs/columns.md) is generated from the YAML docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from predictive_segments import column_reference

PROJECT_DIR = Path(__file__).resolve().parents[2]

PROPERTIES = """\
version: 2

x-customer-id: &customer_id
  name: customer_id
  data_type: varchar
  description: Customer key (primary key).
  data_tests: [unique, not_null]

x-as-of-date: &as_of_date
  name: as_of_date
  data_type: date
  description: >
    The date the row is
    computed as of.

models:
  - name: dim_things
    description: >
      One row per thing,
      folded over two lines.
    columns:
      - *customer_id
      - name: label
        data_type: varchar
        description: A | pipe in a cell.
      - name: gender
        data_type: varchar
        description: For fairness monitoring only.
        config:
          meta:
            sensitive: true
      - <<: *as_of_date
        description: Overridden through a merge key.
  - name: int_hidden
    description: Internal, never published.
    columns:
      - *customer_id
  - name: rpt_bare
"""


def test_committed_page_matches_the_yaml_docs():
    committed = (PROJECT_DIR / column_reference.DEFAULT_OUTPUT).read_text(
        encoding="utf-8"
    )
    assert committed == column_reference.generate(PROJECT_DIR), (
        "docs/columns.md is out of date with the YAML docs: run "
        f"`{column_reference.REGENERATE_COMMAND}` and commit it"
    )


def test_anchors_aliases_and_merge_keys_are_resolved(tmp_path):
    path = tmp_path / "_models.yml"
    path.write_text(PROPERTIES, encoding="utf-8")

    models = column_reference.load_models(path, source="models/_models.yml")

    assert [model.name for model in models] == ["dim_things", "rpt_bare"]
    things = models[0]
    assert things.description == "One row per thing, folded over two lines."
    assert [(c.name, c.data_type, c.description) for c in things.columns] == [
        ("customer_id", "varchar", "Customer key (primary key)."),
        ("label", "varchar", "A | pipe in a cell."),
        ("gender", "varchar", "For fairness monitoring only."),
        ("as_of_date", "date", "Overridden through a merge key."),
    ]
    assert [c.is_sensitive for c in things.columns] == [False, False, True, False]
    assert models[1].columns == ()


def test_page_has_one_table_per_model(tmp_path):
    path = tmp_path / "_models.yml"
    path.write_text(PROPERTIES, encoding="utf-8")

    page = column_reference.render(column_reference.load_models(path, source="x.yml"))

    assert "- [`dim_things`](#dim_things)" in page
    assert "## dim_things\n\nOne row per thing, folded over two lines.\n" in page
    assert "| `customer_id` | varchar | Customer key (primary key). |" in page
    assert "| `label` | varchar | A \\| pipe in a cell. |" in page
    assert "| `gender` | varchar | SENSITIVE. For fairness monitoring only. |" in page
    assert "int_hidden" not in page
    assert "## rpt_bare\n\nDocumented in `x.yml`.\n\nNo columns documented." in page


def _project(tmp_path: Path) -> Path:
    marts = tmp_path / "models" / "marts"
    marts.mkdir(parents=True)
    (marts / "_marts__models.yml").write_text(PROPERTIES, encoding="utf-8")
    return tmp_path


def test_every_properties_file_of_the_folders_is_read_main_file_first(tmp_path):
    project = _project(tmp_path)
    marts = project / "models" / "marts"
    (marts / "_exposures.yml").write_text("version: 2\nexposures: []\n")
    (marts / "_a_history.yml").write_text(
        "version: 2\nmodels:\n  - name: rpt_history\n    description: Later.\n"
    )
    exports = project / "models" / "exports"
    exports.mkdir()
    (exports / "_exports__models.yml").write_text(
        "version: 2\nmodels:\n  - name: exp_file\n"
    )

    assert column_reference.discover_sources(project) == [
        Path("models/marts/_marts__models.yml"),
        Path("models/marts/_a_history.yml"),
        Path("models/marts/_exposures.yml"),
        Path("models/exports/_exports__models.yml"),
    ]
    page = column_reference.generate(project)
    order = ["## dim_things", "## rpt_bare", "## rpt_history", "## exp_file"]
    assert [page.index(heading) for heading in order] == sorted(
        page.index(heading) for heading in order
    )
    assert "Documented in `models/marts/_a_history.yml`." in page


def test_check_fails_when_the_page_is_stale_and_passes_once_written(tmp_path, capsys):
    project = _project(tmp_path)
    args = ["--project-dir", str(project)]

    assert column_reference.main([*args, "--check"]) == 1
    assert "docs/columns.md is missing" in capsys.readouterr().err

    assert column_reference.main(args) == 0
    assert column_reference.main([*args, "--check"]) == 0

    page = project / column_reference.DEFAULT_OUTPUT
    page.write_text(page.read_text() + "edited by hand\n")
    assert column_reference.main([*args, "--check"]) == 1
    err = capsys.readouterr().err
    assert "is out of date" in err
    assert column_reference.REGENERATE_COMMAND in err


def test_outside_the_project_it_says_where_to_run(tmp_path, capsys):
    assert column_reference.main(["--project-dir", str(tmp_path)]) == 2
    assert "run from the project root" in capsys.readouterr().err


def test_a_model_without_a_name_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "_bad.yml"
    path.write_text("version: 2\nmodels:\n  - description: no name\n")
    with pytest.raises(ValueError, match=r"_bad\.yml: model number 1 has no name"):
        column_reference.load_models(path)
