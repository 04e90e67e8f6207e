"""numba's kernel cache is dropped when any source of the package changed
(skeltools/kernel_cache.py), wherever numba keeps it: beside the sources, or in NUMBA_CACHE_DIR."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from skeltools.kernel_cache import STAMP, refresh

from .conftest import REPO

KERNEL = "from numba import njit\nfrom .helpers import helper\n\n\n@njit(cache=True)\ndef kernel():\n    return helper() * 10\n"
HELPER = "from numba import njit\n\n\n@njit\ndef helper():\n    return {value}\n"
RUN = ("import sys\nfrom pathlib import Path\nsys.path.insert(0, sys.argv[1])\n"
       "from skeltools.kernel_cache import refresh\n"
       "if sys.argv[2] == 'refresh':\n    refresh(Path(sys.argv[1]) / 'pkg')\n"
       "from pkg.kern import kernel\nprint(kernel())\n")


def _package(tmp_path, value):
    pkg = tmp_path / "pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "kern.py").write_text(KERNEL)
    (pkg / "helpers.py").write_text(HELPER.format(value=value))
    return pkg


def _kernel_value(tmp_path, env, how="refresh") -> int:
    out = subprocess.run([sys.executable, "-c", RUN, str(tmp_path), how], capture_output=True, text=True, env=env,
                         cwd=str(REPO), timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


@pytest.mark.parametrize("where", ["beside the sources", "NUMBA_CACHE_DIR"])
def test_a_changed_helper_reaches_a_cached_kernel(tmp_path, where):
    """A real cached kernel that inlines a helper from another file: after only the helper's
    file changed, numba alone keeps returning the old value; with refresh, the new one."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    if where == "NUMBA_CACHE_DIR":
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    pkg = _package(tmp_path, 1)
    kern_mtime = (pkg / "kern.py").stat().st_mtime_ns
    assert _kernel_value(tmp_path, env) == 10
    cached = list((tmp_path / "cache").rglob("*.nbi")) if where == "NUMBA_CACHE_DIR" else \
        list((pkg / "__pycache__").glob("*.nbi"))
    assert cached                                                     # numba cached the kernel where expected
    (pkg / "helpers.py").write_text(HELPER.format(value=2))
    assert (pkg / "kern.py").stat().st_mtime_ns == kern_mtime          # the kernel's own file is unchanged
    assert _kernel_value(tmp_path, env, how="numba alone") == 10       # the stale value the module exists to prevent
    assert _kernel_value(tmp_path, env) == 20
    assert _kernel_value(tmp_path, env) == 20                          # and cached again


def test_a_stamp_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / "cache"))
    pkg = _package(tmp_path, 1)
    (pkg / "__pycache__").write_text("a file where the folder would go")   # any OSError, also as root
    assert refresh(pkg) is False


def test_importing_skeltools_stamps_its_cache():
    assert (REPO / "skeltools" / "__pycache__" / STAMP).read_text()
