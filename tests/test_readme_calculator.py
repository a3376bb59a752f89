"""The README's ASE-calculator example runs as written, on the shared test model."""

from __future__ import annotations

import contextlib
import io

from tests.conftest import REPO

MARKER = "<!-- readme-calculator-example"


def readme_example() -> str:
    """The Python block that follows the marker in README.md."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    after = text[text.index(MARKER) :]
    start = after.index("```python\n") + len("```python\n")
    return after[start : after.index("```", start)]


def test_readme_calculator_example_runs(lattice_run):
    code = readme_example()
    assert "DkluqCalculator" in code and "FrechetCellFilter" in code and "EquationOfState" in code
    code = code.replace("runs/srtio3/model.pt", str(lattice_run / "model.pt"))
    out = io.StringIO()
    scope: dict = {}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), scope)
    printed = out.getvalue()
    assert "relaxed:" in printed and "ASE EOS: a0 =" in printed
    a0 = scope["v0"] ** (1 / 3)
    assert 3.85 < a0 < 4.05
    assert abs(scope["atoms"].get_stress()).max() / scope["GPa"] < 0.1
