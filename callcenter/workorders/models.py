"""ORM models of the work-order side: a ticket's lifecycle, its contacts, callback tasks, departments.

A ticket (``tickets``, one row per call or imported order) gets one ``work_orders`` row keyed by
its id: status, category, priority, notes and the promised reply time.  Everything that happened
to it afterwards is a ``contacts`` row (inbound call, callback, escalation, note, survey, status
change).  Outbound work waiting to be done is a ``callback_tasks`` row.  Schema: migration 0004.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.store.models import Base, utcnow

CONTACT_KINDS = ("inbound", "callback", "escalation", "note", "survey", "status", "outbound",
                 "reply", "handoff", "finding",  # a department's desk (callcenter.workorders.desk)
                 "overdue",  # the overdue ladder climbed (callcenter.workorders.sweep)
                 "supervision")  # a supervisor listened, whispered or barged in (callcenter.web.supervision)
TASK_KINDS = ("callback", "abandoned", "followup_day7", "appointment_reminder")
TASK_STATES = ("pending", "dialing", "done", "failed", "cancelled")
MAX_NOTES = 4000  # the longest note (a note contact's text, an imported order's content)


class WorkOrder(Base):
    """The closed-loop state of one ticket (see ``callcenter.workorders.lifecycle``)."""

    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_status", "status"),
        Index("ix_work_orders_promised_reply_at", "promised_reply_at"),
        Index("ix_work_orders_parent_id", "parent_id"),
        Index("ix_work_orders_external_ref", "external_ref"),
        Index("ix_work_orders_due_at", "due_at"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="new")
    category: Mapped[str | None] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    notes: Mapped[str] = mapped_column(Text, default="")
    promised_reply_at: Mapped[dt.datetime | None]
    callback_by: Mapped[dt.datetime | None]
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    close_reason: Mapped[str | None] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    revisits: Mapped[int] = mapped_column(Integer, default=0)  # inbound calls after the first
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    external_ref: Mapped[str | None] = mapped_column(String(64))  # e.g. the 12345 order number
    assigned_agent: Mapped[str | None] = mapped_column(String(64))
    overdue_alerted_at: Mapped[dt.datetime | None]
    # The time limit of its category (callcenter/workorders/timelimits.py; migration 0012): closed
    # within the limit is solved_at <= due_at.  The overdue ladder's level (0 on time, 1 operator,
    # 2 supervisor, 3 department head) and when it last climbed.
    due_at: Mapped[dt.datetime | None]
    ladder_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ladder_at: Mapped[dt.datetime | None]
    solved_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class Contact(Base):
    """One entry of a ticket's contact history."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_ticket_id_at", "ticket_id", "at"),
        Index("ix_contacts_call_ticket_id", "call_ticket_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # one of CONTACT_KINDS
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(32))  # who was called / who called
    outcome: Mapped[str | None] = mapped_column(String(32))  # answered, no_answer, busy, failed, abandoned...
    reached: Mapped[str | None] = mapped_column(String(80))  # the person reached (specialist, office)
    call_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class CallbackTask(Base):
    """Outbound work waiting: call a caller back (abandoned call, operator callback, lists)."""

    __tablename__ = "callback_tasks"
    __table_args__ = (
        UniqueConstraint("ticket_id", "kind", "dedupe_key"),
        Index("ix_callback_tasks_state_not_before", "state", "not_before"),
        # list tasks (callcenter.outbound.lists): one per patient and date, however often imported
        Index("uq_callback_tasks_list_dedupe", "kind", "dedupe_key", unique=True,
              sqlite_where=text("list_id IS NOT NULL"), postgresql_where=text("list_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))  # one of TASK_KINDS
    dedupe_key: Mapped[str] = mapped_column(String(64), default="")  # keeps automatic tasks idempotent
    number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80), default="")
    state: Mapped[str] = mapped_column(String(12), default="pending")  # one of TASK_STATES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    not_before: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None]
    result: Mapped[str | None] = mapped_column(String(32))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The list (``callcenter.outbound.models``, which depends on this module) named by the table, not imported.
    list_id: Mapped[int | None] = mapped_column(ForeignKey("outbound_lists.id", ondelete="SET NULL"))
    due_by: Mapped[dt.datetime | None]  # list tasks: not dialled from then on (expired)


class Department(Base):
    """A clinical or administrative department the hotline escalates to."""

    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    office_phone: Mapped[str] = mapped_column(String(32), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Specialist(Base):
    """A department's contact person, called on the mobile when the office does not answer."""

    __tablename__ = "specialists"
    __table_args__ = (Index("ix_specialists_department_id", "department_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(64), default="")
    mobile: Mapped[str] = mapped_column(String(32))
    # On-duty hours: {"weekdays": ["mon", ...], "times": "08:00-17:30"}; empty means always.
    duty: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rank: Mapped[int] = mapped_column(Integer, default=0)  # order in which specialists are called
    active: Mapped[bool] = mapped_column(default=True)


class UserDepartment(Base):
    """A specialist's department (``users`` named by table: accounts sit beside, not below, work orders).

    A head (``is_head``) also sees the department's tickets overdue up to them on the ladder.
    """

    __tablename__ = "user_departments"
    __table_args__ = (Index("ix_user_departments_department_id", "department_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True)
    is_head: Mapped[bool] = mapped_column(default=False)
