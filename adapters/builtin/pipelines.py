"""Editing sales pipelines from the deals board (manual, seed 003: «Настройки воронки»).

A new pipeline has the manual's three stages, «Первый контакт», «В работе» and «Платеж», which can be
renamed at any time; stages are added up to eight. Deals name their stage by its text, so renaming
a stage renames it on every deal of the pipeline in the same transaction. A stage is removed only
when no deal (open, closed or archived) is on it, and a pipeline is deleted only when it holds no
deal at all, archive included (move them to another pipeline first), and is not the last one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from adapters.builtin.activity import MAX_STAGES, Deals
from adapters.builtin.db import ConflictError, Database, Row

DEFAULT_STAGES = ("Первый контакт", "В работе", "Платеж")
MAX_NAME = 60


class PipelineError(ValueError):
    """A change the rules refuse; `field` names what to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _clean(name: str, field: str) -> str:
    text = " ".join(str(name).split())
    if not text:
        raise PipelineError(field, "must not be empty")
    if len(text) > MAX_NAME:
        raise PipelineError(field, f"at most {MAX_NAME} characters")
    return text


def _checked(stages: Sequence[str]) -> list[str]:
    names = [_clean(s, "stages") for s in stages]
    if not 1 <= len(names) <= MAX_STAGES:
        raise PipelineError("stages", f"a pipeline has 1 to {MAX_STAGES} stages")
    if len({n.casefold() for n in names}) != len(names):
        raise PipelineError("stages", "stage names repeat")
    return names


class Pipelines:
    """Create, rename and delete pipelines; add, rename, reorder and remove their stages."""

    def __init__(self, db: Database, deals: Deals) -> None:
        self.db = db
        self.deals = deals

    async def create(self, name: str, stages: Sequence[str] | None = None) -> Row:
        """A new pipeline (the manual's three stages unless others are given)."""
        name = _clean(name, "name")
        await self._name_free(name)
        names = _checked(stages or DEFAULT_STAGES)
        new_id = await self.db.write(
            "INSERT INTO pipelines (name, stages) VALUES (?, ?)",
            (name, json.dumps(names, ensure_ascii=False)),
        )
        return await self.deals.pipeline(new_id)

    async def update(
        self, pipeline_id: int, name: str | None = None, order: Sequence[str] | None = None
    ) -> Row:
        """Rename the pipeline and/or put its stages in a new order (the same names, rearranged)."""
        current = await self.deals.pipeline(pipeline_id)
        stages = current["stages"]
        if order is not None:
            if sorted(order) != sorted(stages):
                raise PipelineError("order", "must list the pipeline's stages, each once")
            stages = list(order)
        if name is not None:
            name = _clean(name, "name")
            if name != current["name"]:
                await self._name_free(name)
        await self._save(pipeline_id, name or current["name"], stages)
        return await self.deals.pipeline(pipeline_id)

    async def add_stage(self, pipeline_id: int, name: str) -> Row:
        """Add a stage at the end (right of the last column)."""
        current = await self.deals.pipeline(pipeline_id)
        stages = _checked([*current["stages"], name])
        await self._save(pipeline_id, current["name"], stages)
        return await self.deals.pipeline(pipeline_id)

    async def rename_stage(self, pipeline_id: int, old: str, new: str) -> Row:
        """Rename a stage, and with it every deal of the pipeline on that stage."""
        current = await self.deals.pipeline(pipeline_id)
        stages = current["stages"]
        if old not in stages:
            raise PipelineError("stage", f"no stage «{old}» in {current['name']}")
        stages = _checked([new if s == old else s for s in stages])
        new = stages[current["stages"].index(old)]
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE pipelines SET stages = ? WHERE id = ?",
                (json.dumps(stages, ensure_ascii=False), pipeline_id),
            )
            await conn.execute(
                "UPDATE deals SET stage = ? WHERE pipeline_id = ? AND stage = ?", (new, pipeline_id, old)
            )
        return await self.deals.pipeline(pipeline_id)

    async def remove_stage(self, pipeline_id: int, name: str) -> Row:
        """Remove a stage no deal is on (ConflictError otherwise)."""
        current = await self.deals.pipeline(pipeline_id)
        if name not in current["stages"]:
            raise PipelineError("stage", f"no stage «{name}» in {current['name']}")
        on_it = await self.db.scalar(
            "SELECT COUNT(*) FROM deals WHERE pipeline_id = ? AND stage = ?", (pipeline_id, name)
        )
        if on_it:
            raise ConflictError(f"{on_it} deal(s) are on «{name}»: move them to another stage first")
        stages = _checked([s for s in current["stages"] if s != name])
        await self._save(pipeline_id, current["name"], stages)
        return await self.deals.pipeline(pipeline_id)

    async def delete(self, pipeline_id: int) -> None:
        """Delete an empty pipeline (no deal in it, archive included) that is not the only one."""
        await self.deals.pipeline(pipeline_id)
        held = await self.db.scalar("SELECT COUNT(*) FROM deals WHERE pipeline_id = ?", (pipeline_id,))
        if held:
            raise ConflictError(
                f"the pipeline holds {held} deal(s), archive included: move them to another pipeline first"
            )
        if int(await self.db.scalar("SELECT COUNT(*) FROM pipelines") or 0) <= 1:
            raise ConflictError("the only pipeline cannot be deleted")
        await self.db.write("DELETE FROM pipelines WHERE id = ?", (pipeline_id,))

    async def _name_free(self, name: str) -> None:
        taken = await self.db.scalar("SELECT id FROM pipelines WHERE name = ?", (name,))
        if taken is not None:
            raise PipelineError("name", f"a pipeline named «{name}» exists")

    async def _save(self, pipeline_id: int, name: str, stages: list[str]) -> None:
        await self.db.write(
            "UPDATE pipelines SET name = ?, stages = ? WHERE id = ?",
            (name, json.dumps(stages, ensure_ascii=False), pipeline_id),
        )
