"""WAV files as MixMonitor writes them: measure, check and repair (pure file functions, no Asterisk).

Why a recording interrupted by a crash is still usable: MixMonitor's ``.wav`` is a 44-byte RIFF
header followed by raw 16-bit mono PCM at 8 kHz.  Asterisk's ``format_wav`` writes the audio as it
comes and fills in the two length fields of the header only when it closes the file.  If Asterisk
(or the machine) dies mid-call, every sample written so far is on disk; only the lengths are wrong
(zero, or those of an earlier close).  ``repair`` rewrites them from the file's real size, which is
all a player needs.  A controller crash does not touch the file at all: Asterisk keeps recording
and closes it at hang-up; the controller measures it when it starts again (``RecordingService``).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

HEADER = 44  # canonical PCM header, what format_wav writes


@dataclass(frozen=True)
class WavInfo:
    """What a wav file holds, as its header says and as the file really is."""

    rate: int
    channels: int
    width: int  # bytes per sample
    data_bytes: int  # the header's data length
    file_bytes: int

    @property
    def consistent(self) -> bool:
        """The header's lengths match the file (the writer closed it)."""
        return self.data_bytes == self.file_bytes - HEADER

    @property
    def duration(self) -> float:
        """Seconds of audio actually in the file (whatever the header says)."""
        frame = self.channels * self.width
        return (self.file_bytes - HEADER) / frame / self.rate if self.rate and frame else 0.0


class NotWav(ValueError):
    """The file is not a PCM wav with a canonical 44-byte header."""


def info(path: Path) -> WavInfo:
    """Read the header of ``path`` (raises NotWav, OSError)."""
    with open(path, "rb") as fh:
        head = fh.read(HEADER)
        size = fh.seek(0, 2)
    if len(head) < HEADER or head[0:4] != b"RIFF" or head[8:12] != b"WAVE" or head[12:16] != b"fmt ":
        raise NotWav(f"{path}: not a RIFF/WAVE file")
    fmt_len, audio_format, channels, rate = struct.unpack_from("<IHHI", head, 16)
    width = struct.unpack_from("<H", head, 34)[0] // 8
    if fmt_len != 16 or audio_format != 1 or head[36:40] != b"data":
        raise NotWav(f"{path}: not a canonical PCM wav")
    data_bytes = struct.unpack_from("<I", head, 40)[0]
    return WavInfo(rate, channels, width, data_bytes, size)


def repair(path: Path) -> bool:
    """Rewrite the header's lengths from the file size; True if they were wrong (crash recovery)."""
    current = info(path)
    if current.consistent:
        return False
    data = current.file_bytes - HEADER
    frame = current.channels * current.width
    data -= data % frame if frame else 0  # a half-written last sample is dropped from the count
    with open(path, "r+b") as fh:
        fh.seek(4)
        fh.write(struct.pack("<I", 36 + data))
        fh.seek(40)
        fh.write(struct.pack("<I", data))
    return True


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of the file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()
