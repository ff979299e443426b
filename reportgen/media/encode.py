"""Encode frames: an H.264 MP4 streamed to ffmpeg, a GIF preview, and a PNG poster.

MP4 frames arrive one at a time and leave at once, so memory stays flat however
many iterations a run has; the MP4 is piped to imageio-ffmpeg's bundled ffmpeg,
whose stderr stays here unless it fails.
The GIF is a light preview of a few dozen frames, kept in memory and written at
the end with one global palette, each frame cropped to the rectangle that changed.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import BinaryIO, NoReturn, Sequence

import numpy as np

from reportgen.media.plan import GIF_BUDGET

log = logging.getLogger("reportgen")

H264_ARGS = [
    # veryfast: every iteration is a frame, so the encoder must keep up with the drawing. On these flat
    # graphics it writes ~4 % more bytes than "medium" in ~85 % of the time (superfast: twice the bytes).
    "-preset", "veryfast", "-crf", "23", "-tune", "animation",
    "-movflags", "+faststart",  # moov atom first: a browser plays before the download ends
    "-threads", "1",  # one encoder thread per worker; runs render in parallel instead
    "-fflags", "+bitexact", "-map_metadata", "-1",  # no encoder version or dates in the file
]


def write_gif(path: Path, frames: Sequence[np.ndarray], seconds: float, hold: float,
              budget: int = GIF_BUDGET) -> int:
    """Write a looping GIF preview of ``frames`` lasting about ``seconds`` (+ ``hold`` on the last); return its size.

    One global palette, each frame cropped to the rectangle that changed. A file over
    ``budget`` bytes is written again from every other frame (the first and last kept).
    """
    frames = list(frames)
    while True:
        delay = max(2, round(100 * seconds / max(len(frames), 1)))
        size = _write_gif(path, frames, delay, round(100 * hold))
        if size <= budget or len(frames) <= 2:
            return size
        frames = frames[:-1:2] + frames[-1:]


def _write_gif(path: Path, frames: Sequence[np.ndarray], delay_cs: int, hold_cs: int) -> int:
    from PIL import Image

    first = Image.fromarray(frames[0], "RGB")
    palette = first.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    with open(path, "wb") as fp:
        height, width = frames[0].shape[:2]
        fp.write(b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little"))
        fp.write(b"\xf7\x00\x00")  # global colour table of 256 entries, 8-bit
        fp.write(bytes(palette.getpalette("RGB")[: 256 * 3]).ljust(768, b"\0"))
        fp.write(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop forever
        previous: np.ndarray | None = None
        pending: list = []  # (image, offset, delay) of the frame waiting for its duration
        for rgb in frames:
            indexed = Image.fromarray(rgb, "RGB").quantize(palette=palette, dither=Image.Dither.NONE)
            index = np.asarray(indexed)
            if previous is None:
                box = (0, 0, index.shape[1], index.shape[0])
            else:
                changed = index != previous
                if not changed.any():  # identical frame: show the previous one longer
                    pending[2] += delay_cs
                    continue
                rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
                box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
            if pending:
                _gif_frame(fp, *pending)
            pending = [indexed.crop(box), (box[0], box[1]), delay_cs]
            previous = index
        pending[2] += hold_cs
        _gif_frame(fp, *pending)
        fp.write(b";")
    return path.stat().st_size


def _gif_frame(fp: BinaryIO, image, offset: tuple[int, int], delay_cs: int) -> None:
    from PIL import GifImagePlugin

    # Disposal 1 (leave in place): each cropped frame paints over the previous one.
    for chunk in GifImagePlugin.getdata(image, offset, duration=delay_cs * 10, disposal=1):
        fp.write(chunk)


def half_size(frame: np.ndarray) -> np.ndarray:
    """Return an RGB(A) frame as RGB at half its width and height (the GIF preview's size), averaging 2 x 2 pixels."""
    h, w = frame.shape[0] & ~1, frame.shape[1] & ~1
    rgb = frame[:h, :w, :3].astype(np.uint16)
    return ((rgb[0::2, 0::2] + rgb[1::2, 0::2] + rgb[0::2, 1::2] + rgb[1::2, 1::2] + 2) // 4).astype(np.uint8)


class Mp4Stream:
    """An H.264 / yuv420p MP4 with faststart, fed RGBA frames one by one to ffmpeg (even width and height).

    ffmpeg is imageio-ffmpeg's bundled binary, run in its own session (a Ctrl-C in the terminal reaches the
    build, which stops it, not ffmpeg) with its stderr kept here: a full disk or a stopped build prints nothing
    of ffmpeg's, and a failure raises one OSError that ends with ffmpeg's own reason.
    """

    def __init__(self, path: Path, size: tuple[int, int], fps: int, hold_frames: int) -> None:
        import imageio_ffmpeg

        width, height = size
        self.command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error",
            "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{width}x{height}", "-pix_fmt", "rgba", "-r", str(fps),
            "-i", "-", "-an", "-vcodec", "libx264", "-pix_fmt", "yuv420p", *H264_ARGS, str(path),
        ]
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
        self.stderr: deque[bytes] = deque(maxlen=20)  # ffmpeg's last lines, read as they come (a full pipe would stall it)
        self.reader = threading.Thread(target=self.stderr.extend, args=(self.process.stderr,), daemon=True)
        self.reader.start()
        self.hold_frames = hold_frames
        self.last: np.ndarray | None = None

    def add(self, rgb: np.ndarray) -> None:
        try:
            self.process.stdin.write(np.ascontiguousarray(rgb).data)
        except (BrokenPipeError, OSError):  # ffmpeg stopped: its reason is on its stderr
            self._fail()
        self.last = rgb

    def close(self) -> None:
        for _ in range(self.hold_frames if self.last is not None else 0):
            self.add(self.last)
        try:
            self.process.stdin.close()
        except OSError:
            self._fail()
        if self.process.wait() != 0:
            self._fail()
        self.reader.join()

    def abort(self) -> None:
        """Stop ffmpeg at once (the render failed or the build was stopped): its complaints are not shown."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.reader.join()

    def _fail(self) -> NoReturn:
        self.abort()
        lines = [line.decode(errors="replace").strip() for line in self.stderr]
        lines = [line for line in lines if line] or [f"ffmpeg exited with status {self.process.returncode}"]
        log.debug("ffmpeg failed: %s\n%s", " ".join(self.command), "\n".join(lines))
        text = "\n".join(lines)
        if os.strerror(errno.ENOSPC) in text:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        raise OSError(errno.EIO, f"the video encoder failed: {lines[-1]}")


def write_poster(path: Path, frame: np.ndarray) -> None:
    """Write an RGB(A) frame as the video's poster: a 256-colour PNG (25 KB for the 800 px frame, not 89 KB)."""
    write_palette_png(path, frame)


def write_palette_png(path: Path, image: np.ndarray) -> None:
    """Write an RGB(A) image as a 256-colour PNG: plots have few colours, and it is a third of the RGB file's size."""
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(image[..., :3]), "RGB")
    rgb.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
        path, format="PNG", compress_level=9)
