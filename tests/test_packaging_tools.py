"""The pieces of packaging/ that can be checked without building a bundle: the gfortran shim against the real
runtime (numpy.linalg through OpenBLAS's LAPACK), the stubs' version scripts, the .deb's systemd unit."""

from __future__ import annotations

import ctypes
import json
import shutil
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
PYI = ROOT / "packaging" / "pyinstaller"
sys.path.insert(0, str(PYI))
sys.path.insert(0, str(ROOT / "packaging" / "deb"))

pytestmark = pytest.mark.timeout(300)

# numpy.linalg results that go through LAPACK (and so through the gfortran functions OpenBLAS imports).
LINALG = textwrap.dedent("""
    import json, sys
    import numpy as np
    rng = np.random.default_rng(7)
    a = rng.standard_normal((40, 40)); b = rng.standard_normal((40, 3)); s = a @ a.T + 40 * np.eye(40)
    out = {
        "solve": np.linalg.solve(a, b), "inv": np.linalg.inv(a), "det": np.linalg.det(a),
        "eigvalsh": np.linalg.eigvalsh(s), "svd": np.linalg.svd(a, compute_uv=False),
        "lstsq": np.linalg.lstsq(a[:, :10], b, rcond=None)[0], "cholesky": np.linalg.cholesky(s),
        "qr_r": np.abs(np.linalg.qr(a)[1]), "eigvals": np.sort_complex(np.linalg.eigvals(a)),
        "pinv": np.linalg.pinv(a[:, :20]), "f32": np.linalg.solve(a.astype(np.float32), b.astype(np.float32)),
    }
    try:
        np.linalg.solve(np.zeros((3, 3)), np.ones(3))
        out["singular"] = "no error"
    except np.linalg.LinAlgError as exc:
        out["singular"] = str(exc)
    def enc(v):
        if isinstance(v, str):
            return v
        v = np.asarray(v)
        return [np.real(v).ravel().tolist(), np.imag(v).ravel().tolist()]
    result = {k: enc(v) for k, v in out.items()}
    result["numpy"] = np.__file__
    json.dump(result, sys.stdout)
""")


def _numpy_with_shim(tmp: Path) -> Path:
    """A copy of this numpy whose libgfortran is the shim, for a child interpreter to import."""
    from stubs import SHIMS, _dynsyms, _imports, _link, _soname, _wanted

    src = Path(np.__file__).parent
    libs = src.parent / "numpy.libs"
    if not libs.is_dir():
        pytest.skip("this numpy has no numpy.libs (not a manylinux wheel)")
    gfortran = next(libs.glob("libgfortran-*"), None)
    if gfortran is None:
        pytest.skip("this numpy's OpenBLAS does not link libgfortran")
    site = tmp / "site"
    shutil.copytree(src, site / "numpy", symlinks=True)
    shutil.copytree(libs, site / "numpy.libs", symlinks=True)
    target = site / "numpy.libs" / gfortran.name
    others = [p for p in (site / "numpy.libs").iterdir() if p != target]
    symbols = _wanted(gfortran, _imports(others))
    assert symbols, "OpenBLAS imports nothing from libgfortran?"
    ((_folder, _prefix), (source, _why)), = SHIMS.items()
    built = tmp / "shim.so"
    _link("gcc", PYI / source, built, _soname(gfortran), symbols)
    provided = {n for n, _v, _k, ndx, _s in _dynsyms(built) if ndx != "UND"}
    assert {s.name for s in symbols} <= provided
    built.replace(target)
    return site


def _run_linalg(site: Path | None) -> dict:
    code = (f"import sys; sys.path.insert(0, {str(site)!r})\n" if site else "") + LINALG
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"LD_BIND_NOW": "1", "PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_the_gfortran_shim_gives_numpy_linalg_the_same_results(tmp_path: Path) -> None:
    if shutil.which("gcc") is None or shutil.which("readelf") is None:
        pytest.skip("gcc and binutils are needed to build the shim (apt install gcc binutils)")
    site = _numpy_with_shim(tmp_path)
    shimmed, real = _run_linalg(site), _run_linalg(None)
    assert shimmed.pop("numpy").startswith(str(site)) and not real.pop("numpy").startswith(str(site))
    assert shimmed.keys() == real.keys()
    for key, value in real.items():
        if isinstance(value, str):
            assert shimmed[key] == value, key
        else:
            np.testing.assert_array_equal(np.array(shimmed[key]), np.array(value), err_msg=key)


def _real_and_shim(tmp: Path) -> tuple[ctypes.CDLL, ctypes.CDLL]:
    from stubs import Symbol, _link

    libs = Path(np.__file__).parent.parent / "numpy.libs"
    real = next(libs.glob("libgfortran-*"), None)
    if real is None:
        pytest.skip("this numpy ships no libgfortran")
    names = ["_gfortran_pow_r4_i8", "_gfortran_pow_r8_i8", "_gfortran_concat_string", "_gfortran_etime"]
    shim = tmp / "libgfortran-shim-test.so"  # its own soname, or the loader would hand back the real one
    _link("gcc", PYI / "gfortran_shim.c", shim, shim.name, [Symbol(n, "GFORTRAN_8", "FUNC", 0) for n in names])
    return ctypes.CDLL(str(real)), ctypes.CDLL(str(shim))


