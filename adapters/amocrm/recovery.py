"""After a lost answer: find in amoCRM what an earlier attempt created, instead of creating it twice.

amoCRM does not deduplicate: `request_id` is echoed in the answer but not stored, and calls with
the same `uniq` are both kept. So before each create the adapter records its intent (the time the
request went out); a retry that finds an intent without a result first looks the thing up here,
and only sends again when nothing is there. The look-ups cost requests only on such retries:

- unsorted entry: GET /api/v4/leads/unsorted (category sip, newest first), matched by source_uid;
- contact: the phone search the adapter always uses (a contact with the number now exists);
- lead: GET /api/v4/leads created since the intent, matched by name and the contact;
- task: GET /api/v4/tasks of the entity updated since the intent, matched by text;
- call: GET /api/v4/{leads,customers,contacts,companies}/notes of type call_in/call_out updated
  since the intent, matched by params.uniq (amoCRM files a POST /calls call as such a note on the
  lead, customer, contact or company its algorithm picks);
- call note on a card: the same notes listing for that one card.
"""

from __future__ import annotations

from typing import Any

from adapters.amocrm.client import AmoClient
from adapters.amocrm.contacts import embedded

SLACK = 60  # seconds: amoCRM's clock and ours differ a little
PAGES = 3  # newest first, 250 a page: an entry made minutes ago is on the first page
CALL_NOTES = ("call_in", "call_out")


async def unsorted_by_source_uid(
    client: AmoClient, source_uid: str, pipeline_id: int | None
) -> dict[str, Any] | None:
    """The unsorted SIP entry created with `source_uid`, as the adapter stores it, or None."""
    params = {"filter[category][0]": "sip", "order[created_at]": "desc", "limit": "250"}
    if pipeline_id is not None:
        params["filter[pipeline_id]"] = str(pipeline_id)
    for page in range(1, PAGES + 1):
        answer = await client.get("/api/v4/leads/unsorted", {**params, "page": str(page)})
        items = embedded(answer, "unsorted")
        for item in items:
            if str(item.get("source_uid")) == source_uid:
                inner = item.get("_embedded") or {}
                return {
                    "uid": item.get("uid"),
                    "lead_id": _first_id(inner.get("leads")),
                    "contact_id": _first_id(inner.get("contacts")),
                }
        if len(items) < 250:
            break
    return None


async def lead_named(client: AmoClient, name: str, contact_id: int, since: float) -> int | None:
    """A lead called `name`, linked to the contact, created since `since`."""
    params = {
        "filter[created_at][from]": str(int(since) - SLACK),
        "with": "contacts",
        "order[created_at]": "desc",
        "limit": "250",
    }
    for lead in embedded(await client.get("/api/v4/leads", params), "leads"):
        contacts = (lead.get("_embedded") or {}).get("contacts") or []
        if lead.get("name") == name and any(
            c.get("id") == contact_id for c in contacts if isinstance(c, dict)
        ):
            return int(lead["id"])
    return None


async def task_with_text(client: AmoClient, target: tuple[str, int], text: str, since: float) -> int | None:
    """A task on `target` (entity type, id) with this text, changed since `since`."""
    params = {
        "filter[entity_type]": target[0],
        "filter[entity_id][0]": str(target[1]),
        "filter[updated_at][from]": str(int(since) - SLACK),
        "limit": "250",
    }
    for task in embedded(await client.get("/api/v4/tasks", params), "tasks"):
        if task.get("text") == text:
            return int(task["id"])
    return None


async def call_note(
    client: AmoClient,
    uniq: str,
    since: float,
    entities: tuple[str, ...] = ("leads", "customers", "contacts", "companies"),
    entity_id: int | None = None,
) -> dict[str, Any] | None:
    """The call (a call_in/call_out note) filed with `uniq` since `since`: {id, entity_type, entity_id}."""
    params = {f"filter[note_type][{n}]": kind for n, kind in enumerate(CALL_NOTES)}
    params.update({"filter[updated_at][from]": str(int(since) - SLACK), "limit": "250"})
    if entity_id is not None:
        params["filter[entity_id][0]"] = str(entity_id)
    for entity in entities:
        answer = await client.get(f"/api/v4/{entity}/notes", params)
        for note in embedded(answer, "notes"):
            if str((note.get("params") or {}).get("uniq")) == uniq:
                return {"id": note.get("id"), "entity_type": entity, "entity_id": note.get("entity_id")}
    return None


async def note_with_text(client: AmoClient, target: tuple[str, int], text: str, since: float) -> int | None:
    """A common note with this text on `target` (entity type, id), added since `since`."""
    params = {
        "filter[entity_id][0]": str(target[1]),
        "filter[note_type][0]": "common",
        "filter[updated_at][from]": str(int(since) - SLACK),
        "limit": "250",
    }
    for note in embedded(await client.get(f"/api/v4/{target[0]}/notes", params), "notes"):
        if (note.get("params") or {}).get("text") == text:
            return int(note["id"])
    return None


def _first_id(items: Any) -> int | None:
    if isinstance(items, list) and items and isinstance(items[0], dict) and "id" in items[0]:
        return int(items[0]["id"])
    return None
