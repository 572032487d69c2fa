"""Render the embedded Asterisk's configuration from a ``Settings``: pure, filename -> text.

Every file is a small template filled from settings; nothing here touches the disk.  Paths in
the rendered files are paths *inside* the chroot (Asterisk runs with the debootstrapped root as
``/``).  Each instance (``asterisk.instance``) gets its own config, run, spool, database and log
directories, so the demo and the test-suite can run two Asterisks from the same cached root.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from callcenter.exceptions import AsteriskError
from callcenter.settings import Settings, agi_url, caller_password

# Our dialplan, shipped in the repository beside the package.
HOTLINE_DIALPLAN = Path(__file__).resolve().parents[2] / "dialplans" / "hotline.conf"
OUTBOUND_DIALPLAN = HOTLINE_DIALPLAN.with_name("outbound.conf")  # escalations, callbacks, survey
SUPERVISION_DIALPLAN = HOTLINE_DIALPLAN.with_name("supervision.conf")  # listen, whisper, barge (ChanSpy)

# RTP ports Asterisk uses; the softphones use a different range (see callcenter.demo.softphone).
RTP_START, RTP_END = 10000, 10999

# Modules loaded with autoload=no: only what the hotline uses, so boot takes about a second.
# Local channels, indications, the AMI and CDR core are built into the asterisk binary.
MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("resources", (
        "res_timing_timerfd", "res_rtp_asterisk", "res_musiconhold", "res_agi", "res_speech",
        "res_sorcery_config", "res_sorcery_memory", "res_sorcery_astdb",
        "res_manager_devicestate",
    )),
    ("PJSIP", (
        "res_pjproject", "res_pjsip", "res_pjsip_session", "res_pjsip_pubsub", "chan_pjsip",
        "res_pjsip_authenticator_digest", "res_pjsip_endpoint_identifier_user",
        "res_pjsip_registrar", "res_pjsip_sdp_rtp", "res_pjsip_caller_id", "res_pjsip_nat",
        "res_pjsip_dtmf_info", "res_pjsip_rfc3326", "res_pjsip_dlg_options", "res_pjsip_logger",
        "res_pjsip_header_funcs", "func_pjsip_endpoint", "func_pjsip_contact",
    )),
    ("applications", (
        "app_dial", "app_queue", "app_stack", "app_playback", "app_echo", "app_verbose",
        "app_senddtmf", "app_mixmonitor", "app_userevent", "app_exec", "app_read",
        "app_originate", "app_playtones", "app_softhangup", "app_waituntil", "app_chanspy",
    )),
    ("dialplan functions", (
        "pbx_config", "func_channel", "func_callerid", "func_strings", "func_logic",
        "func_global", "func_cut", "func_math", "func_timeout", "func_hangupcause",
        "func_devstate", "func_cdr", "func_uuid",
    )),
    ("bridges", (
        "bridge_simple", "bridge_native_rtp", "bridge_softmix", "bridge_holding",
        "bridge_builtin_features",
    )),
    ("media formats and codecs", (
        "format_wav", "format_gsm", "format_wav_gsm", "format_pcm", "format_sln",
        "codec_ulaw", "codec_alaw", "codec_a_mu", "codec_gsm", "codec_resample",
    )),
    ("records", ("cdr_csv",)),
)

# AMI events the controller listens to; everything else is cut at the source (docs/architecture.md).
# Exact names use the cheap hashed match; prefixes cover whole families.
AMI_EVENTS: tuple[str, ...] = (
    "FullyBooted", "Shutdown", "Reload",
    "Newchannel", "Newstate", "Hangup", "SoftHangupRequest", "HangupRequest", "NewCallerid", "NewConnectedLine", "Rename",
    "DialBegin", "DialEnd", "DialState", "OriginateResponse", "UserEvent", "DTMFEnd",
    "DeviceStateChange", "ContactStatus", "PeerStatus",
    "BridgeCreate", "BridgeDestroy", "BridgeEnter", "BridgeLeave", "LocalBridge",
    "Hold", "Unhold", "MusicOnHoldStart", "MusicOnHoldStop",
    "MixMonitorStart", "MixMonitorStop",
)
AMI_EVENT_PREFIXES: tuple[str, ...] = ("Queue", "Agent")


@dataclass(frozen=True)
class Layout:
    """Where one instance keeps its files, as seen inside the chroot."""

    etc: PurePosixPath
    run: PurePosixPath
    lib: PurePosixPath  # astdb, music on hold
    spool: PurePosixPath
    log: PurePosixPath
    cache: PurePosixPath

    @property
    def asterisk_conf(self) -> PurePosixPath:
        return self.etc / "asterisk.conf"

    @property
    def moh(self) -> PurePosixPath:
        return self.lib / "moh"


def layout(settings: Settings) -> Layout:
    """Directories of this instance.  The log directory follows ``settings.queue_log_path``."""
    name = f"{settings.asterisk.instance}-asterisk"
    root = Path(settings.asterisk.root).resolve()
    queue_log = settings.queue_log_path.resolve()
    try:
        log = PurePosixPath("/") / queue_log.parent.relative_to(root)
    except ValueError:
        raise AsteriskError(
            "asterisk.queue_log",
            f"asterisk.queue_log ({queue_log}) must lie inside asterisk.root ({root}) in embedded mode",
        ) from None
    return Layout(
        etc=PurePosixPath("/etc") / name,
        run=PurePosixPath("/run") / name,  # not /var/run: that is an absolute symlink to /run
        lib=PurePosixPath("/var/lib") / name,
        spool=PurePosixPath("/var/spool") / name,
        log=log,
        cache=PurePosixPath("/var/cache") / name,
    )


def render_config(settings: Settings) -> dict[str, str]:
    """All configuration files of the embedded Asterisk, filename -> text."""
    lay = layout(settings)
    files = {
        "asterisk.conf": _asterisk_conf(settings, lay),
        "modules.conf": _modules_conf(),
        "logger.conf": _logger_conf(settings),
        "manager.conf": _manager_conf(settings),
        "pjsip.conf": _pjsip_conf(settings),
        "extensions.conf": _extensions_conf(settings),
        "hotline.conf": HOTLINE_DIALPLAN.read_text(encoding="utf-8"),
        "outbound.conf": OUTBOUND_DIALPLAN.read_text(encoding="utf-8"),
        "supervision.conf": SUPERVISION_DIALPLAN.read_text(encoding="utf-8"),
        "queues.conf": _queues_conf(settings),
        "indications.conf": _indications_conf(settings),
        "musiconhold.conf": _musiconhold_conf(lay),
        "cdr.conf": _cdr_conf(),
        "features.conf": _features_conf(),
        "rtp.conf": _rtp_conf(),
        # Read by core or loaded modules at boot: present (if empty) so the log stays clean.
        "cel.conf": "[general]\nenable = no\n",
        "acl.conf": "",
        "udptl.conf": "[general]\n",
        "ccss.conf": "[general]\n",
        "pjproject.conf": "",
    }
    header = "; Generated by callcenter.asterisk from the controller's settings: edit those, not this file.\n"
    return {name: header + text for name, text in files.items()}


def _asterisk_conf(settings: Settings, lay: Layout) -> str:
    return f"""\
