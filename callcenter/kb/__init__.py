"""The knowledge base: entries and their history, Chinese search, CSV import and export.

``search`` (pure) parses queries and highlights; ``service`` reads and writes entries; ``http`` is
the ``/api/kb`` routes, ``plugin`` opens the service (and loads the sample entries), ``keys`` its
app key.  It depends on work orders (a ticket's menu choice for suggestions), never the reverse.
"""
