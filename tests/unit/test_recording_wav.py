"""Recording files: measuring MixMonitor's wav, and repairing one whose writer died mid-call."""

from __future__ import annotations

import struct
import wave

from callcenter.recording import wav


def _write(path, seconds: float, rate: int = 8000) -> bytes:
    frames = b"".join(struct.pack("<h", (n * 37) % 2000 - 1000) for n in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return frames


def test_a_closed_file_is_consistent_and_measured(tmp_path):
    path = tmp_path / "a.wav"
    _write(path, 1.5)
    info = wav.info(path)
    assert info.consistent
    assert info.rate == 8000 and info.width == 2 and info.channels == 1
    assert info.duration == 1.5
    assert wav.repair(path) is False  # nothing to do


def test_a_crash_leaves_a_zero_length_header_that_repair_fixes(tmp_path):
    path = tmp_path / "crashed.wav"
    frames = _write(path, 2.0)
    raw = bytearray(path.read_bytes())
    raw[4:8] = struct.pack("<I", 36)  # what format_wav wrote at open: lengths of an empty file
    raw[40:44] = struct.pack("<I", 0)
    raw += b"\x01"  # and half a sample written when the process died
    path.write_bytes(bytes(raw))
    assert not wav.info(path).consistent
    with wave.open(str(path)) as broken:
        assert broken.getnframes() == 0  # a player would see nothing

    assert wav.repair(path) is True
    with wave.open(str(path)) as fixed:
        assert fixed.getnframes() == 16000
        assert fixed.readframes(16000) == frames  # every sample written before the crash is there
    assert round(wav.info(path).duration, 3) == 2.0


def test_sha256_is_of_the_whole_file(tmp_path):
    import hashlib

    path = tmp_path / "c.wav"
    _write(path, 0.1)
    assert wav.sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
