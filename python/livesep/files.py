"""Writing files so that they appear complete or not at all."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["atomic_write", "check_output_folder", "check_output_file", "check_new_files"]


def _new_file_mode(file: Path) -> int:
    """Permissions for the written file: the replaced file's, else 0o666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(file).st_mode)
    except OSError:
        pass
    # Reading the umask without changing it (os.umask would, for every thread).
    umask = 0o022
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None], *,
                 error: Callable[[str], Exception]) -> Path:
    """Write ``path`` through a temporary file in its folder, then rename it into place.

    Parameters
    ----------
    path : path-like
        The destination; its folder must exist.
    write : callable
        Writes the whole content to the temporary file name it is given.
    error : callable, keyword-only
        Makes the exception to raise from a message naming the file and the reason.

    Returns
    -------
    Path
        ``path``. On any failure the temporary file is removed and an existing ``path`` is
        left as it was.
    """
    file = Path(path)
    if not file.parent.is_dir():
        raise error(f"{file}: cannot write (the folder {file.parent} does not exist)")
    mode = _new_file_mode(file)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".part",
                                             dir=file.parent)
    except OSError as failure:
        raise error(f"{file}: cannot write ({failure.strerror or failure})") from None
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, file)
    except BaseException as failure:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(failure, OSError):
            raise error(f"{file}: cannot write ({failure.strerror or failure})") from None
        raise
    return file


def check_output_folder(path: str | os.PathLike[str], *,
                        error: Callable[[str], Exception]) -> Path:
    """A folder to write into, checked before any work is done: it may be missing (it is
    created when written to), but it must not be a file and its nearest existing folder
    must take a new file.

    Raises ``error(message)`` naming the folder and the reason.
    """
    folder = Path(path)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is a file" if existing == folder else f"is inside {existing}, a file"
        raise error(f"{folder}: cannot be an output folder (it {what})")
    try:
        handle, probe = tempfile.mkstemp(prefix=".livesep-probe-", dir=existing)
    except OSError as failure:
        raise error(f"{folder}: cannot write there ({failure.strerror or failure})") from None
    os.close(handle)
    os.unlink(probe)
    return folder


def check_output_file(path: str | os.PathLike[str], *, overwrite: bool = False,
                      inputs: Iterable[str | os.PathLike[str]] = (),
                      error: Callable[[str], Exception]) -> Path:
    """A file to write, checked before any work is done: not a folder, not one of the
    ``inputs`` (ever), not an existing file unless ``overwrite``, in a folder that exists and
    takes a new file.

    Raises ``error(message)`` naming the file and the reason.
    """
    file = Path(path)
    if file.is_dir():
        raise error(f"{file}: is a folder; give the file to write")
    check_new_files([file], overwrite=overwrite, inputs=inputs, error=error)
    if not file.parent.is_dir():
        raise error(f"{file}: cannot write (the folder {file.parent} does not exist)")
    check_output_folder(file.parent, error=error)
    return file


def check_new_files(paths: Iterable[str | os.PathLike[str]], *, overwrite: bool,
                    inputs: Iterable[str | os.PathLike[str]] = (),
                    error: Callable[[str], Exception]) -> None:
    """Files about to be written: none may be one of the ``inputs`` (whatever
    ``overwrite`` says), and none may exist unless ``overwrite``.

    Raises ``error(message)`` naming the files.
    """
    files = [Path(path) for path in paths]
    sources = [Path(source) for source in inputs]
    for file in files:
        if file.exists() and any(source.exists() and os.path.samefile(file, source)
                                 for source in sources):
            raise error(f"{file}: is one of the inputs; it is never overwritten (choose "
                        f"another output)")
    existing = [str(file) for file in files if file.exists()]
    if existing and not overwrite:
        raise error(f"{', '.join(existing)}: already exists (pass overwrite=True to replace "
                    f"{'it' if len(existing) == 1 else 'them'})")
