"""The compiled `.skeleton` parser against genuine files, hand-written files and an
independent line-by-line reference reader."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from skeltools.bodies import select_bodies
from skeltools.formats.ntu import parse_ntu_bytes, read_ntu
from skeltools.formats.raw_sample import SampleError


def reference_read(path):
    """The widely copied readline/split/float reader, as an independent reference."""
    with open(path) as f:
        n_frames = int(f.readline())
        recs = []
        for t in range(n_frames):
            for _ in range(int(f.readline())):
                body_id = int(f.readline().split()[0])
                joints = [[float(v) for v in f.readline().split()[:3]] for _ in range(int(f.readline()))]
                recs.append((t, body_id, joints))
    return n_frames, recs


def body(body_id=72057594037931101, joints=25, fmt="{:.4f}", start=0.0):
    lines = [f"{body_id} 0 1 1 1 1 0 0.01 -0.02 2", str(joints)]
    for j in range(joints):
        x = start + j * 0.01
        lines.append(" ".join(fmt.format(v) for v in (x, 1.0 + x, 3.0, 250, 200, 900, 500, 0, 0, 0, 0)) + " 2")
    return lines


def text(frames, eol="\n"):
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for b in bodies:
            lines += b
    return (eol.join(lines) + eol).encode()


def test_genuine_files_match_reference_reader(shared_real):
    for path in sorted((shared_real / "ntu").glob("*.skeleton")):
        s = read_ntu(path)
        n_frames, recs = reference_read(path)
        assert s.n_frames == n_frames and len(s.frame) == len(recs)
        assert np.array_equal(s.body_id, [r[1] for r in recs])
        assert np.array_equal(s.frame, [r[0] for r in recs])
        assert np.array_equal(s.xyz, np.array([r[2] for r in recs], np.float32))   # float(), then float32: exact
    assert read_ntu(shared_real / "ntu" / "S001C001P001R001A001.skeleton").n_frames == 103


def test_files_without_a_final_newline_or_with_trailing_blanks_parse_the_same():
    """The fast path needs the final newline as its sentinel; other endings take the general path."""
    data = text([[body()], [body(start=0.5), body(9, start=0.2)]])
    ref = parse_ntu_bytes(data)
    for variant in (data[:-1], data + b"   ", data[:-1] + b"\t", data + b"\n\n"):
        got = parse_ntu_bytes(variant)
        assert np.array_equal(got.xyz, ref.xyz) and np.array_equal(got.body_id, ref.body_id)


def test_crlf_and_lf_parse_the_same(shared_real):
    lf = read_ntu(shared_real / "ntu" / "S001C001P001R001A001.skeleton")
    crlf = read_ntu(shared_real / "ntu_crlf" / "S001C001P001R001A001.skeleton")
    assert np.array_equal(lf.xyz, crlf.xyz) and np.array_equal(lf.body_id, crlf.body_id)


def test_empty_frames_several_bodies_exponents_and_64bit_ids():
    big_id = 9223372036854775807
    data = text([[], [body(big_id, fmt="{:.6e}"), body(5, start=0.5)], [], [body(5, start=0.5)]], eol="\r\n")
    s = parse_ntu_bytes(data)
    assert s.n_frames == 4
    assert s.frame.tolist() == [1, 1, 3]
    assert s.body_id.tolist() == [big_id, 5, 5]
    assert s.xyz[0, 3].tolist() == pytest.approx([0.03, 1.03, 3.0], rel=1e-6)
    assert s.xyz[1, 0, 0] == pytest.approx(0.5)


def test_floats_equal_python_float_conversion():
    rng = np.random.default_rng(0)
    vals = rng.normal(0, 3, size=25 * 3) * 10.0 ** rng.integers(-8, 4, size=75)
    lines = ["1", "1", "7 0 1 1 1 1 0 0 0 2", "25"]
    reprs = [repr(float(v)) if i % 2 else f"{v:.6E}" for i, v in enumerate(vals)]
    for j in range(25):
        lines.append(" ".join(reprs[3 * j:3 * j + 3] + ["1"] * 8 + ["2"]))
    s = parse_ntu_bytes(("\n".join(lines) + "\n").encode())
    assert np.array_equal(s.xyz[0].ravel(), np.array([float(r) for r in reprs], np.float32))


def _coordinates_file(tokens: list[str]) -> bytes:
    """One frame per 75 tokens (25 joints x, y, z), each joint line with its nine other fields."""
    assert len(tokens) % 75 == 0
    frames = len(tokens) // 75
    lines = [str(frames)]
    for f in range(frames):
        lines += ["1", "7 0 1 1 1 1 0 0 0 2", "25"]
        for j in range(25):
            lines.append(" ".join(tokens[75 * f + 3 * j:75 * f + 3 * j + 3] + ["277.419", "-0.2059419"] * 4 + ["2"]))
    return ("\n".join(lines) + "\n").encode()


EDGE_CASES = [
    "0", "-0", "-0.0", "+1.5", "1.", "-3.", ".5", "-.25", "+.125", "0.02764709", "000123.4500", "-0.000001",
    "1e3", "1E+02", "-2.5e-3", "7.2E-08", ".5e1", "3.e2", "1e22", "1e23", "1e-22", "1e-23", "1e-30", "1e38",
    "4.9e-324", "123456789012345", "9007199254740993", "0.1234567890123456789012345", "3.14159265358979323846264",
    "1.000000059604644775390625", "1.0000000596046447753906251", "1.0000000596046447753906249",
    "0.30000001192092896", "99999999999999999999", "1" + "0" * 30 + ".5", "0." + "0" * 25 + "7",
    "-1.17549435082228750797e-38", "3.4028234663852886e+38", "2.2250738585072014e-308",
    # within half a double ulp of a float32 midpoint: 18 digits and one division round these the other way
    "2.4658795595169068401981964", "0.2104467228055000200893442", "-1.9947579503059388071867973",
    "0.9859146177768707412155829", "3.1696835756301878725380319", "3.8008805513381957830377275",
    # 18 digits, all kept, but a mantissa above 2^53: float(mantissa) then a division rounds twice
    "1.99475795030593881", "-3.05600893497467042", "3.25787222385406497", "0.40665717422962190",
]


def test_every_coordinate_is_python_float_then_float32():
    """Edge cases of strtod (signs, exponents, no leading digit, long mantissas, float32
    midpoints), 75 at a time so that each lands in x, y and z."""
    tokens = (EDGE_CASES * 75)[:75 * len(EDGE_CASES)]
    s = parse_ntu_bytes(_coordinates_file(tokens))
    assert np.array_equal(s.xyz.ravel(), np.array([float(t) for t in tokens], np.float32))


def test_a_file_of_long_mantissas_is_read_exactly_beyond_the_first_repair_room():
    rng = np.random.default_rng(1)
    tokens = [f"{v:.25f}" for v in rng.normal(0, 2, 75 * 6)]   # 450 numbers past the fast path's exact range
    tokens[-75:] = (EDGE_CASES[-10:] * 8)[:75]                      # the last frame: the ones that round otherwise
    s = parse_ntu_bytes(_coordinates_file(tokens))
    assert np.array_equal(s.xyz.ravel(), np.array([float(t) for t in tokens], np.float32))


def _line_changed(data: bytes, k: int, new: bytes) -> bytes:
    """`data` with its line k (1-based) replaced by `new` (which may hold several lines)."""
    rows = data.split(b"\n")
    rows[k - 1] = new
    return b"\n".join(rows)


TWO_FRAMES = lambda: text([[body()], [body(start=0.5)]])   # noqa: E731 - lines 30-32: frame 2's count, body, joints


def _bad(data):
    with pytest.raises(SampleError) as e:
        select_bodies(parse_ntu_bytes(data), 2)
    return str(e.value)


@pytest.mark.parametrize("make, expected", [
    (lambda: b"", "empty file"),
    (lambda: b"  \r\n\n", "empty file"),
    (lambda: text([[body()]])[:-300], "truncated"),
    (lambda: text([[body()], [body()]]).replace(b"2\n1\n", b"3\n1\n", 1), "truncated"),
    (lambda: text([[body(joints=24)]]), "wrong joint count: 24 joints, expected 25 (line 4)"),
    (lambda: text([[body()]]).replace(b"3.0000", b"3.0x00", 1), "non-numeric value (line 5)"),
    (lambda: text([[body()]]).replace(b"1\n1\n", b"1\nabc\n", 1), "non-numeric value (line 2)"),
    (lambda: text([[body()], [body()]]).replace(b"2\n1\n", b"1\n1\n", 1), "data after the last declared frame (line 30)"),
    (lambda: text([[body()]]).replace(b" 2\n0.0100", b"\n0.0100", 1), "too few values on a line (line 5)"),
    (lambda: text([[body()]]).replace(b" 2\n0.0100", b" 2 7\n0.0100", 1), "too many values on a line (line 5)"),
    (lambda: text([[body()]]).replace(b"3.0000", b"nan", 1), "non-finite coordinates (NaN or inf) in frame 1"),
    (lambda: text([[], [body()]]).replace(b"3.0000", b"-inf", 1), "non-finite coordinates (NaN or inf) in frame 2"),
    (lambda: text([[], [], []]), "all frames empty: no body in any of 3 frames"),
    (lambda: text([[body()]]).replace(b"72057594037931101", b"7.2e16", 1), "not an integer (line 3)"),
    (lambda: b"-4\n", "implausible count -4"),
    (lambda: text([[body()]]).split(b"\n25\n")[0] + b"\n25\n", "truncated"),        # ends where joints begin
    (lambda: text([[body()]])[:-1] + b" 2\n", "too many values on a line (line 29)"),
    # count and body lines far enough into the file for the byte-parallel path
    (lambda: _line_changed(TWO_FRAMES(), 30, b"1 4"), "too many values on a line (line 30)"),
    (lambda: _line_changed(TWO_FRAMES(), 31, b"72057594037931101 0 1 1 1 1 0 0.01 2"), "too few values on a line (line 31)"),
    (lambda: _line_changed(TWO_FRAMES(), 31, b"72057594037931101 0 1 1 1 1 0 0.01 -0.02 2 9"), "too many values on a line (line 31)"),
    (lambda: _line_changed(TWO_FRAMES(), 32, b"25 25"), "too many values on a line (line 32)"),
    (lambda: _line_changed(TWO_FRAMES(), 31, b"7.2e16 0 1 1 1 1 0 0.01 -0.02 2"), "not an integer (line 31)"),
    (lambda: _line_changed(TWO_FRAMES(), 30, b"1x"), "non-numeric value (line 30)"),
    (lambda: _line_changed(TWO_FRAMES(), 32, b"24"), "wrong joint count: 24 joints, expected 25 (line 32)"),
    (lambda: _line_changed(TWO_FRAMES(), 31, b"\n  \n72057594037931101 0 1 1 1 1 0 0.01 -0.02 2\n25\n0.5x 1 2"),
     "non-numeric value (line 35)"),                    # two blank lines counted
])
def test_every_kind_of_broken_file_has_a_reason(make, expected):
    assert expected in _bad(make())


def test_import_and_help_compile_nothing():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from cli.skel import main\n"
        "r = CliRunner().invoke(main, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'numba' not in sys.modules, 'skel --help imported numba'\n"
        "import skeltools, skeltools.kernels as k, skeltools.formats.ntu as n\n"
        "assert not n.parse_skeleton.signatures and not k.resample_linear.signatures\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def _random_number(rng) -> str:
    """A coordinate in one of the spellings a writer may use (plain, signed, padded, exponent,
    no leading digit, many digits), so that each side of the byte-parallel path's limits is hit."""
    v = rng.normal(0, 1) * 10.0 ** rng.integers(-4, 9)
    form = rng.integers(16)
    if form >= 9:
        return f"{rng.normal(0, 1):.{rng.integers(1, 11)}f}"
    if form == 0:
        return f"{v:.{rng.integers(0, 13)}f}"
    if form == 1:
        return f"{v:+.{rng.integers(1, 8)}f}"
    if form == 2:
        return f"{v:.6e}" if rng.integers(2) else f"{v:.7E}"
    if form == 3:
        return ("-" if v < 0 else "") + "0" * int(rng.integers(1, 6)) + f"{abs(v):.4f}"
    if form == 4:
        return f"{v:.5f}".replace("0.", ".", 1)
    if form == 5:
        return f"{int(v)}" + ("." if rng.integers(2) else "")
    return f"{v:.{rng.integers(4, 9)}g}" if form == 6 else repr(float(np.float32(v)))