[directories]
astetcdir => {lay.etc}
astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules
astvarlibdir => /var/lib/asterisk
astdbdir => {lay.lib}
astkeydir => {lay.lib}
astdatadir => /usr/share/asterisk
astagidir => /usr/share/asterisk/agi-bin
astspooldir => {lay.spool}
astrundir => {lay.run}
astlogdir => {lay.log}
astcachedir => {lay.cache}
astsbindir => /usr/sbin

[options]
; Runs as root inside the chroot; the root is a throw-away Debian unstable tree.
verbose = 3
debug = 0
defaultlanguage = en
documentation_language = en_US
hideconnect = yes
transmit_silence = yes
"""


def _modules_conf() -> str:
    lines = ["[modules]", "autoload = no"]
    for group, names in MODULES:
        lines.append(f"; {group}")
        lines.extend(f"load = {name}.so" for name in names)
    return "\n".join(lines) + "\n"


def _logger_conf(settings: Settings) -> str:
    return f"""\
[general]
dateformat = %F %T.%3q
queue_log = yes
queue_log_to_file = yes
queue_log_name = {settings.queue_log_path.name}

[logfiles]
console => notice,warning,error
messages => notice,warning,error,verbose
"""


# The manager.conf classes the controller's account needs (``[ami] read`` / ``write``), and why:
READ_CLASSES = {
    "system": "FullyBooted, Shutdown, Reload, ContactStatus, PeerStatus",
    "call": "Newchannel, Newstate, Hangup, SoftHangupRequest, Dial*, OriginateResponse, Bridge*, Hold, MusicOnHold*, MixMonitor*, DeviceStateChange",
    "agent": "Queue* and Agent* (the fallback queue)",
    "user": "UserEvent (the operators' feature codes)",
    "dtmf": "DTMFEnd",
}
WRITE_CLASSES = {
    "originate": "Originate (agents' rings, callbacks, escalations, list calls, supervisors' ChanSpy legs)",
    "call": "Hangup, MixMonitorMute, ControlPlayback (an answer cuts a hold announcement short), Setvar and Redirect (a ChanSpy mode switch)",
    "reporting": "CoreShowChannels, CoreStatus, DeviceStateList",
}
# Not given: "system" (with it an Originate may run System() or Exec(): shell commands), "command"
# (any CLI command), "config", "agi", ...  Ping needs no class.


def _manager_conf(settings: Settings) -> str:
    ami = settings.ami
    filters = [f"eventfilter(action(include),name({name})) =" for name in (*AMI_EVENTS, *ami.extra_events)]
    filters += [
        f"eventfilter(action(include),header(Event),method(starts_with)) = {prefix}"
        for prefix in AMI_EVENT_PREFIXES
    ]
    joined = "\n".join(filters)
    return f"""\
