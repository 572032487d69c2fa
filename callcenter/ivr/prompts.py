"""Prompt texts (``prompts/<locale>.toml``) and the audio Asterisk plays for them.

Theory of operation: each locale file names an Asterisk language (``zh``, ``en``), an espeak-ng
voice and speed, and the text of every prompt.  ``build_prompts`` writes
``<sounds>/hotline/<language>/<name>.wav`` (8 kHz mono 16-bit, what ``format_wav`` plays): from the
hospital's own recording ``prompts/recordings/<language>/<name>.<ext>`` when there is one, else
spoken by espeak-ng, then converted by sox.  (The files live in our own ``hotline/`` folder, not
in Asterisk's per-language folders, which the Debian packages own; the IVR plays them by absolute
path, ``STREAM FILE <sounds>/hotline/zh/greeting``.)  A manifest beside the files records what each was
built from (text, voice and speed, or the recording's hash), so a second build only redoes what
changed and takes milliseconds.  Files are written to a temporary name and renamed, so a build
running beside a live Asterisk (or another build) never exposes half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import tomllib
import wave
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import structlog

from callcenter.ivr.exceptions import PromptError

log = structlog.get_logger(__name__)

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"  # shipped beside the package
SOUNDS_SUBDIR = "hotline"  # <sounds>/hotline/<language>/<name>.wav
RATE = 8000
GENERATOR = "espeak-ng+sox/1"  # bump to rebuild every generated prompt
RECORDING_EXTS = (".wav", ".flac", ".ogg", ".aiff", ".au")
MANIFEST = ".manifest.json"
TIMEOUT = 60.0


@dataclass(frozen=True)
class Prompt:
    """One prompt of one language."""

    name: str
    text: str
    voice: str
    speed: int


@dataclass(frozen=True)
class Locale:
    """The prompts of one language, as read from ``prompts/<locale>.toml``."""

    language: str  # Asterisk language and sounds subdirectory
    prompts: dict[str, Prompt]
    voice: str = ""  # the file's espeak-ng voice and speed, for prompts made on the web
    speed: int = 160


def load_locales(prompts_dir: Path = PROMPTS_DIR) -> dict[str, Locale]:
    """Every ``*.toml`` prompt file except the schedule, by Asterisk language."""
    locales: dict[str, Locale] = {}
    for path in sorted(prompts_dir.glob("*.toml")):
        if path.name == "schedule.toml":
            continue
        locale = _parse_locale(path)
        if locale.language in locales:
            raise PromptError("ivr.prompts_duplicate", f"{path}: language {locale.language!r} is defined twice")
        locales[locale.language] = locale
    if not locales:
        raise PromptError("ivr.prompts_missing", f"no prompt texts (*.toml) in {prompts_dir}")
    return locales


def _parse_locale(path: Path) -> Locale:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise PromptError("ivr.prompts_syntax", f"{path}: {err}") from err
    language, voice, speed = raw.get("language"), raw.get("voice"), raw.get("speed", 160)
    if not isinstance(language, str) or not language.isalnum():
        raise PromptError("ivr.prompts_value", f"{path}: 'language' must be an Asterisk language like \"zh\"")
    prompts: dict[str, Prompt] = {}
    for name, value in dict(raw.get("prompts", {})).items():
        entry = {"text": value} if isinstance(value, str) else dict(value)
        text = str(entry.get("text", "")).strip()
        if not name.replace("_", "").isalnum() or not text:
            raise PromptError("ivr.prompts_value", f"{path}: prompt {name!r} needs a name of letters, digits, '_' and a text")
        prompts[name] = Prompt(name, text, str(entry.get("voice", voice)), int(entry.get("speed", speed)))
    return Locale(language, prompts, str(voice or ""), int(speed))


def sound_path(sounds_dir: Path, language: str, name: str) -> Path:
    """Where the audio of prompt ``name`` in ``language`` lives on this host."""
    return sounds_dir / SOUNDS_SUBDIR / language / f"{name}.wav"


def playable(asterisk_sounds_dir: str, language: str, name: str) -> str:
    """The file STREAM FILE takes: absolute as Asterisk sees it, without extension."""
    return f"{asterisk_sounds_dir.rstrip('/')}/{SOUNDS_SUBDIR}/{language}/{name}"


def wav_seconds(path: Path) -> float:
    """Duration of a wav file."""
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


# -- building ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildReport:
    """What one build did."""

    built: tuple[str, ...]  # "<language>/<name>" made now
    kept: int  # already up to date
    removed: tuple[str, ...]  # generated files no prompt names any more

    def __str__(self) -> str:
        return f"{len(self.built)} built, {self.kept} up to date, {len(self.removed)} removed"


def build_prompts(sounds_dir: Path, prompts_dir: Path = PROMPTS_DIR, *, workers: int = 4) -> BuildReport:
    """Make every prompt's audio under ``sounds_dir`` that is missing or out of date."""
    locales = load_locales(prompts_dir)
    jobs: list[tuple[Prompt, str, Path, str, Path | None]] = []
    kept, removed = 0, []
    manifests: dict[str, dict[str, str]] = {}
    for language, locale in locales.items():
        out_dir = sounds_dir / SOUNDS_SUBDIR / language
        out_dir.mkdir(parents=True, exist_ok=True)
        manifest = _read_manifest(out_dir)
        manifests[language] = manifest
        for prompt in locale.prompts.values():
            recording = _recording(prompts_dir, language, prompt.name)
            key = _key(prompt, recording)
            target = out_dir / f"{prompt.name}.wav"
            if manifest.get(prompt.name) == key and target.exists():
                kept += 1
                continue
            jobs.append((prompt, language, target, key, recording))
        for stale in sorted(set(manifest) - set(locale.prompts)):  # only files we made ourselves
            (out_dir / f"{stale}.wav").unlink(missing_ok=True)
            del manifest[stale]
            removed.append(f"{language}/{stale}")
    if jobs:
        _require_tools(need_espeak=any(rec is None for *_, rec in jobs))
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(pool.map(lambda job: _make(*job[:3], job[4]), jobs))
        for prompt, language, _target, key, recording in jobs:
            manifests[language][prompt.name] = key
            log.debug("prompt.built", language=language, prompt=prompt.name, source="recording" if recording else "espeak-ng")
    for language, manifest in manifests.items():
        _write_manifest(sounds_dir / SOUNDS_SUBDIR / language, manifest)
    return BuildReport(tuple(f"{lang}/{p.name}" for p, lang, *_ in jobs), kept, tuple(removed))