def test_the_shims_functions_match_libgfortran_bit_for_bit(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the shim (apt install gcc)")
    real, shim = _real_and_shim(tmp_path)
    pows = (("_gfortran_pow_r4_i8", ctypes.c_float, "f"), ("_gfortran_pow_r8_i8", ctypes.c_double, "d"))
    for name, ftype, pack in pows:
        fr, fs = getattr(real, name), getattr(shim, name)
        for f in (fr, fs):
            f.restype, f.argtypes = ftype, [ftype, ctypes.c_int64]
        for x in (0.0, -0.0, 1.0, -1.0, 0.5, -1.5, 2.0, 3.3, 1e-3, 7.77, float("inf"), float("nan")):
            for n in (*range(-12, 40), 63, -63, 2**40, -(2**40) + 1):
                assert struct.pack(pack, fr(x, n)) == struct.pack(pack, fs(x, n)), (name, x, n)
    cr, cs = real._gfortran_concat_string, shim._gfortran_concat_string
    for destlen in range(0, 12):
        for s1, s2 in ((b"", b""), (b"ab", b"cde"), (b"abcdefgh", b"xyz"), (b"q", b"0123456789abcdef")):
            outs = []
            for f in (cr, cs):
                dest = ctypes.create_string_buffer(b"#" * (destlen + 4))
                f(ctypes.c_size_t(destlen), dest, ctypes.c_size_t(len(s1)), s1, ctypes.c_size_t(len(s2)), s2)
                outs.append(dest.raw)
            assert outs[0] == outs[1], (destlen, s1, s2)
    # ETIME(TARRAY): a gfortran descriptor of a REAL(2) array; user + system CPU seconds.
    class Desc(ctypes.Structure):
        _fields_ = [("base", ctypes.POINTER(ctypes.c_float)), ("offset", ctypes.c_size_t),
                    ("elem_len", ctypes.c_size_t), ("version", ctypes.c_int), ("rank", ctypes.c_byte),
                    ("type", ctypes.c_byte), ("attribute", ctypes.c_short), ("span", ctypes.c_ssize_t),
                    ("stride", ctypes.c_ssize_t), ("lbound", ctypes.c_ssize_t), ("ubound", ctypes.c_ssize_t)]
    for f in (real._gfortran_etime, shim._gfortran_etime):
        f.restype, f.argtypes = ctypes.c_float, [ctypes.POINTER(Desc)]
    sum(i * i for i in range(200_000))  # some CPU time to measure
    results = []
    for f in (real._gfortran_etime, shim._gfortran_etime):
        arr = (ctypes.c_float * 2)()
        d = Desc(ctypes.cast(arr, ctypes.POINTER(ctypes.c_float)), 0, 4, 0, 1, 3, 0, 4, 1, 1, 2)
        total = f(ctypes.byref(d))
        # REAL(4) sums: the tolerance scales with the magnitude (a long test run has used hundreds of CPU seconds)
        assert total > 0 and abs(total - (arr[0] + arr[1])) <= 1e-6 * max(1.0, total)
        results.append(total)
    assert abs(results[0] - results[1]) < 0.5


def test_version_scripts_put_each_symbol_in_its_version_node() -> None:
    from stubs import Symbol, _version_script

    assert _version_script([Symbol("f", None, "FUNC", 0)]) is None
    script = _version_script([Symbol("a", "V_2", "FUNC", 0), Symbol("b", "V_1", "OBJECT", 8),
                              Symbol("c", None, "FUNC", 0)])
    assert script is not None
    assert "V_1 { global: b; c; local: *; };" in script and "V_2 { global: a;  };" in script


def test_the_debs_unit_runs_the_installed_program_as_the_package_user(tmp_path: Path) -> None:
    from unit import derive

    unit = derive((ROOT / "packaging" / "systemd" / "edge-asr.service").read_text())
    assert "\nExecStart=/usr/bin/edge-asr daemon --config /etc/edge-asr/config.toml\n" in unit
    assert "\nUser=edge-asr\nGroup=edge-asr\n" in unit and "DynamicUser" not in unit
    assert "\nSupplementaryGroups=audio\n" in unit and "\nProtectSystem=strict\n" in unit
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    # verify wants ExecStart to exist and the user to be known here; the rootfs test checks the real install.
    path = tmp_path / "edge-asr.service"
    path.write_text(unit.replace("/usr/bin/edge-asr daemon", f"{sys.executable} -m edge_asr daemon")
                    .replace("User=edge-asr\nGroup=edge-asr\n", "User=root\nGroup=root\n"))
    r = subprocess.run([tool, "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "edge-asr.service" not in r.stderr, r.stderr


def test_the_unit_derivation_fails_loudly_when_the_source_unit_changes() -> None:
    from unit import derive

    with pytest.raises(SystemExit, match="ExecStart"):
        derive("[Unit]\n[Service]\nExecStart=/somewhere/else daemon\nDynamicUser=yes\n")
