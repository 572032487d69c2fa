"""Outbound calls: escalations and callbacks (``service``), the dialling policy (``policy``), outbound lists.

``planner`` (pure) decides which list task to dial when; ``lists`` and ``importer`` keep and import
the lists; ``runner`` dials list tasks and automatic callbacks; ``http`` is ``/api/outbound``;
``plugin`` opens the service, the list store and the runner.  It depends on work orders (tasks,
contacts, the directory), never the reverse.
"""