def _random_joint_line(rng) -> str:
    blanks = [" ", "  ", "\t", " \r ", " " * int(rng.integers(2, 50))]
    fields = [_random_number(rng) for _ in range(3)]
    rest = [str(rng.choice(["0", "2", "277.419", "-0.2059419", "1036.2337", "8.157031E-05", "1" * 25, "a\x01b", "\x7f"],
                           p=[0.2, 0.2, 0.2, 0.2, 0.1, 0.04, 0.02, 0.02, 0.02])) for _ in range(9)]
    gaps = [str(rng.choice(blanks, p=[0.96, 0.01, 0.01, 0.01, 0.01])) for _ in range(11)]
    lead = str(rng.choice(["", " ", "\t", " " * 70], p=[0.94, 0.02, 0.02, 0.02]))
    return lead + "".join(f + g for f, g in zip(fields + rest, gaps + [""]))


def test_every_line_shape_reads_as_python_float_then_float32():
    """Joint lines of random shapes (spellings, blanks, tabs, CRs, fields that cross 64-byte
    windows, lines of over 128 bytes, control characters in unused fields), against a
    reference that splits the bytes and calls float()."""
    rng = np.random.default_rng(7)
    frames = 40
    lines = [str(frames)]
    for _ in range(frames):
        lines += ["1", "7 0 1 1 1 1 0 0 0 2", "25"] + [_random_joint_line(rng) for _ in range(25)]
    data = ("\n".join(lines) + "\n").encode()
    rows = data.split(b"\n")
    want = [[float(v) for v in row.split()[:3]] for i, row in enumerate(rows[1:-1]) if i % 28 >= 3]
    s = parse_ntu_bytes(data)
    assert s.n_frames == frames
    assert np.array_equal(s.xyz.reshape(-1, 3), np.array(want, np.float32))


