"""Every dbt.ref in python_models/ is one that dbt's parser sees.

dbt finds the refs of a Python model by walking its syntax tree, but not
everywhere: a dbt.ref inside a subscript (`f(dbt.ref("x").df()["d"])`) is
missed, the model gets no dependency on "x", and the build fails at run time
with KeyError: 'x'. This test compares dbt's own visitor with every
dbt.ref("...") call in the source.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from dbt.parser.models import PythonParseVisitor

PYTHON_MODELS = sorted(
    (Path(__file__).resolve().parents[2] / "python_models").glob("*.py")
)


def _all_refs(tree: ast.AST) -> list[str]:
    """The first argument of every dbt.ref(...) call anywhere in `tree`."""
    refs = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "ref"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "dbt"
        ):
            refs.append(ast.literal_eval(node.args[0]))
    return refs


def _refs_seen_by_dbt(tree: ast.AST) -> list[str]:
    visitor = PythonParseVisitor(dbt_node=None)
    visitor.visit(tree)
    return [args[0] for name, args, _ in visitor.dbt_function_calls if name == "ref"]


@pytest.mark.parametrize("path", PYTHON_MODELS, ids=lambda p: p.stem)
def test_dbt_sees_every_ref(path: Path):
    tree = ast.parse(path.read_text())
    assert sorted(set(_refs_seen_by_dbt(tree))) == sorted(set(_all_refs(tree)))


def test_a_ref_inside_a_subscript_is_caught():
    # The case this test exists for: dbt misses it, _all_refs does not.
    tree = ast.parse('def model(dbt, s):\n    f(dbt.ref("x").df()["d"])\n')
    assert _all_refs(tree) == ["x"]
    assert _refs_seen_by_dbt(tree) == []
