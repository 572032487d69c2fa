"""The feedback ledger (台账): complaints, low survey scores and suggestions to rectify, and its catalogue.

``lifecycle`` (pure) is an item's states and moves; ``catalogue`` (pure) reads the catalogue CSV;
``service`` writes items (hooked to the work orders' changes), events and the catalogue; ``http``
is ``/api/ledger`` and the ``/ledger`` page; ``plugin`` wires it.  It depends on work orders
(tickets, departments, specialists' departments), never the reverse.
"""
