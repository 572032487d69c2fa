"""The controller: one aiohttp application that also owns AMI, FastAGI and the ticket store.

Resources open and close through ``cleanup_ctx`` in the order ``create_app`` lists them (and close in
the reverse order); each area's ``plugin.py`` provides its own and adds its routes.  The order and
why: docs/architecture.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

import callcenter.schema  # noqa: F401  (every table known before the first write)
from callcenter import keys
from callcenter.adapter import Adapter
from callcenter.agents.states import AgentStateStore
from callcenter.agi.server import AgiServer
from callcenter.ami.client import AmiClient
from callcenter.ha import Leadership
from callcenter.hotline import Hotline
from callcenter.ivr import http as ivr_http
from callcenter.ivr.exceptions import IvrError
from callcenter.ivr.plugin import create_ivr, create_messages
from callcenter.kb import keys as kb_keys
from callcenter.kb.plugin import open_kb, setup_kb
from callcenter.ledger.plugin import open_ledger, setup_ledger
from callcenter.outbound import keys as outbound_keys
from callcenter.outbound.plugin import open_list_runner, open_list_store, open_outbound, run_outbound, setup_outbound
from callcenter.quality.plugin import open_quality, setup_quality
from callcenter.recording.plugin import open_recording, recorder_of, run_recording, setup_recording
from callcenter.settings import Settings
from callcenter.store.db import open_database, session_factory
from callcenter.tickets.cdr import cdr_path
from callcenter.tickets.reconcile import QueueLogReconciler
from callcenter.tickets.service import TicketService
from callcenter.tickets.sweep import close_vanished_calls
from callcenter.web.api import unhandled_errors
from callcenter.web.health import health, standby_app
from callcenter.web.metrics import LiveCollector, LoopLag, metrics
from callcenter.web.plugin import open_web, setup_web
from callcenter.workorders.plugin import open_workorders, setup_workorders

log = structlog.get_logger(__name__)

RECONCILE_INTERVAL = 3.0  # seconds between queue_log reads
SWEEP_INTERVAL = 30.0  # seconds between sweeps for tickets of calls Asterisk no longer has


def create_app(settings: Settings, leadership: Leadership | None = None) -> web.Application:
    """Build the controller's application; nothing is opened until it starts.

    ``leadership``: this controller is one of a pair ([ha]) and leads while it holds the lock.
    """
    app = web.Application(middlewares=[unhandled_errors])  # outermost: a logged 500 with an error id
    app[keys.SETTINGS] = settings
    # One Prometheus registry per app (tests start many in one process), handed to each part that counts.
    app[keys.METRICS] = CollectorRegistry()
    app[keys.LEADING] = (lambda: leadership.leading) if leadership is not None else (lambda: True)
    app.cleanup_ctx.extend([
        _store,  # the database and the ticket service: everything below writes through them
        open_workorders,  # work orders hook every ticket write, from the first call on
        open_ledger,  # the feedback ledger hooks every ticket change (complaints, low scores)
        open_kb,  # the knowledge base (and its sample entries)
        open_quality,  # quality review: the week's calls to review, reviews
        open_list_store,  # outbound lists: imports and reads work without Asterisk
        _ivr,  # the IVR's schedule, imported into the database
        _ami,  # the AMI client (connected once the adapter listens)
        open_recording,  # the recording service, handed to the adapter and to outbound calls
        open_outbound,  # the outbound calls' service: its dialling policy is handed to the adapter (kept places)
        _adapter,  # the ACD adapter: operators' states restored, then AMI connects
        _metrics,  # /metrics reads the core, AMI and the ticket queue at each scrape; the event loop's lag
        run_recording,  # a previous run's unfinished recordings, the storage watch, the retention job
        _agi,  # the FastAGI server: calls arrive from here on
        _reconciler,  # queue_log: tickets for the calls the fallback queue served while we were away
        open_web,  # accounts, the rota, the live hub of desks and wallboards
        run_outbound,  # escalation and callback calls (FastAGI route "outbound")
        open_list_runner,  # list tasks and automatic callbacks (FastAGI route "outbound-list")
    ])
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    ivr_http.add_routes(app)
    setup_web(app)  # accounts, operator desktop, wallboard, reports
    setup_workorders(app)  # work orders, callbacks, departments (/api)
    setup_kb(app)  # knowledge base (/api/kb)
    setup_ledger(app)  # the feedback ledger (/api/ledger, /ledger)
    setup_quality(app)  # quality review (/api/quality, /quality)
    setup_outbound(app)  # follow-up and reminder lists, automatic callbacks (/api/outbound)
    setup_recording(app)  # playback, pause, retention (/api/recordings)
    return app


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    engine = await open_database(settings.database_url)
    tickets = TicketService(session_factory(engine), settings.node, spill_dir=settings.state_path / "spill",
                            registry=app[keys.METRICS])
    await tickets.start()
    app[keys.ENGINE], app[keys.TICKETS] = engine, tickets
    yield
    await tickets.close()
    await engine.dispose()


async def _ivr(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    app[keys.IVR] = app[keys.IVR_MESSAGES] = None
    if settings.ivr.enabled:
        try:
            app[keys.IVR] = await create_ivr(settings, session_factory(app[keys.ENGINE]), app[keys.TICKETS])
            app[keys.IVR_MESSAGES] = create_messages(settings, app[keys.IVR])
            prevention = app[kb_keys.PREVENTION]  # messages made on the web: audio back on a rebuilt Asterisk root
            await prevention.rebuild_prompts(app[keys.IVR_MESSAGES], prevention.clock())
        except IvrError as err:  # callers still reach operators, without greeting or menu
            log.error("ivr.disabled", error=str(err), slug=err.slug)
    yield


async def _ami(app: web.Application) -> AsyncIterator[None]:
    app[keys.AMI] = AmiClient(app[keys.SETTINGS].ami, registry=app[keys.METRICS])  # connected once the adapter listens (_adapter)
    yield
    await app[keys.AMI].close()


async def _adapter(app: web.Application) -> AsyncIterator[None]:
    settings, ami = app[keys.SETTINGS], app[keys.AMI]
    states = AgentStateStore(session_factory(app[keys.ENGINE]), settings.node)
    adapter = Adapter(settings, ami, app[keys.TICKETS], states=states, recorder=recorder_of(app),
                      dialler=app[outbound_keys.SERVICE], registry=app[keys.METRICS])
    await adapter.start()  # operators' chosen states, restored at the first login
    app[keys.ADAPTER] = adapter
    await ami.start()
    yield
    await adapter.close()
    await states.flush()


async def _metrics(app: web.Application) -> AsyncIterator[None]:
    registry = app[keys.METRICS]
    live = LiveCollector(app[keys.ADAPTER], app[keys.AMI], app[keys.TICKETS], app[keys.LEADING])
    registry.register(live)
    lag = LoopLag(registry)
    task = asyncio.create_task(lag.run(), name="event-loop-lag")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    registry.unregister(live)
    registry.unregister(lag.histogram)


async def _agi(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    agi = AgiServer(secret=settings.agi.secret, allow=settings.agi.allow)
    agi.route("hotline", Hotline(app[keys.TICKETS], app[keys.ADAPTER], app[keys.IVR]))
    agi.route("agent", app[keys.ADAPTER].serve_agent)
    await agi.start(settings.agi.host, settings.agi.port)
    app[keys.AGI] = agi
    yield
    await agi.close()


async def _reconciler(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    ami, adapter, tickets = app[keys.AMI], app[keys.ADAPTER], app[keys.TICKETS]
    reconciler = QueueLogReconciler(
        tickets, settings.queue_log_path, settings.asterisk.fallback_queue, cut_by_asterisk=adapter.cut_by_asterisk
    )

    async def loop() -> None:
        swept_at = 0.0  # at start (after queue_log had its say and AMI is up), then every SWEEP_INTERVAL
        while True:
            try:
                changed = await reconciler.run_once()
                if changed:
                    log.info("tickets.reconciled", source="queue_log", tickets=changed)
                now = asyncio.get_running_loop().time()
                if now - swept_at >= SWEEP_INTERVAL and ami.connected and adapter.started:
                    # Only with every ticket write landed: an end still queued is not a vanished call.
                    if await tickets.flush(timeout=5) and tickets.pending_writes == 0:
                        await close_vanished_calls(tickets, ami, adapter.in_hand(), cdr_path(settings.queue_log_path))
                        swept_at = now
            except Exception:
                log.exception("tickets.reconcile_failed", path=str(settings.queue_log_path))
            await asyncio.sleep(RECONCILE_INTERVAL)

    task = asyncio.create_task(loop(), name="queue-log-reconciler")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def run(settings: Settings) -> None:
    """Serve until cancelled (Ctrl-C / SIGTERM); one of a pair ([ha]) leads only while it holds the lock."""
    if settings.ha.enabled:
        await _run_pair(settings)
        return
    runner = await _serve(create_app(settings), settings)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def _serve(app: web.Application, settings: Settings) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.web.host, settings.web.port).start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("web.listening", url=f"http://{settings.web.host}:{settings.web.port}/",
             health=f"http://{settings.web.host}:{settings.web.port}/health")
    return runner


async def _run_pair(settings: Settings) -> None:
    """Standby until the lock is ours, then the whole controller until it is lost, then standby again.

    A standby answers /health and /metrics only (no AMI, no FastAGI: the dialplan's attempts at it
    fail at once and go to the leader).  Taking over is a controller's start: operators' states from
    the database, calls still bridged adopted, strays hung up (``Adapter.on_login``).
    """
    leadership = Leadership(settings.ha, settings.database_url)
    standby = await _serve(standby_app(settings, leadership), settings)
    try:
        while True:
            leader: web.AppRunner | None = None
            try:
                await leadership.acquire()
                app = create_app(settings, leadership)
                leader = web.AppRunner(app, access_log=None)
                await leader.setup()  # AMI, FastAGI and the rest open here: this is the takeover
            except Exception as err:  # the lock's connection failed in the fence, or the start did: standby again
                log.error("ha.takeover_abandoned", reason=f"{type(err).__name__}: {err}"[:300])
                await leadership.close()
                if leader is not None:
                    await _close_leader(leader)
                await asyncio.sleep(settings.ha.check_interval)
                continue
            await standby.cleanup()
            site = web.TCPSite(leader, settings.web.host, settings.web.port)
            try:
                await site.start()
                log.info("ha.leading", controller=settings.ha.name)
                await leadership.hold()
                # Lost: stop acting before anything else can run (no await in between).
                app[keys.AGI].abort()
                app[keys.AMI].silence()
            finally:
                await site.stop()  # the port for the standby's /health at once; closing the rest can take a while
                standby = await _serve(standby_app(settings, leadership), settings)
                await _close_leader(leader)
    finally:
        await standby.cleanup()
        await leadership.close()


CLOSE_TIMEOUT = 60.0  # s a lost leader may take to close (ticket writes spill); past it the process exits


async def _close_leader(leader: web.AppRunner) -> None:
    """Close what the lead opened; stuck past CLOSE_TIMEOUT, exit (the service manager starts a clean standby)."""
    try:
        await asyncio.wait_for(leader.cleanup(), CLOSE_TIMEOUT)
    except TimeoutError as err:
        log.error("ha.close_stuck", timeout_s=CLOSE_TIMEOUT)
        raise SystemExit(75) from err  # EX_TEMPFAIL
    except Exception:  # noqa: BLE001 - what did start is closed as far as it can be
        log.exception("ha.cleanup_failed")
