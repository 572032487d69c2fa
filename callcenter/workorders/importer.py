"""Orders transferred from the city's 12345 hotline, imported as tickets with their deadline.

``Import12345`` is one part of ``WorkOrderService`` (``callcenter.workorders.service``, whose
sessions, node and hospital time zone it uses): ``import_12345`` reads CSV (a header row) or JSON
(a list of objects) and writes each order as a ticket, its work order and an inbound contact.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcenter import csv_reader
from callcenter.store.models import (
    Ticket,
    clean_text,
    normalise_name,
    normalise_number,
    utcnow,
)
from callcenter.workorders.exceptions import InvalidData
from callcenter.workorders.models import MAX_NOTES, Contact, WorkOrder

log = structlog.get_logger(__name__)


class Import12345:
    """Orders from the 12345 hotline as tickets, all or nothing (part of ``WorkOrderService``)."""

    _sessions: async_sessionmaker[AsyncSession]
    node: str
    tz: dt.tzinfo
    _due_of: Callable[[Ticket, str | None, dt.datetime | None], dt.datetime | None]  # sweep.py

    async def import_12345(self, data: str | bytes, fmt: str, by: str | None) -> dict[str, Any]:
        """Import orders transferred from the city's 12345 hotline as tickets with their deadline.

        Fields: ``order_no`` (required, unique: re-importing an order changes nothing),
        ``caller_number``, ``caller_name``, ``received_at`` and ``deadline`` (ISO datetimes; a time
        without offset is the hospital's local time), ``content`` (the complaint or request).
        All or nothing: any invalid record is reported with its position and nothing is written.
        """
        records = _read_records(data, fmt)
        problems: list[dict[str, str]] = []
        clean: list[dict[str, Any]] = []
        for where, rec in records:
            try:
                clean.append(self._order_record(rec))
            except InvalidData as err:
                problems += [{"field": f"{where}: {p['field']}", "problem": p["problem"]} for p in err.problems]
        if problems:
            raise InvalidData("ticket.invalid_import", f"{len(problems)} problem(s); nothing was imported", problems)
        created, skipped = [], 0
        async with self._sessions() as session, session.begin():
            for rec in clean:
                uniqueid = f"12345-{rec['order_no']}"[:64]
                if await session.scalar(select(Ticket.id).where(Ticket.node == self.node, Ticket.uniqueid == uniqueid)):
                    skipped += 1
                    continue
                ticket = Ticket(node=self.node, uniqueid=uniqueid, linkedid=None,
                                caller_number=normalise_number(rec["caller_number"]),
                                caller_number_raw=rec["caller_number"][:255], caller_name=normalise_name(rec["caller_name"]),
                                caller_name_raw=rec["caller_name"][:255], channel="", source="12345",
                                call_status="completed", arrived_at=rec["received_at"], ended_at=rec["received_at"],
                                details={"hotline_12345": {"order_no": rec["order_no"], "content": rec["content"]}})
                session.add(ticket)
                await session.flush()
                now = utcnow()
                session.add(WorkOrder(ticket_id=ticket.id, status="new", category="hotline_12345", priority="high",
                                      notes=rec["content"], promised_reply_at=rec["deadline"], revisits=0,
                                      due_at=self._due_of(ticket, "hotline_12345", None),
                                      external_ref=rec["order_no"], created_at=now, updated_at=now, updated_by=by))
                session.add(Contact(ticket_id=ticket.id, kind="inbound", at=rec["received_at"],
                                    number=ticket.caller_number, outcome="transferred_12345", text=rec["content"],
                                    details={"order_no": rec["order_no"]}))
                created.append(ticket.id)
        log.info("ticket.imported_12345", created=len(created), skipped=skipped, by=by)
        return {"created": len(created), "skipped": skipped, "ticket_ids": created}

    def _order_record(self, rec: dict[str, Any]) -> dict[str, Any]:
        problems = []
        order_no = str(rec.get("order_no") or "").strip()
        if not order_no or len(order_no) > 50:
            problems.append({"field": "order_no", "problem": "is required (1-50 characters)"})
        out: dict[str, Any] = {"order_no": order_no}
        for name in ("received_at", "deadline"):
            raw = str(rec.get(name) or "").strip()
            if not raw:
                if name == "deadline":
                    problems.append({"field": name, "problem": "is required (ISO datetime)"})
                out[name] = utcnow()
                continue
            try:
                moment = dt.datetime.fromisoformat(raw)
            except ValueError:
                problems.append({"field": name, "problem": f"{raw!r} is not an ISO datetime (2025-03-10T17:00:00+08:00)"})
                continue
            if not 2000 <= moment.year <= 2100:  # a typing mistake; near year 1 or 9999 UTC overflows
                problems.append({"field": name, "problem": f"{raw!r} is not a year between 2000 and 2100"})
                continue
            out[name] = (moment if moment.tzinfo else moment.replace(tzinfo=self.tz)).astimezone(dt.UTC)
        out["caller_number"] = clean_text(rec.get("caller_number") or "").strip()
        out["caller_name"] = clean_text(rec.get("caller_name") or "").strip()
        out["content"] = clean_text(rec.get("content") or "").strip()[:MAX_NOTES]
        if not out["content"]:
            problems.append({"field": "content", "problem": "is required"})
        if problems:
            raise InvalidData("ticket.invalid_import", "invalid record", problems)
        return out


def _read_records(data: str | bytes, fmt: str) -> list[tuple[str, dict[str, Any]]]:
    """(position, record) pairs from CSV (header row) or JSON (a list of objects)."""
    try:
        data = csv_reader.decode(data, "the data")
    except csv_reader.UndecodableCsv as err:
        raise InvalidData("ticket.invalid_import", str(err)) from None
    if fmt == "json":
        try:
            parsed = json.loads(data)
        except ValueError as err:
            raise InvalidData("ticket.invalid_import", f"not JSON: {err}") from None
        if isinstance(parsed, dict) and isinstance(parsed.get("orders"), list):
            parsed = parsed["orders"]
        if not isinstance(parsed, list) or not all(isinstance(r, dict) for r in parsed):
            raise InvalidData("ticket.invalid_import", "JSON must be a list of order objects (or {\"orders\": [...]})")
        return [(f"record {n}", r) for n, r in enumerate(parsed, 1)]
    if fmt == "csv":
        reader = csv_reader.dict_rows(data)
        try:
            return [(f"line {reader.line_num}", row) for row in reader]
        except csv.Error as err:
            raise InvalidData("ticket.invalid_import", f"not CSV: {err} (line {reader.line_num})") from None
    raise InvalidData("ticket.invalid_import", f"format must be csv or json, not {fmt!r}")
