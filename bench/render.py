"""UI-thread cost of painting decoded frames into participant tiles (offscreen Qt).

For each source size (320×240, 640×480, 1280×720 yuv420p) and each grid (1, 4, 9
tiles in a 1280×720 TileGrid), every iteration hands each tile a new frame with
``set_frame`` and paints it with ``repaint()`` (conversion via
``core.media.convert.to_rgb`` at the tile's size + drawImage + the tile's marks).
It reports median and p90 µs per painted frame per tile, next to the floor: one
bare ``to_rgb`` of the same frame to the same fitted size, measured interleaved
with the paints. (Tiles convert a frame smaller than the tile at its own size and
let QPainter scale it up, so an upscaling case can come in under its "floor".)

Prints one JSON object. Usage: ``python bench/render.py [--frames N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
import numpy as np
import PySide6
from PySide6.QtWidgets import QApplication

from core.media.convert import fit_size, to_rgb
from ui.grid import TileGrid
from ui.tile import ParticipantTile

SOURCES = ((320, 240), (640, 480), (1280, 720))
TILE_COUNTS = (1, 4, 9)
WINDOW = (1280, 720)
DISTINCT = 24  # distinct frame contents per source size, cycled
WARMUP = 10


def make_frames(width: int, height: int, count: int) -> list[av.VideoFrame]:
    """Moving gradients with a bar, so consecutive frames differ."""
    y, x = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(count):
        rgb = np.empty((height, width, 3), dtype=np.uint8)
        rgb[..., 0] = (x * 255 // max(1, width - 1) + i * 7) % 256
        rgb[..., 1] = (y * 255 // max(1, height - 1) + i * 5) % 256
        rgb[..., 2] = ((x + y) // 4 + i * 11) % 256
        bar = (i * width // count) % width
        rgb[:, bar:bar + width // 20] = 255
        frames.append(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"))
    return frames


def summary(samples_ns: list[int]) -> dict[str, float]:
    us = sorted(s / 1000 for s in samples_ns)
    p90 = us[min(len(us) - 1, round(0.9 * (len(us) - 1)))]
    return {"median": round(statistics.median(us), 1), "p90": round(p90, 1), "n": len(us)}


def bench_case(app: QApplication, grid: TileGrid, frames: list[av.VideoFrame],
               n_tiles: int, n_frames: int) -> dict[str, object]:
    for key in grid.keys():  # noqa: SIM118  (TileGrid is no dict: keys() is its own method)
        grid.remove_tile(key).deleteLater()  # type: ignore[union-attr]  # remove_tile returns None for an unknown key; these keys come from the grid
    tiles = []
    for i in range(n_tiles):
        tile = ParticipantTile(f"p{i}", f"Participant {i}")
        tile.set_network_quality(4)
        tile.set_audio_muted(i % 2 == 1)
        grid.add_tile(f"PA{i}", tile)
        tiles.append(tile)
    app.processEvents()
    for tile in tiles:  # settle geometry and paint once without video
        tile.repaint()

    paint_ns: list[int] = []
    floor_ns: list[int] = []
    tile = tiles[0]
    w, h = fit_size(frames[0].width, frames[0].height, tile.width(), tile.height())
    gc.collect()
    clock = time.perf_counter_ns
    # Paint and floor are interleaved frame by frame, so both see the same machine load.
    for it in range(WARMUP + n_frames):
        frame = frames[it % len(frames)]
        t0 = clock()
        to_rgb(frame, w, h)
        t1 = clock()
        if it >= WARMUP:
            floor_ns.append(t1 - t0)
        for tile in tiles:
            t0 = clock()
            tile.set_frame(frame)
            tile.repaint()
            t1 = clock()
            if it >= WARMUP:
                paint_ns.append(t1 - t0)
        app.processEvents()
    painted = [t.painted_frames for t in tiles]
    assert all(p == WARMUP + n_frames for p in painted), painted
    return {
        "source": f"{frames[0].width}x{frames[0].height}",
        "tiles": n_tiles,
        "tile_size": [tile.width(), tile.height()],
        "video_size": [w, h],
        "tile_converts_at": list(tile._image_key[1:]) if tile._image_key else None,
        "paint_us_per_frame_per_tile": summary(paint_ns),
        "to_rgb_floor_us": summary(floor_ns),
        "overhead_us_median": round(statistics.median(paint_ns) / 1000
                                    - statistics.median(floor_ns) / 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="measured frames (>= 100)")
    args = parser.parse_args()
    n_frames = max(100, args.frames)

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    grid = TileGrid()
    grid.resize(*WINDOW)
    grid.show()
    app.processEvents()

    results = []
    started = time.perf_counter()
    for width, height in SOURCES:
        frames = make_frames(width, height, DISTINCT)
        for n_tiles in TILE_COUNTS:
            results.append(bench_case(app, grid, frames, n_tiles, n_frames))
    print(json.dumps({
        "bench": "render",
        "qt_platform": app.platformName(),
        "pyside6": PySide6.__version__,
        "av": av.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "grid_size": list(WINDOW),
        "frames_per_case": n_frames,
        "method": "per tile: set_frame(new frame) + repaint(); "
                  "floor: to_rgb(frame, video_size), interleaved",
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "results": results,
        "wall_s": round(time.perf_counter() - started, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
