"""Writing files that readers and other writers share: unique temp names, dead writers' leftovers, locks.

A file is replaced by writing ``<name>.tmp-<pid>-<random>`` beside it and
renaming that over it (``os.replace``: readers see the old or the new file,
never a half-written one). A writer killed half-way leaves its temp file;
:func:`clean_temps` removes those whose process is gone. Writers of the same
file take turns through :func:`file_lock` (``<name>.lock``, released by the
OS when a holder dies).
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import filelock

log = logging.getLogger(__name__)
TMP_MARK = ".tmp-"


def temp_name(path: Path) -> Path:
    """``<path>.tmp-<pid>-<random>``: unique per writer."""
    path = Path(path)
    return path.with_name(f"{path.name}{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_temps(folder: Path, stem: str = "") -> list[Path]:
    """Remove temp files ``<stem>*.tmp-<pid>...`` in ``folder`` (and their ``.wal``) whose process is gone."""
    removed = []
    for tmp in Path(folder).glob(f"{stem}*{TMP_MARK}*"):
        pid = tmp.name.rsplit(TMP_MARK, 1)[1].split("-")[0].split(".")[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    if removed:
        log.info("removed %d temp file(s) left by dead processes in %s: %s", len(removed), folder,
                 ", ".join(p.name for p in removed))
    return removed


def file_lock(path: Path, timeout_s: float) -> filelock.BaseFileLock:
    """The lock of ``path`` (``<path>.lock``); waits up to ``timeout_s`` seconds (filelock.Timeout after)."""
    return filelock.FileLock(f"{path}.lock", timeout=timeout_s)
