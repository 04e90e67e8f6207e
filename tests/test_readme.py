"""The README's result tables are generated from benchmarks/results by scripts/readme_tables.py."""
from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def test_readme_tables_match_the_results_files():
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "readme_tables.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
