"""Small valid audio files in the formats Asterisk records and plays."""
from __future__ import annotations

import functools
import hashlib
import io
import math
import struct
import wave
from pathlib import Path
from typing import Dict, Union

from .callflow import RECORDINGS

# ---------------------------------------------------------------------------
# Audio files
# ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)  # every world writes the same tones: compute each once
def wav_pcm(seconds: float = 0.3, freq: float = 440.0) -> bytes:
    """A valid RIFF/WAVE file: 8 kHz, 16-bit, mono PCM (a short sine tone)."""
    n = int(8000 * seconds)
    frames = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / 8000))) for i in range(n))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)
    return buf.getvalue()


def wav49(blocks: int = 10) -> bytes:
    """A WAV49 file (GSM 6.10 in RIFF, format tag 0x31), as app_voicemail's `wav49` format writes `.WAV`."""
    data = bytes((0xD8 if i % 65 == 0 else (i * 7) & 0xFF) for i in range(65 * blocks))
    fmt = struct.pack("<HHIIHHHH", 0x0031, 1, 8000, 1625, 65, 0, 2, 320)
    fact = struct.pack("<I", 320 * blocks)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def gsm_raw(frames: int = 10) -> bytes:
    """Raw GSM 6.10: 33-byte frames, each starting with the 0xD signature nibble."""
    return b"".join(bytes([0xD8]) + bytes(((f * 31 + i) & 0xFF) for i in range(32)) for f in range(frames))


def ulaw_raw(seconds: float = 0.3) -> bytes:
    """Raw 8 kHz mu-law samples (0xFF = silence, with a little pattern)."""
    return bytes((0xFF if i % 8 else 0xF0) for i in range(int(8000 * seconds)))


def _audio(fmt: str, seed: str) -> bytes:
    freq = 300 + int(hashlib.md5(seed.encode()).hexdigest()[:3], 16) % 600
    if fmt == "wav":
        return wav_pcm(freq=freq)
    if fmt == "WAV":
        return wav49()
    if fmt == "gsm":
        return gsm_raw()
    if fmt == "ulaw":
        return ulaw_raw()
    raise ValueError(fmt)


def build_sounds(base_dir: Union[str, Path]) -> Dict[str, Dict[str, Dict[str, str]]]:
    """Write the system-recording sound files under `base_dir` (= ASTVARLIBDIR/sounds).

    Returns {sound name: {language: {format: file path}}}, e.g.
    {"custom/welcome": {"en": {"wav": ".../en/custom/welcome.wav", ...}, "fr": {...}}}.
    """
    base = Path(base_dir)
    out: Dict[str, Dict[str, Dict[str, str]]] = {}
    for rec in RECORDINGS:
        for name, langs in rec["files"].items():
            for lang, formats in langs.items():
                for fmt in formats:
                    path = base / lang / ("%s.%s" % (name, fmt))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(_audio(fmt, name + lang))
                    out.setdefault(name, {}).setdefault(lang, {})[fmt] = str(path)
    return out
