"""GET /health: is the controller connected to Asterisk (AMI) and to its database?"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiohttp import web

from callcenter import keys
from callcenter.agents.rota import on_duty
from callcenter.store.db import database_state
from callcenter.web import keys as web_keys


async def health(request: web.Request) -> web.Response:
    """200 when AMI and the database are both fine, 503 otherwise; the body says which."""
    app = request.app
    ami = app[keys.AMI]
    database = await database_state(app[keys.ENGINE])
    adapter = app[keys.ADAPTER]
    acd = adapter.acd
    now = datetime.now(ZoneInfo(app[keys.SETTINGS].web.timezone))  # the rota's times are the hospital's
    rota = app.get(web_keys.ROTA)  # the rota as supervisors edited it; the settings' before the web starts
    duty = rota.on_duty(now) if rota is not None else on_duty(app[keys.SETTINGS].shifts, now)
    body = {
        "ami": {
            "connected": ami.connected,
            "host": ami.settings.host,
            "port": ami.settings.port,
            **({"error": ami.last_error} if not ami.connected and ami.last_error else {}),
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
        "node": app[keys.SETTINGS].node,
    }
    ok = ami.connected and adapter.link["up"] and database.get("ok", False)
    body["status"] = "ok" if ok else "degraded"
    return web.json_response(body, status=200 if ok else 503, dumps=_dumps)


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts).astimezone().isoformat() if ts is not None else None


def _dumps(obj: object) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)
