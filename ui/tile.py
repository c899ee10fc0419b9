"""One participant's tile: latest video frame (letterboxed) or initials, plus status marks.

Frames arrive through :meth:`ParticipantTile.set_frame` from the asyncio loop (the
Qt thread under qasync) at up to 30 fps. The tile keeps only the newest frame and
calls ``update()``; Qt coalesces updates, so frames that arrive between two paints
are dropped for free and nothing is ever queued. The conversion to RGB at the
tile's current size (one libswscale call, :func:`core.media.convert.to_rgb`)
happens in ``paintEvent``, once per new frame or size; repaints for other
reasons reuse the converted image. A frame smaller than the tile is converted at
its own size and scaled up by QPainter (cheaper than upscaling in swscale).

Self-view: a ``local`` tile is drawn mirrored by default (as Meet, Zoom and
FaceTime do, so moving your hand right moves it right on screen); what remote
participants receive is never mirrored. Screen-share tiles should call
``set_mirrored(False)``.
"""

from __future__ import annotations

import logging
import zlib
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from core.media.convert import fit_size, to_rgb
from ui.canvas import transparent_canvas
from ui.network_bars import NetworkQualityBars
from ui.resources import icon_pixmap

if TYPE_CHECKING:
    import av

__all__ = ["ParticipantTile", "disc_color", "initials_of", "render_badge", "render_mark"]

log = logging.getLogger(__name__)

BACKGROUND = QColor("#1f2125")
HIGHLIGHT = QColor("#4f8cff")
HIGHLIGHT_WIDTH = 4
_MARGIN = 8
_MARK = 24
_DISC_COLORS = (
    "#5b6ee1", "#d9534f", "#3fa66b", "#c77d2e", "#8e5bd6", "#2b9bb3", "#c2497a", "#6d8a2f",
)
_BADGE_BG = QColor(0, 0, 0, 150)
_BADGE_FG = QColor("#f1f3f4")
_BADGE_PAD = 6
_BADGE_FONT_PX = 12


def _badge_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPixelSize(_BADGE_FONT_PX)
    return font


def render_badge(text: str, font: QFont, dpr: float = 1.0, height: int = _MARK) -> QPixmap:
    """``text`` on a translucent dark rounded rectangle (the name and "You" labels)."""
    width = QFontMetrics(font).horizontalAdvance(text) + 2 * _BADGE_PAD
    pixmap, painter = transparent_canvas(width, height, dpr)
    painter.setBrush(_BADGE_BG)
    painter.drawRoundedRect(QRectF(0, 0, width, height), 4, 4)
    painter.setPen(_BADGE_FG)
    painter.setFont(font)
    painter.drawText(QRectF(0, 0, width, height), Qt.AlignmentFlag.AlignCenter, text)
    painter.end()
    return pixmap


@lru_cache(maxsize=16)
def render_mark(icon_name: str, dpr: float = 1.0) -> QPixmap:
    """An icon on a translucent dark disc (the muted-mic and paused-camera marks)."""
    pixmap, painter = transparent_canvas(_MARK, _MARK, dpr)
    painter.setBrush(_BADGE_BG)
    painter.drawEllipse(QRectF(0, 0, _MARK, _MARK))
    painter.drawPixmap(QPointF(4, 4), icon_pixmap(icon_name, 16, dpr))
    painter.end()
    return pixmap


def initials_of(name: str) -> str:
    """Up to two capital letters: "Ada Lovelace" -> "AL", "grace" -> "G", "" -> "?"."""
    words = [w for w in name.replace("_", " ").replace(".", " ").split() if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][0].upper()
    return (words[0][0] + words[-1][0]).upper()


def disc_color(identity: str) -> QColor:
    """A stable colour per identity (crc32, not ``hash``, so it survives restarts)."""
    return QColor(_DISC_COLORS[zlib.crc32(identity.encode("utf-8")) % len(_DISC_COLORS)])


