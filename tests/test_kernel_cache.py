"""numba's kernel cache is dropped when any source of the package changed (skeltools/kernel_cache.py)."""
from __future__ import annotations

from skeltools.kernel_cache import STAMP, refresh

from .conftest import REPO


def _package(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "formats" / "__pycache__").mkdir(parents=True)
    (pkg / "kernels.py").write_text("@njit\ndef helper(): return 1\n")
    (pkg / "formats" / "ntu.py").write_text("@njit\ndef parse(): return 2\n")
    (pkg / "cli.py").write_text("def main(): pass\n")
    return pkg


def _cached(pkg):
    """numba's files for a kernel of formats/ntu.py, as it writes them."""
    files = [pkg / "formats" / "__pycache__" / n for n in ("ntu.parse-1.py311.nbi", "ntu.parse-1.py311.1.nbc")]
    for f in files:
        f.write_bytes(b"compiled")
    return files


def test_a_change_in_another_file_drops_the_cached_kernels(tmp_path):
    pkg = _package(tmp_path)
    assert refresh(pkg) and (pkg / "__pycache__" / STAMP).exists()
    files = _cached(pkg)
    assert not refresh(pkg) and all(f.exists() for f in files)          # nothing changed: the cache stays
    stat = (pkg / "formats" / "ntu.py").stat()
    (pkg / "cli.py").write_text("def main(): return 1\n")             # no kernel there: the cache stays
    assert not refresh(pkg) and all(f.exists() for f in files)
    (pkg / "kernels.py").write_text("@njit\ndef helper(): return 3\n")  # only the helper's file changes
    assert refresh(pkg) and not any(f.exists() for f in files)
    assert (pkg / "formats" / "ntu.py").stat().st_mtime == stat.st_mtime  # numba alone would not have seen it


def test_a_stamp_that_cannot_be_written_is_no_error(tmp_path):
    pkg = _package(tmp_path)
    (pkg / "__pycache__").write_text("a file where the folder would go")   # any OSError, also as root
    assert refresh(pkg) is False


def test_importing_skeltools_stamps_its_cache():
    assert (REPO / "skeltools" / "__pycache__" / STAMP).read_text()
