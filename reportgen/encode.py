"""Stream frames into a looping GIF, an H.264 MP4 and a PNG poster.

Frames arrive one at a time and leave at once, so memory stays flat however
many frames a run has. The GIF is written frame by frame with one global
palette, each frame cropped to the rectangle that changed; the MP4 is piped to
imageio-ffmpeg's bundled ffmpeg.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import GifImagePlugin, Image

log = logging.getLogger("reportgen")

H264_ARGS = [
    "-preset", "medium", "-crf", "23", "-tune", "animation",
    "-movflags", "+faststart",  # moov atom first: a browser plays before the download ends
    "-threads", "1",  # one encoder thread per worker; runs render in parallel instead
    "-fflags", "+bitexact", "-map_metadata", "-1",  # no encoder version or dates in the file
]


class GifStream:
    """A looping, palette-optimised GIF written one frame at a time."""

    def __init__(self, path: Path, fps: int, final_hold: float) -> None:
        self.fp: BinaryIO = open(path, "wb")
        self.delay_cs = max(2, round(100 / fps))
        self.hold_cs = round(100 * final_hold)
        self.palette: Image.Image | None = None
        self.previous: np.ndarray | None = None
        self.pending: tuple[Image.Image, tuple[int, int], int] | None = None

    def add(self, rgb: np.ndarray) -> None:
        """Append one RGB frame."""
        image = Image.fromarray(rgb, "RGB")
        if self.palette is None:
            self.palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            self._write_header(rgb.shape[1], rgb.shape[0])
        indexed = image.quantize(palette=self.palette, dither=Image.Dither.NONE)
        index = np.asarray(indexed)
        if self.previous is None:
            box = (0, 0, index.shape[1], index.shape[0])
        else:
            changed = index != self.previous
            if not changed.any():  # identical frame: show the previous one longer
                image_, offset, delay = self.pending
                self.pending = (image_, offset, delay + self.delay_cs)
                return
            rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
            box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        self._flush()
        self.pending = (indexed.crop(box), (box[0], box[1]), self.delay_cs)
        self.previous = index

    def close(self) -> None:
        """Hold the last frame, then end the file."""
        if self.pending is not None:
            image, offset, delay = self.pending
            self.pending = (image, offset, delay + self.hold_cs)
            self._flush()
        self.fp.write(b";")
        self.fp.close()

    def _write_header(self, width: int, height: int) -> None:
        palette = bytes(self.palette.getpalette("RGB")[: 256 * 3]).ljust(768, b"\0")
        self.fp.write(b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little"))
        self.fp.write(b"\xf7\x00\x00")  # global colour table of 256 entries, 8-bit
        self.fp.write(palette)
        self.fp.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop forever

    def _flush(self) -> None:
        if self.pending is None:
            return
        image, offset, delay = self.pending
        # Disposal 1 (leave in place): each cropped frame paints over the previous one.
        for chunk in GifImagePlugin.getdata(image, offset, duration=delay * 10, disposal=1):
            self.fp.write(chunk)
        self.pending = None


class Mp4Stream:
    """An H.264 / yuv420p MP4 with faststart, fed frame by frame to ffmpeg."""

    def __init__(self, path: Path, size: tuple[int, int], fps: int, final_hold: float) -> None:
        import imageio_ffmpeg

        self.writer = imageio_ffmpeg.write_frames(
            str(path), size, fps=fps, codec="libx264", pix_fmt_out="yuv420p",
            macro_block_size=1,  # frames are even-sized already: never rescale
            quality=None, output_params=H264_ARGS, ffmpeg_log_level="error",
        )
        self.writer.send(None)
        self.hold_frames = round(fps * final_hold)
        self.last: np.ndarray | None = None

    def add(self, rgb: np.ndarray) -> None:
        self.writer.send(rgb)
        self.last = rgb

    def close(self) -> None:
        for _ in range(self.hold_frames if self.last is not None else 0):
            self.writer.send(self.last)
        self.writer.close()


def write_poster(path: Path, rgb: np.ndarray) -> None:
    """Write a frame as a PNG."""
    Image.fromarray(rgb, "RGB").save(path, format="PNG", compress_level=9)
