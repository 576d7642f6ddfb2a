"""The cluster flags' mistakes are one clear line in the flags' words, before any cluster
starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from livesep import audio
from livesep.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["separate", "{file}", "--out-dir", "{tmp}/o", "--workers", "2"],
     "livesep separate: error: --scheduler and --workers run a batch (MIX a folder, glob or "
     "list of files); {file} is one file"),
    (["separate", "{folder}", "--out-dir", "{tmp}/o", "--model", "nmf2d"],
     "livesep separate: error: --model nmf2d (blind) separates one file at a time; {folder} "
     "names many"),
    (["separate", "{folder}", "--out-dir", "{tmp}/o", "--workers", "0"],
     "livesep separate: error: --workers must be in [1, 1024], got 0"),
    (["separate", "{folder}", "--out-dir", "{tmp}/o", "--workers", "2", "--scheduler",
      "tcp://127.0.0.1:8786"],
     "livesep separate: error: --workers 2 only sizes the embedded cluster; an existing "
     "scheduler (tcp://127.0.0.1:8786) has its own workers"),
    (["separate", "{tmp}/nothing-*.wav", "--out-dir", "{tmp}/o"],
     "livesep separate: error: {tmp}/nothing-*.wav: no audio files found (looked for .wav, "
     ".flac, .ogg, .oga, .aiff, .aif, .mp3, .opus)"),
    (["train", "--out", "{tmp}/p.npz", "--source", "a={file}", "--source", "b={file}",
      "--workers", "2", "--chunk-seconds", "-1"],
     "livesep train: error: --chunk-seconds must be > 0, got -1"),
    (["eval", "--preset", "speech-noise-nhmm", "--mixtures", "{folder}", "--workers", "0"],
     "livesep eval: error: --workers must be in [1, 1024], got 0"),
])
def test_cluster_flag_mistakes_are_one_line(argv: list[str], message: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    file = audio.write(tmp_path / "in" / "a.wav", np.zeros(16000, np.float32), sr=16000)
    names = {"file": str(file), "folder": str(file.parent), "tmp": str(tmp_path)}
    assert main([part.format(**names) for part in argv]) == 1
    assert capsys.readouterr().err.strip() == message.format(**names)
