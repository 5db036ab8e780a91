"""scikit-learn and XGBoost are imported in one place (predictive_segments.ml_libs).

dbt-duckdb runs Python models in worker threads of one process; two threads
importing scikit-learn for the first time at once get a partially initialized
module (see the ml_libs docstring). These tests check the rule and the race.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "predictive_segments"
PYTHON_MODELS = ROOT / "python_models"
GUARDED = ("sklearn", "xgboost")


def _guarded_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
            for name in names
            if name.split(".")[0] in GUARDED
        ]
    return found


def test_only_ml_libs_imports_sklearn_and_xgboost():
    files = [
        path
        for path in [*PACKAGE.rglob("*.py"), *PYTHON_MODELS.glob("*.py")]
        if path != PACKAGE / "ml_libs.py"
    ]
    assert len(files) > 20  # the package and the dbt Python models were found
    offenders = [line for path in files for line in _guarded_imports(path)]
    assert offenders == [], (
        "import scikit-learn and XGBoost through predictive_segments.ml_libs: "
        + "; ".join(offenders)
    )


# Every module that uses scikit-learn or XGBoost, imported by one thread each,
# released together. numpy, pandas and scipy are loaded first so that the
# threads reach scikit-learn at the same moment (with direct sklearn imports,
# clustering and metrics failed in 14 of 20 fresh interpreters).
_RACE = textwrap.dedent(
    """
    import sys
    import threading

    import numpy, pandas, pyarrow, scipy.optimize, scipy.special, scipy.stats

    modules = sys.argv[1:]
    barrier = threading.Barrier(len(modules))
    errors = []

    def load(name):
        barrier.wait()
        try:
            __import__(name)
        except Exception as error:
            errors.append(f"{name}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=load, args=(name,)) for name in modules]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("\\n".join(errors))
    sys.exit(1 if errors else 0)
    """
)


@pytest.mark.parametrize("attempt", range(4))
def test_concurrent_first_imports_succeed(attempt):
    modules = [
        "predictive_segments.clustering",
        "predictive_segments.metrics",
        "predictive_segments.classifier",
        "predictive_segments.uplift",
        "predictive_segments.clv",
        "predictive_segments.lookalike",
    ]
    result = subprocess.run(
        [sys.executable, "-c", _RACE, *modules],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
