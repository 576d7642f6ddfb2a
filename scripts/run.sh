#!/usr/bin/env bash
# Sets livesep up on a fresh Debian/Ubuntu machine, then runs one job:
#   bash scripts/run.sh demo [ARGS]   separate the bundled demo recording (livesep demo ARGS)
#   bash scripts/run.sh test [ARGS]   run every test (pytest ARGS)
# It installs what is missing (system packages with apt-get, a virtual environment in .venv,
# livesep and its test dependencies) and is safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

job="${1:-demo}"
shift || true

# System packages per job: FFTW to build the engine, zlib and the LV2 headers for its preset
# reader and LV2 plugin, PortAudio for sounddevice; for the tests
# also a JACK server with a dummy backend (audio devices without hardware), Xvfb (a window
# without a screen), the Debian packages that carry the real recordings and sound fonts of
# the test corpus, cmake (the engine's C++ tests) and the LV2 hosts, Turtle checker and
# headless PipeWire (with wireplumber and a session bus) the plugin is tested with.
run_packages=(g++ libfftw3-dev zlib1g-dev lv2-dev libportaudio2)
test_packages=(g++ libfftw3-dev zlib1g-dev lv2-dev cmake jackd2 libportaudio2 xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0
               libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3
               libx11-xcb1 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0
               libxcb-xfixes0 libxcb-xkb1 libglib2.0-0
               klettres-data fluidsynth fluid-soundfont-gm timgm6mb-soundfont hydrogen-drumkits
               lilv-utils sordi jalv pipewire pipewire-bin wireplumber dbus-daemon)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_system_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "livesep setup: installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

python_bin=""
for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
  if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    python_bin="$candidate"
    break
  fi
done
if [ -z "$python_bin" ]; then
  install_system_packages python3 python3-venv python3-dev
  python_bin=python3
fi

case "$job" in
  demo) install_system_packages "${run_packages[@]}"; extras="" ;;
  test) install_system_packages "${test_packages[@]}"; extras="[test]" ;;
  *) echo "usage: bash scripts/run.sh {demo|test} [ARGS]" >&2; exit 2 ;;
esac

if [ ! -x .venv/bin/python ]; then
  if ! "$python_bin" -m venv .venv 2>/dev/null; then
    install_system_packages python3-venv
    rm -rf .venv
    "$python_bin" -m venv .venv
  fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip
echo "livesep setup: building and installing livesep${extras} into .venv"
.venv/bin/python -m pip install --quiet ".${extras}"

case "$job" in
  demo) exec .venv/bin/livesep demo "$@" ;;
  test) exec .venv/bin/python -m pytest "$@" ;;
esac