class ParticipantTile(QWidget):
    """A participant's video (or initials) with name, mic/camera marks, bars and highlight.

    objectNames: the tile ``tile-<identity>``; children ``tile-name``, ``tile-mic-muted``,
    ``tile-camera-paused``, ``tile-network-bars``, ``tile-local``, ``tile-video-frozen`` (the
    video stopped arriving: "Reconnecting…" over the last frame).
    """

    def __init__(
        self,
        identity: str,
        name: str | None = None,
        *,
        local: bool = False,
        mirrored: bool | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(f"tile-{identity}")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(32, 24)

        self._identity = identity
        self._name = name or identity
        self._local = local
        self._mirrored = local if mirrored is None else mirrored
        self._audio_muted = False
        self._video_paused = False
        self._dominant = False

        self._frame: av.VideoFrame | None = None
        self._serial = 0  # bumps on every accepted frame
        self._received_frames = 0
        self._painted_frames = 0
        self._paint_count = 0
        self._last_painted_serial = 0
        # The converted image of the current frame at the current size, and its key.
        self._image: QImage | None = None
        self._image_rgb: np.ndarray | None = None  # keeps a QImage's borrowed buffer alive
        self._image_key: tuple[int, int, int] | None = None
        self._convert_failed = False
        self._name_x = _MARGIN  # left edge of the name label (after the visible marks)

        # Overlays are plain QLabels showing pre-rendered pixmaps: painting them at 30 fps
        # is a C++ drawPixmap each (a stylesheet-styled label cost ~0.1-0.2 ms per paint).
        self._display_name = ""
        self._name_label = QLabel(self)
        self._name_label.setObjectName("tile-name")

        self._mic_mark = self._make_mark("tile-mic-muted", "mic-off", "Microphone muted")
        self._camera_mark = self._make_mark("tile-camera-paused", "camera-off", "Camera paused")
        self._hand_mark = self._make_mark("tile-hand-raised", "hand", "Hand raised")
        self._pin_mark = self._make_mark("tile-pinned", "pin", "Pinned: double-click to unpin")

        self._bars = NetworkQualityBars(self)
        self._bars.setObjectName("tile-network-bars")
        self._bars.hide()

        self._local_flag = QLabel(self)
        self._local_flag.setObjectName("tile-local")
        self._local_flag.setAccessibleName("You")
        self._local_flag.setToolTip("Your own camera (mirrored)" if self._mirrored
                                    else "Your own camera")
        self._local_flag.setVisible(local)

        self._frozen_mark = QLabel(self)
        self._frozen_mark.setObjectName("tile-video-frozen")
        self._frozen_mark.setToolTip("No video is arriving: reconnecting")
        self._frozen_mark.setAccessibleName("Video frozen, reconnecting")
        self._frozen_mark.hide()

        self._overlay_dpr = 0.0
        self._refresh_accessible_name()
        self._render_overlays()

    # ------------------------------------------------------------------ state (read)

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def name(self) -> str:
        return self._name

    @property
    def displayed_name(self) -> str:
        """The name as the label shows it (elided to the tile's width)."""
        return self._display_name

    @property
    def initials(self) -> str:
        return initials_of(self._name)

    @property
    def local(self) -> bool:
        return self._local

    @property
    def mirrored(self) -> bool:
        return self._mirrored

    @property
    def audio_muted(self) -> bool:
        return self._audio_muted

    @property
    def video_paused(self) -> bool:
        return self._video_paused

    @property
    def network_level(self) -> int | None:
        return self._bars.level

    @property
    def dominant(self) -> bool:
        return self._dominant

    @property
    def has_video(self) -> bool:
        """True when a frame is held and video is not paused (the frame is what paints)."""
        return self._frame is not None and not self._video_paused

    @property
    def received_frames(self) -> int:
        """Frames handed to :meth:`set_frame` (including ones later dropped)."""
        return self._received_frames

    @property
    def painted_frames(self) -> int:
        """Distinct frames converted and painted; ``received - painted`` were dropped."""
        return self._painted_frames

    @property
    def paint_count(self) -> int:
        """All paint events, with or without a new frame."""
        return self._paint_count

    def video_rect(self) -> QRect:
        """Where the current frame is drawn (logical px), or an empty rect without video."""
        if not self.has_video or self.width() < 2 or self.height() < 2:
            return QRect()
        assert self._frame is not None
        dpr = self.devicePixelRatioF()
        w, h = fit_size(self._frame.width, self._frame.height,
                        round(self.width() * dpr), round(self.height() * dpr))
        lw, lh = round(w / dpr), round(h / dpr)
        return QRect((self.width() - lw) // 2, (self.height() - lh) // 2, lw, lh)

    # ------------------------------------------------------------------ setters

    def set_frame(self, frame: av.VideoFrame) -> None:
        """Hold ``frame`` as the latest and schedule a repaint (cheap; call at any rate)."""
        self._received_frames += 1
        if self._video_paused:
            return  # a paused track shows initials; late frames must not resurrect video
        self._frame = frame
        self._serial += 1
        self._convert_failed = False
        self.update()

    def clear_video(self) -> None:
        """Forget the current frame (track unsubscribed or ended): initials show."""
        self._frame = None
        self._image = None
        self._image_rgb = None
        self._image_key = None
        self.update()

    def set_name(self, name: str) -> None:
        self._name = name or self._identity
        self._refresh_name_label()
        self._refresh_accessible_name()
        self.update()  # initials

    def set_audio_muted(self, muted: bool) -> None:
        self._audio_muted = bool(muted)
        self._mic_mark.setVisible(self._audio_muted)
        self._layout_overlays()
        self._refresh_accessible_name()

    @property
    def pinned(self) -> bool:
        return not self._pin_mark.isHidden()

    def set_pinned(self, pinned: bool) -> None:
        """The pin mark (``tile-pinned``): the speaker view features this tile."""
        self._show_mark(self._pin_mark, pinned)

    @property
    def hand_raised(self) -> bool:
        return not self._hand_mark.isHidden()

    def set_hand_raised(self, raised: bool) -> None:
        """The raised-hand mark (``tile-hand-raised``)."""
        self._show_mark(self._hand_mark, raised)

    def _show_mark(self, mark: QLabel, shown: bool) -> None:
        mark.setVisible(bool(shown))
        self._layout_overlays()
        self._refresh_accessible_name()

    def set_video_paused(self, paused: bool) -> None:
        paused = bool(paused)
        if paused == self._video_paused:
            return
        self._video_paused = paused
        if paused:
            self.clear_video()
        self._camera_mark.setVisible(paused)
        self._layout_overlays()
        self._refresh_accessible_name()
        self.update()

    @property
    def video_frozen(self) -> bool:
        return not self._frozen_mark.isHidden()

    def set_video_frozen(self, frozen: bool) -> None:
        """The ``tile-video-frozen`` mark: this participant's video stopped arriving."""
        self._show_mark(self._frozen_mark, frozen)

    def set_network_quality(self, level: int | None) -> None:
        """0–5, or None when unknown (bars hidden)."""
        self._bars.set_level(level)
        self._bars.setVisible(level is not None)

    def set_dominant(self, dominant: bool) -> None:
        dominant = bool(dominant)
        if dominant != self._dominant:
            self._dominant = dominant
            self._refresh_accessible_name()
            self.update()

    def set_mirrored(self, mirrored: bool) -> None:
        if bool(mirrored) != self._mirrored:
            self._mirrored = bool(mirrored)
            self.update()

    # ------------------------------------------------------------------ Qt overrides

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._layout_overlays()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.DevicePixelRatioChange):
            self._render_overlays()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        if self.devicePixelRatioF() != self._overlay_dpr:
            self._render_overlays()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        self._paint_count += 1
        painter = QPainter(self)
        rect = self.rect()
        image = self._current_image()
        if image is not None:
            target = self.video_rect()
            # Fill only the letterbox/pillarbox bars: the frame covers the rest.
            if target.top() > 0:
                painter.fillRect(QRect(0, 0, rect.width(), target.top()), BACKGROUND)
                painter.fillRect(QRect(0, target.bottom() + 1, rect.width(),
                                       rect.height() - target.bottom() - 1), BACKGROUND)
            if target.left() > 0:
                painter.fillRect(QRect(0, 0, target.left(), rect.height()), BACKGROUND)
                painter.fillRect(QRect(target.right() + 1, 0, rect.width() - target.right() - 1,
                                       rect.height()), BACKGROUND)
            scaled = image.deviceIndependentSize().toSize() != target.size()
            if scaled:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            if self._mirrored:
                painter.save()
                painter.translate(target.x() + target.width(), target.y())
                painter.scale(-1.0, 1.0)
                painter.drawImage(QRectF(0, 0, target.width(), target.height()), image)
                painter.restore()
            elif scaled:
                painter.drawImage(QRectF(target), image)
            else:
                painter.drawImage(QPointF(target.topLeft()), image)
        else:
            painter.fillRect(rect, BACKGROUND)
            self._paint_initials(painter)
        if self._dominant:
            pen = QPen(HIGHLIGHT, HIGHLIGHT_WIDTH)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            half = HIGHLIGHT_WIDTH / 2
            painter.drawRect(QRectF(rect).adjusted(half, half, -half, -half))
        painter.end()

    # ------------------------------------------------------------------ internals

    def _current_image(self) -> QImage | None:
        """The frame converted for the current size; converts at most once per frame/size.

        Downscales happen in the one ``to_rgb`` call, at the fitted tile size. Upscales
        do not: the frame is converted at its own size and QPainter scales it up
        (measured faster than swscale upscaling, e.g. 320x240 -> 960x720).
        """
        frame = self._frame
        if frame is None or self._video_paused or self._convert_failed:
            return None
        if self.width() < 2 or self.height() < 2:
            return None
        dpr = self.devicePixelRatioF()
        w, h = fit_size(frame.width, frame.height,
                        round(self.width() * dpr), round(self.height() * dpr))
        upscale = w > frame.width or h > frame.height
        if upscale:
            w, h = frame.width, frame.height
        key = (self._serial, w, h)
        if key != self._image_key:
            try:
                rgb = to_rgb(frame, w, h)
            except Exception:  # a bad frame must not kill the paint loop
                log.exception("cannot convert %dx%d frame for %s",
                              frame.width, frame.height, self._identity)
                self._convert_failed = True
                return None
            image = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888)
            if upscale:
                # Qt's smooth scaling of 32-bit images is ~2x faster than of RGB888, which
                # more than pays for this one conversion (a copy: ``rgb`` is not needed).
                image = image.convertToFormat(QImage.Format.Format_RGB32)
            image.setDevicePixelRatio(dpr)
            self._image, self._image_rgb, self._image_key = image, None if upscale else rgb, key
        if self._serial != self._last_painted_serial:
            self._last_painted_serial = self._serial
            self._painted_frames += 1
        return self._image

    def _paint_initials(self, painter: QPainter) -> None:
        w, h = self.width(), self.height()
        diameter = max(32.0, min(160.0, min(w, h) * 0.4))
        disc = QRectF((w - diameter) / 2, (h - diameter) / 2, diameter, diameter)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(disc_color(self._identity))
        painter.drawEllipse(disc)
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(max(10, round(diameter * 0.38)))
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(disc, Qt.AlignmentFlag.AlignCenter, self.initials)
        painter.restore()

    def _make_mark(self, object_name: str, icon_name: str, tooltip: str) -> QLabel:
        mark = QLabel(self)
        mark.setObjectName(object_name)
        mark.setFixedSize(_MARK, _MARK)
        mark.setProperty("icon_name", icon_name)
        mark.setToolTip(tooltip)
        mark.setAccessibleName(tooltip)
        mark.hide()
        return mark

    def _render_overlays(self) -> None:
        """(Re-)render the pixmaps of the marks and the "You" flag, then re-lay."""
        dpr = self.devicePixelRatioF()
        self._overlay_dpr = dpr
        self._display_name = ""  # forces the name badge to re-render at this ratio
        for mark in (self._pin_mark, self._hand_mark, self._mic_mark, self._camera_mark):
            mark.setPixmap(render_mark(str(mark.property("icon_name")), dpr))
        flag = render_badge("You", _badge_font(self.font()), dpr)
        self._local_flag.setPixmap(flag)
        self._local_flag.resize(flag.size() / dpr)
        frozen = render_badge("Reconnecting…", _badge_font(self.font()), dpr)
        self._frozen_mark.setPixmap(frozen)
        self._frozen_mark.resize(frozen.size() / dpr)
        self._layout_overlays()

    def _layout_overlays(self) -> None:
        w, h = self.width(), self.height()
        x = _MARGIN
        y = h - _MARGIN - _MARK
        for mark in (self._pin_mark, self._hand_mark, self._mic_mark, self._camera_mark):
            if not mark.isHidden():
                mark.move(x, y)
                x += _MARK + 4
        self._name_x = x
        self._refresh_name_label()
        self._bars.setGeometry(w - _MARGIN - 22, _MARGIN + 2, 22, 16)
        self._local_flag.move(_MARGIN, _MARGIN)
        self._frozen_mark.move(max(_MARGIN, (w - self._frozen_mark.width()) // 2), _MARGIN)

    def _refresh_name_label(self) -> None:
        label = self._name_label
        font = _badge_font(self.font())
        available = max(0, self.width() - self._name_x - _MARGIN)
        text = QFontMetrics(font).elidedText(self._name, Qt.TextElideMode.ElideRight,
                                             max(0, available - 2 * _BADGE_PAD))
        label.setToolTip(self._name)
        label.setAccessibleName(text)
        dpr = self.devicePixelRatioF()
        if text != self._display_name or label.pixmap().isNull():
            self._display_name = text
            label.setPixmap(render_badge(text, font, dpr))
        size = label.pixmap().size() / dpr
        label.setGeometry(self._name_x, self.height() - _MARGIN - _MARK,
                          min(available, size.width()), _MARK)

    def _refresh_accessible_name(self) -> None:
        parts = [self._name + (" (you)" if self._local else "")]
        if self.hand_raised:
            parts.append("hand raised")
        if self._audio_muted:
            parts.append("microphone muted")
        if self._video_paused:
            parts.append("camera paused")
        if self.video_frozen:
            parts.append("video frozen, reconnecting")
        if self._dominant:
            parts.append("speaking")
        self.setAccessibleName(", ".join(parts))