def test_a_reused_read_buffer_returns_each_file_exactly(tmp_path, shared_real):
    from skeltools.formats.read_buffer import ReadBuffer
    buffer = ReadBuffer(1024)
    rng = np.random.default_rng(3)
    for size in (0, 10, 1024, 5000, 3, 70000, 1):
        path = tmp_path / f"f{size}"
        path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        assert buffer.read(path).tobytes() == path.read_bytes()
    with pytest.raises(FileNotFoundError):
        buffer.read(tmp_path / "missing")
    for path in sorted((shared_real / "ntu").glob("*.skeleton")):   # the sample does not point into the buffer
        first, again = read_ntu(path, buffer=buffer), read_ntu(path)
        buffer.read(tmp_path / "f70000")
        assert np.array_equal(first.xyz, again.xyz) and np.array_equal(first.body_id, again.body_id)


def test_a_strided_byte_array_parses_as_its_bytes(shared_real):
    """The byte-parallel path reads memory by address, so the kernel must only ever see
    contiguous bytes (a strided view is copied first)."""
    from skeltools.formats.ntu import parse_skeleton
    data = (shared_real / "ntu" / "S001C001P001R001A002.skeleton").read_bytes()
    spread = np.zeros(2 * len(data), np.uint8)
    spread[::2] = np.frombuffer(data, np.uint8)
    assert np.array_equal(parse_ntu_bytes(spread[::2]).xyz, parse_ntu_bytes(data).xyz)
    assert all(sig[0].layout == "C" for sig in parse_skeleton.signatures), parse_skeleton.signatures


