"""Provision and run the embedded Asterisk: a Debian unstable root, chrooted, our config.

Asterisk 22 is not in Debian 12's archive but is in unstable.  We debootstrap unstable into a
cached directory (never into the host's apt sources: that would upgrade the host's libc) and run
``chroot ROOT asterisk -C /etc/<instance>-asterisk/asterisk.conf`` with /proc and /dev bind-mounted.
Its AMI and PJSIP listen on loopback, so the host's controller and phones reach it directly.

In ``external`` mode the user runs their own Asterisk: ensure_root/start/stop do nothing.
All functions are synchronous (they run at start-up and in test fixtures); call them through
``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import wave
from pathlib import Path, PurePosixPath
from typing import Iterator

import structlog

from callcenter.asterisk.config import Layout, layout, render_config
from callcenter.exceptions import AsteriskError
from callcenter.private_file import write_private
from callcenter.settings import Settings

log = structlog.get_logger(__name__)

DEBIAN_SUITE = "sid"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
ROOT_PACKAGES = ("asterisk", "asterisk-core-sounds-en-wav", "baresip")
DEBOOTSTRAP_TIMEOUT = 1800.0

# What we bind-mount into the root, in mount order (unmounted in reverse).
BIND_MOUNTS = ("proc", "dev", "dev/pts")

# Commands inside the chroot get a plain environment: the host's locale may not exist there.
CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}

EXTERNAL_HINT = (
    'set asterisk.mode = "external" and point ami/agi settings at an Asterisk of your own '
    "(include dialplans/hotline.conf in its extensions.conf)"
)


# --------------------------------------------------------------------------- paths and helpers


def _root(settings: Settings) -> Path:
    return Path(settings.asterisk.root).resolve()


def _host(settings: Settings, inside: PurePosixPath) -> Path:
    """Host path of a path inside the chroot."""
    return _root(settings) / inside.relative_to("/")


def _external(settings: Settings) -> bool:
    return settings.asterisk.mode == "external"


def _asterisk_cmd(settings: Settings, *args: str) -> list[str]:
    conf = layout(settings).asterisk_conf
    return ["chroot", str(_root(settings)), "/usr/sbin/asterisk", "-C", str(conf), *args]


@contextlib.contextmanager
def _root_lock(settings: Settings) -> Iterator[None]:
    """Serialise debootstrap and (un)mounting between processes sharing one root (demo, tests)."""
    lock_path = Path(f"{_root(settings)}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _mount_points() -> set[Path]:
    points = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        # field 5 is the mount point, with spaces etc. as octal escapes
        raw = line.split()[4]
        points.add(Path(raw.encode().decode("unicode_escape")))
    return points


def _mounts_under(path: Path) -> list[Path]:
    return sorted((p for p in _mount_points() if p == path or path in p.parents), reverse=True)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"


# --------------------------------------------------------------------------- the root


def ensure_root(
    settings: Settings, *, mirror: str = DEBIAN_MIRROR, suite: str = DEBIAN_SUITE
) -> Path:
    """Return the root holding Asterisk, debootstrapping it once (about a minute, ~560 MB)."""
    root = _root(settings)
    if _external(settings):
        log.info("asterisk.external", detail="using the user's own Asterisk; no root needed")
        return root
    if (root / "usr/sbin/asterisk").exists():
        return root
    with _root_lock(settings):
        if (root / "usr/sbin/asterisk").exists():  # built by another process meanwhile
            return root
        # Directories our own services made inside the root before it was built (the recordings'
        # spool, for one) are kept; anything more is a broken root we must not paper over.
        leftover = root.exists() and any(root.iterdir())
        if leftover and any((root / top).exists() for top in ("usr", "bin", "etc", "lib")):
            raise AsteriskError(
                "asterisk.root_broken",
                f"{root} exists but holds no Asterisk (usr/sbin/asterisk); remove it to rebuild, "
                f"or {EXTERNAL_HINT}",
            )
        tmp = Path(f"{root}.tmp")
        if tmp.exists():
            if _mounts_under(tmp):  # never rmtree through a mounted /proc or /dev
                raise AsteriskError("asterisk.root_busy", f"{tmp} has mounts under it: {_mounts_under(tmp)}")
            shutil.rmtree(tmp)
        debootstrap = _ensure_debootstrap()
        tmp.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            debootstrap, "--variant=minbase", f"--include={','.join(ROOT_PACKAGES)}", suite, str(tmp), mirror,
        ]
        log.info("asterisk.root_building", root=str(root), suite=suite, mirror=mirror)
        started = time.monotonic()
        log_file = Path(f"{root}.debootstrap.log")
        try:
            with open(log_file, "w") as out:
                proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=DEBOOTSTRAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AsteriskError(
                "asterisk.unavailable",
                f"building the Asterisk root timed out after {DEBOOTSTRAP_TIMEOUT:.0f} s "
                f"(log: {log_file}); {EXTERNAL_HINT}",
            ) from None
        if proc.returncode != 0 or not (tmp / "usr/sbin/asterisk").exists():
            if not _mounts_under(tmp):  # debootstrap unmounts its /proc on exit; never rmtree through one
                shutil.rmtree(tmp, ignore_errors=True)
            raise AsteriskError(
                "asterisk.unavailable",
                f"Debian {suite} at {mirror} could not provide Asterisk (debootstrap exit "
                f"{proc.returncode}; log {log_file}):\n{_tail(log_file, 8)}\n"
                f"To go on, {EXTERNAL_HINT}.",
            )
        if leftover:
            shutil.copytree(root, tmp, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(root)
        os.rename(tmp, root)  # atomic: a root either holds Asterisk or does not exist
        log.info("asterisk.root_built", root=str(root), seconds=round(time.monotonic() - started, 1))
        return root


def _ensure_debootstrap() -> str:
    found = shutil.which("debootstrap")
    if found:
        return found
    log.info("asterisk.installing_debootstrap")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "debootstrap"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        proc = subprocess.run(install, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise AsteriskError(
                "asterisk.unavailable",
                f"cannot install debootstrap: {proc.stderr.strip()[-500:]}; {EXTERNAL_HINT}",
            )
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


# --------------------------------------------------------------------------- configuration


def write_config(settings: Settings) -> Path:
    """Write the rendered config into ``<root>/etc/<instance>-asterisk/``; return that directory."""
    lay = layout(settings)
    files = render_config(settings)
    for inside in (lay.etc, lay.run, lay.lib, lay.spool, lay.log, lay.log / "cdr-csv", lay.cache, lay.moh):
        _host(settings, inside).mkdir(parents=True, exist_ok=True)
    etc = _host(settings, lay.etc)
    for name, text in files.items():
        path = etc / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if name in ("manager.conf", "pjsip.conf"):  # secrets inside: mode 600 from the start
            write_private(path, text)
            continue
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        os.replace(tmp, path)
    _fill_music_on_hold(_host(settings, lay.moh))
    log.debug("asterisk.config_written", directory=str(etc))
    return etc


def _fill_music_on_hold(directory: Path) -> None:
    """A files-mode class with no files fails to load: put a soft chime there until real music."""
    if any(p.suffix in (".wav", ".gsm", ".ulaw", ".sln") for p in directory.iterdir()):
        return
    rate, frames = 8000, bytearray()
    for freq in (523.25, 659.25, 783.99, 659.25):  # C E G E, half a second each
        for n in range(rate // 2):
            fade = min(1.0, n / 400, (rate // 2 - n) / 400)
            frames += struct.pack("<h", int(3000 * fade * math.sin(2 * math.pi * freq * n / rate)))
    frames += bytes(2 * rate)  # a second of silence
    with wave.open(str(directory / "chime.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))


# --------------------------------------------------------------------------- mounts


def _mount(settings: Settings) -> None:
    root = _root(settings)
    points = _mount_points()
    for name in BIND_MOUNTS:
        target = root / name
        if target in points:
            continue
        target.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["mount", "--bind", f"/{name}", str(target)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise AsteriskError("asterisk.mount", f"cannot bind-mount /{name} into {root}: {proc.stderr.strip()}")
        log.debug("asterisk.mounted", target=str(target))


def _processes_in_root(root: Path) -> list[int]:
    """Pids of processes whose root directory is ``root`` (Asterisks, chrooted phones)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if Path(os.readlink(entry / "root")) == root:
                    pids.append(int(entry.name))
    return pids


