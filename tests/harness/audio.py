"""Audio maths for what a test phone heard (no numpy): RMS envelopes and where a prompt fits in a recording."""

from __future__ import annotations

import dataclasses
import math
import struct
import wave
from pathlib import Path

FRAME = 0.05  # seconds per envelope value



def read_wav(path: Path) -> tuple[list[float], int]:
    """Mono samples as floats, and the rate (the first channel of a stereo file)."""
    with wave.open(str(path), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        assert width == 2, f"{path}: {width * 8}-bit samples"
        raw = wav.readframes(wav.getnframes())
    values = struct.unpack(f"<{len(raw) // 2}h", raw)
    return [float(v) for v in values[::channels]], rate


def wav_duration(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def envelope(samples: list[float], rate: int) -> list[float]:
    """RMS energy per FRAME seconds."""
    size = max(1, int(rate * FRAME))
    return [
        math.sqrt(sum(v * v for v in samples[i : i + size]) / size) for i in range(0, len(samples) - size + 1, size)
    ]


@dataclasses.dataclass
class Match:
    offset_seconds: float
    correlation: float  # over the whole reference
    tail_correlation: float  # over its last 5 seconds


def _pearson(a: list[float], b: list[float]) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov / math.sqrt(va * vb) if va and vb else 0.0


def best_match(reference: list[float], received: list[float]) -> Match:
    """Where in ``received`` the reference envelope fits best, and how well."""
    n = len(reference)
    assert len(received) >= n, f"recording ({len(received) * FRAME:.1f} s) shorter than the prompt ({n * FRAME:.1f} s)"
    best = max(range(len(received) - n + 1), key=lambda lag: _pearson(reference, received[lag : lag + n]))
    tail = int(5 / FRAME)
    return Match(
        offset_seconds=best * FRAME,
        correlation=_pearson(reference, received[best : best + n]),
        tail_correlation=_pearson(reference[-tail:], received[best + n - tail : best + n]),
    )


def received_audio(directory: Path) -> Path:
    """The wav file of what the phone heard (sndfile names it ...-dec.wav), not what it sent."""
    files = sorted(directory.glob("*.wav"))
    decoded = [p for p in files if "dec" in p.name]
    assert decoded, f"no received-audio file among {[p.name for p in files]}"
    return max(decoded, key=lambda p: p.stat().st_size)