def _tokens_reference(data: bytes):
    """An independent reader of well-formed `.skeleton` bytes: the non-blank lines split on
    whitespace, walked by their counts (int() and float() on the tokens)."""
    rows = iter([row.split() for row in data.split(b"\n") if row.split()])
    ids, xyz = [], []
    for _ in range(int(next(rows)[0])):
        for _ in range(int(next(rows)[0])):
            ids.append(int(next(rows)[0]))
            xyz.append([[float(v) for v in next(rows)[:3]] for _ in range(int(next(rows)[0]))])
    return np.array(ids, np.int64), np.array(xyz, np.float32).reshape(len(ids), -1, 3)


def test_count_and_body_lines_of_every_shape_read_as_int():
    """Count lines and body lines in the spellings the byte-parallel path takes and those it
    leaves to the scalar path (blanks around them, blank lines before them, leading zeros,
    IDs of 1 to 19 digits), against the token reference."""
    rng = np.random.default_rng(8)
    blank = lambda: str(rng.choice(["", "", "", " ", "\t", " " * 40, "\r"]))   # noqa: E731
    before = lambda: str(rng.choice(["", "", "", "", "\n", "  \n"]))           # noqa: E731
    frames = 30
    lines = [str(frames)]
    for _ in range(frames):
        bodies = int(rng.integers(0, 3))
        lines.append(before() + blank() + ("0" * int(rng.integers(0, 3))) + str(bodies) + blank())
        for _ in range(bodies):
            digits = int(rng.integers(1, 20))
            body_id = int(rng.integers(10 ** (digits - 1), min(10 ** digits, 2 ** 63)))
            lines.append(before() + blank() + f"{body_id} 0 1 1 1 1 0 0.01 -0.02 2" + blank())
            lines.append(before() + blank() + "25" + blank())
            lines += [f"{rng.normal():.6f} {rng.normal():.6f} {rng.normal() + 3:.5f} 1 2 3 4 5 6 7 8 2" for _ in range(25)]
    data = ("\n".join(lines) + "\n").encode()
    ids, xyz = _tokens_reference(data)
    s = parse_ntu_bytes(data)
    assert s.n_frames == frames and len(ids) > 20
    assert np.array_equal(s.body_id, ids) and np.array_equal(s.xyz, xyz)
