"""The corpus builder (scripts/build_corpus.py and its package scripts/corpus/) on a small subset
built into a temporary folder."""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import soundfile as sf

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_corpus.py"
SR = 16000
SHORT = (6.0, 3.0)  # train and test seconds of rendered material, kept short for speed

#: DATA.md's allowed klettres readers; every other reader is held out.
ALLOWED_READERS = {"en", "da", "lt", "en_GB", "nl", "uk", "es", "pt_BR", "he", "tn", "ml"}
ALLOWED_NOISE_PROGRAMS = {121, 122, 125, 126}


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bc = _load_script()
# Loading the script made its package importable; two tests reach into these modules.
packages = importlib.import_module("corpus.packages")
corpus_manifest = importlib.import_module("corpus.manifest")

_DATA = (bc.KLETTRES_ROOT / "en", bc.KLETTRES_ROOT / "uk", bc.SOUNDFONT, bc.DRUMKIT_ROOT)
pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not all(path.exists() for path in _DATA),
    reason="needs klettres-data, fluidsynth, fluid-soundfont-gm and hydrogen-drumkits "
           "(python scripts/build_corpus.py installs them)")

MIXTURES = ("male-female-en-uk", "speech-noise-uk-seashore")


def _build(out: Path, *, jobs: int) -> None:
    pytest.importorskip("mido")
    bc.build_speech(out, sr=SR, readers=["en", "uk"], jobs=jobs)
    bc.build_instruments(out, sr=SR, names=["finger_bass"], seconds=SHORT, jobs=jobs)
    bc.build_noise(out, sr=SR, names=["seashore"], seconds=SHORT, jobs=jobs)
    bc.build_drums(out, sr=SR, seconds=SHORT, jobs=jobs)
    specs = [spec for spec in bc.default_mixtures() if spec.name in MIXTURES]
    bc.build_mixtures(out, sr=SR, specs=specs, jobs=jobs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    _build(out, jobs=1)
    return out


@pytest.fixture(scope="module")
def manifest(corpus: Path) -> dict[str, Any]:
    return json.loads((corpus / "manifest.json").read_text())


def _read(path: Path) -> np.ndarray:
    y, sr = sf.read(path, dtype="float32")
    assert sr == SR
    return y


def _frame_rms(y: np.ndarray, frame: int) -> np.ndarray:
    n = len(y) // frame
    return np.sqrt(np.mean(y[:n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1))


def test_layout_rate_and_mono(corpus: Path) -> None:
    expected = {"speech/en/train.wav", "speech/en/test.wav", "speech/uk/train.wav",
                "speech/uk/test.wav", "instruments/finger_bass/train.wav",
                "instruments/finger_bass/test.wav", "noise/seashore/train.wav",
                "noise/seashore/test.wav", "drums/train.wav", "drums/test.wav",
                "mixtures/male-female-en-uk/mix.wav", "mixtures/male-female-en-uk/male.wav",
                "mixtures/male-female-en-uk/female.wav",
                "mixtures/speech-noise-uk-seashore/mix.wav",
                "mixtures/speech-noise-uk-seashore/speech.wav",
                "mixtures/speech-noise-uk-seashore/noise.wav"}
    found = {str(p.relative_to(corpus)) for p in corpus.rglob("*.wav")}
    assert found == expected
    for name in found:
        info = sf.info(corpus / name)
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "FLOAT"), name
        y = _read(corpus / name)
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0 and np.any(y != 0), name


def test_rendered_lengths_and_levels(corpus: Path) -> None:
    for name in ("instruments/finger_bass", "noise/seashore", "drums"):
        for split, seconds in zip(("train", "test"), SHORT):
            y = _read(corpus / name / f"{split}.wav")
            assert len(y) == round(seconds * SR)
            level = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
            peak = 20 * np.log10(np.max(np.abs(y)))
            # RMS -20 dBFS unless the peak limit (-1 dBFS) lowered it.
            assert peak <= -0.99 and (abs(level + 20) < 0.01 or abs(peak + 1) < 0.01)


def test_speech_split_is_by_clip_and_disjoint(manifest: dict[str, Any]) -> None:
    for reader in ("en", "uk"):
        entry = manifest["speech"][reader]
        train = [c["clip"] for c in entry["train"]["clips"]]
        test = [c["clip"] for c in entry["test"]["clips"]]
        assert train and test
        assert not set(train) & set(test)
        assert sorted(train + test) == bc.reader_clips(reader)
        assert len(test) == len(bc.reader_clips(reader)) // 4
        assert all(clip.startswith(("alpha/", "syllab/")) for clip in train + test)


def test_split_clips_every_fourth() -> None:
    clips = [f"c{i:02d}" for i in range(10)]
    train, test = bc.split_clips(clips)
    assert test == ["c03", "c07"]
    assert train == [c for c in clips if c not in test]


def test_speech_is_trimmed(corpus: Path, manifest: dict[str, Any]) -> None:
    edge = round(0.015 * SR)
    for reader in ("en", "uk"):
        for split in ("train", "test"):
            entry = manifest["speech"][reader][split]
            y = _read(corpus / entry["file"])
            clips = entry["clips"]
            # The file starts with the first trimmed clip and ends with the last one.
            assert clips[0]["offset"] == 0
            assert clips[-1]["offset"] + clips[-1]["samples"] == len(y)
            for clip, following in zip(clips, clips[1:] + [None]):
                piece = y[clip["offset"]:clip["offset"] + clip["samples"]]
                loudest = _frame_rms(piece, 160).max()
                for part in (piece[:edge], piece[-edge:]):
                    assert np.sqrt(np.mean(part.astype(np.float64) ** 2)) > (
                        loudest * 10 ** (-46 / 20)), (reader, clip["clip"])
                if following is not None:  # a 50-100 ms gap of digital silence between clips
                    gap = y[clip["offset"] + clip["samples"]:following["offset"]]
                    assert 0.05 * SR - 1 <= len(gap) <= 0.10 * SR + 1
                    assert not np.any(gap)
    # The en recordings are 2 s long each with about half a second of speech in them.
    en = manifest["speech"]["en"]["train"]["clips"]
    assert sum(c["samples"] for c in en) / SR < 0.5 * sum(c["source_s"] for c in en)


def test_trim_silence_on_a_synthetic_clip() -> None:
    sr = 16000
    rng = np.random.default_rng(0)
    word = 0.5 * np.sin(2 * np.pi * 200 * np.arange(round(0.3 * sr)) / sr)
    clip = np.concatenate([np.zeros(sr // 2), word, np.zeros(round(0.2 * sr)), word,
                           np.zeros(sr), 0.05 * np.ones(80), np.zeros(sr // 2)])
    clip = clip + 1e-5 * rng.standard_normal(len(clip))
    start, end = bc.trim_silence(clip, sr)
    # Both words and the short pause between them kept; the far click and the silence not.
    assert abs(start - (sr // 2 - 0.005 * sr)) <= 0.01 * sr
    assert abs(end - (sr // 2 + 0.8 * sr + 0.005 * sr)) <= 0.01 * sr
    assert bc.trim_silence(np.zeros(sr), sr) == (0, 0)


def test_builds_are_byte_identical(corpus: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    _build(again, jobs=2)  # also: a process pool gives the same bytes as one process
    files = sorted(p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (corpus / name).read_bytes() == (again / name).read_bytes(), name


def test_mixture_is_exact_sum_of_references(corpus: Path, manifest: dict[str, Any]) -> None:
    for name, refs in (("male-female-en-uk", ("male", "female")),
                       ("speech-noise-uk-seashore", ("speech", "noise"))):
        folder = corpus / "mixtures" / name
        mix = _read(folder / "mix.wav")
        a, b = (_read(folder / f"{ref}.wav") for ref in refs)
        assert len(mix) == len(a) == len(b) <= 20 * SR
        assert np.array_equal(mix, a + b)
        snr = 10 * np.log10(np.sum(a.astype(np.float64) ** 2) / np.sum(b.astype(np.float64) ** 2))
        assert abs(snr) < 0.01
        for ref, source in manifest["mixtures"][name]["sources"].items():
            assert source.endswith("/test.wav")  # mixtures come from test material only
            original = _read(corpus / source)[:len(mix)]
            reference = _read(folder / f"{ref}.wav")
            # A reference is its test file cut to length, scaled by one gain.
            gain = np.dot(original, reference) / np.dot(original, original)
            np.testing.assert_allclose(reference, gain * original, atol=1e-6)


def test_mix_at_snr() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(1000) * 0.1, rng.standard_normal(1200) * 0.3
    mix, a_ref, b_ref = bc.mix_at_snr(a, b, 6.0)
    assert mix.dtype == a_ref.dtype == b_ref.dtype == np.float32
    assert len(mix) == len(a_ref) == len(b_ref) == 1000
    assert np.array_equal(mix, a_ref + b_ref)
    snr = 10 * np.log10(np.sum(a_ref.astype(np.float64) ** 2) / np.sum(b_ref.astype(float) ** 2))
    assert abs(snr - 6.0) < 1e-3
    loud, _, _ = bc.mix_at_snr(np.ones(100) * 0.9, np.ones(100) * 0.9)
    assert np.max(np.abs(loud)) <= 10 ** (-1 / 20) + 1e-6  # kept below -1 dBFS
    with pytest.raises(ValueError):
        bc.mix_at_snr(np.zeros(10), np.ones(10))


def test_no_held_out_material(manifest: dict[str, Any]) -> None:
    assert set(bc.READERS) == ALLOWED_READERS
    assert set(manifest["speech"]) <= ALLOWED_READERS
    for reader, entry in manifest["speech"].items():
        assert entry["source"] == f"/usr/share/klettres/{reader}"
    assert set(bc.NOISE_PROGRAMS.values()) == ALLOWED_NOISE_PROGRAMS
    assert {e["program"] for e in manifest["noise"]["seashore"].values()} == {122}
    assert manifest["settings"]["fluidsynth"]["soundfont"] == \
        "/usr/share/sounds/sf2/FluidR3_GM.sf2"
    for held_out in ("fr", "de", "it", "ru", "nb"):
        with pytest.raises(bc.CorpusError):
            bc.reader_clips(held_out)
        with pytest.raises(bc.CorpusError):
            bc.build_speech("unused", readers=[held_out])


def test_rendered_material_differs_between_train_and_test(corpus: Path,
                                                          manifest: dict[str, Any]) -> None:
    bass = manifest["instruments"]["finger_bass"]
    assert bass["train"]["seed"] != bass["test"]["seed"]
    assert all(s["tempo"] > 0 for s in bass["train"]["sections"])
    noise = manifest["noise"]["seashore"]
    assert not set(noise["train"]["pitches"]) & set(noise["test"]["pitches"])
    drums = manifest["drums"]
    assert set(drums["test_kits"]) == set(bc.TEST_KITS)
    assert not set(drums["train_kits"]) & set(drums["test_kits"])
    assert {s["kit"] for s in drums["train"]["segments"]} <= set(drums["train_kits"])
    assert {s["kit"] for s in drums["test"]["segments"]} <= set(drums["test_kits"])
    mido = pytest.importorskip("mido")
    spec = bc.INSTRUMENTS["finger_bass"]
    for split in ("train", "test"):
        midi = mido.MidiFile(corpus / bass[split]["midi"])
        notes = [m.note for m in midi if m.type == "note_on" and m.velocity > 0]
        programs = {m.program for m in midi if m.type == "program_change"}
        assert notes and programs == {33}
        assert spec.low <= min(notes) and max(notes) <= spec.high
        assert len({m.velocity for m in midi if m.type == "note_on"}) > 3


def test_main_reports_errors_in_one_line(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--out", str(tmp_path), "--only", "speech,bogus"],
                 ["--out", str(tmp_path), "--sr", "100", "--only", "speech"]):
        assert bc.main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("build_corpus.py: error:")
        assert "Traceback" not in err


def test_rebuilding_a_part_removes_its_stale_files(tmp_path: Path) -> None:
    stale = tmp_path / "mixtures" / "gone"
    stale.mkdir(parents=True)
    (tmp_path / "speech").mkdir()
    corpus_manifest._forget(tmp_path, ["mixtures"])
    assert stale.exists()  # not a corpus this script made: nothing is deleted
    manifest = {"format": "livesep-corpus", "mixtures": {"gone": {}}, "speech": {"en": {}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    corpus_manifest._forget(tmp_path, ["mixtures"])
    assert not (tmp_path / "mixtures").exists() and (tmp_path / "speech").exists()
    left = json.loads((tmp_path / "manifest.json").read_text())
    assert "mixtures" not in left and left["speech"] == {"en": {}}


class _FakeSystem:
    """Stands in for dpkg, apt-get and sudo: records commands, fails as told."""

    def __init__(self, *, installs_after: int) -> None:
        self.commands: list[list[str]] = []
        self.installs_after = installs_after  # apt-get install succeeds from this attempt on
        self.installed = False

    def run(self, command: list[str], **_: Any) -> Any:
        self.commands.append(list(command))
        code = 0
        stdout = ""
        if command[:2] == ["dpkg", "-s"]:
            code = 0 if self.installed else 1
            stdout = "Status: install ok installed\n" if self.installed else ""
        elif "install" in command:
            attempts = sum("install" in c and "apt-get" in c for c in self.commands)
            self.installed = attempts >= self.installs_after
            code = 0 if self.installed else 100
        return type("Done", (), {"returncode": code, "stdout": stdout, "stderr": ""})()


@pytest.mark.parametrize("uid, prefix", [(0, []), (1000, ["sudo"])])
def test_missing_packages_are_installed_with_apt(monkeypatch: pytest.MonkeyPatch, uid: int,
                                                 prefix: list[str]) -> None:
    system = _FakeSystem(installs_after=2)  # the first install fails: no package lists yet
    monkeypatch.setattr(packages.subprocess, "run", system.run)
    monkeypatch.setattr(packages.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(packages.os, "geteuid", lambda: uid)
    bc.ensure_packages(["fluidsynth"], quiet=True)
    apt = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    install = [*apt, "install", "-y", "--no-install-recommends", "fluidsynth"]
    assert system.commands == [["dpkg", "-s", "fluidsynth"], install, [*apt, "update"], install,
                               ["dpkg", "-s", "fluidsynth"]]


def test_failed_install_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packages.subprocess, "run", _FakeSystem(installs_after=99).run)
    monkeypatch.setattr(packages.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(packages.os, "geteuid", lambda: 0)
    with pytest.raises(bc.CorpusError, match="apt-get could not install hydrogen-drumkits"):
        bc.ensure_packages(["hydrogen-drumkits"], quiet=True)
    monkeypatch.setattr(packages.shutil, "which", lambda name: None if name == "sudo" else name)
    monkeypatch.setattr(packages.os, "geteuid", lambda: 1000)
    with pytest.raises(bc.CorpusError, match="not root and no sudo"):
        bc.ensure_packages(["hydrogen-drumkits"], quiet=True)


def test_mido_is_installed_with_pip_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    commands: list[list[str]] = []
    real_import = importlib.import_module
    calls = {"n": 0}

    def fake_import(name: str) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # missing before pip runs
            raise ImportError(name)
        return real_import("json")

    monkeypatch.setattr(importlib, "import_module", fake_import)
    monkeypatch.setattr(packages.subprocess, "run", lambda command, **_: commands.append(command)
                        or type("Done", (), {"returncode": 0})())
    assert bc.ensure_mido(quiet=True) is json
    assert commands == [[sys.executable, "-m", "pip", "install", "--quiet", "mido>=1.3"]]
