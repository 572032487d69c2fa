"""Files only their owner may read (secrets, passwords), private from the first byte.

``write_private`` creates a new file with mode 600 (``os.open`` with ``O_CREAT | O_EXCL |
O_NOFOLLOW``: no other user can read it at any moment, and a planted symlink is not followed),
writes it, and renames it over the target, so readers see the old or the new content and the
target ends with mode 600 whatever mode an older copy had.  Never "write, then chmod".
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MODE = 0o600


def write_private(path: Path, text: str, *, mode: int = MODE) -> None:
    """Replace ``path`` with ``text`` (UTF-8) through a file created with ``mode`` (600: the owner only)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a crash
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def keep_private(path: Path) -> None:
    """Take group and other permissions off an existing file (one written by an older version)."""
    if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(stat.S_IMODE(path.stat().st_mode) & 0o700)
