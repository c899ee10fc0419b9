"""What ``make package`` does to the libraries it slims (packaging/stubs.py, packaging/icu.py),
checked on copies of the installed wheels: the stand-ins still compute (BLAS) or fail the way
the real library reports failure (codecs, TLS), and Qt works on the trimmed ICU data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy
import PySide6
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "packaging"))
import icu  # noqa: E402
import stubs  # noqa: E402

pytestmark = pytest.mark.skipif(not all(shutil.which(t) for t in ("gcc", "nm", "readelf")),
                                reason="packaging needs gcc and binutils")


def _copy_package(module: object, into: Path) -> Path:
    """Copy an installed package and its wheel's vendored libraries (``<name>.libs``) into ``into``."""
    folder = Path(str(getattr(module, "__file__", ""))).parent
    shutil.copytree(folder, into / folder.name)
    libs = folder.parent / f"{folder.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, into / libs.name)
    return into


def _run(script: str, path: Path | None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **env}
    if path is not None:
        environ["PYTHONPATH"] = str(path)
    return subprocess.run([sys.executable, "-c", script], env=environ, capture_output=True, text=True,
                          timeout=120, cwd=path or REPO)


# Every routine numpy's core takes from BLAS, in each dtype, layout and stride it hands over.
_BLAS_CASES = r"""
import sys
import numpy as np
rng = np.random.default_rng(7)
out = {}
for dtype in (np.float32, np.float64, np.complex64, np.complex128):
    def m(*shape):
        a = rng.standard_normal(shape)
        return (a + 1j * rng.standard_normal(shape) if np.iscomplexobj(dtype(0)) else a).astype(dtype)
    a, b, v, w = m(9, 7), m(7, 5), m(7), m(9)
    cases = {
        "gemm": a @ b, "gemm_f": np.asfortranarray(a) @ b, "gemm_tt": b.T @ a.T,
        "gemm_strided": a[::2, ::1] @ b, "gemm_mixed": np.asfortranarray(a) @ np.ascontiguousarray(b),
        "gemv": a @ v, "gemv_t": w @ a, "gemv_f": np.asfortranarray(a) @ v, "gemv_neg": a @ v[::-1],
        "syrk": a @ a.T, "syrk_t": a.T @ a, "dot": np.dot(v, v[::-1]), "dot_strided": np.dot(w[:8:2], w[1::2]),
        "vdot": np.vdot(v, v[::-1]), "inner": np.inner(a, a), "beta": np.dot(a, b, out=np.ones((9, 5), dtype)),
    }
    out.update({f"{np.dtype(dtype).name}-{k}": np.asarray(x) for k, x in cases.items()})
np.savez(sys.argv[1] if len(sys.argv) > 1 else "blas.npz", **out)
"""


def test_the_blas_stand_in_computes_what_openblas_does(tmp_path: Path) -> None:
    copy = _copy_package(numpy, tmp_path / "site")
    saved = stubs.replace(copy)
    assert saved > 20e6  # OpenBLAS (25 MB) became a few kilobytes of loops
    script = _BLAS_CASES.replace('sys.argv[1] if len(sys.argv) > 1 else "blas.npz"', repr(str(tmp_path / "NAME")))
    stand_in = _run(script.replace("NAME", "stand_in.npz") + "\nprint(np.__file__)", copy)
    assert stand_in.returncode == 0, stand_in.stderr[-2000:]
    assert stand_in.stdout.strip().startswith(str(copy))  # the copy's numpy, with the stand-in
    real = _run(script.replace("NAME", "real.npz"), None)
    assert real.returncode == 0, real.stderr[-2000:]
    got, want = numpy.load(tmp_path / "stand_in.npz"), numpy.load(tmp_path / "real.npz")
    assert sorted(got.files) == sorted(want.files)
    wrong = [k for k in want.files if not numpy.allclose(got[k], want[k], rtol=1e-4, atol=1e-4)]
    assert wrong == []


