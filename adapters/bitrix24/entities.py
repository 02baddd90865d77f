"""Finding the caller in the CRM, and creating a contact, deal or lead when the rules say so.

Rules (MikoPBX's own module, seed 004): only for the configured call directions and never for
blacklisted numbers. Simple mode: when nobody matches, create a contact named by the template
("Без имени") plus a deal titled with the phone, or a lead. Repeat-sales mode: also for a known
client, unless the client has an active deal or lead. Entities are created by the connector
(CRM_CREATE=0) so the templates, modes and blacklist are ours; the responsible is corrected at
finish to whoever ends up answering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.errors import WrongAuthTypeError
from adapters.bitrix24.mapping import portal_phone, same_number
from adapters.bitrix24.settings import EntitySettings
from connector.calls.model import Direction
from connector.crm import Contact
from connector.errors import PermanentError

# Entity changes made for calls are not news: without this every contact, deal and reassignment
# the connector makes is posted to the portal's live feed (crm.*.add/update params).
NO_FEED = {"REGISTER_SONET_EVENT": "N"}


@dataclass(frozen=True, slots=True)
class Found:
    """What the CRM holds for a number: contact and lead ids (contacts first)."""

    contacts: tuple[int, ...] = ()
    leads: tuple[int, ...] = ()


@dataclass(slots=True)
class Created:
    """Entities the connector created for one call, and the one to bind the call to."""

    entities: list[tuple[str, int]] = field(default_factory=list)
    bind: tuple[str, int] | None = None


async def find(client: Bitrix24Client, phone: str) -> Found:
    """Contacts and leads with this phone (`crm.duplicate.findbycomm`)."""
    result = await client.call("crm.duplicate.findbycomm", {"type": "PHONE", "values": [portal_phone(phone)]})
    if not isinstance(result, dict):  # PHP's empty array: nothing found
        return Found()
    return Found(
        contacts=tuple(int(i) for i in result.get("CONTACT") or ()),
        leads=tuple(int(i) for i in result.get("LEAD") or ()),
    )


def wants_entities(rules: EntitySettings, direction: Direction, phone: str) -> bool:
    """Whether this call may create entities at all (direction filter, blacklist)."""
    if rules.create_for == "none" or direction is Direction.INTERNAL:
        return False
    if rules.create_for == "incoming" and direction is not Direction.INBOUND:
        return False
    if rules.create_for == "outgoing" and direction is not Direction.OUTBOUND:
        return False
    return not same_number(phone, rules.blacklist)


async def ensure_entities(
    client: Bitrix24Client, rules: EntitySettings, phone: str, direction: Direction, user_id: str
) -> Created:
    """Create what the rules ask for this caller; `bind` is what register should point at."""
    if not wants_entities(rules, direction, phone):
        return Created()
    found = await find(client, phone)
    known = bool(found.contacts or found.leads)
    if known and (rules.mode != "repeat_sales" or await _has_active(client, found)):
        return Created()
    contact_id = found.contacts[0] if found.contacts else None
    if rules.create == "lead":
        return await _create_lead(client, rules, phone, contact_id, user_id)
    if contact_id is None:
        return await _create_contact(client, rules, phone, user_id)
    created = Created(bind=("CONTACT", contact_id))
    if rules.create == "deal":
        created.entities.append(
            ("DEAL", await _add(client, "deal", _deal(rules, phone, contact_id), user_id))
        )
    return created


async def _create_contact(client: Bitrix24Client, rules: EntitySettings, phone: str, user_id: str) -> Created:
    """The contact and (by the rules) its deal in one `batch`: one request, and one answer to
    lose — a retry then finds the contact by phone and creates nothing twice."""
    fields: dict[str, Any] = {"NAME": _fill(rules.contact_name, phone), "SOURCE_ID": rules.source_id}
    fields["PHONE"] = [{"VALUE": portal_phone(phone), "VALUE_TYPE": "WORK"}]
    commands: dict[str, tuple[str, dict[str, Any]]] = {
        "contact": ("crm.contact.add", _add_params(fields, user_id))
    }
    if rules.create == "deal":
        deal = _deal(rules, phone, "$result[contact]")
        commands["deal"] = ("crm.deal.add", _add_params(deal, user_id))
    answers = await client.batch(commands, halt=True)
    if answers.errors or "contact" not in answers.results:
        problem = next(iter(answers.errors.values()), {})
        raise PermanentError(
            f"crm.contact.add: {problem.get('error_description') or 'no id'}", adapter="bitrix24"
        )
    contact_id = int(answers.results["contact"])
    created = Created(entities=[("CONTACT", contact_id)], bind=("CONTACT", contact_id))
    if "deal" in answers.results:
        created.entities.append(("DEAL", int(answers.results["deal"])))
    return created


def _deal(rules: EntitySettings, phone: str, contact_id: int | str) -> dict[str, Any]:
    return {"TITLE": _fill(rules.deal_title, phone), "CONTACT_ID": contact_id, "SOURCE_ID": rules.source_id}


async def _create_lead(
    client: Bitrix24Client, rules: EntitySettings, phone: str, contact_id: int | None, user_id: str
) -> Created:
    fields: dict[str, Any] = {
        "TITLE": _fill(rules.lead_title, phone),
        "NAME": _fill(rules.contact_name, phone),
        "SOURCE_ID": rules.source_id,
    }
    if contact_id is not None:
        fields["CONTACT_ID"] = contact_id  # a repeat sale: the lead joins the known client
    else:
        fields["PHONE"] = [{"VALUE": portal_phone(phone), "VALUE_TYPE": "WORK"}]
    lead_id = await _add(client, "lead", fields, user_id)
    bind = ("CONTACT", contact_id) if contact_id is not None else ("LEAD", lead_id)
    return Created(entities=[("LEAD", lead_id)], bind=bind)


async def reassign(client: Bitrix24Client, entities: list[tuple[str, int]], user_id: str) -> None:
    """Make `user_id` responsible for the entities created for a call (one batch)."""
    commands = {
        f"u{n}": (
            f"crm.{kind.lower()}.update",
            {"id": entity_id, "fields": {"ASSIGNED_BY_ID": user_id}, "params": NO_FEED},
        )
        for n, (kind, entity_id) in enumerate(entities[:50])
    }
    await client.batch(commands)


async def lookup(client: Bitrix24Client, phone: str) -> Contact | None:
    """The CRM party of `phone` with its responsible user (searchCrmEntities, else findbycomm)."""
    try:
        hits = await client.call(
            "telephony.externalcall.searchCrmEntities", {"PHONE_NUMBER": portal_phone(phone)}
        )
    except WrongAuthTypeError:
        return await _lookup_by_duplicates(client, phone)
    for hit in hits if isinstance(hits, list) else []:
        assigned = hit.get("ASSIGNED_BY") or {}
        return Contact(
            id=str(hit.get("CRM_ENTITY_ID")),
            name=str(hit.get("NAME") or ""),
            phones=(phone,),
            kind=str(hit.get("CRM_ENTITY_TYPE") or "CONTACT").lower(),
            responsible_user_id=_str_or_none(hit.get("ASSIGNED_BY_ID")),
            responsible_extension=_str_or_none(assigned.get("USER_PHONE_INNER")),
        )
    return None


async def _lookup_by_duplicates(client: Bitrix24Client, phone: str) -> Contact | None:
    found = await find(client, phone)
    kind, ids = ("contact", found.contacts) if found.contacts else ("lead", found.leads)
    if not ids:
        return None
    entity = await client.call(f"crm.{kind}.get", {"id": ids[0]})
    entity = entity if isinstance(entity, dict) else {}
    return Contact(
        id=str(ids[0]),
        name=" ".join(str(entity.get(k) or "") for k in ("NAME", "LAST_NAME")).strip(),
        phones=(phone,),
        kind=kind,
        responsible_user_id=_str_or_none(entity.get("ASSIGNED_BY_ID")),
    )


async def _has_active(client: Bitrix24Client, found: Found) -> bool:
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    if found.contacts:
        commands["deals"] = (
            "crm.deal.list",
            {"filter": {"CONTACT_ID": list(found.contacts), "STAGE_SEMANTIC_ID": "P"}, "select": ["ID"]},
        )
    if found.leads:
        commands["leads"] = (
            "crm.lead.list",
            {"filter": {"ID": list(found.leads), "STATUS_SEMANTIC_ID": "P"}, "select": ["ID"]},
        )
    answers = await client.batch(commands)
    return any(answers.results.get(key) for key in commands)


async def _add(client: Bitrix24Client, kind: str, fields: dict[str, Any], user_id: str) -> int:
    new_id = await client.call(f"crm.{kind}.add", _add_params(fields, user_id))
    return int(new_id)


def _add_params(fields: dict[str, Any], user_id: str) -> dict[str, Any]:
    return {"fields": {**fields, "ASSIGNED_BY_ID": user_id}, "params": NO_FEED}


def _fill(template: str, phone: str) -> str:
    return template.replace("{phone}", phone)


def _str_or_none(value: Any) -> str | None:
    return str(value) if value not in (None, "", 0, "0") else None
