"""GET /health: is the controller connected to Asterisk (AMI) and to its database?

Anyone may ask (no login: monitoring probes): the answer is only ``{"status": "ok" | "degraded",
"node": ..., "role": "leader" | "standby"}`` (the node name and whether this controller leads), 200
when AMI and the database are both fine, 503 otherwise.  A logged-in supervisor
(or admin) gets the details as well: AMI (connected, the age of its last answered ping, the last
error, host and port, the resync after a reconnect), the database, FastAGI sessions, every agent's
state and who is on duty.

AMI counts as connected only when it answered a ping within the watchdog interval
(``AmiClient.responsive``): a server that accepts the login and then answers nothing is not.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from callcenter import keys
from callcenter.agents.rota import on_duty
from callcenter.store.db import database_state
from callcenter.web import keys as web_keys
from callcenter.web.api import public
from callcenter.web.metrics import StandbyCollector, standby_metrics

if TYPE_CHECKING:
    from callcenter.ha import Leadership
    from callcenter.settings import Settings

log = structlog.get_logger(__name__)


@public
async def health(request: web.Request) -> web.Response:
    """200 when AMI and the database are both fine, 503 otherwise; details for supervisors only."""
    app = request.app
    ami = app[keys.AMI]
    database = await database_state(app[keys.ENGINE])
    adapter = app[keys.ADAPTER]
    connected = _responsive(ami)
    ok = connected and adapter.link["up"] and database.get("ok", False)
    body: dict[str, Any] = {"status": "ok" if ok else "degraded", "node": app[keys.SETTINGS].node,
                            "role": "leader" if app[keys.LEADING]() else "standby",
                            **_controller(app[keys.SETTINGS])}
    if await _is_supervisor(request):
        body.update(_details(app, ami, adapter, database, connected))
    return web.json_response(body, status=200 if ok else 503, dumps=_dumps)


def standby_app(settings: Settings, leadership: Leadership) -> web.Application:
    """What a standby controller of a pair serves: /health, and 503 "standby" for everything else.

    /health: 200 ``{"status": "standby", "leader": <the other's name>, ...}`` while it can reach the
    database (ready to take over),
    503 ``{"status": "degraded", "database": {"ok": false, "error": ...}}`` when it cannot (it then
    cannot take the lock, so it never leads).
    """
    app = web.Application()
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = CollectorRegistry()
    app[keys.METRICS].register(StandbyCollector(lambda: bool(leadership.database.get("ok"))))

    async def standby_health(_request: web.Request) -> web.Response:
        database = leadership.database
        ok = bool(database.get("ok"))
        body = {"status": "standby" if ok else "degraded", "node": settings.node, "role": "standby",
                **_controller(settings), "leader": leadership.leader if ok else None, "database": database}
        return web.json_response(body, status=200 if ok else 503, dumps=_dumps)

    async def elsewhere(request: web.Request) -> web.Response:
        leader = leadership.leader
        if request.path.startswith("/api/"):
            return web.json_response({"error": "standby", "message": "this controller is the standby; the other one leads",
                                      "leader": leader, "problems": []}, status=503, headers={"Retry-After": "5"})
        # A browser that reached the standby (no proxy, or the proxy not yet switched): say so, look again soon.
        who = f"（{html.escape(leader)}）" if leader else ""
        page = (f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
                f"<title>备用控制器 / standby</title><p>这是备用控制器，热线由另一台控制器{who}主控。本页每 5 秒刷新。</p>"
                f"<p lang=\"en\">This is the standby controller; the other one{f' ({html.escape(leader)})' if leader else ''} "
                f"serves the hotline. This page reloads every 5 seconds.</p></html>")
        return web.Response(text=page, content_type="text/html", status=503, headers={"Retry-After": "5"})

    app.router.add_get("/health", standby_health)
    app.router.add_get("/metrics", standby_metrics)
    app.router.add_route("*", "/{tail:.*}", elsewhere)
    return app


def _controller(settings: Settings) -> dict[str, str]:
    return {"controller": settings.ha.name} if settings.ha.enabled else {}


def _responsive(ami: Any) -> bool:
    responsive = getattr(ami, "responsive", None)
    return bool(ami.connected if responsive is None else responsive)


def _details(app: web.Application, ami: Any, adapter: Any, database: dict[str, Any], connected: bool) -> dict[str, Any]:
    acd = adapter.acd
    now = datetime.now(app[keys.SETTINGS].hospital.zone)  # the rota's times are the hospital's
    rota = app.get(web_keys.ROTA)  # the rota as supervisors edited it; the settings' before the web starts
    duty = rota.on_duty(now) if rota is not None else on_duty(app[keys.SETTINGS].shifts, now)
    age = getattr(ami, "last_pong_age", None)
    return {
        "ami": {
            "connected": connected,  # answered a ping within the watchdog interval
            "logged_in": ami.connected,
            "last_pong_s": round(age, 1) if age is not None else None,
            "host": ami.settings.host,
            "port": ami.settings.port,
            **({"error": ami.last_error} if not connected and ami.last_error else {}),
            # Offers go out only once the controller has resynchronised with Asterisk after a login.
            "resynced": adapter.link["up"],
            "resyncs": adapter.link["resyncs"],
            "last_resync": adapter.link["last_resync"],
            **({"offers_paused_since": _iso(adapter.link["down_since"])} if not adapter.link["up"] else {}),
        },
        "database": database,
        "agi": {"sessions": app[keys.AGI].sessions},
        "acd": {
            "agents": {a.agent_id: a.state.value for a in acd.agents.values()},
            "waiting": len(acd.waiting()),
            "on_duty": duty,
        },
    }


async def _is_supervisor(request: web.Request) -> bool:
    """True for a request with a current supervisor's (or admin's) session; /health needs no login."""
    try:
        from callcenter.web.security import request_user

        user = await request_user(request)
    except Exception:  # no session machinery (a bare app), or a cookie that is none of ours
        log.debug("health.no_session", exc_info=True)
        return False
    return user is not None and user.at_least("supervisor")


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts).astimezone().isoformat() if ts is not None else None


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)
