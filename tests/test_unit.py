"""Runs each C unit test (tests/unit, built with AddressSanitizer) as a pytest test."""
import os
import subprocess

import pytest

from conftest import ROOT

UNIT_TESTS = os.environ.get("UNIT_TESTS", str(ROOT / "build" / "unit_tests"))


def unit_test_names():
    listed = subprocess.run([UNIT_TESTS, "--list"], capture_output=True, text=True, check=True)
    return listed.stdout.split()


@pytest.mark.parametrize("name", unit_test_names())
def test_unit(name):
    result = subprocess.run([UNIT_TESTS, name], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
