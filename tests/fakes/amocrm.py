"""A fake amoCRM account: a real aiohttp server on 127.0.0.1 that behaves like API v4.

It answers on amoCRM's paths with amoCRM's bodies, status codes and error shapes, and keeps what
it received, so tests assert on the CRM's state (contacts, leads, calls, notes, unsorted,
tasks) rather than on mocks. What it enforces, as the real service does (see
../shared/reference/crm-apis.md):

- OAuth2 at POST /oauth2/access_token: single-use authorization codes, expiring access tokens,
  single-use refresh tokens (reuse → 401 "Token has been revoked" OAuthProblemJson); long-lived
  tokens for private integrations.
- At most `rate_limit` requests per `window` seconds (7 per 1 s); over it HTTP 429 with an HTML
  body (not JSON). Refused requests are not counted.
- Contact search is textual: `query` must be a substring of a PHONE value or the name; no match
  → 204 with an empty body; `limit` over 250 → 400. Listing by `filter[updated_at][from]` and
  `order[updated_at]` (what a local phone book is kept in step with).
- GET /api/v4/users needs admin rights (`admin=False` → 403).
- POST /api/v4/calls lands a call on the contact whose PHONE has the same last 10 digits (on its
  single active lead when there is exactly one and no customer, on its single customer when there
  is one and no active lead — calls-api's algorithm); none → 400 {errors: [{title: "Entity not
  found", status: 263}]} and nothing stored. Calls are NOT deduplicated (as in amoCRM).
- Request bodies are validated: a list is required, a null where a value is required or a wrong
  type → 400 problem+json with `validation-errors` [{request_id, errors: [{code, path, detail}]}].
- POST /api/v4/leads/unsorted/sip creates the lead (status "unsorted" in the pipeline) and its
  contact (kept out of the contact search until the entry is accepted: "До принятия неразобранной
  сделки, контакты и компании недоступны в соответствующих разделах"), records the call on the
  lead when `is_call_event_needed`, and rejects a second entry with the same source_uid
  ("В неразобранном не может оказаться 2 одинаковых сущности … вы получите ошибку"; the
  error's code is not documented: 400 validation-errors, code "NotUnique").
- `request_id` is echoed in answers and stored nowhere: it deduplicates nothing.
- Reading back what exists (what a retry after a lost answer needs): GET /api/v4/leads/unsorted
  (filter[uid], filter[category], filter[pipeline_id], order[created_at]), GET
  /api/v4/{entity}/notes (filter[note_type], filter[entity_id], filter[updated_at][from]; a call
  posted to /calls is a call_in/call_out note of the entity it landed on), GET /api/v4/leads
  (filter[created_at][from], with=contacts), GET /api/v4/tasks (filter[entity_type],
  filter[entity_id], filter[updated_at][from]); nothing found → 204.
- GET /api/v4/events (filter[type] comma-separated, filter[created_at][from], limit ≤ 100): a
  deleted contact leaves the lists and writes a contact_deleted event (events-and-notes).
- `drop_answer(path)`: the request is carried out, then the connection closes before the answer.
- `scopes`: an OAuth token without the "crm" scope is refused with 401 insufficient_scope.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

UNSORTED_STATUS_ID = 1000
DEFAULT_PIPELINE_ID = 100
PHONE_FIELD_ID = 500
ACCOUNT_ID = 31337

Schema = dict[str, tuple[Any, bool]]  # field → (accepted types, required); null is never accepted


@dataclass
class Hit:
    """One request the fake received."""

    method: str
    path: str
    status: int
    at: float


@dataclass
class FakeAmoCrm:
    """The fake account; `start()` serves it, `url` is its base URL."""

    client_id: str = "client-id"
    client_secret: str = "client-secret"
    redirect_uri: str = "https://pbx.example.ru/amocrm/oauth"
    access_ttl: int = 86400
    rate_limit: int = 7
    window: float = 1.0
    admin: bool = True
    users: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    companies: dict[int, dict[str, Any]] = field(default_factory=dict)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)  # when the account uses them
    events: list[dict[str, Any]] = field(default_factory=list)  # the account's event list (deletions)
    calls: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    unsorted: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    token_gate: asyncio.Event | None = None  # when given, the token endpoint waits for it to be set
    token_arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set as a token request arrives
    scopes: frozenset[str] = frozenset({"crm", "notifications"})  # granted to OAuth tokens

    def __post_init__(self) -> None:
        self._ids = itertools.count(10_000)
        self._codes: set[str] = set()
        self._access: dict[str, float] = {}
        self._refresh: set[str] = set()
        self._long_lived: dict[str, float] = {}
        self._recent: deque[float] = deque()
        self._failures: deque[tuple[int, str, str]] = deque()
        self._drops: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> FakeAmoCrm:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application(middlewares=[self._limit, self._drop, self._auth])
        app.router.add_post("/oauth2/access_token", self._token)
        app.router.add_get("/api/v4/users", self._get_users)
        app.router.add_get("/api/v4/{kind:contacts|companies}", self._search)
        app.router.add_post("/api/v4/contacts", self._add_contacts)
        app.router.add_post("/api/v4/leads", self._add_leads)
        app.router.add_post("/api/v4/calls", self._add_calls)
        app.router.add_post("/api/v4/leads/unsorted/sip", self._add_unsorted)
        app.router.add_get("/api/v4/leads/unsorted", self._list_unsorted)
        app.router.add_get("/api/v4/leads", self._list_leads)
        app.router.add_post("/api/v4/tasks", self._add_tasks)
        app.router.add_get("/api/v4/tasks", self._list_tasks)
        app.router.add_get("/api/v4/events", self._list_events)
        app.router.add_post("/api/v4/{entity:contacts|leads|companies}/notes", self._add_notes)
        app.router.add_get("/api/v4/{entity:contacts|leads|companies|customers}/notes", self._list_notes)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()

    # -- arranging the account ----------------------------------------------------------------

    def issue_code(self) -> str:
        """An authorization code, as shown once in the integration's settings."""
        code = "def50200" + secrets.token_hex(16)
        self._codes.add(code)
        return code

    def issue_long_lived(self, ttl: float = 365 * 86400) -> str:
        """A private integration's long-lived token: a JWT whose `exp` is `ttl` s from now."""
        header = _b64({"typ": "JWT", "alg": "RS256"})
        payload = _b64({"jti": secrets.token_hex(8), "exp": int(time.time() + ttl), "account_id": ACCOUNT_ID})
        token = f"{header}.{payload}.{secrets.token_hex(32)}"
        self._long_lived[token] = time.time() + ttl
        return token

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (refresh tokens stay valid)."""
        for token in self._access:
            self._access[token] = 0.0

    def valid_refresh_tokens(self) -> set[str]:
        """Refresh tokens that would still be accepted."""
        return set(self._refresh)

    def fail_next(
        self, status: int, count: int = 1, body: str = "<html>502 Bad Gateway</html>", path: str = ""
    ) -> None:
        """The next `count` API requests (to `path`, when given) answer `status` with `body`."""
        self._failures.extend([(status, body, path)] * count)

    def drop_answer(self, path: str, count: int = 1, method: str = "POST") -> None:
        """The next `count` `method` requests to `path` are carried out, then their answer is lost."""
        key = f"{method} {path}"
        self._drops[key] = self._drops.get(key, 0) + count

    def add_user(self, name: str, email: str = "") -> int:
        """A user of the account; its id."""
        user_id = next(self._ids)
        self.users.append({"id": user_id, "name": name, "email": email or f"u{user_id}@example.ru"})
        return user_id

    def add_contact(self, name: str, phones: list[str], responsible_user_id: int = 0) -> int:
        """A contact with PHONE values stored exactly as given; its id."""
        contact_id = next(self._ids)
        self.contacts[contact_id] = _contact(contact_id, name, phones, responsible_user_id)
        return contact_id

    def add_company(self, name: str, phones: list[str], responsible_user_id: int = 0) -> int:
        """A company with PHONE values stored exactly as given; its id."""
        company_id = next(self._ids)
        self.companies[company_id] = _contact(company_id, name, phones, responsible_user_id)
        return company_id

    def add_lead(self, contact_id: int, name: str = "Сделка", active: bool = True) -> int:
        """A lead linked to a contact; its id."""
        lead_id = next(self._ids)
        self.leads[lead_id] = {
            "id": lead_id,
            "name": name,
            "active": active,
            "contacts": [contact_id],
            "pipeline_id": DEFAULT_PIPELINE_ID,
            "status_id": 1,
        }
        return lead_id

    def delete_contact(self, contact_id: int) -> None:
        """A user deletes a contact: it leaves the lists, and a contact_deleted event is written."""
        del self.contacts[contact_id]
        event = {"id": secrets.token_hex(8), "type": "contact_deleted", "entity_id": contact_id}
        event.update(entity_type="contact", created_at=int(time.time()), account_id=ACCOUNT_ID)
        self.events.append(event)

    def add_customer(self, contact_id: int, name: str = "Покупатель") -> int:
        """A customer (repeat sales) linked to a contact; its id."""
        customer_id = next(self._ids)
        self.customers[customer_id] = {"id": customer_id, "name": name, "contacts": [contact_id]}
        return customer_id

    def contacts_with_phone(self, phone: str) -> list[dict[str, Any]]:
        """Contacts whose PHONE values end with the same 10 digits as `phone`."""
        key = _last10(phone)
        return [c for c in self.contacts.values() if key in {_last10(p) for p in _phones(c)}]

    def calls_with_uniq(self, uniq: str) -> list[dict[str, Any]]:
        """Calls (from /calls and call notes, incl. those carried by unsorted) with this uniq."""
        found = [c for c in self.calls if c.get("uniq") == uniq]
        return found + [n for n in self.notes if n["params"].get("uniq") == uniq]

    # -- middlewares ----------------------------------------------------------------------------

    @web.middleware
    async def _limit(self, request: web.Request, handler: Any) -> web.StreamResponse:
        now = time.monotonic()
        while self._recent and self._recent[0] <= now - self.window:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            self.hits.append(Hit(request.method, request.path, 429, now))
            return web.Response(
                status=429, text="<html><body>429 Too Many Requests</body></html>", content_type="text/html"
            )
        self._recent.append(now)
        response = await handler(request)
        self.hits.append(Hit(request.method, request.path, response.status, now))
        return response

    @web.middleware
    async def _drop(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        key = f"{request.method} {request.path}"
        if self._drops.get(key) and response.status < 300:
            self._drops[key] -= 1
            if request.transport is not None:
                request.transport.close()  # done, but the answer never arrives
        return response

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        live = (
            self._long_lived.get(token, 0.0) > time.time() or self._access.get(token, 0.0) > time.monotonic()
        )
        if not live:
            return _problem(401, "Unauthorized", "Неверный логин или пароль")
        if token in self._access and "crm" not in self.scopes:
            return _problem(401, "Unauthorized", "insufficient_scope")
        if self._failures and self._failures[0][2] in ("", request.path):
            status, body, _ = self._failures.popleft()
            content_type = "application/problem+json" if body.startswith("{") else "text/html"
            return web.Response(status=status, text=body, content_type=content_type)
        return await handler(request)

    # -- OAuth ------------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        self.token_arrived.set()
        if self.token_gate is not None:
            await self.token_gate.wait()
        body = await _body(request)
        if not isinstance(body, dict) or (body.get("client_id"), body.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return _oauth_problem(401, "Client authentication failed")
        grant = body.get("grant_type")
        if grant == "authorization_code" and body.get("code") in self._codes:
            self._codes.discard(body["code"])
        elif grant == "refresh_token" and body.get("refresh_token") in self._refresh:
            self._refresh.discard(body["refresh_token"])
        else:
            return _oauth_problem(401, "Token has been revoked")
        access, refresh = "acc-" + secrets.token_hex(12), "ref-" + secrets.token_hex(12)
        self._access[access] = time.monotonic() + self.access_ttl
        self._refresh.add(refresh)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.access_ttl,
                "access_token": access,
                "refresh_token": refresh,
            }
        )

    # -- users and contacts --------------------------------------------------------------------

    async def _get_users(self, request: web.Request) -> web.Response:
        if not self.admin:
            return _problem(403, "Forbidden", "Access denied: the user is not an administrator")
        page, limit = _paging(request)
        if limit > 250:
            return _validation([{"code": "InvalidLimit", "path": "limit", "detail": "limit must be <= 250"}])
        chunk = self.users[(page - 1) * limit : page * limit]
        if not chunk:
            return web.Response(status=204)
        return web.json_response({"_page": page, "_embedded": {"users": chunk}})

    async def _search(self, request: web.Request) -> web.Response:
        page, limit = _paging(request)
        if limit > 250:
            return _validation([{"code": "InvalidLimit", "path": "limit", "detail": "limit must be <= 250"}])
        query, kind = request.query.get("query", ""), request.match_info["kind"]
        store = self.contacts if kind == "contacts" else self.companies
        # an unsorted entry's contact is not in the contacts section until the entry is accepted
        found = [c for c in store.values() if not c.get("_unsorted") and (not query or _matches(c, query))]
        since = request.query.get("filter[updated_at][from]")
        if since is not None:
            found = [c for c in found if c["updated_at"] >= int(since)]
        if request.query.get("order[updated_at]") in ("asc", "desc"):
            found.sort(
                key=lambda c: (c["updated_at"], c["id"]), reverse=request.query["order[updated_at]"] == "desc"
            )
        chunk = found[(page - 1) * limit : page * limit]
        if not chunk:
            return web.Response(status=204)
        with_leads = "leads" in request.query.get("with", "").split(",")
        rendered = [self._render_contact(c, with_leads) for c in chunk]
        return web.json_response({"_page": page, "_embedded": {kind: rendered}})

    def _render_contact(self, contact: dict[str, Any], with_leads: bool) -> dict[str, Any]:
        shown = {k: v for k, v in contact.items() if not k.startswith("_")}
        if with_leads:
            leads = [
                {"id": lead_id} for lead_id, lead in self.leads.items() if contact["id"] in lead["contacts"]
            ]
            shown["_embedded"] = {"leads": leads, "companies": [], "tags": []}
        return shown

    async def _add_contacts(self, request: web.Request) -> web.Response:
        items, problems = await _items(request, _CONTACT)
        problems += _phone_problems(items)
        if problems:
            return _validation(problems)
        created = []
        for item in items:
            contact_id = next(self._ids)
            phones = [v["value"] for f in item.get("custom_fields_values") or [] for v in f.get("values", [])]
            self.contacts[contact_id] = _contact(
                contact_id, item.get("name", ""), phones, item.get("responsible_user_id", 0)
            )
            created.append({"id": contact_id, "request_id": str(item.get("request_id", "0"))})
        return web.json_response({"_embedded": {"contacts": created}})

    async def _add_leads(self, request: web.Request) -> web.Response:
        items, problems = await _items(request, _LEAD)
        if problems:
            return _validation(problems)
        created = []
        for item in items:
            lead_id = next(self._ids)
            contacts = [c["id"] for c in item.get("_embedded", {}).get("contacts", [])]
            self.leads[lead_id] = {
                "id": lead_id,
                "name": item.get("name", f"Сделка #{lead_id}"),
                "active": True,
                "contacts": contacts,
                "pipeline_id": item.get("pipeline_id", DEFAULT_PIPELINE_ID),
                "status_id": item.get("status_id", 1),
                "responsible_user_id": item.get("responsible_user_id", 0),
                "created_at": int(time.time()),
            }
            created.append({"id": lead_id, "request_id": str(item.get("request_id", "0"))})
        return web.json_response({"_embedded": {"leads": created}})

    async def _add_tasks(self, request: web.Request) -> web.Response:
        items, problems = await _items(request, _TASK)
        if problems:
            return _validation(problems)
        created = []
        for item in items:
            task_id = next(self._ids)
            self.tasks.append({"id": task_id, **item, "updated_at": int(time.time())})
            created.append({"id": task_id, "request_id": str(item.get("request_id", "0"))})
        return web.json_response({"_embedded": {"tasks": created}})

    # -- calls, notes, unsorted -----------------------------------------------------------------

    async def _add_calls(self, request: web.Request) -> web.Response:
        items, problems = await _items(request, _CALL)
        if problems:
            return _validation(problems)
        stored, errors = [], []
        for index, item in enumerate(items):
            request_id = str(item.get("request_id", index))
            entity = self._entity_for(item["phone"])
            if entity is None:
                errors.append({"request_id": request_id, "title": "Entity not found", "status": 263})
                continue
            call_id = next(self._ids)
            self.calls.append(
                {
                    "id": call_id,
                    "entity_type": entity[0],
                    "entity_id": entity[1],
                    **item,
                    "_at": int(time.time()),
                }
            )
            stored.append(
                {
                    "id": call_id,
                    "entity_id": entity[1],
                    "entity_type": entity[0],
                    "account_id": ACCOUNT_ID,
                    "request_id": request_id,
                }
            )
        body = {"_total_items": len(stored), "errors": errors, "_embedded": {"calls": stored}}
        return web.json_response(body, status=400 if errors and not stored else 200)

    def _entity_for(self, phone: str) -> tuple[str, int] | None:
        key = _last10(phone)
        contacts = self.contacts_with_phone(phone)
        if not contacts:
            companies = [c for c in self.companies.values() if key in {_last10(p) for p in _phones(c)}]
            return ("companies", companies[0]["id"]) if companies else None
        contact = contacts[0]
        active = [
            lid for lid, lead in self.leads.items() if lead["active"] and contact["id"] in lead["contacts"]
        ]
        customers = [cid for cid, c in self.customers.items() if contact["id"] in c["contacts"]]
        if len(active) == 1 and not customers:
            return "leads", active[0]
        if len(customers) == 1 and not active:
            return "customers", customers[0]
        return "contacts", contact["id"]

    async def _add_notes(self, request: web.Request) -> web.Response:
        entity = request.match_info["entity"]
        items, problems = await _items(request, _NOTE)
        for index, item in enumerate(items):
            schema = _COMMON_NOTE_PARAMS if item.get("note_type") == "common" else _CALL_NOTE_PARAMS
            problems += _check(item.get("params"), schema, f"{index}.params")
            if not problems and item["entity_id"] not in self._store(entity):
                problems.append(
                    {"code": "NotFound", "path": f"{index}.entity_id", "detail": "Entity not found"}
                )
        if problems:
            return _validation(problems)
        created = []
        for item in items:
            note_id = next(self._ids)
            self.notes.append({"id": note_id, "entity_type": entity, **item, "updated_at": int(time.time())})
            created.append(
                {
                    "id": note_id,
                    "entity_id": item["entity_id"],
                    "request_id": str(item.get("request_id", "0")),
                }
            )
        return web.json_response({"_embedded": {"notes": created}})

    def _store(self, entity: str) -> dict[int, dict[str, Any]]:
        return {"contacts": self.contacts, "leads": self.leads, "companies": self.companies}[entity]

    async def _add_unsorted(self, request: web.Request) -> web.Response:
        items, problems = await _items(request, _UNSORTED)
        for index, item in enumerate(items):
            problems += _check(item.get("metadata"), _SIP_METADATA, f"{index}.metadata")
            if not problems and self._duplicate(item):
                problems.append(
                    {
                        "code": "NotUnique",
                        "path": f"{index}.source_uid",
                        "detail": "This unsorted entry already exists",
                    }
                )
        if problems:
            return _validation(problems)
        return web.json_response(
            {"_total_items": len(items), "_embedded": {"unsorted": [self._create_unsorted(i) for i in items]}}
        )

    def _duplicate(self, item: dict[str, Any]) -> bool:
        return any(u["source_uid"] == item["source_uid"] for u in self.unsorted)

    # -- reading back ------------------------------------------------------------------------

    async def _list_unsorted(self, request: web.Request) -> web.Response:
        q = _filters(request)
        found = [
            u
            for u in self.unsorted
            if (not q.get("uid") or u["uid"] in q["uid"])
            and (not q.get("category") or "sip" in q["category"])
            and (
                not q.get("pipeline_id") or str(u.get("pipeline_id", DEFAULT_PIPELINE_ID)) in q["pipeline_id"]
            )
        ]
        found.sort(key=lambda u: u["_at"], reverse=request.query.get("order[created_at]") == "desc")
        rendered = [
            {
                "uid": u["uid"],
                "source_uid": u["source_uid"],
                "source_name": u["source_name"],
                "category": "sip",
                "pipeline_id": u.get("pipeline_id", DEFAULT_PIPELINE_ID),
                "created_at": u["created_at"],
                "metadata": u["metadata"],
                "account_id": ACCOUNT_ID,
                "_embedded": {
                    "leads": [{"id": u["lead_id"]}],
                    "contacts": [{"id": u["contact_id"]}],
                    "companies": [],
                },
            }
            for u in found
        ]
        return _page(request, "unsorted", rendered)

    async def _list_leads(self, request: web.Request) -> web.Response:
        since = int(request.query.get("filter[created_at][from]", "0"))
        found = [dict(lead) for lead in self.leads.values() if lead.get("created_at", 0) >= since]
        found.sort(
            key=lambda lead: lead.get("created_at", 0),
            reverse=request.query.get("order[created_at]") == "desc",
        )
        if "contacts" in request.query.get("with", "").split(","):
            for lead in found:
                lead["_embedded"] = {"contacts": [{"id": c} for c in lead["contacts"]]}
        return _page(request, "leads", found)

    async def _list_events(self, request: web.Request) -> web.Response:
        if int(request.query.get("limit", "50")) > 100:
            return _validation([{"code": "InvalidLimit", "path": "limit", "detail": "limit must be <= 100"}])
        types = {t for v in _filters(request).get("type", []) for t in v.split(",") if t}
        since = int(request.query.get("filter[created_at][from]", "0"))
        found = [e for e in self.events if e["created_at"] >= since and (not types or e["type"] in types)]
        return _page(request, "events", found)

    async def _list_tasks(self, request: web.Request) -> web.Response:
        q = _filters(request)
        since = int(request.query.get("filter[updated_at][from]", "0"))
        found = [
            t
            for t in self.tasks
            if t["updated_at"] >= since
            and (not q.get("entity_type") or t.get("entity_type") in q["entity_type"])
            and (not q.get("entity_id") or str(t.get("entity_id")) in q["entity_id"])
        ]
        return _page(request, "tasks", found)

    async def _list_notes(self, request: web.Request) -> web.Response:
        entity, q = request.match_info["entity"], _filters(request)
        since = int(request.query.get("filter[updated_at][from]", "0"))
        notes = [n for n in self.notes if n["entity_type"] == entity] + [
            self._call_as_note(c) for c in self.calls if c["entity_type"] == entity
        ]
        found = [
            n
            for n in notes
            if n["updated_at"] >= since
            and (not q.get("note_type") or n["note_type"] in q["note_type"])
            and (not q.get("entity_id") or str(n["entity_id"]) in q["entity_id"])
        ]
        return _page(request, "notes", found)

    @staticmethod
    def _call_as_note(call: dict[str, Any]) -> dict[str, Any]:
        """A call posted to /api/v4/calls, as amoCRM files it: a note on the entity it landed on."""
        keys = ("uniq", "duration", "source", "link", "phone", "call_result", "call_status")
        return {
            "id": call["id"],
            "entity_id": call["entity_id"],
            "entity_type": call["entity_type"],
            "note_type": "call_out" if call["direction"] == "outbound" else "call_in",
            "params": {k: call[k] for k in keys if k in call},
            "updated_at": call["_at"],
        }

    def _create_unsorted(self, item: dict[str, Any]) -> dict[str, Any]:
        meta = item["metadata"]
        embedded = item.get("_embedded") or {}
        given = (embedded.get("contacts") or [{}])[0]
        contact_id = next(self._ids)
        phones = [v["value"] for f in given.get("custom_fields_values") or [] for v in f.get("values", [])]
        self.contacts[contact_id] = _contact(
            contact_id,
            given.get("name") or str(meta["phone"]),
            phones or [str(meta["phone"])],
            given.get("responsible_user_id", 0),
        )
        self.contacts[contact_id]["_unsorted"] = True
        lead_given = (embedded.get("leads") or [{}])[0]
        lead_id = next(self._ids)
        self.leads[lead_id] = {
            "id": lead_id,
            "name": lead_given.get("name", f"Неразобранное {meta['phone']}"),
            "active": True,
            "contacts": [contact_id],
            "pipeline_id": item.get("pipeline_id", DEFAULT_PIPELINE_ID),
            "status_id": UNSORTED_STATUS_ID,
            "created_at": int(time.time()),
        }
        uid = secrets.token_hex(16)
        self.unsorted.append(
            {"uid": uid, "lead_id": lead_id, "contact_id": contact_id, **item, "_at": time.time()}
        )
        if meta.get("is_call_event_needed"):
            params = {k: meta.get(k) for k in ("uniq", "duration", "link", "phone")}
            self.notes.append(
                {
                    "id": next(self._ids),
                    "entity_type": "leads",
                    "entity_id": lead_id,
                    "note_type": "call_in",
                    "params": {**params, "source": item["source_name"]},
                    "updated_at": int(time.time()),
                }
            )
        return {
            "uid": uid,
            "request_id": str(item.get("request_id", "0")),
            "account_id": ACCOUNT_ID,
            "_embedded": {"leads": [{"id": lead_id}], "contacts": [{"id": contact_id}], "companies": []},
        }


# -- request validation, like amoCRM's -------------------------------------------------------------

_INT = (int,)
_STR = (str,)
_CONTACT: Schema = {
    "name": (_STR, False),
    "first_name": (_STR, False),
    "last_name": (_STR, False),
    "responsible_user_id": (_INT, False),
    "request_id": (_STR, False),
    "custom_fields_values": ((list,), False),
}
_LEAD: Schema = {
    "name": (_STR, False),
    "price": (_INT, False),
    "pipeline_id": (_INT, False),
    "status_id": (_INT, False),
    "responsible_user_id": (_INT, False),
    "request_id": (_STR, False),
    "_embedded": ((dict,), False),
}
_TASK: Schema = {
    "text": (_STR, True),
    "complete_till": (_INT, True),
    "entity_id": (_INT, False),
    "entity_type": (_STR, False),
    "responsible_user_id": (_INT, False),
    "task_type_id": (_INT, False),
    "request_id": (_STR, False),
}
_CALL: Schema = {
    "direction": (_STR, True),
    "duration": (_INT, True),
    "source": (_STR, True),
    "phone": (_STR, True),
    "uniq": (_STR, False),
    "link": (_STR, False),
    "call_result": (_STR, False),
    "call_status": (_INT, False),
    "call_responsible": ((str, int), False),
    "responsible_user_id": (_INT, False),
    "created_by": (_INT, False),
    "created_at": (_INT, False),
    "request_id": (_STR, False),
}
_NOTE: Schema = {
    "entity_id": (_INT, True),
    "note_type": (_STR, True),
    "params": ((dict,), True),
    "request_id": (_STR, False),
    "responsible_user_id": (_INT, False),
    "created_by": (_INT, False),
}
_CALL_NOTE_PARAMS: Schema = {
    "uniq": (_STR, True),
    "duration": (_INT, True),
    "source": (_STR, True),
    "phone": (_STR, True),
    "link": (_STR, False),
    "call_result": (_STR, False),
    "call_status": (_INT, False),
    "call_responsible": ((str, int), False),
}
_COMMON_NOTE_PARAMS: Schema = {"text": (_STR, True)}
_UNSORTED: Schema = {
    "source_uid": (_STR, True),
    "source_name": (_STR, True),
    "pipeline_id": (_INT, False),
    "created_at": (_INT, True),
    "request_id": (_STR, False),
    "metadata": ((dict,), True),
    "_embedded": ((dict,), False),
}
_SIP_METADATA: Schema = {
    "from": (_STR, False),
    "phone": ((str, int), True),
    "called_at": (_INT, True),
    "duration": (_INT, True),
    "link": (_STR, False),
    "service_code": (_STR, True),
    "uniq": (_STR, True),
    "is_call_event_needed": ((bool,), False),
    "call_responsible": ((str, int), False),
}
_ENUMS = {
    "direction": {"inbound", "outbound"},
    "note_type": {"call_in", "call_out", "common"},
    "entity_type": {"leads", "contacts", "companies"},
}


async def _items(request: web.Request, schema: Schema) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    body = await _body(request)
    if not isinstance(body, list) or not body:
        return [], [{"code": "InvalidType", "path": "", "detail": "This value should be a non-empty array."}]
    problems: list[dict[str, Any]] = []
    for index, item in enumerate(body):
        problems += _check(item, schema, str(index))
    return [i for i in body if isinstance(i, dict)], problems


def _check(item: Any, schema: Schema, path: str) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        return [{"code": "InvalidType", "path": path, "detail": "This value should be of type object."}]
    problems = []
    for name, (types, required) in schema.items():
        where = f"{path}.{name}"
        if name not in item:
            if required:
                problems.append({"code": "FieldMissing", "path": where, "detail": "This field is missing."})
        elif item[name] is None:
            problems.append({"code": "NotNull", "path": where, "detail": "This value should not be null."})
        elif not isinstance(item[name], types) or (isinstance(item[name], bool) and bool not in types):
            problems.append({"code": "InvalidType", "path": where, "detail": "This value has a wrong type."})
        elif name in _ENUMS and item[name] not in _ENUMS[name]:
            problems.append(
                {
                    "code": "NotSupportedChoice",
                    "path": where,
                    "detail": "The value you selected is not a valid choice.",
                }
            )
    return problems


def _phone_problems(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    problems = []
    for index, item in enumerate(items):
        for f_index, fld in enumerate(item.get("custom_fields_values") or []):
            for v_index, value in enumerate(fld.get("values") or []):
                if not isinstance(value.get("value"), str) or not value["value"]:
                    path = f"{index}.custom_fields_values.{f_index}.values.{v_index}.value"
                    problems.append(
                        {"code": "NotBlank", "path": path, "detail": "This value should not be blank."}
                    )
    return problems


async def _body(request: web.Request) -> Any:
    try:
        return json.loads(await request.text())
    except ValueError:
        return None


def _filters(request: web.Request) -> dict[str, list[str]]:
    """`filter[name]=v`, `filter[name][]=v` and `filter[name][0]=v` as {name: [values]}."""
    found: dict[str, list[str]] = {}
    for key, value in request.query.items():
        if key.startswith("filter[") and "][from]" not in key and "][to]" not in key:
            name = key[len("filter[") :].split("]", 1)[0]
            found.setdefault(name, []).append(value)
    return found


def _page(request: web.Request, name: str, items: list[dict[str, Any]]) -> web.Response:
    page, limit = _paging(request)
    if limit > 250:
        return _validation([{"code": "InvalidLimit", "path": "limit", "detail": "limit must be <= 250"}])
    chunk = items[(page - 1) * limit : page * limit]
    if not chunk:
        return web.Response(status=204)
    return web.json_response({"_page": page, "_embedded": {name: chunk}})


def _paging(request: web.Request) -> tuple[int, int]:
    return max(1, int(request.query.get("page", "1"))), int(request.query.get("limit", "50"))


def _problem(status: int, title: str, detail: str) -> web.Response:
    body = {"title": title, "type": f"https://httpstatus.es/{status}", "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type="application/problem+json")


def _oauth_problem(status: int, hint: str) -> web.Response:
    body = {
        "hint": hint,
        "title": "Некорректный запрос",
        "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
        "status": status,
        "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
    }
    return web.json_response(body, status=status, content_type="application/problem+json")


def _validation(problems: list[dict[str, Any]]) -> web.Response:
    by_request: dict[str, list[dict[str, Any]]] = {}
    for problem in problems:
        request_id = problem["path"].split(".", 1)[0] or "0"
        by_request.setdefault(request_id, []).append(problem)
    body = {
        "validation-errors": [{"request_id": rid, "errors": errs} for rid, errs in by_request.items()],
        "title": "Bad Request",
        "type": "https://httpstatus.es/400",
        "status": 400,
        "detail": "Request validation failed",
    }
    return web.json_response(body, status=400, content_type="application/problem+json")


def _contact(contact_id: int, name: str, phones: list[str], responsible: int) -> dict[str, Any]:
    fields = None
    if phones:
        values = [{"value": p, "enum_id": 1, "enum_code": "WORK"} for p in phones]
        fields = [
            {
                "field_id": PHONE_FIELD_ID,
                "field_name": "Телефон",
                "field_code": "PHONE",
                "field_type": "multitext",
                "values": values,
            }
        ]
    return {
        "id": contact_id,
        "name": name,
        "responsible_user_id": responsible,
        "account_id": ACCOUNT_ID,
        "updated_at": int(time.time()),
        "custom_fields_values": fields,
    }


def _phones(contact: dict[str, Any]) -> list[str]:
    return [
        v["value"]
        for f in contact.get("custom_fields_values") or []
        if f.get("field_code") == "PHONE"
        for v in f["values"]
    ]


def _matches(contact: dict[str, Any], query: str) -> bool:
    return query in contact.get("name", "") or any(query in phone for phone in _phones(contact))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _last10(phone: str) -> str:
    return "".join(ch for ch in str(phone) if ch.isdigit())[-10:]
