"""The amoCRM adapter: finished calls → calls (or call notes) on the client's card, unsorted leads
for unknown callers, contacts / leads / tasks by the per-line rules.

Retries are safe: what amoCRM created for a conversation is remembered in the adapter's durable
state under the conversation id (`call:`, `unsorted:`, `entities:` keys) before the job is
acknowledged, because amoCRM itself does not deduplicate (`request_id` is echoed, not stored).
A request whose answer was lost is the hard case — amoCRM created the thing, we do not know — so
the intent is recorded (`pending:` key, the time the request went out) before each create, and a
retry that finds an intent without a result looks the thing up first (`recovery`). An unsorted
entry carries its call (`is_call_event_needed`), so a conversation that made one is not logged a
second time; a missed call's reason (issue 24) is in the call's result, or in a note on the
unsorted lead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from adapters.amocrm import mapping, recovery
from adapters.amocrm.auth import Credentials, LongLivedToken, OAuthTokens
from adapters.amocrm.client import AmoClient
from adapters.amocrm.contacts import ContactDirectory, first_embedded
from adapters.amocrm.errors import EntityNotFound, ValidationFailed
from adapters.amocrm.phonebook import PhoneBook
from adapters.amocrm.settings import EntityRule, LineSettings, Settings
from adapters.amocrm.users import UserMap
from adapters.amocrm.widget_live import WidgetLive
from adapters.reasons import reason_text
from connector import logs
from connector.calls.model import Call, Direction, LiveEvent
from connector.calls.phones import last_digits
from connector.crm import Adapter, AdapterContext, Capability, Contact
from connector.sync.ratelimit import TokenBucket

log = logs.get_logger(__name__)
NEW_CONTACT = "Новый контакт"  # the name of a contact the pop-up's «Открыть карточку» creates


class AmoCrmAdapter(Adapter):
    """Keeps one amoCRM account in step with the PBX."""

    capabilities = frozenset(
        {
            Capability.LOOKUP,
            Capability.LOG_CALL,
            Capability.UNSORTED,
            Capability.CLICK_TO_CALL,
            Capability.LIVE,
        }
    )

    def __init__(
        self,
        settings: Settings,
        context: AdapterContext,
        *,
        clock: Callable[[], float] = time.time,
        bucket: TokenBucket | None = None,
    ) -> None:
        super().__init__(context)
        self.settings = settings
        self._clock = clock
        # one bucket for every request to the account: outbox jobs, lookups and token refreshes
        self.bucket = bucket or TokenBucket(settings.rate_limit)
        self.credentials = self._credentials(settings, context)
        self.client = AmoClient(
            context.session, settings.url, self.credentials, self.bucket, timeout=settings.request_timeout
        )
        self.users = UserMap(settings.users, settings.users_refresh_seconds)
        self._locks: dict[str, _Held] = {}
        self.contacts = ContactDirectory(
            self.client,
            self.users,
            ttl=settings.lookup_cache_seconds,
            base_url=settings.url,
            companies=settings.search_companies,
        )
        if settings.phone_book:
            kinds = ("contacts", "companies") if settings.search_companies else ("contacts",)
            self.contacts.phonebook = PhoneBook(
                self.client, kinds, refresh_seconds=settings.phone_book_refresh_seconds
            )
        self.live = WidgetLive(self.lookup) if settings.widget.enabled else None

    def _credentials(self, settings: Settings, context: AdapterContext) -> Credentials:
        if settings.auth.mode == "long_lived":
            return LongLivedToken(settings.auth.long_lived_token.get())
        return OAuthTokens(
            context.session,
            settings.url,
            settings.auth,
            context.state,
            timeout=settings.request_timeout,
            bucket=self.bucket,
            clock=self._clock,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Authorise (the code is exchanged on first start) and read the account's users."""
        await self.credentials.access_token()
        await self.users.refresh(self.client, force=True)

    async def aclose(self) -> None:
        """Let a token rotation in flight reach the state store; the session is not ours."""
        if self.live is not None:
            self.live.feed.close()  # the call panels' sockets end instead of hanging on
        if isinstance(self.credentials, OAuthTokens):
            await self.credentials.aclose()

    def mount(self, app: web.Application) -> None:
        """The widget's endpoints under /amocrm/widget/ (click-to-call, hang-up, transfer)."""
        if self.settings.widget.enabled:
            app.add_subapp("/amocrm/widget/", self.widget_app())

    def widget_app(self) -> web.Application:
        """The aiohttp sub-application the amoCRM widget calls (mount it under /amocrm/widget)."""
        from adapters.amocrm.widget import create_widget_app

        return create_widget_app(
            self.settings.widget,
            self.users,
            self.context.call_control,
            feed=self.live.feed if self.live else None,
            cards=self.widget_card,
            employees=self.employees,
        )

    # -- the call panel (adapters/amocrm/widget_live.py) ----------------------------------------

    def wants_live(self, event: LiveEvent) -> bool:
        """Every live event, internal calls too, while the widget is on: the panel shows presence."""
        return self.live is not None

    async def on_live(self, event: LiveEvent) -> None:
        """Feed the call panels: presence, and the pop-up of the employee concerned."""
        if self.live is not None:
            await self.live.on_live(event)

    def employees(self) -> list[dict[str, Any]]:
        """The mapped extensions with their amoCRM users, for the panel's list."""
        return [
            {"extension": ext, "user_id": self.users.user_of(ext), "name": self.users.name_of(ext) or ext}
            for ext in sorted(self.settings.users)
        ]

    async def widget_card(self, number: str, user_id: str | None) -> dict[str, Any]:
        """The card «Открыть карточку клиента» opens: the contact with `number`, else a new one."""
        async with self._number(number):
            contact = await self.lookup(number)
            created = contact is None
            if contact is None:
                responsible = int(user_id) if user_id and user_id.isdigit() else None
                contact = await self.contacts.create(
                    NEW_CONTACT, number, responsible, request_id=f"widget:{number}"
                )
        card = {"id": contact.id, "kind": contact.kind, "name": contact.name, "url": contact.url}
        return {**card, "created": created}

    # -- primitives -----------------------------------------------------------------------------

    async def lookup(self, phone: str) -> Contact | None:
        """The contact with this number (cached briefly), with its responsible user and extension."""
        await self.users.refresh(self.client)
        return await self.contacts.find(phone)

    async def create_unsorted(self, call: Call) -> None:
        """An unknown caller on a line whose rules ask for it → an unsorted SIP lead (with contact)."""
        async with self._number(call.client):
            await self._create_unsorted(call)

    async def log_call(self, call: Call) -> None:
        """File the call on the client's card, creating what the line's rules ask for first."""
        async with self._number(call.client):
            await self._log_call(call)

    @contextlib.asynccontextmanager
    async def _number(self, phone: str) -> AsyncIterator[None]:
        """One conversation per client number at a time: two calls from a new number must not
        both find "no contact" and create two contacts (amoCRM would keep both)."""
        key = last_digits(phone)
        held = self._locks.setdefault(key, _Held())
        held.users += 1
        try:
            async with held.lock:
                yield
        finally:
            held.users -= 1
            if held.users == 0:
                del self._locks[key]  # bounded: only numbers with work in flight keep a lock

    async def _create_unsorted(self, call: Call) -> None:
        if await self.context.state.get(f"unsorted:{call.id}") is not None:
            return
        line = self.settings.line(call.did)
        # an earlier attempt sent it (answer lost): its rules held then; look it up, not the caller
        sent = await self._sent_before(call, "unsorted") is not None
        contact = None if sent else await self.lookup(call.client)
        if contact is None and mapping.entity_rule(line, call, known=False).unsorted:
            await self._post_unsorted(call, line)

    async def _log_call(self, call: Call) -> None:
        state = self.context.state
        if await state.get(f"call:{call.id}") is not None:
            return
        unsorted = await state.get(f"unsorted:{call.id}")
        # once an unsorted entry (or a contact) was made for this conversation the caller counts as
        # unknown, though amoCRM now has a contact: a retry must follow the same rules
        made_here = (
            unsorted is not None
            or await self._sent_before(call, "unsorted") is not None
            or await self._made_contact(call)
        )
        contact = None if made_here else await self.lookup(call.client)
        line = self.settings.line(call.did)
        rule = mapping.entity_rule(line, call, known=contact is not None)
        user_id = mapping.responsible(call, self.settings.responsible, contact, self.users.user_of)
        if unsorted is None and contact is None and rule.unsorted and call.direction is Direction.INBOUND:
            unsorted = await self._post_unsorted(call, line)
        if unsorted is not None:
            await self._after_unsorted(call, line, rule, unsorted, user_id)
            return
        contact = await self._ensure_entities(call, line, rule, contact, user_id)
        await self._post_call(call, line, contact, user_id)
        await state.delete(f"pending:{call.id}")

    async def _after_unsorted(
        self, call: Call, line: LineSettings, rule: EntityRule, unsorted: dict[str, Any], user_id: int | None
    ) -> None:
        """The unsorted entry already carries the call; a task and the reason's note may follow."""
        key = f"entities:{call.id}"
        made: dict[str, Any] = dict(await self.context.state.get(key) or {})
        contact_id = unsorted.get("contact_id")
        target = _target(unsorted.get("lead_id"), ("contacts", contact_id) if contact_id else None)
        if rule.task and "task" not in made and target is not None:
            made["task"] = await self._create_task(call, line, target, user_id)
            await self.context.state.set(key, made)
        reason = reason_text(call)
        if reason and "reason_note" not in made and target is not None:
            # the unsorted call event has no result text: the reason goes to a note beside it
            made["reason_note"] = await self._add_note(call, target, f"Причина: {reason}")
            await self.context.state.set(key, made)
        await self.context.state.set(f"call:{call.id}", {"unsorted": unsorted.get("uid")})
        await self.context.state.delete(f"pending:{call.id}")

    # -- intents: what was sent, so that a lost answer is looked up instead of sent again ---------

    async def _made_contact(self, call: Call) -> bool:
        """Whether this conversation created (or sent the create of) the caller's contact."""
        made = await self.context.state.get(f"entities:{call.id}")
        if isinstance(made, dict) and "contact" in made:
            return True
        return await self._sent_before(call, "contact") is not None

    async def _sent_before(self, call: Call, step: str) -> float | None:
        """When an earlier attempt sent `step`'s create (its answer may have been lost), or None."""
        pending = await self.context.state.get(f"pending:{call.id}")
        value = pending.get(step) if isinstance(pending, dict) else None
        return float(value) if isinstance(value, int | float) else None

    async def _about_to_send(self, call: Call, step: str) -> None:
        """Record durably that `step`'s create is going out now."""
        key = f"pending:{call.id}"
        pending = dict(await self.context.state.get(key) or {})
        pending.setdefault(step, self._clock())  # the first attempt's time bounds the look-up
        await self.context.state.set(key, pending)

    async def _add_note(self, call: Call, target: tuple[str, int], text: str) -> int:
        sent = await self._sent_before(call, "reason_note")
        if sent is not None:
            found = await recovery.note_with_text(self.client, target, text, sent)
            if found is not None:
                return found
        await self._about_to_send(call, "reason_note")
        body = {
            "entity_id": target[1],
            "note_type": "common",
            "params": {"text": text},
            "request_id": call.id,
        }
        answer = await self.client.post(f"/api/v4/{target[0]}/notes", [body])
        return int(first_embedded(answer, "notes")["id"])

    # -- unsorted -------------------------------------------------------------------------------

    async def _post_unsorted(self, call: Call, line: LineSettings) -> dict[str, Any]:
        user_id = mapping.responsible(call, self.settings.responsible, None, self.users.user_of)
        body = mapping.unsorted_body(
            call,
            line,
            source=self.settings.source,
            service_code=self.settings.service_code,
            user_id=user_id,
            link=self._link(call),
            line_name=self._line_name(call),
            talker=self._talker(call),
        )
        record = None
        if await self._sent_before(call, "unsorted") is not None:
            record = await recovery.unsorted_by_source_uid(self.client, body["source_uid"], line.pipeline_id)
        if record is None:
            record = await self._send_unsorted(call, line, body)
        await self.context.state.set(f"unsorted:{call.id}", record)
        if record["contact_id"] is not None:
            name = mapping.render(line.contact_name, call, self._line_name(call))
            self.contacts.remember_created(record["contact_id"], name, call.client)
        log.info("amocrm.unsorted.created", call_id=call.id, uid=record["uid"])
        return record

    async def _send_unsorted(self, call: Call, line: LineSettings, body: dict[str, Any]) -> dict[str, Any]:
        await self._about_to_send(call, "unsorted")
        try:
            answer = await self.client.post("/api/v4/leads/unsorted/sip", [body])
        except ValidationFailed:
            # amoCRM refuses a second identical unsorted entry: if ours is there, that is the answer
            found = await recovery.unsorted_by_source_uid(self.client, body["source_uid"], line.pipeline_id)
            if found is None:
                raise
            log.info("amocrm.unsorted.exists", call_id=call.id)
            return found
        created = first_embedded(answer, "unsorted", key="uid")
        ids = created.get("_embedded") or {}
        return {
            "uid": created["uid"],
            "lead_id": _first_id(ids.get("leads")),
            "contact_id": _first_id(ids.get("contacts")),
        }

    # -- entities -------------------------------------------------------------------------------

    async def _ensure_entities(
        self, call: Call, line: LineSettings, rule: EntityRule, contact: Contact | None, user_id: int | None
    ) -> Contact | None:
        key = f"entities:{call.id}"
        made: dict[str, Any] = dict(await self.context.state.get(key) or {})
        needs_contact = rule.contact or rule.lead or rule.task or self.settings.log_as == "notes"
        if contact is None and needs_contact:
            contact = await self._contact_for(call, line, user_id, made, key)
        if rule.lead and "lead" not in made and contact is not None:
            made["lead"] = await self._create_lead(call, line, contact, user_id)
            await self.context.state.set(key, made)
        target = _target(made.get("lead"), _card(contact))
        if rule.task and "task" not in made and target is not None:
            made["task"] = await self._create_task(call, line, target, user_id)
            await self.context.state.set(key, made)
        return contact

    async def _contact_for(
        self, call: Call, line: LineSettings, user_id: int | None, made: dict[str, Any], key: str
    ) -> Contact:
        if "contact" in made:
            name = mapping.render(line.contact_name, call, self._line_name(call))
            return self.contacts.remember_created(made["contact"], name, call.client)
        name = mapping.render(line.contact_name, call, self._line_name(call))
        found = None
        if await self._sent_before(call, "contact") is not None:
            self.contacts.forget(call.client)  # the cache may still say "nobody"
            found = await self.contacts.find(call.client)
        if found is None:
            await self._about_to_send(call, "contact")
            found = await self.contacts.create(name, call.client, user_id, request_id=call.id)
        contact = found
        made["contact"] = int(contact.id)
        await self.context.state.set(key, made)
        log.info("amocrm.contact.created", call_id=call.id, contact_id=contact.id)
        return contact

    async def _create_lead(
        self, call: Call, line: LineSettings, contact: Contact, user_id: int | None
    ) -> int:
        lead: dict[str, Any] = {
            "name": mapping.render(line.lead_name, call, self._line_name(call)),
            "request_id": call.id,
            "_embedded": {_entities(contact): [{"id": int(contact.id)}]},
        }
        optional = {
            "pipeline_id": line.pipeline_id,
            "status_id": line.status_id,
            "responsible_user_id": user_id,
        }
        lead.update({k: v for k, v in optional.items() if v})
        sent = await self._sent_before(call, "lead")
        if sent is not None:
            found = await recovery.lead_named(self.client, lead["name"], int(contact.id), sent)
            if found is not None:
                return found
        await self._about_to_send(call, "lead")
        answer = await self.client.post("/api/v4/leads", [lead])
        return int(first_embedded(answer, "leads")["id"])

    async def _create_task(
        self, call: Call, line: LineSettings, target: tuple[str, int], user_id: int | None
    ) -> int:
        start = max(self._clock(), call.ended_at.timestamp())
        task: dict[str, Any] = {
            "text": mapping.render(line.task_text, call, self._line_name(call)),
            "complete_till": int(start + line.task_deadline_minutes * 60),
            "entity_type": target[0],
            "entity_id": target[1],
            "task_type_id": line.task_type_id,
            "request_id": call.id,
        }
        if user_id:
            task["responsible_user_id"] = user_id
        sent = await self._sent_before(call, "task")
        if sent is not None:
            found = await recovery.task_with_text(self.client, target, task["text"], sent)
            if found is not None:
                return found
        await self._about_to_send(call, "task")
        answer = await self.client.post("/api/v4/tasks", [task])
        return int(first_embedded(answer, "tasks")["id"])

    # -- the call itself ------------------------------------------------------------------------

    async def _post_call(
        self, call: Call, line: LineSettings, contact: Contact | None, user_id: int | None
    ) -> None:
        more = tuple(self.context.recording_url(path) for path in call.recordings[1:])
        result = mapping.call_result(
            call,
            self.users.name_of(mapping.employee(call)),
            self.settings.source,
            self._line_name(call),
            more,
        )
        if self.settings.log_as == "notes" and contact is not None:
            body = mapping.note_body(
                call,
                int(contact.id),
                source=self.settings.source,
                result=result,
                user_id=user_id,
                link=self._link(call),
                talker=self._talker(call),
            )
            record = await self._post_note(call, contact, body)
        else:
            record = await self._post_to_calls(call, line, user_id, result)
        await self.context.state.set(f"call:{call.id}", record)
        log.info("amocrm.call.logged", call_id=call.id, **record)

    async def _post_note(self, call: Call, contact: Contact, body: dict[str, Any]) -> dict[str, Any]:
        entity = _entities(contact)
        sent = await self._sent_before(call, "call")
        if sent is not None:
            found = await recovery.call_note(self.client, call.id, sent, (entity,), int(contact.id))
            if found is not None:
                return {"note": found["id"]}
        await self._about_to_send(call, "call")
        answer = await self.client.post(f"/api/v4/{entity}/notes", [body])
        return {"note": first_embedded(answer, "notes")["id"]}

    async def _post_to_calls(
        self, call: Call, line: LineSettings, user_id: int | None, result: str
    ) -> dict[str, Any]:
        body = mapping.call_body(
            call,
            source=self.settings.source,
            result=result,
            user_id=user_id,
            link=self._link(call),
            talker=self._talker(call),
        )
        sent = await self._sent_before(call, "call")
        if sent is not None:
            found = await recovery.call_note(self.client, call.id, sent)
            if found is not None:
                log.info("amocrm.call.answer_was_lost", call_id=call.id)
                return {"call": found["id"], "entity": f"{found['entity_type']}:{found['entity_id']}"}
        await self._about_to_send(call, "call")
        try:
            answer = await self.client.post("/api/v4/calls", [body])
        except EntityNotFound:
            # amoCRM stored nothing: give the number a card, then file the call on it
            log.info("amocrm.call.no_entity", call_id=call.id)
            made: dict[str, Any] = dict(await self.context.state.get(f"entities:{call.id}") or {})
            await self._contact_for(call, line, user_id, made, f"entities:{call.id}")
            answer = await self.client.post("/api/v4/calls", [body])
        created = first_embedded(answer, "calls")
        return {"call": created["id"], "entity": f"{created.get('entity_type')}:{created.get('entity_id')}"}

    # -- helpers --------------------------------------------------------------------------------

    def _talker(self, call: Call) -> int | None:
        """call_responsible: the employee shown on the call (who answered, or who called)."""
        return self.users.user_of(mapping.employee(call))

    def _link(self, call: Call) -> str:
        return self.context.recording_url(call.recording) if call.recording else ""

    def _line_name(self, call: Call) -> str:
        return self.settings.line(call.did).name or call.did or ""


def _first_id(items: Any) -> int | None:
    if isinstance(items, list) and items and isinstance(items[0], dict) and "id" in items[0]:
        return int(items[0]["id"])
    return None


def _target(lead_id: int | None, card: tuple[str, int] | None) -> tuple[str, int] | None:
    """Where a task goes: the lead when there is one, else the contact's (or company's) card."""
    if lead_id:
        return "leads", int(lead_id)
    return card


def _entities(contact: Contact) -> str:
    """amoCRM's plural for the kind of card a `Contact` is."""
    return "companies" if contact.kind == "company" else "contacts"


def _card(contact: Contact | None) -> tuple[str, int] | None:
    return (_entities(contact), int(contact.id)) if contact is not None else None


class _Held:
    """A per-number lock and how many conversations use or wait for it."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