[general]
enabled = yes
bindaddr = {ami.host}
port = {ami.port}
displayconnects = no

[{ami.username}]
secret = {ami.secret}
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.0/255.0.0.0
permit = {ami.host}/255.255.255.255
; Only the classes the controller uses (callcenter/asterisk/config.py READ_CLASSES, WRITE_CLASSES).
; The system class stays in read: FullyBooted and Reload are system events (docs/architecture.md); it stays
; out of write: with it an Originate could run System() or Exec().
read = {ami.read}
write = {ami.write}
writetimeout = 1000
{joined}
"""


def _pjsip_conf(settings: Settings) -> str:
    ast = settings.asterisk
    parts = [
        f"""\
[global]
type = global
user_agent = callcenter-{settings.node}

[transport-udp]
type = transport
protocol = udp
bind = {ast.sip_host}:{ast.sip_port}

[endpoint-common](!)
type = endpoint
transport = transport-udp
disallow = all
allow = ulaw,alaw
direct_media = no
rtp_symmetric = yes
force_rport = yes
rewrite_contact = yes
dtmf_mode = rfc4733

[aor-common](!)
type = aor
max_contacts = 1
remove_existing = yes
qualify_frequency = 5
qualify_timeout = 2.0

[auth-common](!)
type = auth
auth_type = digest
"""
    ]
    phones = [(a.id, a.name or a.id, a.sip_password, "agents") for a in settings.agents]
    phones += [(ep, ep, caller_password(settings, ep), "callers") for ep in ast.caller_endpoints]
    phones += [(ep, ep, caller_password(settings, ep), "supervisors") for ep in settings.supervision.phones]
    for ep, name, password, context in phones:
        parts.append(
            f"""\
; {context[:-1]} {ep}
[{ep}](endpoint-common)
context = {context}
callerid = "{name}" <{ep}>
auth = {ep}
aors = {ep}

[{ep}](aor-common)

