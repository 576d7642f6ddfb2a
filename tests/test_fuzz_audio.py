"""Fuzzing the audio reader with hypothesis: random bytes and mutated WAV and FLAC files.
``audio.info`` and ``audio.load`` raise only AudioFileError, in time, warn only about a file
cut short, and what loads is what the header says (``helpers.fuzz.check_audio_bytes``).
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from hypothesis import example, given, settings
from hypothesis import strategies as st

from helpers.fuzz import CI, AudioCase, audio_seeds, check_audio_bytes, mutated, random_bytes

ARGUMENTS = {"suffix": st.sampled_from([".wav", ".flac"]),
             "sr": st.sampled_from([None, None, 16000, 44100]), "mono": st.booleans()}


def wav_at(rate: int) -> bytes:
    """A valid WAV file of 100 frames at ``rate``."""
    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(100, np.float32), rate, format="WAV")
    return buffer.getvalue()


def flac_claiming(frames: int) -> bytes:
    """The small mono FLAC with STREAMINFO's 36-bit total-samples field set to ``frames``."""
    data = bytearray(audio_seeds()["flac-16"])
    # fLaC, the block header, block and frame sizes (18 bytes), then 64 bits: the rate,
    # channels and bits per sample (28 bits) and the total samples (36 bits).
    packed = int.from_bytes(data[18:26], "big")
    data[18:26] = (packed >> 36 << 36 | frames).to_bytes(8, "big")
    return bytes(data)


@settings(CI, max_examples=100)
@given(st.builds(AudioCase, random_bytes([b"RIFF\x00\x01\x00\x00WAVEfmt ", b"fLaC", b"FORM"]),
                 **ARGUMENTS))
def test_random_bytes_are_refused_or_read(case: AudioCase) -> None:
    check_audio_bytes(case)


@settings(CI, max_examples=400)
@given(st.builds(AudioCase, mutated(audio_seeds()), **ARGUMENTS))
# A rate the resampler cannot convert from was a ParameterError without the file's name.
@example(AudioCase(wav_at(44101), ".wav", 16000, True))
# Reading all at once allocated the claimed 2**33 frames first: MemoryError (32 GiB).
@example(AudioCase(flac_claiming(2**33), ".flac", None, True))
def test_mutated_wav_and_flac_files_are_refused_or_read(case: AudioCase) -> None:
    check_audio_bytes(case)
