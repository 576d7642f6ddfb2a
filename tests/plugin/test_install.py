"""``livesep plugin install``: the bundle and the shipped presets in an LV2 folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from livesep.cli import main
from livesep.live.plugin import BUNDLE_NAME, bundle_dir
from livesep.presets.shipped import shipped_presets


def test_install_copies_the_bundle_and_the_presets(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugin", "install", "--dest", str(tmp_path / "lv2")]) == 0
    bundle = tmp_path / "lv2" / BUNDLE_NAME
    assert str(bundle) in capsys.readouterr().out
    for built in bundle_dir().iterdir():
        assert (bundle / built.name).read_bytes() == built.read_bytes()
    presets = sorted(path.name for path in (bundle / "presets").glob("*.npz"))
    assert presets == sorted(path.name for path in shipped_presets())
    assert {"voice.npz", "voice-48k.npz"} <= set(presets)  # the plugin's defaults


def test_install_honours_lv2_path_and_replaces_an_old_copy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    monkeypatch.setenv("LV2_PATH", f"{first}:{second}")
    (first / BUNDLE_NAME).mkdir(parents=True)
    (first / BUNDLE_NAME / "stale.ttl").write_text("old")
    assert main(["plugin", "install"]) == 0
    assert (first / BUNDLE_NAME / "manifest.ttl").is_file()
    assert not (first / BUNDLE_NAME / "stale.ttl").exists()
    assert not second.exists()


def test_install_into_an_unwritable_place_is_one_line(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["plugin", "install", "--dest", str(blocker)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("livesep plugin: error: cannot install the plugin into")
    assert error.count("\n") == 1
