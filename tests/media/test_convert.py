import av
import numpy as np
import pytest
from hypothesis import given, strategies as st

from core.media.convert import fit_size, to_rgb

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255)}


def quadrant_frame(w: int = 640, h: int = 480) -> av.VideoFrame:
    """yuv420p frame with red / green (top) and blue / white (bottom) quadrants."""
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[: h // 2, : w // 2] = COLOURS["red"]
    rgb[: h // 2, w // 2 :] = COLOURS["green"]
    rgb[h // 2 :, : w // 2] = COLOURS["blue"]
    rgb[h // 2 :, w // 2 :] = COLOURS["white"]
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


@pytest.mark.parametrize("size", [(320, 240), (640, 480), (160, 120), (322, 242), (1280, 960)])
def test_to_rgb_shape_and_colours(size: tuple[int, int]) -> None:
    w, h = size
    out = to_rgb(quadrant_frame(), w, h)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    assert out.flags["C_CONTIGUOUS"]
    centres = {
        "red": out[h // 4, w // 4],
        "green": out[h // 4, 3 * w // 4],
        "blue": out[3 * h // 4, w // 4],
        "white": out[3 * h // 4, 3 * w // 4],
    }
    for name, pixel in centres.items():
        assert np.abs(pixel.astype(int) - COLOURS[name]).max() <= 12, (name, pixel)


def test_to_rgb_rgb24_same_size_passthrough() -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    out = to_rgb(av.VideoFrame.from_ndarray(rgb, format="rgb24"), 64, 48)
    assert np.array_equal(out, rgb)


def test_to_rgb_result_outlives_frame() -> None:
    frame = quadrant_frame(64, 48)
    out = to_rgb(frame, 32, 24)
    del frame
    assert out[0, 0, 0] > 200


def test_to_rgb_rejects_bad_size() -> None:
    with pytest.raises(ValueError):
        to_rgb(quadrant_frame(64, 48), 0, 10)


@pytest.mark.parametrize(
    ("src", "box", "expected"),
    [
        ((640, 480), (320, 240), (320, 240)),
        ((640, 480), (400, 240), (320, 240)),  # height-limited
        ((640, 480), (320, 400), (320, 240)),  # width-limited
        ((1280, 720), (320, 240), (320, 180)),
        ((1280, 720), (321, 241), (320, 180)),  # odd box -> even result
        ((480, 640), (300, 300), (224, 300)),  # portrait
        ((640, 480), (1, 1), (2, 2)),  # degenerate box
    ],
)
def test_fit_size_examples(src, box, expected) -> None:
    assert fit_size(*src, *box) == expected


@given(
    st.integers(2, 4000), st.integers(2, 4000), st.integers(16, 4000), st.integers(16, 4000)
)
def test_fit_size_properties(sw: int, sh: int, bw: int, bh: int) -> None:
    w, h = fit_size(sw, sh, bw, bh)
    assert w % 2 == 0 and h % 2 == 0 and w >= 2 and h >= 2
    assert w <= bw and h <= bh
    # One side (nearly) fills the box; aspect ratio kept to within rounding (±2 px per side).
    assert w >= bw - 1 or h >= bh - 1
    assert abs(w * sh - h * sw) <= 2 * max(sw, sh) + 2 * max(w, h)


def test_fit_size_rejects_bad_source() -> None:
    with pytest.raises(ValueError):
        fit_size(0, 10, 10, 10)
