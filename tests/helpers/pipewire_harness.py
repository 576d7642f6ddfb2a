"""A private, headless PipeWire for the plugin's tests: a session bus, pipewire with the
configuration fragments given (e.g. docs/pipewire/livesep-clean-mic.conf, as the README
installs it), wireplumber, and a fake microphone (a virtual source fed by a player), all
stopped for sure on exit. Played and recorded streams are linked by hand with pw-link."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from helpers.lv2 import tool

__all__ = ["PipeWire", "headless_pipewire"]

FAKE_MIC = "livesep-test-mic"


class PipeWire:
    """Commands against the running private PipeWire (see :func:`headless_pipewire`)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(list(command), env=self.env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(process)
        return process

    def run(self, *command: str) -> str:
        return subprocess.run(list(command), env=self.env, capture_output=True, text=True,
                              timeout=30).stdout

    def wait_for(self, what: str, *command: str, timeout: float = 15.0) -> str:
        """Polls ``command`` until its output contains ``what``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.run(*command)
            if what in out:
                return out
            time.sleep(0.1)
        raise AssertionError(f"{what!r} never appeared in {' '.join(command)}: {out}")

    def links(self) -> str:
        return self.run(tool("pw-link"), "-l")

    def link(self, output: str, input_: str) -> None:
        self.wait_for(output, tool("pw-link"), "-o")
        self.wait_for(input_, tool("pw-link"), "-i")
        subprocess.run([tool("pw-link"), output, input_], env=self.env, check=True, timeout=30)

    def record(self, node: str, rate: int, path: Path) -> subprocess.Popen[bytes]:
        """Records ``node``'s mono output to ``path`` (stop it with SIGINT)."""
        recorder = self.start(tool("pw-record"), "-P", "{ node.name=livesep-test-recorder "
                              "node.autoconnect=false }", "--rate", str(rate), "--channels",
                              "1", "--format", "f32", str(path))
        self.link(f"{node}:capture_MONO", "livesep-test-recorder:input_MONO")
        return recorder

    def play_into_microphone(self, path: Path) -> None:
        """Plays a file into the fake microphone, until its end."""
        player = self.start(tool("pw-play"), "-P", "{ node.name=livesep-test-player "
                            "node.autoconnect=false }", str(path))
        self.link("livesep-test-player:output_MONO", f"{FAKE_MIC}:input_MONO")
        player.wait(timeout=120)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


@contextmanager
def headless_pipewire(folder: Path, fragments: list[Path], *, lv2_path: Path,
                      rate: int) -> Iterator[PipeWire]:
    """PipeWire at ``rate`` with ``fragments`` in its pipewire.conf.d, wireplumber, and a fake
    default microphone."""
    runtime, config = folder / "runtime", folder / "config" / "pipewire" / "pipewire.conf.d"
    runtime.mkdir(mode=0o700)
    config.mkdir(parents=True)
    for fragment in fragments:
        shutil.copy(fragment, config / fragment.name)
    (config / "zz-test-rate.conf").write_text(
        f"context.properties = {{ default.clock.rate = {rate} "
        f"default.clock.allowed-rates = [ {rate} ] }}\n")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PIPEWIRE_RUNTIME_DIR=str(runtime),
               XDG_CONFIG_HOME=str(folder / "config"), LV2_PATH=str(lv2_path))
    env.pop("PIPEWIRE_REMOTE", None)
    bus = subprocess.Popen([tool("dbus-daemon"), "--session", "--nofork", "--nopidfile",
                            "--print-address=1"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    pipewire = PipeWire(env)
    try:
        assert bus.stdout is not None
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        pipewire.start(tool("pipewire"))
        pipewire.wait_for("Dummy-Driver", tool("pw-cli"), "ls", "Node")
        pipewire.start(tool("wireplumber"))
        pipewire.run(tool("pw-cli"), "create-node", "adapter",
                     f"{{ factory.name=support.null-audio-sink node.name={FAKE_MIC} "
                     f"media.class=Audio/Source/Virtual audio.position=[MONO] "
                     f"audio.rate={rate} object.linger=true }}")
        yield pipewire
    finally:
        pipewire.stop_all()
        bus.terminate()
        bus.wait(timeout=10)
        if bus.stdout is not None:
            bus.stdout.close()
