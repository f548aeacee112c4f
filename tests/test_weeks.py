"""Every test module belongs to a course week, so `scripts/test -m weekN` runs all of that week."""

import subprocess
import sys

from tests.conftest import ROOT, WEEKS_BY_MODULE, week_module


def test_every_test_module_is_in_the_week_table():
    modules = {week_module(path) for path in (ROOT / "tests").rglob("test_*.py")}
    missing = sorted(modules - set(WEEKS_BY_MODULE))
    assert missing == [], f"add these to WEEKS_BY_MODULE in tests/conftest.py: {missing}"


def collected(marker: str) -> list[str]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-m",
            marker,
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_week_markers_select_that_weeks_tests():
    week4, week5 = collected("week4"), collected("week5")
    assert any(i.startswith("tests/test_auth.py::") for i in week4)
    assert not any(i.startswith("tests/test_checkout.py::") for i in week4)
    assert any(i.startswith("tests/test_checkout.py::") for i in week5)
    assert any(i.startswith("tests/test_cart.py::") and "delete" in i for i in week5)
    assert not any(i.startswith("tests/test_auth.py::") for i in week5)
