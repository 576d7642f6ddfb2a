"""Batch separation on a 2-worker cluster: the stems equal single-file separation, a rerun
resumes, a corrupt file is reported without stopping the batch, and a worker killed
mid-batch leaves nothing half-written."""

from __future__ import annotations

import json
import os
import signal
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from livesep import audio, load_preset
from livesep.cli import main
from livesep.cli.separate import separate_job
from livesep.presets.shipped import resolve_preset
from livesep.scale import batch_items, run_batch
from livesep.scale.batch import MARKER, is_batch_input
from livesep.separation.files import separate_file

PRESET = "speech-noise-nhmm"


@pytest.fixture(scope="module")
def inputs(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tree of four real mixtures (two in a subfolder) and a corrupt file."""
    folder = tmp_path_factory.mktemp("inputs")
    mixtures = sorted((corpus / "mixtures").glob("speech-noise-*/mix.wav"))[:4]
    for index, mixture in enumerate(mixtures):
        target = folder / ("sub" if index % 2 else "") / f"{mixture.parent.name}.wav"
        target.parent.mkdir(exist_ok=True)
        y, sr = audio.load(mixture)
        audio.write(target, y[:6 * sr], sr=sr)  # 6 s of each: quick, still real
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(64))
    return folder


def leftovers(folder: Path) -> list[Path]:
    """Temporary files and staging folders of interrupted writes."""
    return [p for p in folder.rglob("*") if p.name.endswith(".part")
            or p.name.startswith(".livesep-") and p.name != MARKER]


def test_many_inputs_are_a_batch(inputs: Path, tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_text("# two files\na.wav\n\n")
    assert is_batch_input(str(inputs)) and is_batch_input(str(inputs / "*.wav"))
    assert is_batch_input(str(tmp_path / "list.txt"))
    assert not is_batch_input(str(next(inputs.glob("sub/*.wav"))))
    items = batch_items(str(inputs / "**" / "*.wav"), tmp_path / "out")
    assert [item.out_dir.relative_to(tmp_path / "out").as_posix() for item in items][:2] == [
        "corrupt", "speech-noise-es-applause"]
    assert items[-1].out_dir.parent.name == "sub"
    # Stems written inside the inputs' folder are not taken for inputs by the next run.
    inside = batch_items(str(inputs), inputs / "sub")
    assert [item.source.parent for item in inside] == [inputs] * 3


def test_batch_separates_like_single_files_and_resumes(
        inputs: Path, tmp_path: Path, client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["separate", str(inputs), "--preset", PRESET, "--out-dir", str(out), "--quiet",
            "--scheduler", client.scheduler.address]
    assert main(argv) == 1  # the corrupt file fails, the others are separated
    err = capsys.readouterr().err
    assert "separated 4 file(s), 0 finished before, 1 failed" in err
    assert f"failed: {inputs / 'corrupt.wav'}: not a readable audio file" in err
    assert not (out / "corrupt").exists()  # a failed file leaves no folder behind
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["summary"] | {"wall_seconds": 0, "worker_seconds": 0} == {
        "inputs": 5, "finished": 4, "resumed": 0, "failed": 1, "pending": 0,
        "audio_seconds": pytest.approx(manifest["summary"]["audio_seconds"]),
        "wall_seconds": 0, "worker_seconds": 0}
    preset = load_preset(PRESET)
    for entry in manifest["files"]:
        if entry["error"]:
            continue
        assert entry["rtf"] == pytest.approx(entry["elapsed"] / entry["seconds"])
        source = Path(entry["input"])
        folder = out / source.relative_to(inputs).with_suffix("")
        single = separate_file(source, preset, tmp_path / "single" / source.stem)
        for stem, reference in zip(sorted(folder.glob("*.wav")), sorted(single.stems)):
            assert stem.name == reference.name
            assert np.array_equal(audio.load(stem)[0], audio.load(reference)[0])
    assert leftovers(out) == []

    # A rerun skips what is finished and redoes a file whose stems went missing.
    redo = next((out / "sub").rglob("noise.wav"))
    redo.unlink()
    assert main(argv) == 1
    assert "separated 1 file(s), 3 finished before, 1 failed" in capsys.readouterr().err
    assert redo.is_file()


@pytest.mark.parametrize("rates, expected", [((16000, 16000), "voice"),
                                             ((16000, 48000), "voice-48k")])
def test_without_a_preset_a_batch_keeps_the_full_band_if_an_input_has_it(
        tmp_path: Path, client: Any, rates: tuple[int, ...], expected: str) -> None:
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    for index, sr in enumerate(rates):
        audio.write(tmp_path / "in" / f"{index}.wav",
                    0.1 * rng.standard_normal(sr // 2).astype(np.float32), sr=sr)
    (tmp_path / "in" / "corrupt.wav").write_bytes(b"RIFF")  # failed, not a rate
    out = tmp_path / "out"
    assert main(["separate", str(tmp_path / "in"), "--out-dir", str(out), "--quiet",
                 "--scheduler", client.scheduler.address]) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert Path(manifest["settings"]["preset"]) == resolve_preset(expected)
    for index, sr in enumerate(rates):
        assert audio.info(out / str(index) / "speech.wav").sr == sr


def test_a_worker_killed_mid_batch(speech_clips: list[Path], tmp_path: Path,
                                   client: Any) -> None:
    # Eight 8-second inputs: long enough that a worker is busy when one is killed.
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(8):
        y = np.concatenate([audio.load(clip)[0] for clip in speech_clips[index % 3::3]])
        audio.write(folder / f"{index:02d}.wav", y[:8 * 16000], sr=16000)
    out = tmp_path / "out"
    items = batch_items(str(folder), out)
    pids = set(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_a_busy_worker(fraction: float) -> None:
        if killed or fraction == 0:
            return
        busy = [address for address, tasks in client.processing().items() if tasks]
        if not busy:
            return  # between two files: kill at the next one
        pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    job = partial(separate_job, preset=str(resolve_preset(PRESET)), mode="online",
                  block_size=512)
    result = run_batch(items, job, out_dir=out, client=client, progress=kill_a_busy_worker)
    assert killed and killed[0] in pids
    assert [record.error for record in result.records] == [None] * 8
    for item in items:
        assert json.loads((item.out_dir / MARKER).read_text())["outputs"]
        for stem in ("speech.wav", "noise.wav"):
            assert audio.info(item.out_dir / stem).frames == 8 * 16000
    assert leftovers(out) == []
    deadline = time.monotonic() + 30
    while len(client.scheduler_info()["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # the nanny restarts the worker for the tests after this one