def _unmount(settings: Settings) -> None:
    """Unmount our bind mounts unless something else (another instance) still runs in the root."""
    root = _root(settings)
    users = _processes_in_root(root)
    if users:
        log.info("asterisk.mounts_kept", reason="other processes run in the root", pids=users)
        return
    points = _mount_points()
    for name in reversed(BIND_MOUNTS):
        target = root / name
        if target in points:
            proc = subprocess.run(["umount", str(target)], capture_output=True, text=True)
            if proc.returncode != 0:
                subprocess.run(["umount", "-l", str(target)], capture_output=True)
            log.debug("asterisk.unmounted", target=str(target))


# --------------------------------------------------------------------------- running


def is_running(settings: Settings) -> bool:
    """True when this instance's Asterisk answers on its control socket."""
    if _external(settings):
        return False
    ctl = _host(settings, layout(settings).run / "asterisk.ctl")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(ctl))
        except OSError:
            return False
    return True


def rx(settings: Settings, command: str, *, timeout: float = 15.0) -> str:
    """Run one Asterisk CLI command (``asterisk -rx``) and return its output."""
    if _external(settings):
        raise AsteriskError("asterisk.external", "rx() needs the embedded Asterisk; use AMI Command instead")
    try:
        proc = subprocess.run(
            _asterisk_cmd(settings, "-rx", command), capture_output=True, text=True, timeout=timeout, env=CHROOT_ENV
        )
    except subprocess.TimeoutExpired:
        raise AsteriskError("asterisk.rx", f"'{command}' took longer than {timeout} s") from None
    if proc.returncode != 0:
        raise AsteriskError("asterisk.rx", f"'{command}' failed ({proc.returncode}): {(proc.stdout + proc.stderr).strip()}")
    return proc.stdout


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left for an absent reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pid(settings: Settings) -> int | None:
    try:
        pid = int(_host(settings, layout(settings).run / "asterisk.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def start(settings: Settings, *, timeout: float = 60.0) -> None:
    """Start (or, when already running, reload) the embedded Asterisk and wait until fully booted."""
    if _external(settings):
        log.info("asterisk.external", detail="the user's own Asterisk is used; not starting one",
                 ami=f"{settings.ami.host}:{settings.ami.port}")
        return
    ensure_root(settings)
    with _root_lock(settings):
        _mount(settings)
    write_config(settings)
    _build_prompts(settings)
    lay = layout(settings)
    if is_running(settings):
        rx(settings, "core reload")
        log.info("asterisk.reloaded", instance=settings.asterisk.instance)
        return
    started = time.monotonic()
    out_path = _host(settings, lay.log / "startup.out")
    with open(out_path, "w") as out:
        # Without -f Asterisk forks into the background and this returns at once.
        proc = subprocess.run(
            _asterisk_cmd(settings), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=CHROOT_ENV, timeout=30,
        )
    if proc.returncode != 0:
        raise _start_error(settings, f"asterisk exited with {proc.returncode}")
    deadline = started + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _start_error(settings, f"not fully booted after {timeout:.0f} s")
        if is_running(settings):
            with contextlib.suppress(AsteriskError):
                rx(settings, "core waitfullybooted", timeout=max(1.0, remaining))
                break
        elif time.monotonic() - started > 5 and _pid(settings) is None:
            raise _start_error(settings, "the asterisk process is gone")
        time.sleep(0.1)
    log.info(
        "asterisk.started", instance=settings.asterisk.instance, pid=_pid(settings),
        sip=f"{settings.asterisk.sip_host}:{settings.asterisk.sip_port}",
        ami=f"{settings.ami.host}:{settings.ami.port}", seconds=round(time.monotonic() - started, 2),
    )


def _build_prompts(settings: Settings) -> None:
    """The IVR's prompt audio into the root's sounds dir: missing or changed ones only (milliseconds when none)."""
    if not settings.ivr.enabled:
        return
    from callcenter.ivr.exceptions import IvrError
    from callcenter.ivr.plugin import build

    try:
        build(settings)
    except IvrError as err:  # calls still run: the IVR skips prompts that have no audio
        log.error("ivr.prompts_not_built", error=str(err), slug=err.slug)


def _start_error(settings: Settings, why: str) -> AsteriskError:
    lay = layout(settings)
    messages = _tail(_host(settings, lay.log / "messages"))
    startup = _tail(_host(settings, lay.log / "startup.out"), 10)
    return AsteriskError(
        "asterisk.start",
        f"Asterisk ({settings.asterisk.instance}) did not start: {why}.\n"
        f"--- {lay.log}/messages (tail) ---\n{messages}\n--- startup output ---\n{startup}",
    )


def stop(settings: Settings, *, timeout: float = 20.0) -> None:
    """Stop this instance's Asterisk at once and unmount what we mounted.  Idempotent."""
    if _external(settings):
        log.info("asterisk.external", detail="the user's own Asterisk is used; not stopping it")
        return
    if not (_root(settings) / "usr/sbin/asterisk").exists():
        return
    pid = _pid(settings)
    if is_running(settings):
        with contextlib.suppress(AsteriskError):  # the connection drops as it stops
            rx(settings, "core stop now", timeout=timeout)
    if pid is not None:
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            log.warning("asterisk.kill", pid=pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
    with _root_lock(settings):
        _unmount(settings)
    log.info("asterisk.stopped", instance=settings.asterisk.instance, pid=pid)


__all__ = ["Layout", "ensure_root", "is_running", "render_config", "rx", "start", "stop", "write_config"]
