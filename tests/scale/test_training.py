"""Training on a 2-worker cluster equals training in this process on the same chunks, and
``livesep train --scheduler`` writes the preset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livesep import presets
from livesep.cli import main
from livesep.models.corpus.em import local_map_sum
from livesep.models.corpus.source import train_source_chunked
from livesep.models.train import TrainSettings
from livesep.scale import map_sum


def test_cluster_nmf_equals_one_process(speech_clips: list[Path], tmp_path: Path,
                                        client: Any) -> None:
    settings = TrainSettings(model="nmf", n_states=1, n_components=8, n_iter=5)
    here = train_source_chunked("speech", speech_clips, settings, chunk_seconds=8.5,
                                scratch=tmp_path / "here", map_sum=local_map_sum)
    there = train_source_chunked("speech", speech_clips, settings, chunk_seconds=8.5,
                                 scratch=tmp_path, map_sum=map_sum(client))
    assert there.provenance["chunks"] == 3
    np.testing.assert_allclose(there.W, here.W, rtol=1e-5, atol=1e-8)
    assert there.provenance["final_cost"] == pytest.approx(here.provenance["final_cost"],
                                                           rel=1e-9)


def test_cluster_training_equals_one_process(speech_clips: list[Path], tmp_path: Path,
                                             client: Any) -> None:
    settings = TrainSettings(n_states=3, n_components=3, n_iter=3)
    here = train_source_chunked("speech", speech_clips, settings, chunk_seconds=8.5,
                                scratch=tmp_path / "here", map_sum=local_map_sum)
    there = train_source_chunked("speech", speech_clips, settings, chunk_seconds=8.5,
                                 scratch=tmp_path, map_sum=map_sum(client))
    assert here.provenance["chunks"] == there.provenance["chunks"] == 3
    # Equal up to the order of the float32 sums across chunks.
    np.testing.assert_allclose(there.W, here.W, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(there.A, here.A, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(there.pi, here.pi, rtol=1e-4, atol=1e-9)
    assert there.provenance["log_likelihood"] == pytest.approx(
        here.provenance["log_likelihood"], rel=1e-6)


def test_train_on_a_cluster_from_the_command_line(speech_clips: list[Path], tmp_path: Path,
                                                  client: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "p.npz"
    assert main(["train", "--out", str(out), "--quiet", "--source",
                 f"a={','.join(map(str, speech_clips[:3]))}", "--source",
                 f"b={','.join(map(str, speech_clips[3:]))}", "--states", "2", "--components",
                 "2", "--iterations", "2", "--scheduler", client.scheduler.address,
                 "--chunk-seconds", "5", "--scratch", str(tmp_path)]) == 0
    preset = presets.load(out)
    assert preset.source_names == ("a", "b")
    assert [source.provenance["chunks"] for source in preset.sources] == [3, 3]
    capsys.readouterr()
    assert main(["train", "--out", str(tmp_path / "q.npz"), "--source", f"a={speech_clips[0]}",
                 "--source", f"b={speech_clips[1]}", "--chunk-seconds", "5"]) == 1
    assert capsys.readouterr().err.strip() == (
        "livesep train: error: --chunk-seconds and --scratch apply to training on a cluster "
        "(--workers N or --scheduler ADDRESS)")