[{ep}](auth-common)
username = {ep}
password = {password}
"""
        )
    return "\n".join(parts)


def _agi_globals(settings: Settings) -> str:
    """Each FastAGI route's URL, and the second controller's (``[ha] peer_agi``; empty with one controller)."""
    lines = []
    for name, route in (("HOTLINE_AGI", "hotline"), ("HOTLINE_AGENT_AGI", "agent"),
                        ("HOTLINE_OUTBOUND_AGI", "outbound"), ("HOTLINE_OUTBOUND_LIST_AGI", "outbound-list")):
        peer = agi_url(settings.agi, route, settings.ha.peer_agi) if settings.ha.peer_agi else ""
        lines += [f"{name} = {agi_url(settings.agi, route)}", f"{name}_2 = {peer}"]
    # A new caller tries both controllers this many times, 0.5 s apart, before the fallback queue (a takeover).
    tries = max(1, round(settings.ha.dialplan_retry / 0.5)) if settings.ha.peer_agi else 1
    return "\n".join([*lines, f"HOTLINE_AGI_TRIES = {tries}"])


def _extensions_conf(settings: Settings) -> str:
    ast = settings.asterisk
    agent_lines = "\n".join(
        f"exten => {a.id},1,Dial(PJSIP/{a.id},30)\n same => n,Hangup()" for a in settings.agents
    )
    return f"""\
[general]
static = yes
writeprotect = yes

[globals]
{_agi_globals(settings)}
HOTLINE_FALLBACK_QUEUE = {ast.fallback_queue}
HOTLINE_NODE = {settings.node}

#include hotline.conf
#include outbound.conf
#include supervision.conf

; Demo and test callers: the hotline number only.
[callers]
exten => {ast.hotline_number},1,Goto(hotline,s,1)

; Supervisors' phones (supervision.phones): the hotline number, for testing; ChanSpy comes to them by Originate.
[supervisors]
exten => {ast.hotline_number},1,Goto(hotline,s,1)

; Operators: feature codes, the hotline number (for testing) and each other.
[agents]
include => hotline-agent-features
exten => {ast.hotline_number},1,Goto(hotline,s,1)
{agent_lines}
"""


def _queues_conf(settings: Settings) -> str:
    # The fallback queue is app_queue at its best (docs/architecture.md): longest-idle agent first and every
    # waiting caller dialled in parallel.  Its ring timeout follows the ACD's two-ring window.
    timeout = max(1, round(settings.acd.ring_timeout))
    members = "\n".join(f"member => PJSIP/{a.id}" for a in settings.agents)
    return f"""\
[general]
autofill = yes
persistentmembers = no
shared_lastcall = yes

[{settings.asterisk.fallback_queue}]
strategy = leastrecent
timeout = {timeout}
retry = 5
wrapuptime = 0
ringinuse = no
musicclass = default
; no caller is refused: they wait even when no agent is logged in
joinempty = yes
leavewhenempty = no
announce-frequency = 0
setinterfacevar = yes
setqueueentryvar = yes
{members}
"""


def _indications_conf(settings: Settings) -> str:
    on = round(settings.acd.ring_on * 1000)
    off = round(settings.acd.ring_off * 1000)
    return f"""\
[general]
country = cn

; China: 450 Hz; ringback {on} ms on, {off} ms off (acd.ring_on / acd.ring_off).
[cn]
description = China
ringcadence = {on},{off}
dial = 450
busy = 450/350,0/350
ring = 450/{on},0/{off}
congestion = 450/700,0/700
callwaiting = 450/400,0/4000
dialrecall = 450
record = 950/400,0/10000
info = 450/100,0/100,450/100,0/100,450/100,0/100,450/400,0/400
"""


def _musiconhold_conf(lay: Layout) -> str:
    return f"""\
[general]

[default]
mode = files
directory = {lay.moh}
sort = alpha
"""


def _cdr_conf() -> str:
    return """\
[general]
enable = yes
unanswered = yes
congestion = yes

[csv]
usegmtime = yes
loguniqueid = yes
loguserfield = yes
accountlogs = no
"""


def _features_conf() -> str:
    return """\
[general]

[featuremap]
"""


def _rtp_conf() -> str:
    return f"""\
[general]
rtpstart = {RTP_START}
rtpend = {RTP_END}
"""