_CODECS = r"""
import fractions, socket, threading
import av
def video(name, mode="w"):
    c = av.CodecContext.create(name, mode)
    c.width, c.height, c.pix_fmt = 64, 48, "yuv420p"
    if mode == "w":
        c.time_base = fractions.Fraction(1, 30)
    return c
for name in ("libvpx", "libx264"):  # what aiortc sends: encodes, and decodes again
    enc, packets = video(name), []
    for i in range(3):
        f = av.VideoFrame(64, 48, "yuv420p"); f.pts = i; packets += enc.encode(f)
    packets += enc.encode(None)
    dec = av.CodecContext.create({"libvpx": "vp8", "libx264": "h264"}[name], "r")
    print(name, sum(len(dec.decode(p)) for p in [*packets, None]), "frames")  # None: flush
opus = av.CodecContext.create("libopus", "w")
opus.sample_rate, opus.layout, opus.format = 48000, "stereo", "s16"
opus.open(); print("libopus opened")
for name, mode in (("libx265", "w"), ("libsvtav1", "w"), ("libdav1d", "r"), ("libwebp", "w"),
                   ("libopencore_amrnb", "r")):
    try:
        (video(name, mode) if name != "libopencore_amrnb" else av.CodecContext.create(name, mode)).open()
        print(name, "opened")
    except av.FFmpegError as e: print(name, "refused:", type(e).__name__)
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
def answer():
    c, _ = server.accept(); c.recv(100); c.sendall(b"not TLS" * 10); c.close()
threading.Thread(target=answer, daemon=True).start()
try:
    av.open(f"tls://127.0.0.1:{server.getsockname()[1]}", timeout=5); print("tls opened")
except OSError as e: print("tls refused:", type(e).__name__)
"""


def test_codec_and_tls_stand_ins_refuse_cleanly_and_the_used_codecs_still_work(tmp_path: Path) -> None:
    copy = _copy_package(av, tmp_path / "site")
    assert stubs.replace(copy) > 30e6  # x265, SVT-AV1, dav1d, GnuTLS, ...
    done = _run(_CODECS + "\nprint(av.__file__)", copy)
    assert done.returncode == 0, done.stderr[-2000:]  # no abort: every refusal is an FFmpeg error
    lines = done.stdout.splitlines()
    assert lines[-1].startswith(str(copy))
    assert lines[:3] == ["libvpx 3 frames", "libx264 3 frames", "libopus opened"], lines
    refused = [line.split(" refused: ")[0] for line in lines[3:9] if " refused: " in line]
    assert refused == ["libx265", "libsvtav1", "libdav1d", "libwebp", "libopencore_amrnb", "tls"], lines
    assert "confab:" not in done.stderr  # no stand-in reached a call it does not answer


_QT_TEXT = r"""
from PySide6.QtCore import QCollator, QLocale
from PySide6.QtGui import QGuiApplication, QImage, QPainter, QColor
app = QGuiApplication([])
print(QLocale("tr_TR").toUpper("istanbul"), QLocale("en_US").toUpper("straße"))
c = QCollator(QLocale("en_US")); print(sorted(["b", "A", "a", "B"], key=c.sortKey))
image = QImage(120, 30, QImage.Format.Format_RGB32); image.fill(QColor("white"))
p = QPainter(image); p.drawText(5, 20, "Ça marche — 会议"); p.end()
print(sum(image.pixelColor(x, y).red() < 128 for x in range(120) for y in range(30)) > 50)
"""


def test_qt_runs_on_the_trimmed_icu_data(tmp_path: Path) -> None:
    if shutil.which("icupkg") is None:
        pytest.skip("icupkg (Debian icu-devtools) is not installed")
    original = next(Path(PySide6.__file__).parent.rglob("libicudata.so.*"))
    copy = tmp_path / original.name
    shutil.copyfile(original, copy)
    assert icu.trim(tmp_path) > 25e6 and copy.stat().st_size < 5e6
    full = _run(_QT_TEXT, None, QT_QPA_PLATFORM="offscreen")
    trimmed = _run(_QT_TEXT, None, QT_QPA_PLATFORM="offscreen", LD_PRELOAD=str(copy))
    assert full.returncode == 0 and trimmed.returncode == 0, trimmed.stderr[-2000:]
    assert trimmed.stdout == full.stdout  # Turkish dotted İ, ß → SS, collation, text painting
    assert trimmed.stdout.splitlines()[0] == "İSTANBUL STRASSE"
