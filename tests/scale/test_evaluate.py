"""``livesep eval`` on a 2-worker cluster scores every mixture as one process does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from livesep import audio
from livesep.cli import main


def test_eval_on_a_cluster_equals_one_process(corpus: Path, tmp_path: Path, client: Any,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    mixtures = tmp_path / "mixtures"
    for folder in sorted((corpus / "mixtures").glob("speech-noise-*"))[:2]:
        # The first 4 s of each file: enough to score, quick to separate.
        for file in folder.glob("*.wav"):
            y, sr = audio.load(file)
            (mixtures / folder.name).mkdir(parents=True, exist_ok=True)
            audio.write(mixtures / folder.name / file.name, y[:4 * sr], sr=sr)
    argv = ["eval", "--preset", "speech-noise-nhmm", "--mixtures", str(mixtures), "--methods",
            "online", "mixture", "--quiet", "--means-only"]
    assert main([*argv, "--out-dir", str(tmp_path / "here")]) == 0
    assert main([*argv, "--out-dir", str(tmp_path / "there"), "--scheduler",
                 client.scheduler.address]) == 0
    capsys.readouterr()
    here, there = (json.loads((tmp_path / name / "eval.json").read_text())
                   for name in ("here", "there"))
    assert [f["name"] for f in there["files"]] == sorted(p.name for p in mixtures.iterdir())

    def scores(data: dict[str, Any]) -> list[Any]:
        # Everything but the time each separation took.
        return [{method: {k: v for k, v in result.items() if k != "seconds"}
                 for method, result in file["methods"].items()} for file in data["files"]]

    assert scores(there) == scores(here)
