"""What the embedded broker's child processes share: free loopback ports, dying with the hub,
and reading their memory from ``/proc`` (for ``/metrics``, the live view and the soak bench)."""

import contextlib
import ctypes
import os
import signal
import socket
import sys
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    """Runs in the child between fork and exec: ask the kernel for SIGKILL when the parent dies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def rss_bytes(pid: int | None) -> int | None:
    """Resident memory of process ``pid`` in bytes; None when it is not running (or not Linux)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except (OSError, ValueError):
        return None
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE") if len(fields) > 1 else None


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (children first), read from ``/proc``."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child in parents.get(current, []):
            found.append(child)
            frontier.append(child)
    return found


def command_name(pid: int) -> str:
    """The short command name of ``pid`` (``comm``), or an empty string when it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def release_free_memory() -> None:
    """Hand the allocator's free memory back to the system (glibc's ``malloc_trim``): after a
    checkpoint the hub has freed what it read, and its resident size should show it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc
            ctypes.CDLL("libc.so.6").malloc_trim(0)


_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Call before threads start: glibc gives threads up to eight arenas per core, and what
    librdkafka's threads and a checkpoint free stays scattered in them (measured: the hub
    grew after every checkpoint with the default; with two it came back). Same as
    ``MALLOC_ARENA_MAX``, which wins when set."""
    if sys.platform.startswith("linux") and "MALLOC_ARENA_MAX" not in os.environ:
        with contextlib.suppress(OSError, AttributeError):  # not glibc
            ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas)
