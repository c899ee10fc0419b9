"""Stand-ins for vendored libraries the bundle must load but never uses.

PyAV's libavcodec is linked against encoders and decoders aiortc never opens (x265 alone is
21 MB), its libavformat against GnuTLS (with nettle, hogweed, gmp and libunistring: 6 MB),
and numpy's core against OpenBLAS (25 MB, plus libgfortran and libquadmath). The dynamic
loader needs every DT_NEEDED library present and every imported symbol defined, but nothing
calls them until such a codec, a ``tls://`` URL or ``numpy.linalg`` is used. ``replace``
compiles, for each library below, a small one with the same soname that defines exactly the
symbols the bundle imports from it (same symbol versions): the first call of each feature
returns that library's own "failed" value so FFmpeg reports an error as usual (a
``av.codec.codec.UnknownCodecError``-like exception in Python, no crash); any other call
writes what was left out to stderr and aborts. numpy's BLAS routines are real
(packaging/miniblas.c); its LAPACK ones (numpy.linalg, unused by the app) abort.

Libraries only the replaced ones needed are then left to prune's unneeded-library sweep.
Needs gcc and binutils (nm, readelf) at build time; without gcc nothing is replaced.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["STUBS", "Stub", "build_stub", "replace"]

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Stub:
    prefix: str  # the vendored file's name up to its hash: "libx265-" matches libx265-f5385bb8.so.216
    why: str  # what is left out, for the abort message
    # symbol pattern -> C return expression, first match wins; a symbol none matches aborts
    returns: dict[str, str] = field(default_factory=dict)
    source: Path | None = None  # C file with real implementations of some of the symbols


ENOSYS = "-38"  # -ENOSYS: dav1d's own "failed" convention is a negative errno
STUBS = (
    Stub("libx265-", "the HEVC encoder (aiortc sends VP8 and H.264)", {"x265_api_get_*": "0"}),
    Stub("libSvtAv1Enc-", "the AV1 encoder SVT-AV1",
         {"svt_av1_enc_init_handle": "(long)0x80001000"}),  # EB_ErrorInsufficientResources
    Stub("libdav1d-", "the AV1 decoder dav1d",
         {"dav1d_version": '(long)"left out"', "dav1d_default_settings": "0",
          "dav1d_get_frame_delay": ENOSYS, "dav1d_open": ENOSYS}),
    Stub("libmp3lame-", "the MP3 encoder LAME", {"lame_init": "0"}),
    Stub("libopencore-amrnb-", "the AMR-NB codecs",
         {"Decoder_Interface_init": "0", "Encoder_Interface_init": "0"}),
    Stub("libopencore-amrwb-", "the AMR-WB decoder", {"D_IF_init": "0", "D_IF_exit": "0"}),  # init unchecked
    Stub("libwebpmux-", "the animated WebP encoder", {"WebPAnimEncoderOptionsInitInternal": "0"}),
    Stub("libwebp-", "the WebP encoder",
         {"WebPConfigInitInternal": "0", "WebPAnimEncoderOptionsInitInternal": "0"}),
    # FFmpeg ignores what most of its GnuTLS setup calls return and checks the handshake's:
    # every call returns GNUTLS_E_UNIMPLEMENTED_FEATURE (-1250; void ones ignore it).
    Stub("libgnutls-", "TLS in libavformat (tls://, https:// media URLs)",
         {"gnutls_strerror": '(long)"TLS is not in this bundle"', "gnutls_error_is_fatal": "1",
          "gnutls_certificate_get_peers": "0", "*": "-1250"}),
    Stub("libscipy_openblas", "LAPACK (numpy.linalg)", source=HERE / "miniblas.c"),
)

_NM_LINE = re.compile(r"^(?:[0-9a-f]+ )?(?:([0-9a-f]+) )?([A-Za-z]) (\S+)$")


def _nm(path: Path, *flags: str, dynamic: bool = True) -> list[tuple[str, str, int]]:
    """(type, name@version, size) of the (dynamic) symbols ``nm -S flags`` lists."""
    command = ["nm", *(["-D"] if dynamic else []), "-S", *flags, str(path)]
    out = subprocess.run(command, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        match = _NM_LINE.match(line.strip())
        if match:
            size, kind, name = match.groups()
            rows.append((kind, name, int(size, 16) if size else 0))
    return rows


def _soname(path: Path) -> str:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    match = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    return match.group(1) if match else path.name


def _needs(path: Path, soname: str) -> bool:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return f"Shared library: [{soname}]" in out


def _elf_files(bundle: Path) -> list[Path]:
    found = []
    for path in bundle.rglob("*"):
        if path.is_file() and not path.is_symlink() and (".so" in path.name or path.name == "confab"):
            with open(path, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def build_stub(library: Path, users: list[Path], stub: Stub, out: Path) -> int:
    """Compile into ``out`` the stand-in for ``library`` that ``users`` load; how many symbols."""
    defined = {name.split("@")[0]: (kind, size) for kind, name, size in _nm(library, "--defined-only")}
    imported: dict[str, str | None] = {}
    for user in users:
        for _, name, _ in _nm(user, "--undefined-only"):
            base, _, version = name.partition("@")
            if base in defined:
                imported[base] = version.lstrip("@") or imported.get(base)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = []
        implemented: set[str] = set()
        if stub.source is not None:
            obj = work / "impl.o"
            subprocess.run(["gcc", "-O2", "-fPIC", "-c", str(stub.source), "-o", str(obj)], check=True)
            implemented = {n for kind, n, _ in _nm(obj, "--defined-only", dynamic=False) if kind in "TD"}
            sources.append(str(obj))
        lines = ["#include <stdio.h>", "#include <stdlib.h>",
                 "static void left_out(const char *symbol) {",
                 f'    fprintf(stderr, "confab: %s was called, but {stub.why} is not in this bundle\\n", symbol);',
                 "    abort();", "}"]
        for name in sorted(set(imported) - implemented):
            kind, size = defined[name]
            if kind.upper() in "DBRVG":
                lines.append(f"char {name}[{max(size, 1)}];")
                continue
            ret = next((expr for pattern, expr in stub.returns.items() if fnmatch.fnmatchcase(name, pattern)),
                       None)
            body = f"return {ret};" if ret is not None else f'left_out("{name}"); return 0;'
            lines.append(f"long {name}(void) {{ {body} }}")
        (work / "stub.c").write_text("\n".join(lines) + "\n")
        command = ["gcc", "-O2", "-shared", "-fPIC", "-o", str(out), f"-Wl,-soname,{_soname(library)}",
                   str(work / "stub.c"), *sources]
        versions: dict[str, list[str]] = {}
        for symbol, wanted in imported.items():
            versions.setdefault(wanted or "", []).append(symbol)
        unversioned = versions.pop("", [])
        if versions:  # the users ask for versioned symbols: define those versions (any takes the rest)
            versions[min(versions)] += unversioned
            nodes = [f"{v} {{ global: {' '.join(s + ';' for s in sorted(names))} }};"
                     for v, names in sorted(versions.items())]
            (work / "versions.map").write_text("\n".join(nodes) + "\n")
            command.append(f"-Wl,--version-script={work / 'versions.map'}")
        subprocess.run(command, check=True)
    return len(imported)


def replace(bundle: Path) -> int:
    """Swap each of ``STUBS``'s libraries under ``bundle`` for its stand-in; the bytes saved."""
    if shutil.which("gcc") is None or shutil.which("nm") is None:
        print("packaging: gcc or nm missing, vendored codec/BLAS libraries kept whole")
        return 0
    saved = 0
    for stub in STUBS:
        for library in sorted(bundle.rglob(f"{stub.prefix}*")):
            if library.is_symlink() or not library.is_file():
                continue
            soname = _soname(library)
            users = [p for p in _elf_files(bundle) if p != library and _needs(p, soname)]
            before = library.stat().st_size
            replacement = library.with_name(library.name + ".stub")
            count = build_stub(library, users, stub, replacement)
            replacement.replace(library)
            saved += before - library.stat().st_size
            print(f"packaging: {library.name} replaced by a {count}-symbol stand-in ({before / 1e6:.1f} MB)")
    return saved
