"""One run per output_dir: an exclusive lock held for the life of a run (GRPO `train`, `sft`, anything that
writes a run directory).

The lock is `fcntl.flock` on `OUTPUT_DIR/.run.lock`, which holds the holder's pid for the message a second
process gets. The kernel drops a flock when its process dies (SIGKILL, power cut of the process, OOM), so a lock
file left by a dead run is stale by construction and the next run simply takes it over; there is no pid guessing
and no time-out. The file is never deleted (deleting it would let two processes lock two different inodes); a run
only locks it after checking that the path still names the file it opened.

Only the main process (RANK 0) locks: the other ranks of the same launch share its directory. flock works on
local file systems and on NFS (v4, or v3 with lockd), the usual shared run folders.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from types import TracebackType

from visualthinker.errors import ConfigError

LOCK_FILE = ".run.lock"
logger = logging.getLogger("visualthinker.trainer")


class RunDirBusy(ConfigError):
    """Another live process holds the run directory."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class RunDirLock:
    """`with RunDirLock(output_dir):` creates the folder (refusing a file in its place) and holds it exclusively.

    `acquire()` / `release()` do the same without a `with` block. Re-entrant within one process (the CLI locks
    before loading the model, the trainer again around its loop): the lock is released with the outermost holder.
    """

    _held: dict[str, list[int]] = {}  # real path of the lock file -> [fd, holders] in this process

    def __init__(self, output_dir: str | Path, key: str = "output_dir", enabled: bool | None = None) -> None:
        self.output_dir = Path(output_dir)
        self.key = key
        self.enabled = int(os.environ.get("RANK", "0")) == 0 if enabled is None else enabled
        self.path = self.output_dir / LOCK_FILE
        self.stale_pid: int | None = None  # pid of a dead holder whose lock was taken over, for the log
        self._fd: int | None = None

    def acquire(self) -> RunDirLock:
        if not self.enabled:
            return self
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already locked by this object")
        held = self._held.get(os.path.realpath(self.path))
        if held is not None:
            held[1] += 1
            self._fd = held[0]
            return self
        if self.output_dir.exists() and not self.output_dir.is_dir():
            raise ConfigError(f"{self.key} {self.output_dir} is a file, not a directory; "
                              f"choose another {self.key} or move the file away")
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ConfigError(f"{self.key} {self.output_dir}: a parent of it is a file ({exc.filename}); "
                              f"choose another {self.key}") from exc
        except OSError as exc:
            raise ConfigError(f"{self.key} {self.output_dir} cannot be created ({exc.strerror}); "
                              f"choose another {self.key}") from exc
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._read_pid(fd)
                os.close(fd)
                who = f"pid {holder}" if holder else "another process"
                raise RunDirBusy(f"{self.key} {self.output_dir} is in use by another run ({who}); wait for it to "
                                 f"finish, stop it, or choose another {self.key}") from None
            # The path may have been replaced between open and lock (someone deleted the file): lock the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        previous = self._read_pid(fd)
        if previous and previous != os.getpid() and not _pid_alive(previous):
            self.stale_pid = previous
            logger.warning("%s: took over the lock left by pid %d, which is no longer running",
                           self.output_dir, previous)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd
        self._held[os.path.realpath(self.path)] = [fd, 1]
        return self

    @staticmethod
    def _read_pid(fd: int) -> int | None:
        try:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        key = os.path.realpath(self.path)
        held = self._held.get(key)
        if held is not None and held[1] > 1:
            held[1] -= 1
            return
        self._held.pop(key, None)
        try:
            os.ftruncate(fd, 0)  # no pid left behind to mislead a reader
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
