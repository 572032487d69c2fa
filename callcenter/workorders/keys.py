"""Typed keys of what the work-order side keeps on the aiohttp application.

The work-order routes start escalation and callback calls through ``OUTBOUND`` without importing the
outbound package (which depends on this one): the key is typed by the small ``OutboundCalls``
protocol, and ``callcenter.outbound.plugin`` puts its ``OutboundService`` there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from callcenter.workorders.departments import DirectoryService
    from callcenter.workorders.desk import DeskService
    from callcenter.workorders.service import WorkOrderService


class OutboundCalls(Protocol):
    """What the work-order routes ask of outbound calls (``callcenter.outbound.service.OutboundService``)."""

    async def escalate(self, ticket_id: int, department_id: int, by: str | None, reason: str = "") -> dict[str, Any]: ...

    async def callback(self, ticket_id: int, agent_id: str, *, number: str | None = None, survey: bool | None = None,
                       task_id: int | None = None, by: str | None = None) -> dict[str, Any]: ...


WORKORDERS: web.AppKey["WorkOrderService"] = web.AppKey("workorders")
DIRECTORY: web.AppKey["DirectoryService"] = web.AppKey("directory")
OUTBOUND: web.AppKey["OutboundCalls | None"] = web.AppKey("outbound")
DESK: web.AppKey["DeskService"] = web.AppKey("desk")
