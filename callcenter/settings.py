"""One settings object, loaded once from a TOML file plus environment overrides.

Every value has a default that runs the embedded demo: a local Asterisk provisioned by the
project, SQLite under ``var/``, the web UI on loopback.  ``callcenter.example.toml`` documents
each key.  Environment variables override the file: ``CALLCENTER_<SECTION>__<KEY>`` (for example
``CALLCENTER_AMI__SECRET``); top-level keys are ``CALLCENTER_<KEY>``.  Secrets (AMI secret, SIP
passwords, the web session key) come from the file or the environment, never from the repository:
when absent they are generated once and kept in ``<state_dir>/secrets.toml``.

Keys that moved are still read from old files, with a warning (``Settings.notes``, logged by the
command line once logging is set up): ``[web]``, ``[ivr]`` and ``[workorders]`` ``timezone`` are now
the one ``[hospital] timezone`` (see ``MOVED``).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from callcenter.exceptions import ConfigError

ENV_PREFIX = "CALLCENTER_"
METRICS_TOKEN_MIN = 24  # characters of [web] metrics_token: long enough that guessing it is hopeless
# Old key -> the key that replaced it.  Old files keep working; the old keys are deprecated.
MOVED = {
    "web.timezone": "hospital.timezone",
    "ivr.timezone": "hospital.timezone",
    "workorders.timezone": "hospital.timezone",
}


@dataclass(frozen=True)
class HospitalSettings:
    # The hospital's clock: every "HH:MM-HH:MM" window (IVR rules, rota, duty hours, outbound
    # windows; callcenter/timewindow.py), "today" on the wallboard, report days, overdue days,
    # "reply by end of day", local times in imports.  An IANA zone name.
    timezone: str = "Asia/Shanghai"

    @property
    def zone(self) -> ZoneInfo:
        """The hospital's time zone (validated when the settings are loaded)."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class AmiSettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "callcenter"
    secret: str = ""  # filled from secrets.toml when empty
    action_timeout: float = 5.0  # seconds before an AMI action is given up
    ping_interval: float = 5.0  # watchdog: a ping unanswered this long drops the connection
    reconnect_delay: float = 1.0
    # Embedded mode: the classes of the controller's manager.conf account (what it reads and may do).
    read: str = "system,call,agent,user,dtmf"  # the events in callcenter.asterisk.config.AMI_EVENTS
    write: str = "call,originate,reporting"  # Originate, Hangup, MixMonitorMute, CoreShowChannels, CoreStatus, DeviceStateList
    extra_events: tuple[str, ...] = ()  # more events let through manager.conf's filter (the tests watch AGIExecStart)


@dataclass(frozen=True)
class AgiSettings:
    host: str = "127.0.0.1"  # where the controller's FastAGI server listens; keep it on loopback
    port: int = 4573
    # Beyond loopback one of these is required (refused otherwise): a shared secret Asterisk sends in
    # the AGI URL (agi://host:port/hotline?secret=...), and/or the addresses Asterisk connects from.
    secret: str = ""
    allow: tuple[str, ...] = ()  # source addresses or networks, e.g. ["10.0.0.5", "10.0.1.0/24"]; empty: any


