"""Issue 12, hole 10: secrets files are private (mode 600) from the first byte, never chmodded after."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from callcenter.private_file import write_private
from callcenter.settings import load


@pytest.fixture
def no_chmod(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """chmod does nothing (and is noted): a file written and then chmodded stays readable by others."""
    calls: list[str] = []
    monkeypatch.setattr(os, "chmod", lambda path, *a, **k: calls.append(str(path)))
    monkeypatch.setattr(Path, "chmod", lambda self, *a, **k: calls.append(str(self)))
    old = os.umask(0o022)  # the usual umask: new files are readable by everybody unless made otherwise
    yield calls
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_secrets_file_is_created_private(tmp_path: Path, no_chmod: list[str]) -> None:
    settings = load(env={"CALLCENTER_STATE_DIR": str(tmp_path)})
    store = tmp_path / "secrets.toml"
    assert settings.ami.secret and settings.ami.secret in store.read_text()
    assert _mode(store) == 0o600
    assert no_chmod == []
    assert [p.name for p in tmp_path.iterdir()] == ["secrets.toml"]  # no temporary file left


def test_a_rewritten_secrets_file_stays_private_and_an_old_readable_one_is_tightened(tmp_path: Path) -> None:
    store = tmp_path / "secrets.toml"
    store.write_text('ami_secret = "kept"\n')
    store.chmod(0o644)  # as an older version left it
    settings = load(env={"CALLCENTER_STATE_DIR": str(tmp_path)})  # adds the missing secrets
    assert settings.ami.secret == "kept"
    assert "web_session_key" in store.read_text()
    assert _mode(store) == 0o600


def test_write_private_replaces_and_does_not_follow_links(tmp_path: Path, no_chmod: list[str]) -> None:
    target = tmp_path / "demo-accounts.txt"
    write_private(target, "first\n")
    write_private(target, "second\n")
    assert target.read_text() == "second\n" and _mode(target) == 0o600
    outside = tmp_path / "outside"
    outside.write_text("untouched")
    (tmp_path / f".{target.name}.{os.getpid()}.tmp").symlink_to(outside)  # planted where the temporary goes
    write_private(target, "third\n")
    assert outside.read_text() == "untouched" and target.read_text() == "third\n"
    assert no_chmod == []
