"""Pixel conversion for display: decoded frame -> RGB array of a tile's size.

Scaling and YUV->RGB conversion happen in ONE libswscale call (PyAV's
``VideoFrame.to_ndarray(width=, height=, format="rgb24", interpolation=)``).
libswscale releases the GIL while it works, so callers may run ``to_rgb`` in a
worker thread to keep it off the UI thread.

``FAST_BILINEAR`` is the default: on this machine (2 cores) it was the fastest
correct filter for downscales (640x480->320x240 ~0.2 ms, 1280x720->320x240
~0.15 ms versus ~0.45 ms with BILINEAR); at 1:1 no filter is involved.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import Interpolation

__all__ = ["DEFAULT_INTERPOLATION", "fit_size", "to_rgb"]

DEFAULT_INTERPOLATION = Interpolation.FAST_BILINEAR


def to_rgb(
    frame: av.VideoFrame,
    width: int,
    height: int,
    *,
    interpolation: Interpolation | str = DEFAULT_INTERPOLATION,
) -> np.ndarray:
    """Return ``frame`` scaled to ``width`` x ``height`` as a (h, w, 3) uint8 RGB array.

    The array is C-contiguous (bytes per line == ``3 * width``) and owns no
    reference to ``frame``'s buffers, so it stays valid after the frame is gone.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"target size must be positive, got {width}x{height}")
    if frame.width == width and frame.height == height and frame.format.name == "rgb24":
        array = frame.to_ndarray()
    else:
        array = frame.to_ndarray(
            width=width, height=height, format="rgb24", interpolation=interpolation
        )
    # to_ndarray returns a view of a fresh frame; rows are padded when 3*width
    # is not a multiple of the buffer alignment.  Make the layout predictable.
    return np.ascontiguousarray(array)


def fit_size(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """Largest (w, h) inside ``box_w`` x ``box_h`` with the aspect ratio of ``src_w`` x ``src_h``.

    Both results are even (yuv420p and most swscale paths want even sizes) and
    at least 2.  The fitted size never exceeds the box (except for the minimum
    of 2 when the box itself is smaller).
    """
    if src_w <= 0 or src_h <= 0:
        raise ValueError(f"source size must be positive, got {src_w}x{src_h}")
    box_w = max(int(box_w), 2)
    box_h = max(int(box_h), 2)
    # Compare src_w/src_h with box_w/box_h using integers only.
    if src_w * box_h >= src_h * box_w:  # limited by width
        w = box_w
        h = (src_h * box_w + src_w // 2) // src_w
    else:  # limited by height
        h = box_h
        w = (src_w * box_h + src_h // 2) // src_h
    w = max(2, min(w, box_w) & ~1)
    h = max(2, min(h, box_h) & ~1)
    return w, h
