"""Tickets: one per call, written at arrival; calls the fallback queue took are found in queue_log."""

from callcenter.tickets.queue_log import FallbackCall, QueueLogEntry, fold, parse_line, parse_lines
from callcenter.tickets.reconcile import QueueLogReconciler
from callcenter.tickets.service import TicketService, TicketWrite

__all__ = [
    "FallbackCall",
    "QueueLogEntry",
    "QueueLogReconciler",
    "TicketService",
    "TicketWrite",
    "fold",
    "parse_line",
    "parse_lines",
]
