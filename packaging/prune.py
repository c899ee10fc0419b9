"""What the bundle leaves out: Qt modules the app never imports, and their files.

The app imports QtCore, QtGui, QtWidgets and QtSvg (icons) only; PyInstaller's PySide6 hook
would still collect every plugin of those modules and the libraries the plugins need (GTK for
the gtk3 theme, EGLFS and evdev for embedded boards, image formats the app never reads).
``prune`` removes, after collection, the Qt libraries, plugins and translations of unused
modules, then every shared library of the bundle's top level that nothing left needs
(``readelf``'s NEEDED entries, from the executable, the extension modules and the kept Qt
plugins). The build's self-test then proves the rest still runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["QT_MODULES_UNUSED", "prune", "strip"]

QT_MODULES_UNUSED = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender", "QtBluetooth",
    "QtCharts", "QtConcurrent", "QtDataVisualization", "QtDBus", "QtDesigner", "QtGraphs", "QtHelp",
    "QtHttpServer", "QtLocation", "QtMultimedia", "QtMultimediaWidgets", "QtNetworkAuth", "QtNfc",
    "QtOpenGL", "QtOpenGLWidgets", "QtPdf", "QtPdfWidgets", "QtPositioning", "QtPrintSupport", "QtQml",
    "QtQuick", "QtQuick3D", "QtQuickControls2", "QtQuickTest", "QtQuickWidgets", "QtRemoteObjects",
    "QtScxml", "QtSensors", "QtSerialBus", "QtSerialPort", "QtSpatialAudio", "QtSql", "QtStateMachine",
    "QtSvgWidgets", "QtTest", "QtTextToSpeech", "QtUiTools", "QtWebChannel", "QtWebEngineCore",
    "QtWebEngineQuick", "QtWebEngineWidgets", "QtWebSockets", "QtWebView", "QtXml", "QtAxContainer",
    "QtCanvasPainter",
)

# Library name stems (libQt6<stem>.so*) the kept modules and their plugins do not load.
_LIB_STEMS = (
    "3D", "Bluetooth", "Charts", "Concurrent", "DataVisualization", "Designer", "Graphs", "Help",
    "HttpServer", "Location", "Multimedia", "NetworkAuth", "Nfc", "Pdf", "Positioning", "PrintSupport",
    "Qml", "Quick", "RemoteObjects", "Scxml", "Sensors", "SerialBus", "SerialPort", "SpatialAudio", "Sql",
    "StateMachine", "Test", "TextToSpeech", "UiTools", "WebChannel", "WebEngine", "WebSockets", "WebView",
    "ShaderTools", "VirtualKeyboard", "Lottie", "LabsAnimation", "LabsFolderListModel", "LabsQmlModels",
    "LabsSettings", "LabsSharedImage", "LabsWavefrontMesh", "Xml",
)
# Plugin folders of modules the app does not use.
_PLUGIN_DIRS = (
    "assetimporters", "canbus", "designer", "geometryloaders", "geoservices", "multimedia", "position",
    "qmllint", "qmltooling", "renderers", "renderplugins", "sceneparsers", "sensors", "sqldrivers",
    "texttospeech", "webview", "qmlls", "scxmldatamodel", "networkinformation", "tls",
    "printsupport", "virtualkeyboard", "egldeviceintegrations", "generic",
)
# Plugins of kept folders that the app never loads: (folder, file-name prefixes to keep).
_KEEP_PLUGINS = {
    "platforms": ("libqxcb", "libqwayland", "libqoffscreen", "libqminimal."),
    "platformthemes": ("libqxdgdesktopportal",),  # not gtk3: it pulls in all of GTK
    "imageformats": ("libqsvg",),  # PNG is built in; the icons are SVG
}


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def prune(bundle: Path) -> int:
    """Delete the unused Qt files under ``bundle``; the bytes removed."""
    removed = 0
    victims: list[Path] = []
    for qt in bundle.rglob("Qt"):
        if not qt.is_dir() or qt.parent.name != "PySide6":
            continue
        victims += [qt / "translations", qt / "qml"]
        victims += [qt / "plugins" / name for name in _PLUGIN_DIRS]
        for folder, keep in _KEEP_PLUGINS.items():
            victims += [p for p in (qt / "plugins" / folder).glob("*.so") if not p.name.startswith(keep)]
    for lib in bundle.rglob("libQt6*"):
        stem = lib.name.removeprefix("libQt6").split(".")[0]
        if any(stem.startswith(s) for s in _LIB_STEMS):
            victims.append(lib)
    for module in bundle.rglob("Qt*.abi3.so"):
        if module.name.split(".")[0] in QT_MODULES_UNUSED:
            victims.append(module)
    removed += _remove(victims)
    return removed + _remove(_unneeded_libraries(bundle))


def strip(bundle: Path) -> int:
    """``strip --strip-unneeded`` every ELF file but the wheels' own vendored libraries
    (``*.libs/``: already stripped, and stripping numpy's OpenBLAS breaks its loading); the
    bytes saved. PyInstaller's own ``strip=True`` has no such exception."""
    if shutil.which("strip") is None:
        return 0
    saved = 0
    for path in bundle.rglob("*"):
        if (path.is_symlink() or not path.is_file() or path.parent.name.endswith(".libs")
                or not _is_elf(path)):
            continue
        before = path.stat().st_size
        if subprocess.run(["strip", "--strip-unneeded", str(path)], capture_output=True).returncode == 0:
            saved += before - path.stat().st_size
    return saved


def _remove(victims: list[Path]) -> int:
    removed = 0
    for victim in victims:
        if victim.exists() or victim.is_symlink():
            removed += _size(victim)
            if victim.is_dir() and not victim.is_symlink():
                shutil.rmtree(victim)
            else:
                victim.unlink()
    return removed


_NEEDED = re.compile(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]")


def _needed(path: Path) -> list[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return _NEEDED.findall(out)


def _is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _unneeded_libraries(bundle: Path) -> list[Path]:
    """Top-level, vendored (``*.libs/``) and Qt's own shared libraries that no executable,
    extension or plugin needs."""
    if shutil.which("readelf") is None:
        return []
    internal = bundle / "_internal"
    qt_lib = next((p for p in internal.rglob("lib") if p.parent.name == "Qt"), None)
    # Not libpython (the bootloader dlopens it) nor extension modules (Python imports them).
    # The wheels' vendored libraries (*.libs/) too: those only a stand-in replaced (stubs.py) needed.
    candidates = [p for p in [*internal.glob("lib*.so*"), *internal.glob("*.libs/*.so*"),
                              *(qt_lib.iterdir() if qt_lib else [])]
                  if not p.name.startswith("libpython") and ".cpython-" not in p.name]
    candidate_set = set(candidates)
    by_name = {p.name: p for p in candidates}
    roots = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink() and p not in candidate_set
             and (p.suffix == ".so" or ".so." in p.name or p.name == "confab") and _is_elf(p)]
    needed: set[Path] = set()
    todo = list(roots)
    while todo:
        for name in _needed(todo.pop()):
            lib = by_name.get(name)
            if lib is None or lib in needed:
                continue
            needed.add(lib)
            target = lib.resolve()
            needed.add(target)
            todo.append(target)
    resolved_needed = {p.resolve() for p in needed} | needed
    return [p for p in candidates if p not in resolved_needed and p.resolve() not in resolved_needed]
