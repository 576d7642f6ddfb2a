"""Installing what the build needs: Debian packages with apt-get, ``mido`` with pip.

The corpus is made from Debian-packaged audio and tools (klettres-data, fluid-soundfont-gm,
hydrogen-drumkits, fluidsynth); a missing package is installed with apt-get (through sudo
when not root) and a missing ``mido`` with pip into this interpreter, so that the build
runs on a fresh machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .common import CorpusError


def _package_installed(package: str) -> bool:
    result = subprocess.run(["dpkg", "-s", package], capture_output=True, text=True, check=False)
    return result.returncode == 0 and "Status: install ok installed" in result.stdout


def _package_version(package: str) -> str:
    if shutil.which("dpkg-query") is None:
        return "unknown"
    result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                            text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def ensure_packages(packages: Iterable[str], *, quiet: bool = False) -> None:
    """Install the Debian packages that are missing, with apt-get.

    Parameters
    ----------
    packages : iterable of str
        Debian package names.
    quiet : bool, keyword-only
        Hide apt-get's output.

    Raises
    ------
    CorpusError
        If packages are missing and cannot be installed (no apt-get, no root and no sudo, or
        apt-get failing even after ``apt-get update``).
    """
    wanted = sorted(set(packages))
    if not wanted:
        return
    if shutil.which("dpkg") is None:
        raise CorpusError(f"cannot check for the Debian packages {' '.join(wanted)}: dpkg is "
                          "missing (this script needs Debian or Ubuntu)")
    missing = [package for package in wanted if not _package_installed(package)]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise CorpusError(f"missing Debian packages {' '.join(missing)} and no apt-get to "
                          "install them")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise CorpusError(f"missing Debian packages {' '.join(missing)}; not root and no "
                              f"sudo: run apt-get install {' '.join(missing)} as root")
        prefix = ["sudo"]
    # sudo drops most of the environment, so the non-interactive frontend goes through env.
    apt = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    install = [*apt, "install", "-y", "--no-install-recommends", *missing]
    if not quiet:
        print(f"installing Debian packages: {' '.join(missing)}", file=sys.stderr, flush=True)
    output = subprocess.DEVNULL if quiet else None
    if subprocess.run(install, stdout=output, check=False).returncode != 0:
        # A fresh machine often has no package lists yet.
        subprocess.run([*apt, "update"], stdout=output, check=False)
        if subprocess.run(install, stdout=output, check=False).returncode != 0:
            raise CorpusError(f"apt-get could not install {' '.join(missing)}")
    still = [package for package in missing if not _package_installed(package)]
    if still:
        raise CorpusError(f"the Debian packages {' '.join(still)} are still not installed")


def ensure_mido(*, quiet: bool = False) -> Any:
    """Import ``mido``, installing it with pip into this interpreter when it is missing.

    Returns
    -------
    module
        The ``mido`` module.

    Raises
    ------
    CorpusError
        If pip cannot install it.
    """
    import importlib

    try:
        return importlib.import_module("mido")
    except ImportError:
        pass
    if not quiet:
        print("installing mido with pip", file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "mido>=1.3"]
    if subprocess.run(command, capture_output=quiet, check=False).returncode != 0:
        raise CorpusError(f"pip could not install mido into {sys.executable}")
    importlib.invalidate_caches()
    try:
        return importlib.import_module("mido")
    except ImportError as error:
        raise CorpusError(f"mido was installed but cannot be imported ({error})") from None


def _require_file(path: Path, package: str) -> None:
    if not path.exists():
        raise CorpusError(f"{path} is missing although {package} is installed")
