"""One writer at a time: the exclusive lock an indexing run holds on its search database.

Two indexing runs into one database would each embed and commit what the table lacked when they
started, so every row the first had not yet committed would be written twice — and the table is
the record of what is done, so no later run could tell the copies apart. Both engines
(:func:`~songalign.search.indexer.build_index`, :func:`~songalign.search.ray_engine.build_index_ray`)
therefore hold :func:`writer_lock` from before they open the table until their last commit and index
build; a second run is refused at once, in one sentence naming the holder.

The lock is ``DB/songalign-index.lock``, a marker file created exclusively (``O_CREAT | O_EXCL``,
atomic on local file systems and on NFS v3 and later) that names the holder's process id, host and
process start time. It is :class:`filelock.SoftFileLock`, not a ``flock``/``fcntl`` lock: those live
in the kernel of one machine and are not carried across hosts by every shared file system (NFS
mounted ``nolock``, some FUSE and parallel file systems), while a database folder on shared storage
is where several machines would meet; and they leave no record of *who* holds the lock for the
message. filelock (already installed with torch) also does the delicate part, taking over a stale
marker atomically:

- **Stale on this host**: the marker names a process of this host (and PID namespace) that is no
  longer alive, or whose start time differs from the recorded one (its id was reused): the run that
  wrote it died (``kill -9``, a power cut), and the next run takes the lock over by itself.
- **Another host's marker is never taken over**: this machine cannot see that host's processes, so
  it cannot tell a crashed run from a live one. The run is refused with the holder's pid and host;
  once that run is known to have stopped, deleting the lock file lets the next run in.

Searching needs no lock: readers see the last committed version (:mod:`songalign.search.store`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from songalign.errors import MissingDependencyError, SongalignError

LOCK_FILE = "songalign-index.lock"
"""The writer lock's marker, in the database folder."""

_NAMESPACE_MARK = "?pidns-"  # filelock appends it to the host of a process in a container's PID namespace
_INITIAL_PID_NAMESPACE = 0xEFFFFFFC  # the inode Linux reserves for the host's own PID namespace


@contextmanager
def writer_lock(db: str | Path) -> Iterator[Path]:
    """Hold the exclusive writer lock of database folder ``db`` (created if missing) for the block.

    Yields the lock file's path. Raises :class:`~songalign.errors.SongalignError` (one sentence: the
    holder's pid and host, and what to do) when another live run holds it; takes over a stale lock
    of a dead process of this host (see the module's notes).
    """
    try:
        from filelock import SoftFileLock, Timeout
    except ImportError as error:  # pragma: no cover - installed with torch
        raise MissingDependencyError("filelock", "songalign index", extra="search") from error
    folder = Path(db)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    # timeout 0: refuse at once rather than queue behind a run that may take hours;
    # thread_local off: the lock belongs to the process (the Ray driver, the indexer's threads)
    lock = SoftFileLock(path, timeout=0, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise SongalignError(held_message(folder, path)) from None
    try:
        yield path
    finally:
        lock.release()


def lock_holder(path: Path) -> tuple[int, str] | None:
    """``(pid, host)`` recorded in the lock file ``path``, or ``None`` when it is gone or unreadable.

    The host is as filelock records it (a container's PID namespace appended as ``?pidns-<inode>``).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
        return int(lines[0]), lines[1]
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        return None


def held_message(db: Path, path: Path) -> str:
    """The sentence refusing a second writer of ``db``, whose lock file ``path`` names the holder."""
    holder = lock_holder(path)
    if holder is None:  # a holder still writing its record, or a record filelock wrote in another format
        return (
            f"{db} is being indexed by another run (its lock file {path} names no process yet); wait for that "
            f"run to finish, or delete {path} if no run is indexing into {db}"
        )
    pid, host = holder
    name, _, namespace = host.partition(_NAMESPACE_MARK)
    where = f"host {name}" + (f" (PID namespace {namespace})" if namespace else "")
    if name == socket.gethostname() and namespace == _own_pid_namespace():
        return (
            f"{db} is being indexed by another run (pid {pid} on this {where}, lock file {path}); "
            "wait for it to finish, or stop it, then re-run"
        )
    return (
        f"{db} is being indexed by another run (pid {pid} on {where}, lock file {path}), and this machine "
        f"cannot see that host's processes; wait for it to finish, or delete {path} once that run has stopped"
    )


def _own_pid_namespace() -> str:
    """This process's PID namespace as filelock records it (hex inode), ``""`` for the host's own namespace:
    a holder whose pid lives in another namespace cannot be probed from here, as on another host."""
    try:
        inode = Path("/proc/self/ns/pid").stat().st_ino
    except OSError:  # not Linux, or hidden by a sandbox: filelock records no namespace either
        return ""
    return "" if inode == _INITIAL_PID_NAMESPACE else f"{inode:x}"
