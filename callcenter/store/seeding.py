"""Rows seeded from a file that supervisors may then edit on the web (IVR rules, rota shifts)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession


async def merge_file_specs(session: AsyncSession, model: Any, specs: dict[str, Any]) -> dict[str, int]:
    """Make ``model``'s file-origin rows match ``specs`` (name -> spec); rows edited on the web are kept.

    ``model`` has ``name``, ``spec`` and ``origin`` ("file" or "web") columns.  Returns counts of
    added / updated / removed / kept rows.
    """
    counts = {"added": 0, "updated": 0, "removed": 0, "kept": 0}
    rows = {row.name: row for row in (await session.scalars(select(model))).all()}
    for name, spec in specs.items():
        row = rows.get(name)
        if row is None:
            session.add(model(name=name, spec=spec, origin="file"))
            counts["added"] += 1
        elif row.origin == "web":
            counts["kept"] += 1
        elif row.spec != spec:
            row.spec = spec
            counts["updated"] += 1
    for name, row in rows.items():
        if row.origin == "file" and name not in specs:
            await session.delete(row)
            counts["removed"] += 1
    return counts
