"""The web side on the controller's aiohttp server.

| module | holds |
|---|---|
| `plugin.py` | `setup_web(app)`: middlewares, routes; `open_web`: accounts, the rota, the wallboard and the live hub (a resource `create_app` lists) |
| `security.py` | sessions (encrypted cookie), default-deny roles, CSRF, Origin checks, login throttle |
| `auth.py` | login / logout / `GET /api/me` |
| `live.py` | the live hub (adapter listener): pushes the screen-pop, agent state and wallboard over `/ws` |
| `wallboard.py` | what the pages show of the live state: operators' rows, calls in progress, today's figures, alerts |
| `agent_http.py` | the operator desk: `/agent`, own state, caller history (its ticket form uses the work-order API) |
| `guard.py` | operators change only tickets of calls that rang their phone (work-order API) |
| `supervisor_http.py` | `/wallboard`, agent control, `/schedule` (over the IVR's API), `/kb` (over the knowledge base's API, `callcenter.kb.http`) |
| `rota_http.py` | `/rota` and `/api/rota`: shifts and skills (``callcenter.agents.store``), effective at once |
| `admin_http.py` | account management |
| `reports.py`, `reports_http.py`, `erlang.py`, `figures.py` | reports (HTML, CSV, PDF) and staffing advice |
| `store.py` | read-only ticket queries of the web side |
| `pages.py` | Jinja2 through aiohttp-jinja2 (autoescape on): `page()` fills a template with the user and CSRF token |
| `templates/`, `static/` | Jinja2 pages on one layout (`_base.html`, `_head.html`, `_header.html`), zh-CN default, English switch, vanilla JS and CSS, nothing from the internet |
"""