@dataclass(frozen=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    session_key: str = ""  # filled from secrets.toml when empty
    cookie_secure: bool = False  # true behind HTTPS: the session cookie is then sent over HTTPS only
    session_idle_minutes: float = 720.0  # a session unused this long must log in again
    max_failed_logins: int = 5  # wrong passwords in a row that lock an account; 0: never
    lockout_minutes: float = 15.0
    service_level_target: float = 0.9  # answered within two rings; the wallboard alerts below it
    long_wait_alert: float = 60.0  # seconds a caller may wait before the wallboard alerts
    # GET /metrics beyond loopback: "Authorization: Bearer <this>" (or a supervisor's session); empty: no token works
    metrics_token: str = ""


@dataclass(frozen=True)
class HaSettings:
    """Two controllers beside one Asterisk, one leading (docs/operations.md, "Two controllers")."""

    enabled: bool = False  # true: one of a pair; the lead goes by a PostgreSQL advisory lock (needs PostgreSQL)
    name: str = ""  # this controller's name ("a", "b"): /health, logs, its agent legs' ids (acd-<name>-...)
    lock_key: int = 16016  # the advisory lock's key: the same for both controllers of a pair
    peer_agi: str = ""  # "host:port" of the other controller's FastAGI: the dialplan tries it second
    check_interval: float = 0.25  # s between lock checks (standby: take it; leader: prove it still holds it)
    lease: float = 1.0  # a leader whose last good check is older than this stops acting
    dialplan_retry: float = 4.0  # s a new caller's dialplan tries the two controllers before the fallback queue

    @property
    def fence(self) -> float:
        """Seconds a new leader waits after taking the lock: the old one has stopped acting by then."""
        return self.lease + 0.2


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = ""  # empty: sqlite+aiosqlite:///<state_dir>/callcenter.db


@dataclass(frozen=True)
class AcdSettings:
    ring_on: float = 1.0  # Chinese ringback cadence: 1 s on, 4 s off
    ring_off: float = 4.0
    rings: int = 2  # the promise: answered within two rings
    wrap_up: float = 10.0  # seconds after each call before the next offer (the operator can end it early)
    max_missed: int = 2  # misses in a row that pause an operator (reason "missed_calls"); 0: never
    sla_guard_after: float = 4.0  # seconds into an unanswered ring to ring a second free agent too; 0: off
    overflow_after: float = 30.0  # seconds a call waits for its skill before any agent may take it
    strategy: str = "longest_idle"  # or "fewest_calls", "round_robin"
    auto_login: bool = True  # a phone that registers logs its agent in (feature codes still work)
    ami_down_handoff: float = 5.0  # seconds a caller waits while AMI is down before the dialplan's fallback queue takes them
    setup_timeout: float = 4.0  # seconds for an offer to reach the phone (ringing) before it is withdrawn (not a miss)
    ring_grace: float = 1.0  # seconds past the ring window before the core ends a ring Asterisk did not report
    retry_after: float = 2.0  # seconds an operator is left out of offers after one could not reach their phone
    # Answer memory: each operator's recent rings (answered or not, seconds to answer) fade with this half-life
    memory_half_life: float = 1800.0  # seconds; 0: never forgotten
    likely_threshold: float = 0.9  # operators below this chance of answering in the window ring only when no likelier one is free, guarded from ring start; 0: the strategy alone
    guard_likelihood: float = 0.8  # the SLA guard fires as soon as the ringing operator's chance of answering in what is left drops below this (sla_guard_after at the latest); 0: at sla_guard_after only
    escalate_after: float = 5.0  # seconds into a call's first ring to ring every free operator at once; 0: off
    pair_when_idle: bool = True  # queue empty and operators idle: a new call rings two phones at once; false: off
    auto_resume_after: float = 120.0  # seconds before an operator paused for missed calls is rung again; 0: only by hand
    announce_every: float = 30.0  # seconds between telling a waiting caller their place and wait (never the first in line); 0: off
    callback_offer_after: float = 60.0  # seconds of waiting before the hold announcement offers "press 1 to keep your place"; 0: off
    callback_attempts: int = 3  # callbacks of a kept place whose caller is not reached before it becomes an abandoned-call task
    callback_retry_after: float = 120.0  # seconds between those attempts (the place is kept meanwhile)

    @property
    def ring_timeout(self) -> float:
        """Seconds an offered call may ring at one agent: ``rings`` full cadence periods."""
        return self.rings * (self.ring_on + self.ring_off)


@dataclass(frozen=True)
class AgentSettings:
    id: str  # PJSIP endpoint name and SIP user, e.g. "1001"
    name: str = ""
    sip_password: str = ""  # filled from secrets.toml when empty
    skills: tuple[str, ...] = ()  # menu skills this operator takes first, e.g. ("medical",)


@dataclass(frozen=True)
class AsteriskSettings:
    mode: str = "embedded"  # "embedded": provisioned by us; "external": the user's own Asterisk
    root: str = "/var/cache/callcenter/asterisk-root"  # debootstrap'd Debian unstable root
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    hotline_number: str = "12320"
    fallback_queue: str = "hotline-fallback"
    queue_log: str = ""  # empty: <root>/var/log/asterisk/queue_log in embedded mode
    # Phones that may dial the hotline directly (demo and test callers); production callers
    # arrive over a trunk configured by the hospital.
    caller_endpoints: tuple[str, ...] = ("2001", "2002", "2003", "2004", "2005", "2006")
    # Embedded mode: names this Asterisk's own directories inside the root (/etc/<instance>-asterisk,
    # /run/<instance>-asterisk, ...) so that two instances (demo, tests) can share one cached root.
    instance: str = "callcenter"


@dataclass(frozen=True)
class IvrSettings:
    enabled: bool = True  # false: callers go straight to the ACD (any operator)
    language: str = "zh"  # the caller's first language (a prompts/<locale>.toml "language"); * switches
    prompts_dir: str = ""  # empty: the repository's prompts/ (texts, schedule.toml, recordings/)
    schedule_file: str = ""  # empty: <prompts_dir>/schedule.toml
    sounds_dir: str = ""  # empty: <asterisk.root>/usr/share/asterisk/sounds (embedded); prompts go to <it>/hotline/
    max_seasonal: int = 2  # seasonal messages a caller hears at most, by rule priority
    repeat_window_hours: float = 24.0  # a caller with a ticket this recent skips them; 0: never
    menu_timeout: float = 6.0  # seconds to wait for a key after the menu was read
    menu_attempts: int = 3  # menu readings before the caller goes to any operator
    rules_refresh: float = 5.0  # seconds a schedule read from the database is reused
    # TESTING SEAM: an ISO datetime with offset ("2025-07-15T10:00:00+08:00") the schedule sees
    # instead of the real clock.  Leave empty in production.
    fixed_time: str = ""


@dataclass(frozen=True)
class DemoSettings:
    phones: bool = True  # start baresip demo phones for agents and one caller


@dataclass(frozen=True)
class CalendarSettings:
    """The hospital's working calendar (callcenter/workcalendar.py): time limits, campaigns' holidays."""

    weekdays: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: tuple[str, ...] = ("08:00-12:00", "13:30-17:30")  # working hours, "HH:MM-HH:MM" within a day
    # Days off ("2026-10-01" or "2026-10-01..2026-10-07") and make-up working days (调休, e.g. a
    # Saturday worked for a long holiday); set both each year from the State Council's notice.
    holidays: tuple[str, ...] = ()
    workdays: tuple[str, ...] = ()


@dataclass(frozen=True)
class WorkOrderSettings:
    callback_within_hours: float = 48.0  # a solved ticket's satisfaction callback is due within this
    abandoned_reply_hours: float = 2.0  # promise given to an abandoned call: called back within this
    link_window_days: float = 30.0  # a repeat call joins the caller's open ticket this recent; 0: never
    overdue_check_seconds: float = 60.0  # how often overdue tickets are looked for (alerts); 0: never
    kb_sample: str = "data/kb_sample.csv"  # loaded into an empty knowledge base at start; "": none
    promise_max_days: float = 365.0  # a promised reply or scheduled callback lies between now and this far ahead
    # Time limits by category (callcenter/workorders/timelimits.py; docs/time_limits.md): on_call,
    # same_day, "N working hours" or "N working days"; "escalation" is a department's finding once
    # escalated.  A table in the file is merged over these defaults.
    time_limits: dict[str, str] = field(default_factory=lambda: {
        **dict.fromkeys(("registration", "guidance", "billing", "reports", "lost_property", "other", "urgent"),
                        "on_call"),
        "medical": "same_day", "complaint": "2 working days", "suggestion": "5 working days",
        "hotline_12345": "2 working days", "escalation": "5 working days",
    })
    on_call_grace_minutes: float = 15.0  # an on_call ticket is due this long after its call ended (wrap-up)
    # The overdue ladder: past the deadline the operator is told; this many working hours later the
    # supervisor; this many the department's head (tickets with a department).
    supervisor_after_hours: float = 4.0
    head_after_hours: float = 8.0


@dataclass(frozen=True)
class OutboundSettings:
    # Dial strings: {number} is the number to call with ``prefix`` in front; {agent} the operator.
    # Production: a trunk, e.g. "PJSIP/{number}@hospital-trunk" with prefix "0" for an outside line.
    dial: str = "PJSIP/{number}"
    prefix: str = ""
    agent_dial: str = "PJSIP/{agent}"
    caller_id: str = ""  # number shown to patients and departments; "": asterisk.hotline_number
    office_ring_seconds: float = 20.0  # a department's office phone rings this long before the mobiles
    mobile_ring_seconds: float = 25.0  # each specialist's mobile
    agent_ring_seconds: float = 15.0  # the operator's phone, first leg of a callback
    caller_ring_seconds: float = 30.0  # the caller's phone, second leg of a callback
    survey: bool = True  # after an operator's callback the caller hears the satisfaction survey (keys 1-5)
    survey_timeout: float = 8.0  # seconds to wait for the survey key
    escalation_ack_timeout: float = 10.0  # seconds the reached department has to press 1 (acknowledged)
    max_attempts: int = 3  # callback attempts before a task fails
    # The dialling policy (callcenter/outbound/policy.py): every outside number is checked before it is dialled.
    internal_dial: str = "PJSIP/{number}"  # asterisk.caller_endpoints: phones on this Asterisk, not the trunk
    area_code: str = "010"  # the hospital's area: 010-64028401 is dialled as the local 64028401
    allowed_numbers: tuple[str, ...] = (r"[2-9]\d{7}", r"1[3-9]\d{9}")  # local landlines, national mobiles
    refused_numbers: tuple[str, ...] = (r"00\d*", r"\+\d*", r"0?900\d*")  # international, satellite, premium
    emergency_numbers: tuple[str, ...] = ("110", "119", "120", "122", "112", "999", "911")  # never dialled
    operator_per_minute: int = 6  # outside calls one user (or "auto", "lists") may start in a minute; 0: no limit
    global_per_minute: int = 30  # outside calls in all in a minute; 0: no limit


@dataclass(frozen=True)
class OutboundListSettings:
    """Scheduled outbound lists (day-7 follow-ups, appointment reminders) and automatic callbacks."""

    enabled: bool = True  # dial imported lists in the windows below; false: import and list only
    # Off-peak windows, hospital time (hospital.timezone), "HH:MM-HH:MM" (callcenter/timewindow.py:
    # an end before the start runs past midnight, an end equal to the start is the whole day).
    windows: tuple[str, ...] = ("09:30-11:30", "14:30-16:30", "19:00-20:00")
    per_hour: int = 60  # list calls started per hour at most, paced evenly (one every 3600/per_hour s)
    concurrent: int = 2  # list calls ringing or playing at once
    max_attempts: int = 3  # attempts per patient before the task fails
    retry_no_answer_minutes: float = 60.0  # next attempt after no answer (still inside a window)
    retry_busy_minutes: float = 15.0
    retry_failed_minutes: float = 30.0  # trunk or network trouble
    ring_seconds: float = 30.0  # the patient's phone rings this long
    key_timeout: float = 5.0  # seconds to wait for "1" (operator) after the message
    followup_day: int = 7  # a discharged patient is called on this day after discharge...
    followup_grace_days: int = 2  # ...or the next days when unreachable; then the task expires
    auto_callback: bool = True  # offer abandoned calls' callbacks to a free operator (nobody waiting)
    callback_windows: tuple[str, ...] = ("08:00-21:00",)  # when those callbacks are dialled
    check_seconds: float = 15.0  # the runner looks at least this often (an import wakes it at once)


@dataclass(frozen=True)
class CampaignSettings:
    """Sampled satisfaction campaigns (callcenter/outbound/campaigns.py): when residents are free to answer."""

    # Hospital time, "HH:MM-HH:MM"; which days are holidays (weekends, holidays, not make-up workdays): [calendar].
    workday_windows: tuple[str, ...] = ("08:00-09:00", "12:00-13:30", "18:30-20:30")
    holiday_windows: tuple[str, ...] = ("09:30-11:30", "15:00-20:00")
    days: int = 14  # a campaign calls for this many days after it is created (its tasks expire then)
    per_department: int = 10  # patients drawn per department when a request gives neither a number nor a share
    max_attempts: int = 3  # attempts per patient


@dataclass(frozen=True)
class QualityItem:
    """One item of the quality review form (callcenter/quality/): scored 0..max_points."""

    key: str = ""
    label_zh: str = ""
    label_en: str = ""
    max_points: int = 10


QUALITY_ITEMS = (
    QualityItem("greeting", "规范问候", "Greeting", 10),
    QualityItem("listening", "耐心倾听", "Listening", 20),
    QualityItem("accuracy", "答复准确（与知识库一致）", "Accuracy against the knowledge base", 30),
    QualityItem("reply_time", "告知答复时限", "Promised reply time given", 15),
    QualityItem("no_forbidden", "无服务禁语", "None of the forbidden phrases", 15),
    QualityItem("closing", "规范结束语", "Closing", 10),
)


@dataclass(frozen=True)
class QualitySettings:
    """Quality review of calls (docs/quality.md): the form and the weekly sample."""

    sample_per_week: int = 3  # answered, recorded calls drawn at random per operator per week (plus every low score or complaint)
    sample_seed: str = "hotline"  # the draw is fixed by seed, week and operator; a site may set its own
    items: tuple[QualityItem, ...] = QUALITY_ITEMS  # [[quality.items]] key, label_zh, label_en, max_points
    forbidden_phrases: tuple[str, ...] = ("不归我们管", "我不知道", "我帮不了你", "我已经说过了")  # shown on the form


@dataclass(frozen=True)
class RecordingSettings:
    enabled: bool = True  # record every answered call (MixMonitor), callbacks and escalations too
    # Where recordings are kept, as this host sees it; files go to <directory>/<YYYY>/<MM>/<DD>/.
    # Empty: <asterisk.root>/var/spool/<instance>-asterisk/recordings (embedded mode).
    directory: str = ""
    # The same directory as Asterisk sees it.  Empty: derived (inside the chroot when embedded; the
    # same path in external mode, i.e. a shared disk mounted at the same place).
    asterisk_directory: str = ""
    mixmonitor_options: str = "b"  # b: only while bridged (caller and operator, both directions)
    min_free_mb: float = 500.0  # below this much free disk, calls go on unrecorded and supervisors are alerted
    check_seconds: float = 60.0  # how often the directory is checked between calls (alert early); 0: never
    retention_days: float = 180.0  # recordings older than this are deleted, unless flagged; 0: keep all
    retention_interval_hours: float = 24.0  # how often the retention job runs (first run at start)
    finish_timeout: float = 5.0  # seconds after hang-up for Asterisk to close the file before it is repaired


@dataclass(frozen=True)
class SupervisionSettings:
    # Supervisors' phones (PJSIP endpoints provisioned like the agents'); an account's phone is its
    # agent_id set to one of these (docs/supervision.md).
    phones: tuple[str, ...] = ("3001", "3002")
    show_operator: bool = True  # the operator's desk shows 监听中 while a supervisor listens, whispers or barges
    ring_timeout: float = 30.0  # seconds the supervisor's phone rings before the session is given up


@dataclass(frozen=True)
class Settings:
    node: str = "pbx1"  # this Asterisk node's name, kept on every ticket
    state_dir: str = "var"  # database, secrets, logs and generated Asterisk config
    log_format: str = "console"  # "console" (development) or "json" (production)
    log_level: str = "info"
    hospital: HospitalSettings = field(default_factory=HospitalSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    agi: AgiSettings = field(default_factory=AgiSettings)
    web: WebSettings = field(default_factory=WebSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    ha: HaSettings = field(default_factory=HaSettings)
    acd: AcdSettings = field(default_factory=AcdSettings)
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    ivr: IvrSettings = field(default_factory=IvrSettings)
    workorders: WorkOrderSettings = field(default_factory=WorkOrderSettings)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    lists: OutboundListSettings = field(default_factory=OutboundListSettings)
    campaigns: CampaignSettings = field(default_factory=CampaignSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    supervision: SupervisionSettings = field(default_factory=SupervisionSettings)
    agents: tuple[AgentSettings, ...] = tuple(
        AgentSettings(id=str(1001 + n), name=f"坐席{n + 1:02d}") for n in range(10)
    )
    shifts: tuple[Any, ...] = ()  # callcenter.agents.rota.Shift, parsed from [[shifts]]
    # Not a key: warnings about the file (deprecated keys used), for the log once it is set up.
    notes: tuple[str, ...] = field(default=(), metadata={"internal": True})

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir).resolve()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.state_path / 'callcenter.db'}"

    @property
    def queue_log_path(self) -> Path:
        if self.asterisk.queue_log:
            return Path(self.asterisk.queue_log)
        return Path(self.asterisk.root) / "var/log/asterisk/queue_log"

    @property
    def prompts_path(self) -> Path:
        """Prompt texts, the schedule file and the hospital's recordings."""
        if self.ivr.prompts_dir:
            return Path(self.ivr.prompts_dir).resolve()
        return Path(__file__).resolve().parents[1] / "prompts"

    @property
    def schedule_path(self) -> Path:
        return Path(self.ivr.schedule_file).resolve() if self.ivr.schedule_file else self.prompts_path / "schedule.toml"

    @property
    def sounds_path(self) -> Path | None:
        """Asterisk's sounds directory as this host sees it (None: unknown, external Asterisk)."""
        if self.ivr.sounds_dir:
            return Path(self.ivr.sounds_dir).resolve()
        if self.asterisk.mode == "embedded":
            return Path(self.asterisk.root).resolve() / "usr/share/asterisk/sounds"
        return None

    @property
    def asterisk_sounds_dir(self) -> str:
        """The same sounds directory as Asterisk sees it (inside its chroot when embedded)."""
        if self.asterisk.mode == "embedded" and not self.ivr.sounds_dir:
            return "/usr/share/asterisk/sounds"
        return str(self.sounds_path or "/usr/share/asterisk/sounds")

    @property
    def recording_path(self) -> Path:
        """The recordings directory as this host sees it."""
        if self.recording.directory:
            return Path(self.recording.directory).resolve()
        return Path(self.asterisk.root).resolve() / f"var/spool/{self.asterisk.instance}-asterisk/recordings"

    @property
    def recording_asterisk_dir(self) -> str:
        """The same directory as Asterisk sees it (inside its chroot when embedded)."""
        if self.recording.asterisk_directory:
            return self.recording.asterisk_directory
        if self.asterisk.mode == "embedded":
            root = Path(self.asterisk.root).resolve()
            try:
                return "/" + str(self.recording_path.relative_to(root))
            except ValueError:
                raise ConfigError(
                    "config.value",
                    f"recording.directory ({self.recording_path}) must lie inside asterisk.root ({root}) in embedded mode",
                ) from None
        return str(self.recording_path)

    def agent(self, agent_id: str) -> AgentSettings | None:
        return next((a for a in self.agents if a.id == agent_id), None)


def load(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply environment overrides and fill missing secrets."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ConfigError("config.missing", f"config file not found: {path}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError("config.syntax", f"{path}: {err}") from err
    _apply_env(raw, os.environ if env is None else env)
    notes = _move_deprecated(raw)
    settings = replace(_build(Settings, raw, ""), notes=notes)
    settings = _parse_shifts(settings)
    _validate(settings)
    return _fill_secrets(settings)


def _move_deprecated(raw: dict[str, Any]) -> tuple[str, ...]:
    """Move keys of ``MOVED`` to their new place in ``raw``; a note for each old key used.

    Old keys that name different values (three time zones that disagree) are refused: the
    hospital has one clock, and picking one silently would move some windows by hours.
    """
    found: dict[str, dict[str, Any]] = {}  # new key -> {old or new key: value}
    notes = []
    for old, new in MOVED.items():
        section, key = old.split(".")
        table = raw.get(section)
        if isinstance(table, dict) and key in table:
            found.setdefault(new, {})[old] = table.pop(key)
            notes.append(f"{old} is deprecated: use {new} (one setting for the whole controller)")
    for new, values in found.items():
        section, key = new.split(".")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError("config.type", f"[{section}] must be a table")
        if key in table:
            values = {new: table[key], **values}
        if len({str(v) for v in values.values()}) > 1:
            said = ", ".join(f"{k} = {v!r}" for k, v in values.items())
            raise ConfigError("config.value", f"{said}: these must agree; set {new} alone")
        table[key] = next(iter(values.values()))
    return tuple(notes)


def _apply_env(raw: dict[str, Any], env: dict[str, str]) -> None:
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        target = raw
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ConfigError("config.env", f"{name} does not name a section")
        target[parts[-1]] = value


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError("config.type", f"[{where or 'top'}] must be a table")
    known = {f.name: f for f in fields(cls) if not f.metadata.get("internal")}
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError("config.unknown_key", f"unknown key(s) in [{where or 'top'}]: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name, value in raw.items():
        values[name] = _coerce(known[name], value, f"{where}.{name}".strip("."))
    return cls(**values)


def _coerce(f: Any, value: Any, where: str) -> Any:
    default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
    if f.name == "shifts":
        return tuple(value) if isinstance(value, list) else value  # parsed once agents are known
    if f.name == "agents":
        if not isinstance(value, list):
            raise ConfigError("config.type", "[[agents]] must be an array of tables")
        return tuple(_build(AgentSettings, item, "agents") for item in value)
    if where == "quality.items":
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise ConfigError("config.type", "[[quality.items]] must be an array of tables")
        return tuple(_build(QualityItem, item, f"quality.items[{n}]") for n, item in enumerate(value))
    if is_dataclass(default):
        return _build(type(default), value, where)
    if isinstance(default, dict):  # a table of text (workorders.time_limits), merged over the defaults
        if not isinstance(value, dict):
            raise ConfigError("config.type", f"[{where}] must be a table")
        return {**default, **{str(k): str(v) for k, v in value.items()}}
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(value)
    except (TypeError, ValueError) as err:
        raise ConfigError("config.type", f"{where}: cannot use {value!r} as {type(default).__name__}") from err


def _parse_shifts(settings: Settings) -> Settings:
    from callcenter.agents.rota import parse_shift

    if not isinstance(settings.shifts, tuple) or not all(isinstance(s, dict) for s in settings.shifts):
        raise ConfigError("config.type", "[[shifts]] must be an array of tables")
    known = {a.id for a in settings.agents}
    return replace(settings, shifts=tuple(parse_shift(raw, known) for raw in settings.shifts))


def _validate(settings: Settings) -> None:
    if settings.asterisk.mode not in ("embedded", "external"):
        raise ConfigError("config.value", "asterisk.mode must be 'embedded' or 'external'")
    if settings.acd.ring_on <= 0 or settings.acd.ring_off < 0 or settings.acd.rings < 1:
        raise ConfigError("config.value", "acd: ring_on > 0, ring_off >= 0 and rings >= 1 are required")
    ids = [a.id for a in settings.agents]
    if len(ids) != len(set(ids)):
        raise ConfigError("config.value", "agents: every agent id must be unique")
    for agent_id in [*ids, *settings.asterisk.caller_endpoints, *settings.supervision.phones]:
        if not agent_id.isalnum():
            raise ConfigError("config.value", f"endpoint id {agent_id!r} must be letters and digits only")
    endpoints = [*ids, *settings.asterisk.caller_endpoints, *settings.supervision.phones]
    if len(endpoints) != len(set(endpoints)):
        raise ConfigError("config.value", "agents, asterisk.caller_endpoints and supervision.phones: each endpoint once")
    if settings.supervision.ring_timeout <= 0:
        raise ConfigError("config.value", "supervision.ring_timeout must be > 0")
    if settings.acd.strategy not in ("longest_idle", "fewest_calls", "round_robin"):
        raise ConfigError("config.value", "acd.strategy must be longest_idle, fewest_calls or round_robin")
    acd = settings.acd
    if not (0 <= acd.likely_threshold <= 1 and 0 <= acd.guard_likelihood <= 1):
        raise ConfigError("config.value", "acd: likely_threshold and guard_likelihood are chances between 0 and 1")
    if min(acd.memory_half_life, acd.escalate_after, acd.auto_resume_after) < 0:
        raise ConfigError("config.value", "acd: memory_half_life, escalate_after and auto_resume_after must be >= 0")
    if acd.callback_offer_after < 0 or acd.callback_retry_after < 0 or acd.callback_attempts < 1:
        raise ConfigError("config.value", "acd: callback_offer_after and callback_retry_after must be >= 0, callback_attempts >= 1")
    _validate_zone(settings.hospital)
    _validate_ivr(settings.ivr)
    _validate_agi(settings.agi)
    _validate_ha(settings)
    _validate_workorders(settings)
    _validate_time_limits(settings)
    _validate_quality(settings.quality)
    rec = settings.recording
    if min(rec.min_free_mb, rec.check_seconds, rec.retention_days) < 0 or rec.retention_interval_hours <= 0 or rec.finish_timeout <= 0:
        raise ConfigError("config.value", "recording: sizes and days must be >= 0, intervals and timeouts > 0")
    if any(ch in rec.mixmonitor_options for ch in ',"\\\n'):
        raise ConfigError("config.value", "recording.mixmonitor_options: option letters only (no commas or quotes)")
    if rec.enabled:
        settings.recording_asterisk_dir  # embedded: the directory must lie inside the root
    if settings.log_format not in ("console", "json"):
        raise ConfigError("config.value", "log_format must be 'console' or 'json'")
    if 0 < len(settings.web.metrics_token) < METRICS_TOKEN_MIN:
        raise ConfigError("config.value", f"web.metrics_token: at least {METRICS_TOKEN_MIN} characters "
                                          "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")


def _validate_ha(settings: Settings) -> None:
    import re

    ha = settings.ha
    if not ha.enabled:
        return
    if not settings.database_url.startswith("postgresql"):
        raise ConfigError("config.value", "ha.enabled needs a PostgreSQL database ([database] url = \"postgresql+asyncpg://...\")")
    if not re.fullmatch(r"[a-z0-9]{1,16}", ha.name):
        raise ConfigError("config.value", f"ha.name: {ha.name!r} must be 1-16 of a-z, 0-9 (it names this controller)")
    if ha.peer_agi and not re.fullmatch(r"[A-Za-z0-9.\-]+:\d{1,5}", ha.peer_agi):
        raise ConfigError("config.value", f"ha.peer_agi: {ha.peer_agi!r} must be host:port")
    if not -(2**63) <= ha.lock_key < 2**63:
        raise ConfigError("config.value", "ha.lock_key must fit PostgreSQL's bigint")
    if not (0 < ha.check_interval < ha.lease) or ha.dialplan_retry < 0:
        raise ConfigError("config.value", "ha: 0 < check_interval < lease and dialplan_retry >= 0 are required")


def agi_url(agi: AgiSettings, route: str, address: str = "") -> str:
    """The FastAGI URL of one route (at ``address`` "host:port", default the [agi] one), with the shared secret."""
    host, port = address.rsplit(":", 1) if address else (agi.host, str(agi.port))
    host = host if host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    secret = f"?secret={agi.secret}" if agi.secret else ""
    return f"agi://{host}:{port}/{route}{secret}"


def _validate_quality(quality: QualitySettings) -> None:
    import re

    if not 0 <= quality.sample_per_week <= 100:
        raise ConfigError("config.value", "quality.sample_per_week must be 0..100")
    if not 1 <= len(quality.items) <= 30:
        raise ConfigError("config.value", "quality.items: the form needs 1..30 items")
    seen: set[str] = set()
    for n, item in enumerate(quality.items):
        where = f"quality.items[{n}]"
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", item.key):
            raise ConfigError("config.value", f"{where}.key: {item.key!r} must be 1-32 of a-z, 0-9, _ (a letter first)")
        if item.key in seen:
            raise ConfigError("config.value", f"{where}.key: {item.key!r} appears twice")
        seen.add(item.key)
        for name in ("label_zh", "label_en"):
            if not 1 <= len(getattr(item, name).strip()) <= 80:
                raise ConfigError("config.value", f"{where}.{name}: 1-80 characters are required")
        if not 1 <= item.max_points <= 100:
            raise ConfigError("config.value", f"{where}.max_points must be 1..100 (got {item.max_points})")


def _validate_zone(hospital: HospitalSettings) -> None:
    import zoneinfo

    try:
        hospital.zone
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError("config.value", f"hospital.timezone: unknown time zone {hospital.timezone!r} "
                                          "(an IANA name like \"Asia/Shanghai\")") from None


def _validate_workorders(settings: Settings) -> None:
    wo, out = settings.workorders, settings.outbound
    if min(wo.callback_within_hours, wo.abandoned_reply_hours, wo.promise_max_days) <= 0:
        raise ConfigError("config.value", "workorders: callback_within_hours, abandoned_reply_hours and "
                                          "promise_max_days must be > 0")
    for key in ("dial",):
        if "{number}" not in getattr(out, key):
            raise ConfigError("config.value", f"outbound.{key} must contain {{number}}, e.g. PJSIP/{{number}}@trunk")
    if "{agent}" not in out.agent_dial:
        raise ConfigError("config.value", "outbound.agent_dial must contain {agent}, e.g. PJSIP/{agent}")
    if "{number}" not in out.internal_dial:
        raise ConfigError("config.value", "outbound.internal_dial must contain {number}, e.g. PJSIP/{number}")
    _validate_dial_policy(out)
    rings = (out.office_ring_seconds, out.mobile_ring_seconds, out.agent_ring_seconds, out.caller_ring_seconds)
    if min(rings) <= 0 or out.max_attempts < 1:
        raise ConfigError("config.value", "outbound: ring seconds must be > 0 and max_attempts >= 1")
    _validate_lists(settings.lists)
    _validate_campaigns(settings.campaigns)


def _validate_time_limits(settings: Settings) -> None:
    """[calendar] and [workorders.time_limits] / ladder, each error naming its key."""
    from callcenter.workcalendar import CalendarError, WorkingCalendar
    from callcenter.workorders.timelimits import Ladder, LimitError, parse_table

    try:
        WorkingCalendar.of(settings)
    except CalendarError as err:
        raise ConfigError("config.value", f"calendar.{err}") from None
    try:
        parse_table(settings.workorders.time_limits)
    except LimitError as err:
        raise ConfigError("config.value", f"workorders.time_limits.{err}") from None
    wo = settings.workorders
    try:
        Ladder(wo.supervisor_after_hours, wo.head_after_hours)
    except LimitError:
        raise ConfigError("config.value", "workorders: 0 <= supervisor_after_hours <= head_after_hours is required "
                                          f"(got {wo.supervisor_after_hours} and {wo.head_after_hours})") from None
    if wo.on_call_grace_minutes < 0:
        raise ConfigError("config.value", "workorders.on_call_grace_minutes must be >= 0")


def _validate_dial_policy(out: OutboundSettings) -> None:
    import re

    for key in ("allowed_numbers", "refused_numbers"):
        for pattern in getattr(out, key):
            try:
                re.compile(pattern)
            except re.error as err:
                raise ConfigError("config.value", f"outbound.{key}: {pattern!r} is not a regular expression: {err}") from None
    if not all(n.isdigit() for n in out.emergency_numbers) or not out.area_code.isdigit():
        raise ConfigError("config.value", "outbound: emergency_numbers and area_code are digits only")
    if out.operator_per_minute < 0 or out.global_per_minute < 0:
        raise ConfigError("config.value", "outbound: operator_per_minute and global_per_minute must be >= 0 (0: no limit)")


def is_loopback(host: str) -> bool:
    """True for a loopback address or ``localhost`` (where an unauthenticated FastAGI port may listen)."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip()).is_loopback
    except ValueError:
        return False


def _validate_agi(agi: AgiSettings) -> None:
    import ipaddress

    for source in agi.allow:
        try:
            ipaddress.ip_network(source, strict=False)
        except ValueError:
            raise ConfigError("config.value", f"agi.allow: {source!r} is not an address or network") from None
    if not is_loopback(agi.host) and not agi.secret and not agi.allow:
        raise ConfigError(
            "config.value",
            f"agi.host = {agi.host!r} is not loopback: anyone reaching the FastAGI port could create calls. "
            "Set agi.secret (and put it in the dialplan's AGI URL, see asterisk.conf.example) and/or agi.allow "
            "(Asterisk's addresses), or keep agi.host = \"127.0.0.1\"",
        )
    if not all(ch.isascii() and (ch.isalnum() or ch in "-_.~") for ch in agi.secret):
        raise ConfigError("config.value", "agi.secret: letters, digits and - _ . ~ only (it travels in the AGI URL)")


def _validate_lists(lists: OutboundListSettings) -> None:
    from callcenter.outbound.planner import parse_windows

    for key in ("windows", "callback_windows"):
        try:
            parse_windows(getattr(lists, key))
        except ValueError as err:
            raise ConfigError("config.value", f"lists.{key}: {err}") from None
    if lists.per_hour < 1 or lists.concurrent < 1 or lists.max_attempts < 1 or lists.followup_day < 1:
        raise ConfigError("config.value", "lists: per_hour, concurrent, max_attempts and followup_day must be >= 1")
    delays = (lists.retry_no_answer_minutes, lists.retry_busy_minutes, lists.retry_failed_minutes)
    if min(delays) <= 0 or lists.ring_seconds <= 0 or lists.key_timeout <= 0 or lists.followup_grace_days < 0:
        raise ConfigError("config.value", "lists: retry minutes, ring_seconds and key_timeout must be > 0")


def _validate_campaigns(campaigns: CampaignSettings) -> None:
    from callcenter.outbound.planner import parse_windows

    for key in ("workday_windows", "holiday_windows"):
        try:
            parse_windows(getattr(campaigns, key))
        except ValueError as err:
            raise ConfigError("config.value", f"campaigns.{key}: {err}") from None
    if campaigns.days < 1 or campaigns.per_department < 1 or campaigns.max_attempts < 1:
        raise ConfigError("config.value", "campaigns: days, per_department and max_attempts must be >= 1")


def _validate_ivr(ivr: IvrSettings) -> None:
    import datetime as dt

    if ivr.max_seasonal < 0 or ivr.repeat_window_hours < 0 or ivr.rules_refresh < 0:
        raise ConfigError("config.value", "ivr: max_seasonal, repeat_window_hours and rules_refresh must be >= 0")
    if ivr.menu_timeout <= 0 or ivr.menu_attempts < 1:
        raise ConfigError("config.value", "ivr: menu_timeout > 0 and menu_attempts >= 1 are required")
    if ivr.fixed_time:
        try:
            moment = dt.datetime.fromisoformat(ivr.fixed_time)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ConfigError("config.value", "ivr.fixed_time must be an ISO datetime with offset, e.g. 2025-07-15T10:00:00+08:00")


def _fill_secrets(settings: Settings) -> Settings:
    """Generate missing secrets once and keep them beside the database, outside the repository."""
    from callcenter.private_file import keep_private, write_private

    store = settings.state_path / "secrets.toml"
    kept: dict[str, str] = {}
    if store.exists():
        kept = {k: str(v) for k, v in tomllib.loads(store.read_text()).items()}

    def secret(key: str) -> str:
        if key not in kept:
            kept[key] = secrets.token_urlsafe(18)
        return kept[key]

    ami = settings.ami if settings.ami.secret else replace(settings.ami, secret=secret("ami_secret"))
    web = settings.web if settings.web.session_key else replace(settings.web, session_key=secret("web_session_key"))
    agents = tuple(
        a if a.sip_password else replace(a, sip_password=secret(f"sip_{a.id}")) for a in settings.agents
    )
    settings = replace(settings, ami=ami, web=web, agents=agents)
    if kept:
        store.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(f'{k} = "{v}"\n' for k, v in sorted(kept.items()))
        if not store.exists() or store.read_text() != text:
            write_private(store, text)  # mode 600 from the start, never readable by others
        keep_private(store)
    return settings


def caller_password(settings: Settings, endpoint: str) -> str:
    """SIP password of a demo/test caller endpoint (derived, stable per installation)."""
    import hashlib

    return hashlib.sha256(f"{settings.ami.secret}:{endpoint}".encode()).hexdigest()[:16]
