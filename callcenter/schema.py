"""Every table's model, imported once so ``Base.metadata`` knows every table.

Models name other areas' tables by name in their foreign keys (``callback_tasks.list_id`` ->
``outbound_lists``), and SQLAlchemy resolves such a key only when it writes a row: without the
other area's model imported, a write failed or passed by import order.  The application and the
command line (``app.py``, ``cli.py``) import this module; a new area's ``models.py`` is added here.
"""

from __future__ import annotations

import callcenter.accounts.models
import callcenter.agents.models
import callcenter.kb.models
import callcenter.ledger.models
import callcenter.outbound.models
import callcenter.quality.models
import callcenter.recording.models
import callcenter.store.models
import callcenter.workorders.models  # noqa: F401
