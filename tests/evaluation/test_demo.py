"""``livesep demo``: the bundled recording, separated through the live engine."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from livesep import audio
from livesep.bundled import demo_material_dir
from livesep.cli import main
from livesep.evaluation.demo import run_demo


def test_bundled_material_is_consistent() -> None:
    folder = demo_material_dir()
    meta = json.loads((folder / "demo.json").read_text())
    mixture, sr = audio.load(folder / "mix.flac")
    references = [audio.load(folder / f"{name}.flac")[0] for name in meta["sources"]]
    assert sr == meta["sr"] and 3.0 <= mixture.size / sr <= 10.0
    # The mixture is exactly the sum of the references: scores against them are exact.
    np.testing.assert_array_equal(mixture, np.sum(references, axis=0))


@pytest.mark.parametrize("block_size", [1, 128, 1000])
def test_demo_separates_and_scores_the_recording(tmp_path: Path, block_size: int) -> None:
    run = run_demo(out_dir=tmp_path / "demo", block_size=block_size)
    mixture, sr = audio.load(demo_material_dir() / "mix.flac")
    stems = np.stack([audio.load(path)[0] for path in run.stems])
    assert stems.shape == (2, mixture.size)
    assert np.max(np.abs(stems.sum(axis=0) - mixture)) < 1e-4
    scores = json.loads(run.scores.read_text())
    text = json.dumps(scores)
    assert "online" in text and "irm" in text and "mixture" in text
    assert run.figure.stat().st_size > 50_000
    for path in (*run.stems, run.figure, run.scores):
        assert stat.S_IMODE(path.stat().st_mode) & 0o044, "result files must be readable"


def test_demo_separation_beats_the_mixture(tmp_path: Path) -> None:
    from livesep import presets
    from livesep.evaluation.demo import separate_with_snapshots
    from livesep.evaluation.evaluate import Evaluation, evaluate_signals
    from livesep.presets.shipped import resolve_preset

    preset = presets.load(resolve_preset("male-female-nhmm"))
    folder = demo_material_dir()
    mixture, _ = audio.load(folder / "mix.flac")
    references = np.stack([audio.load(folder / f"{n}.flac")[0] for n in preset.source_names])
    stems, snapshots = separate_with_snapshots(mixture, preset, block_size=128)
    assert snapshots["masks"].shape[1:] == (2, 257)
    assert snapshots["marginals"].shape[1:] == (2, 20)
    scores = evaluate_signals(mixture, references, preset, methods=("online", "mixture"))
    evaluation = Evaluation.from_files(preset, [scores])
    assert evaluation.mean("online", "sdr") > evaluation.mean("mixture", "sdr") + 5.0
    assert not evaluation.swaps


def test_demo_command_prints_scores_and_files(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "SDR" in out and "IRM" in out and "demo.png" in out


def test_demo_bad_block_size_is_one_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--out-dir", str(tmp_path), "--blocksize", "0"]) == 1
    assert "got 0" in capsys.readouterr().err
