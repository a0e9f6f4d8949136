"""One training at a time in a run folder.

Two trainings into the same --output would both write the same checkpoints and state file. The training that
writes a run folder holds an flock(2) on RUN/.lock from before its first write to its end; a second one is
refused with the holder's PID. The kernel drops the lock when the process ends, however it ends (SIGKILL, a
crash), so a killed run resumes at once: no stale lock to delete by hand. The file is removed at a normal
end; one left by a killed run holds no lock and is taken over. On Linux NFS clients flock is carried by the
server's byte-range locks, so it also holds between machines.

Windows has no flock: there the folder is not locked (this package targets Linux and macOS).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from tf_cyclegan.core.errors import RunError

try:
    import fcntl
except ImportError:  # Windows: no flock, no lock (see the module's docstring)
    fcntl = None


@contextlib.contextmanager
def hold_folder(folder: Path, lock: Path, log=print):
    """Create `folder` if need be and hold `lock` in it while the block runs (RunError when another process
    holds it). A folder that this call created and that holds nothing at the end is removed again, so that a
    run refused later (a missing --dataset) leaves no empty folder behind."""
    folder = Path(folder)
    created = not folder.exists()
    fd = _acquire(folder, Path(lock), log)
    try:
        yield
    finally:
        if fd is not None:
            _release(fd, Path(lock))
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty


def _make(folder: Path):
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"--output {folder}: cannot create it ({e.strerror or e})") from None


def _acquire(folder: Path, lock: Path, log) -> int | None:
    """The open, locked lock file with this process's PID in it (None where files cannot be locked)."""
    while True:
        _make(folder)
        if fcntl is None:
            return None
        try:  # no O_TRUNC: the holder's PID stays readable until the lock is ours
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except FileNotFoundError:  # the folder was removed under us by a refused run's clean-up: again
            continue
        except OSError as e:
            raise RunError(f"cannot write {lock}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunError(f"{folder} is in use by another training ({holder}); wait for it to finish, stop it, "
                           "or pass another --output") from None
        except OSError as e:  # a file system without locks: train, but say that nothing guards the folder
            os.close(fd)
            log(f"Warning: cannot lock {lock} ({e.strerror or e}); nothing stops a second training into {folder}")
            return None
        if _still_at(fd, lock):
            break
        os.close(fd)  # the holder removed the file as it finished, after we opened it: lock the new one
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
    return fd


def _still_at(fd: int, lock: Path) -> bool:
    """Whether the file we locked is still the one at `lock` (not removed or replaced meanwhile)."""
    try:
        here, ours = os.stat(lock), os.fstat(fd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (ours.st_dev, ours.st_ino)


def _holder(fd: int) -> str:
    """'PID 1234' (with the host when it is another machine's), read from the holder's lock file; the holder
    writes it just after taking the lock, so an empty file is read again for a moment."""
    for _ in range(20):
        text = os.pread(fd, 200, 0).decode(errors="replace").split()
        if text and text[0].isdigit():
            pid, host = text[0], " ".join(text[1:])
            return f"PID {pid}" + (f" on {host}" if host and host != socket.gethostname() else "")
        time.sleep(0.05)
    return "PID unknown"


def _release(fd: int, lock: Path):
    """Remove the file while still holding it, then let go: a process that opened it meanwhile sees that it
    is gone (_still_at) and locks a new one."""
    with contextlib.suppress(OSError):
        os.unlink(lock)
    os.close(fd)