def build_prompt(sounds_dir: Path, language: str, prompt: Prompt) -> Path:
    """Speak one prompt made outside the locale files (a message from the web) into its audio file.

    It is left out of the manifest, so ``build_prompts`` neither rebuilds nor removes it.
    """
    _require_tools(need_espeak=True)
    target = sound_path(sounds_dir, language, prompt.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    _make(prompt, language, target, None)
    log.info("prompt.built", language=language, prompt=prompt.name, source="espeak-ng")
    return target


def _recording(prompts_dir: Path, language: str, name: str) -> Path | None:
    for ext in RECORDING_EXTS:
        path = prompts_dir / "recordings" / language / f"{name}{ext}"
        if path.is_file():
            return path
    return None


def _key(prompt: Prompt, recording: Path | None) -> str:
    """What the built file depends on, hashed."""
    if recording is not None:
        basis = f"recording:{hashlib.sha256(recording.read_bytes()).hexdigest()}"
    else:
        basis = f"{GENERATOR}:{prompt.voice}:{prompt.speed}:{prompt.text}"
    return hashlib.sha256(basis.encode()).hexdigest()[:24]


def _require_tools(need_espeak: bool) -> None:
    tools = ["sox", "espeak-ng"] if need_espeak else ["sox"]
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise PromptError(
            "ivr.tools_missing",
            f"{' and '.join(missing)} not found: install the Debian packages ({' '.join(missing)}); ./hotline does",
        )


def _make(prompt: Prompt, language: str, target: Path, recording: Path | None) -> None:
    """Speak (or take the recording of) one prompt and convert it to 8 kHz mono 16-bit wav."""
    with tempfile.TemporaryDirectory(prefix="prompt-") as tmp:
        source = recording
        if source is None:
            source = Path(tmp) / "spoken.wav"
            _run(["espeak-ng", "-v", prompt.voice, "-s", str(prompt.speed), "-w", str(source), prompt.text], prompt, language)
        converted = target.with_name(f".{target.name}.{os.getpid()}.tmp.wav")
        # norm: every prompt at the same loudness; a little silence after so prompts do not run together
        _run(
            ["sox", str(source), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer", str(converted),
             "norm", "-3", "pad", "0", "0.3"],
            prompt, language,
        )
        os.replace(converted, target)
        target.chmod(0o644)


def _run(cmd: list[str], prompt: Prompt, language: str) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise PromptError("ivr.prompt_build", f"{language}/{prompt.name}: {cmd[0]} took longer than {TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        raise PromptError("ivr.prompt_build", f"{language}/{prompt.name}: {cmd[0]} failed: {proc.stderr.strip()[-300:]}")


def _read_manifest(out_dir: Path) -> dict[str, str]:
    try:
        data = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_manifest(out_dir: Path, manifest: dict[str, str]) -> None:
    path = out_dir / MANIFEST
    text = json.dumps(dict(sorted(manifest.items())), indent=1) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    tmp = path.with_name(f"{MANIFEST}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def missing_prompts(sounds_dir: Path, locales: dict[str, Locale], names: Iterable[str]) -> list[str]:
    """``"<language>/<name>"`` of the named prompts that have no audio under ``sounds_dir``."""
    return [
        f"{lang}/{name}"
        for lang in locales
        for name in names
        if not sound_path(sounds_dir, lang, name).exists()
    ]
