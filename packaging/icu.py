"""Trim the ICU data Qt ships (libicudata: 32 MB) to what Qt can reach in this app.

QtCore links ICU for locale-aware case mapping, collation (QCollator), time-zone names and
codecs beyond UTF-8/16/32 and Latin-1; the app uses none of the locale-specific data, and
Qt's own CLDR tables format numbers and dates. ICU's case, normalization and property data
are compiled into libicuuc itself. ``trim`` keeps the root and English resources of each
tree, collation's root data, the property and normalization files and the converter
aliases; it drops every other locale, the break iterators, the converter tables and the
transliterators. libicudata is rebuilt from the trimmed package with ``icupkg`` (Debian's
icu-devtools) and gcc, same soname and data symbol; without either tool it is kept whole.
tests/app/test_app_packaging.py compares Qt's case mapping, collation and text painting on
the trimmed data with the full one.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["KEEP", "trim"]

KEEP = (
    "*.icu", "*.nrm", "*.spp", "*.cfu",  # properties, normalization, StringPrep, confusables
    "res_index.res", "root.res", "en.res", "en_US*.res", "pool.res",
    "likelySubtags.res", "supplementalData.res", "plurals.res", "numberingSystems.res",
    "metadata.res", "keyTypeData.res", "icuver.res", "icustd.res", "dayPeriods.res",
    "zoneinfo64.res", "timezoneTypes.res", "metaZones.res", "windowsZones.res",
    "*/res_index.res", "*/root.res", "*/en.res", "*/en_US*.res", "*/pool.res",
    "coll/ucadata.icu",
)
# Break iteration: Qt finds grapheme, word and line boundaries with its own Unicode tables, and
# ICU's root break rules name the 3 MB of CJK and South-East Asian dictionaries.
DROP = ("brkitr/*", "translit/*", "*.cnv", "*.dict")


def _keep(name: str) -> bool:
    if any(fnmatch.fnmatchcase(name, pattern) for pattern in DROP):
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in KEEP)


def _data_symbol(library: Path) -> tuple[str, int, int]:
    """The ICU data symbol's name, file offset and size."""
    syms = subprocess.run(["readelf", "-W", "--dyn-syms", str(library)], capture_output=True,
                          text=True).stdout
    match = re.search(r"\d+: ([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+OBJECT\s+GLOBAL\s+\S+\s+(\d+) (icudt\d+_dat)",
                      syms)
    if match is None:
        raise SystemExit(f"packaging: no icudt*_dat symbol in {library}")
    address, size, section, name = int(match[1], 16), int(match[2], 0), int(match[3]), match[4]
    sections = subprocess.run(["readelf", "-W", "-S", str(library)], capture_output=True, text=True).stdout
    row = re.search(rf"\[\s*{section}\]\s+\S+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)", sections)
    if row is None:
        raise SystemExit(f"packaging: section {section} of {library} not found")
    return name, int(row[2], 16) + address - int(row[1], 16), size


def trim(bundle: Path) -> int:
    """Rebuild the bundle's libicudata with only ``KEEP``; the bytes saved."""
    if not all(shutil.which(tool) for tool in ("icupkg", "gcc", "readelf")):
        print("packaging: icupkg (icu-devtools), gcc or readelf missing, Qt's ICU data kept whole")
        return 0
    saved = 0
    for library in bundle.rglob("libicudata.so*"):
        if library.is_symlink():
            continue
        symbol, offset, size = _data_symbol(library)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            full = work / symbol.replace("_dat", "l.dat")  # icupkg wants the package's own name
            with open(library, "rb") as f:
                f.seek(offset)
                full.write_bytes(f.read(size))
            listing = subprocess.run(["icupkg", "-l", str(full)], capture_output=True,
                                     text=True, check=True).stdout.split()
            (work / "drop.txt").write_text("\n".join(n for n in listing if not _keep(n)) + "\n")
            trimmed = work / "out" / full.name  # icupkg names the items after the output file
            trimmed.parent.mkdir()
            subprocess.run(["icupkg", "-r", str(work / "drop.txt"), str(full), str(trimmed)], check=True,
                           capture_output=True)
            (work / "data.S").write_text(
                f'.section .rodata\n.globl {symbol}\n.type {symbol}, @object\n.balign 16\n{symbol}:\n'
                f'.incbin "{trimmed}"\n.size {symbol}, . - {symbol}\n'
                '.section .note.GNU-stack,"",@progbits\n')
            out = work / library.name
            soname = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True).stdout
            name = re.search(r"Library soname: \[([^\]]+)\]", soname)
            subprocess.run(["gcc", "-shared", "-nostdlib", "-o", str(out),
                            f"-Wl,-soname,{name[1] if name else library.name}", str(work / "data.S")],
                           check=True)
            before = library.stat().st_size
            shutil.copyfile(out, library)
            saved += before - library.stat().st_size
            kept = sum(1 for n in listing if _keep(n))
            print(f"packaging: {library.name} trimmed to {kept} of {len(listing)} ICU items "
                  f"({before / 1e6:.1f} → {library.stat().st_size / 1e6:.1f} MB)")
    return saved
