"""A faithful fake Bitrix24 portal: a real aiohttp server on 127.0.0.1 that keeps state.

It answers on Bitrix24's own paths — `/rest/<user>/<code>/<method>.json` for an inbound webhook,
`/rest/<method>.json` with `auth` for an OAuth app (both at once, as a real portal does),
`/oauth/token/` for refreshes — with its status codes and error shapes (`{"error": CODE,
"error_description": TEXT}`, CODE possibly empty; limit pages as HTML on request), one leaky
bucket per portal (webhook and app requests drain the same bucket) that refuses with 503
QUERY_LIMIT_EXCEEDED, expiring single-use OAuth tokens, `batch` with `$result[key][FIELD]`
chaining, telephony (register dedup by EXTERNAL_CALL_ID within 30 min, "Call is not found" for
finish out of order, show/hide of an unknown call → `result: false` with HTTP 200, wav/mp3 only
attachRecord with the uploadUrl flow, CRM_CREATE=1 by the portal's CRM mode, WRONG_AUTH_TYPE on
a webhook for exactly the methods b24restdocs says "work only in the context of an application":
`APP_ONLY`), external lines (add refuses an existing number, update renames, CRM_AUTO_CREATE
defaults to Y), `app.info`, the ONAPPINSTALL event's auth block (`install_event`), offline events
(`event.bind` with event_type=offline, `event.offline.get`), a 302 to `moved_to` when the portal
moved, canned raw answers (`inject`), answers lost after the method ran (`drop_answer`) and the
CRM entities the adapter touches. Tests assert on its state: `calls` (with their card show/hide
log), `activities`, `contacts`, `deals`, `leads`, `records`, `lines`, `requests`.
Each rule's documentation page is listed in docs/crm-requests.md.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

JSON = dict[str, Any]
DEDUP_SECONDS = 30 * 60
# b24restdocs: "The method works only in the context of an application" (WRONG_AUTH_TYPE otherwise).
# show, hide, attachRecord and searchCrmEntities are documented with webhook examples: not here.
APP_ONLY = frozenset(
    {
        "telephony.externalcall.register",
        "telephony.externalcall.finish",
        "telephony.externalline.add",
        "telephony.externalline.update",
        "telephony.externalline.get",
        "telephony.externalline.delete",
        "event.bind",
        "event.unbind",
        "event.get",
        "event.offline.get",
        "event.offline.clear",
        "event.offline.list",
        "app.info",
    }
)


class FakeError(Exception):
    """A Bitrix24 error answer."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


@dataclass
class Injected:
    """A canned answer for the next request(s) to one method."""

    status: int
    body: str
    content_type: str = "application/json"
    times: int = 1


@dataclass
class Call:
    """A registered external call as the portal keeps it."""

    call_id: str
    params: JSON
    user_id: int
    registered_at: float
    crm_type: str | None
    crm_id: int | None
    shown: set[int] = field(default_factory=set)
    card_log: list[tuple[str, int]] = field(default_factory=list)
    finished: JSON | None = None
    record: JSON | None = None
    created: list[tuple[str, int]] = field(default_factory=list)  # by CRM_CREATE=1


def php_parse(query: str) -> JSON:
    """Parse a PHP-style query string (`A[B][0]=x`) into nested dicts and lists."""
    root: JSON = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    parsed: JSON = _listify(root)
    return parsed


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        items = {k: _listify(v) for k, v in value.items()}
        if items and all(k.isdigit() for k in items):
            return [items[k] for k in sorted(items, key=int)]
        return items
    return value


def digits(phone: Any) -> str:
    """The last ten digits of a phone number (how the portal matches numbers)."""
    return re.sub(r"\D", "", str(phone))[-10:]


class _Bucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst, self.level, self.at = rate, burst, 0.0, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self.at) * self.rate)
        self.at = now
        if self.level + 1 > self.burst + 1e-9:
            return False
        self.level += 1
        return True


class FakeBitrix24:
    """The fake portal; `await start()` then point the adapter at `webhook_url` or `portal_url`."""

    def __init__(
        self,
        *,
        auth: str = "webhook",
        webhook_user: int = 1,
        webhook_code: str = "wh0Secret0code",
        client_id: str = "local.app.1",
        client_secret: str = "app-secret-value",
        refresh_token: str = "refresh-initial",
        token_ttl: float = 3600.0,
        rate: float = 2.0,
        burst: int = 50,
        limit_as_html: bool = False,
        crm_mode: str = "simple",
    ) -> None:
        self.auth = auth
        self.webhook_user, self.webhook_code = webhook_user, webhook_code
        self.client_id, self.client_secret = client_id, client_secret
        self.token_ttl = token_ttl
        self.limit_as_html = limit_as_html
        self.crm_mode = crm_mode  # "simple" (contact + deal) or "classic" (lead) for CRM_CREATE=1
        self.bucket = _Bucket(rate, burst)
        self.moved_to: str | None = None
        self.refresh_tokens: set[str] = {refresh_token}
        self.access_tokens: dict[str, float] = {}
        self.refreshes = 0
        self.expired_refusals = 0  # requests refused with expired_token
        self.users: dict[int, JSON] = {}
        self.contacts: dict[int, JSON] = {}
        self.deals: dict[int, JSON] = {}
        self.leads: dict[int, JSON] = {}
        self.calls: dict[str, Call] = {}
        self.activities: list[JSON] = []
        self.records: dict[str, JSON] = {}
        self.lines: dict[str, JSON] = {}
        self.requests: list[str] = []
        self.feed: list[str] = []  # live-feed posts made by CRM changes (REGISTER_SONET_EVENT)
        self.limited = 0
        self.injected: dict[str, list[Injected]] = {}
        self.dropped: dict[str, int] = {}  # method → answers still to lose after running it
        self.application_token = secrets.token_hex(16)
        self.member_id = "fake-member-" + secrets.token_hex(4)
        self.events: dict[str, JSON] = {}  # (event, handler) bound with event.bind
        self.offline: list[JSON] = []  # the offline event queue event.offline.get reads
        self.voximplant_lines: dict[str, str] = {"reg150907": "SIP line", "app1": "MikoPBX"}
        self.outgoing_line = "reg150907"
        self._ids = itertools.count(100)
        self._uploads: dict[str, str] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._handlers: dict[str, Callable[[JSON], Any]] = self._method_table()

    # -- lifecycle and addresses -------------------------------------------------------------

    async def start(self) -> str:
        """Listen on a free loopback port; returns the portal's base URL."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/rest/{tail:.*}", self._rest)
        app.router.add_get("/oauth/token/", self._token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def webhook_url(self) -> str:
        """The inbound webhook URL an administrator would copy."""
        return f"{self.url}/rest/{self.webhook_user}/{self.webhook_code}/"

    @property
    def oauth_url(self) -> str:
        """This fake's stand-in for https://oauth.bitrix.info/oauth/token/."""
        return f"{self.url}/oauth/token/"

    # -- test controls ---------------------------------------------------------------------------

    def add_user(self, user_id: int, inner: str, name: str = "", active: bool = True) -> None:
        """An employee with an inner phone (UF_PHONE_INNER)."""
        self.users[user_id] = {
            "ID": str(user_id),
            "NAME": name or f"User {user_id}",
            "LAST_NAME": "",
            "ACTIVE": active,
            "UF_PHONE_INNER": inner,
        }

    def add_contact(self, phone: str, name: str = "Client", assigned: int = 1) -> int:
        """A contact with one work phone; returns its id."""
        return self._add(
            self.contacts, {"NAME": name, "PHONE": [{"VALUE": phone}], "ASSIGNED_BY_ID": assigned}
        )

    def add_deal(self, contact_id: int, title: str = "Deal", stage: str = "P", assigned: int = 1) -> int:
        """A deal of a contact; `stage` is STAGE_SEMANTIC_ID (P in progress, S won, F lost)."""
        fields = {
            "TITLE": title,
            "CONTACT_ID": contact_id,
            "STAGE_SEMANTIC_ID": stage,
            "ASSIGNED_BY_ID": assigned,
        }
        return self._add(self.deals, fields)

    def expire_tokens(self) -> None:
        """Every access token handed out so far is now expired."""
        self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def inject(
        self, method: str, status: int, body: str, content_type: str = "application/json", times: int = 1
    ) -> None:
        """Answer the next `times` calls of `method` with this raw response."""
        self.injected.setdefault(method.lower(), []).append(Injected(status, body, content_type, times))

    def drop_answer(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` run, then their answer is lost (connection closed)."""
        self.dropped[method.lower()] = self.dropped.get(method.lower(), 0) + times

    def install_event(self) -> JSON:
        """The form fields of ONAPPINSTALL as the portal posts them to the app's handler: fresh
        tokens (the refresh token is single use, like one from /oauth/token/) and the app's
        application_token."""
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.access_tokens[access] = time.monotonic() + self.token_ttl
        self.refresh_tokens.add(refresh)
        auth = {
            "domain": "127.0.0.1",
            "scope": "crm,telephony,user",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": str(int(self.token_ttl)),
            "server_endpoint": f"{self.url}/oauth/",
            "status": "L",
            "client_endpoint": f"{self.url}/rest/",
            "member_id": self.member_id,
            "application_token": self.application_token,
        }
        fields = {"event": "ONAPPINSTALL", "data[VERSION]": "1", "data[ACTIVE]": "Y", "data[INSTALLED]": "Y"}
        fields.update({f"auth[{k}]": v for k, v in auth.items()})
        return fields

    def push_offline(self, event: str, data: JSON) -> None:
        """A portal event (e.g. ONEXTERNALCALLSTART) waits in the offline queue, if it is bound so."""
        if (event.upper(), "offline") in {(e["event"], e["event_type"]) for e in self.events.values()}:
            self.offline.append({"ID": next(self._ids), "EVENT_NAME": event.upper(), "EVENT_DATA": data})

    def calls_by_external_id(self, external_id: str) -> list[Call]:
        """The registrations made with this EXTERNAL_CALL_ID."""
        return [c for c in self.calls.values() if c.params.get("EXTERNAL_CALL_ID") == external_id]

    # -- HTTP ---------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        if self.moved_to:
            raise web.HTTPFound(self.moved_to.rstrip("/") + request.path_qs)
        tail = request.match_info["tail"]
        if tail == "upload.json":
            return await self._upload(request)
        if not self.bucket.take():
            self.limited += 1
            return self._limit_answer()
        try:
            method, params = await self._authorize(request, tail)
            self.requests.append(method)
            injected = self._take_injected(method)
            if injected is not None:
                return web.Response(
                    status=injected.status, text=injected.body, content_type=injected.content_type
                )
            result = self._run(method, params, webhook=self._is_webhook(tail))
        except FakeError as exc:
            return _error(exc)
        if self.dropped.get(method):
            self.dropped[method] -= 1
            if request.transport is not None:
                request.transport.close()  # the method ran; its answer never arrives
        body: JSON = {"result": result, "time": {"start": time.time()}}
        if isinstance(result, _Paged):
            body.update(total=result.total, **({"next": result.next_start} if result.next_start else {}))
        return web.json_response(body)

    def _limit_answer(self) -> web.Response:
        if self.limit_as_html:
            return web.Response(
                status=503,
                text="<html><body><h1>503 Service Unavailable</h1></body></html>",
                content_type="text/html",
            )
        return web.json_response(
            {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}, status=503
        )

    @staticmethod
    def _is_webhook(tail: str) -> bool:
        return len(tail.split("/")) == 3

    async def _authorize(self, request: web.Request, tail: str) -> tuple[str, JSON]:
        parts = tail.split("/")
        params = await _params(request)
        if self._is_webhook(tail):
            if parts[0] != str(self.webhook_user) or parts[1] != self.webhook_code:
                raise FakeError("INVALID_CREDENTIALS", "Invalid request credentials", 401)
            method = parts[2]
        elif len(parts) == 1:
            method = parts[0]
            self._check_token(str(params.pop("auth", "") or request.query.get("auth", "")))
        else:
            raise FakeError("INVALID_CREDENTIALS", "Invalid request credentials", 401)
        method = method.removesuffix(".json").lower()
        return method, params

    def _check_token(self, token: str) -> None:
        if not token:
            raise FakeError("NO_AUTH_FOUND", "Wrong authorization data", 401)
        if token not in self.access_tokens:
            raise FakeError("invalid_token", "The access token provided is invalid.", 401)
        if self.access_tokens[token] < time.monotonic():
            self.expired_refusals += 1
            raise FakeError("expired_token", "The access token provided has expired.", 401)

    def _take_injected(self, method: str) -> Injected | None:
        queue = self.injected.get(method)
        if not queue:
            return None
        head = queue[0]
        head.times -= 1
        if head.times <= 0:
            queue.pop(0)
        return head

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.client_id or q.get("client_secret") != self.client_secret:
            return _error(FakeError("invalid_client", "Invalid client credentials", 400))
        if q.get("grant_type") != "refresh_token" or q.get("refresh_token") not in self.refresh_tokens:
            return _error(FakeError("invalid_grant", "Invalid refresh token", 400))
        self.refresh_tokens.discard(q["refresh_token"])  # single use
        access, refresh = secrets.token_hex(16), secrets.token_hex(16)
        self.refresh_tokens.add(refresh)
        self.access_tokens[access] = time.monotonic() + self.token_ttl
        self.refreshes += 1
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": int(self.token_ttl),
                "client_endpoint": f"{self.url}/rest/",
                "server_endpoint": f"{self.url}/oauth/",
                "domain": "127.0.0.1",
                "member_id": "fake-member",
                "scope": "crm,telephony,user",
                "status": "L",
            }
        )

    async def _upload(self, request: web.Request) -> web.Response:
        call_id = self._uploads.pop(request.query.get("token", ""), None)
        if call_id is None:
            return _error(FakeError("", "Upload token is not valid", 400))
        form = await request.post()
        part = form.get("file")
        if not isinstance(part, web.FileField):
            return _error(FakeError("", "File is not uploaded", 400))
        content = part.file.read()
        return web.json_response({"result": self._store_record(call_id, part.filename, content)})

    # -- methods ------------------------------------------------------------------------------------

    def _run(self, method: str, params: JSON, *, webhook: bool) -> Any:
        if method == "batch":
            return self._batch(params, webhook)
        if webhook and method in APP_ONLY:
            raise FakeError("WRONG_AUTH_TYPE", "Current authorization type is denied for this method", 403)
        handler = self._handlers.get(method)
        if handler is None:
            raise FakeError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)
        return handler(params)

    def _batch(self, params: JSON, webhook: bool) -> JSON:
        cmd = params.get("cmd") or {}
        if len(cmd) > 50:
            raise FakeError("", "Max batch length exceeded", 400)
        halt = str(params.get("halt", "0")) not in ("0", "", "false")
        results: JSON = {}
        errors: JSON = {}
        for key, text in cmd.items():
            method, _, query = str(text).partition("?")
            try:
                inner = _chain(php_parse(query), results)
                results[key] = self._run(method.lower(), inner, webhook=webhook)
            except FakeError as exc:
                errors[key] = {"error": exc.code, "error_description": exc.description}
                if halt:
                    break
        return {
            "result": results or [],
            "result_error": errors or [],
            "result_total": [],
            "result_next": [],
            "result_time": [],
        }

    def _method_table(self) -> dict[str, Callable[[JSON], Any]]:
        table: dict[str, Callable[[JSON], Any]] = {
            "user.get": self._user_get,
            "crm.duplicate.findbycomm": self._findbycomm,
            "telephony.externalcall.register": self._register,
            "telephony.externalcall.finish": self._finish,
            "telephony.externalcall.show": lambda p: self._card(p, "show"),
            "telephony.externalcall.hide": lambda p: self._card(p, "hide"),
            "telephony.externalcall.attachrecord": self._attach,
            "telephony.externalcall.searchcrmentities": self._search,
            "telephony.externalline.get": lambda p: list(self.lines.values()),
            "telephony.externalline.add": self._line_add,
            "telephony.externalline.update": self._line_update,
            "app.info": lambda p: {
                "ID": 7,
                "CODE": self.client_id,
                "CLIENT_ID": self.client_id,
                "STATUS": "L",
                "INSTALLED": True,
                "member_id": self.member_id,
            },
            "event.bind": self._event_bind,
            "event.get": lambda p: [dict(e) for e in self.events.values()],
            "event.offline.get": self._offline_get,
            "voximplant.line.get": lambda p: dict(self.voximplant_lines),
            "voximplant.line.outgoing.get": lambda p: self.outgoing_line,
            "voximplant.line.outgoing.set": self._outgoing_set,
        }
        for name, store in (("contact", self.contacts), ("deal", self.deals), ("lead", self.leads)):
            table.update(self._crud(name, store))
        return table

    def _crud(self, name: str, store: dict[int, JSON]) -> dict[str, Callable[[JSON], Any]]:
        def add(p: JSON) -> int:
            self._sonet(name, "add", p)
            return self._add(store, dict(p.get("fields") or {}))

        def update(p: JSON) -> bool:
            self._sonet(name, "update", p)
            return self._update(store, p)

        def get(p: JSON) -> JSON:
            return self._get(store, p)

        def listing(p: JSON) -> list[JSON]:
            return _filter(store.values(), p.get("filter") or {})

        return {
            f"crm.{name}.add": add,
            f"crm.{name}.update": update,
            f"crm.{name}.get": get,
            f"crm.{name}.list": listing,
        }

    def _sonet(self, name: str, action: str, params: JSON) -> None:
        """crm.*.add/update post to the live feed unless params[REGISTER_SONET_EVENT] is N."""
        flag = str((params.get("params") or {}).get("REGISTER_SONET_EVENT", "Y")).upper()
        if flag != "N":
            self.feed.append(f"crm.{name}.{action}")

    def _add(self, store: dict[int, JSON], fields: JSON) -> int:
        new_id = next(self._ids)
        fields = {**fields, "ID": new_id}
        if store is self.deals:
            fields.setdefault("STAGE_SEMANTIC_ID", "P")
        if store is self.leads:
            fields.setdefault("STATUS_SEMANTIC_ID", "P")
        store[new_id] = fields
        return new_id

    def _update(self, store: dict[int, JSON], params: JSON) -> bool:
        entity = self._get(store, params)
        entity.update(params.get("fields") or {})
        return True

    def _get(self, store: dict[int, JSON], params: JSON) -> JSON:
        try:
            return store[int(params.get("id") or params.get("ID") or 0)]
        except (KeyError, ValueError):
            raise FakeError("", "Not found", 400) from None

    def _user_get(self, params: JSON) -> Any:
        users = _filter(self.users.values(), params.get("filter") or {})
        start = int(params.get("start") or 0)
        page = users[start : start + 50]
        return _Paged(page, start + 50 if start + 50 < len(users) else None, len(users))

    def _matching(self, store: dict[int, JSON], phone: str) -> list[JSON]:
        want = digits(phone)
        return [
            e for e in store.values() if any(digits(p.get("VALUE")) == want for p in e.get("PHONE") or [])
        ]

    def _findbycomm(self, params: JSON) -> Any:
        if str(params.get("type", "")).upper() != "PHONE":
            raise FakeError("", "Communication type is not supported", 400)
        values = params.get("values") or []
        if len(values) > 20:
            raise FakeError("", "Too many values", 400)
        found: JSON = {}
        for name, store in (("CONTACT", self.contacts), ("LEAD", self.leads)):
            ids = sorted({int(e["ID"]) for v in values for e in self._matching(store, v)})
            if ids:
                found[name] = ids
        return found or []  # PHP's empty array

    def _user(self, params: JSON) -> JSON:
        user: JSON | None = None
        if params.get("USER_ID"):
            user = self.users.get(int(params["USER_ID"]))
        elif params.get("USER_PHONE_INNER"):
            user = next(
                (u for u in self.users.values() if u["UF_PHONE_INNER"] == str(params["USER_PHONE_INNER"])),
                None,
            )
        else:
            raise FakeError("ERROR_CORE", "USER_ID or USER_PHONE_INNER should be set", 400)
        if user is None or not user["ACTIVE"]:
            raise FakeError("ERROR_CORE", "User is not found or is not active", 400)
        return user

    def _register(self, params: JSON) -> JSON:
        user = self._user(params)
        if str(params.get("TYPE")) not in {"1", "2", "3", "4", "5"}:
            raise FakeError("ERROR_CORE", "Unknown TYPE", 400)
        if not params.get("PHONE_NUMBER"):
            raise FakeError("ERROR_CORE", "Unsupported phone number format", 400)
        _check_start(params.get("CALL_START_DATE"))
        key = tuple(
            str(params.get(k, "")) for k in ("PHONE_NUMBER", "TYPE", "LINE_NUMBER", "EXTERNAL_CALL_ID")
        )
        for call in self.calls.values():
            same = tuple(
                str(call.params.get(k, ""))
                for k in ("PHONE_NUMBER", "TYPE", "LINE_NUMBER", "EXTERNAL_CALL_ID")
            )
            if (
                same == key
                and call.user_id == int(user["ID"])
                and time.time() - call.registered_at < DEDUP_SECONDS
            ):
                return self._register_answer(call)
        crm_type, crm_id = self._binding(params)
        created: list[tuple[str, int]] = []
        if crm_type is None and str(params.get("CRM_CREATE", "0")) == "1":
            created = self._auto_create(str(params["PHONE_NUMBER"]), int(user["ID"]))
            crm_type, crm_id = created[0]
        call = Call(
            f"externalCall.{secrets.token_hex(16)}.{int(time.time())}",
            dict(params),
            int(user["ID"]),
            time.time(),
            crm_type,
            crm_id,
        )
        call.created = created
        self.calls[call.call_id] = call
        return self._register_answer(call)

    def _binding(self, params: JSON) -> tuple[str | None, int | None]:
        if params.get("CRM_ENTITY_TYPE") and params.get("CRM_ENTITY_ID"):
            return str(params["CRM_ENTITY_TYPE"]), int(params["CRM_ENTITY_ID"])
        for name, store in (("CONTACT", self.contacts), ("LEAD", self.leads)):
            hits = self._matching(store, str(params["PHONE_NUMBER"]))
            if hits:
                return name, int(hits[0]["ID"])
        return None, None

    def _auto_create(self, phone: str, user_id: int) -> list[tuple[str, int]]:
        """CRM_CREATE=1 for an unknown number: a lead (classic CRM) or contact + deal (simple CRM)."""
        fields = {"PHONE": [{"VALUE": phone, "VALUE_TYPE": "WORK"}], "ASSIGNED_BY_ID": user_id}
        if self.crm_mode == "classic":
            return [("LEAD", self._add(self.leads, {**fields, "TITLE": f"Входящий звонок {phone}"}))]
        contact = self._add(self.contacts, {**fields, "NAME": f"Контакт {phone}"})
        deal = self._add(self.deals, {"TITLE": phone, "CONTACT_ID": contact, "ASSIGNED_BY_ID": user_id})
        return [("CONTACT", contact), ("DEAL", deal)]

    def _register_answer(self, call: Call) -> JSON:
        return {
            "CALL_ID": call.call_id,
            "CRM_CREATED_LEAD": next((eid for kind, eid in call.created if kind == "LEAD"), None),
            "CRM_CREATED_ENTITIES": [{"ENTITY_TYPE": kind, "ENTITY_ID": eid} for kind, eid in call.created],
            "CRM_ENTITY_TYPE": call.crm_type or "",
            "CRM_ENTITY_ID": call.crm_id or 0,
        }

    def _open_call(self, params: JSON) -> Call:
        call = self.calls.get(str(params.get("CALL_ID", "")))
        if call is None or call.finished is not None:
            raise FakeError(
                "ERROR_CORE", "Call is not found (call should be registered prior to finishing)", 400
            )
        return call

    def _card(self, params: JSON, action: str) -> bool:
        call = self.calls.get(str(params.get("CALL_ID", "")))
        if call is None or call.finished is not None:
            return False  # b24restdocs: "If CALL_ID is not found, the method will return result = false"
        users = params.get("USER_ID")
        for user in users if isinstance(users, list) else [users]:
            uid = int(str(user))
            call.card_log.append((action, uid))
            (call.shown.add if action == "show" else call.shown.discard)(uid)
        return True

    def _finish(self, params: JSON) -> JSON:
        call = self._open_call(params)
        user = self._user(params)
        duration = int(params.get("DURATION") or 0)
        status = str(params.get("STATUS_CODE") or ("200" if duration > 0 else "304"))
        activity = {
            "ID": next(self._ids),
            "CALL_ID": call.call_id,
            "OWNER_TYPE": call.crm_type,
            "OWNER_ID": call.crm_id,
            "RESPONSIBLE_ID": int(user["ID"]),
            "DURATION": duration,
            "STATUS_CODE": status,
            "FAILED_REASON": str(params.get("FAILED_REASON") or ""),
            "ADD_TO_CHAT": str(params.get("ADD_TO_CHAT", "1")),
            "DIRECTION": str(call.params.get("TYPE")),
            "PHONE_NUMBER": call.params.get("PHONE_NUMBER"),
            "DEALS": self._active_deals(call),
        }
        self.activities.append(activity)
        stores = {"CONTACT": self.contacts, "DEAL": self.deals, "LEAD": self.leads}
        for kind, entity_id in call.created:  # the finisher becomes responsible for what was created
            stores[kind][entity_id]["ASSIGNED_BY_ID"] = int(user["ID"])
        call.finished = {**params, "USER_ID": int(user["ID"]), "DURATION": duration, "STATUS_CODE": status}
        call.shown.clear()  # finishing closes the cards
        return {
            "CALL_ID": call.call_id,
            "PORTAL_USER_ID": int(user["ID"]),
            "CALL_DURATION": duration,
            "CALL_FAILED_CODE": status,
            "CALL_STATUS": 1 if status == "200" else 0,
            "CRM_ACTIVITY_ID": activity["ID"],
            "CRM_ENTITY_TYPE": call.crm_type,
            "CRM_ENTITY_ID": call.crm_id,
        }

    def _active_deals(self, call: Call) -> list[int]:
        if call.crm_type != "CONTACT":
            return []
        return [
            d["ID"]
            for d in self.deals.values()
            if int(d.get("CONTACT_ID") or 0) == call.crm_id and d.get("STAGE_SEMANTIC_ID") == "P"
        ]

    def _attach(self, params: JSON) -> JSON:
        call = self.calls.get(str(params.get("CALL_ID", "")))
        if call is None or call.finished is None:
            raise FakeError(
                "", "Call is not found in the statistic table. It looks like it is not finished yet."
            )
        name = str(params.get("FILENAME") or "")
        if not name:
            raise FakeError("ERROR_CORE", "File name is empty")
        if not name.lower().endswith((".mp3", ".wav")):
            raise FakeError("ERROR_CORE", "Wrong file extension. Only wav and mp3 are allowed")
        if "FILE_CONTENT" not in params:
            token = secrets.token_hex(8)
            self._uploads[token] = call.call_id
            return {"uploadUrl": f"{self.url}/rest/upload.json?token={token}", "fieldName": "file"}
        try:
            content = base64.b64decode(str(params["FILE_CONTENT"]), validate=True)
        except (binascii.Error, ValueError):
            raise FakeError(
                "ERROR_CORE", "File content is not properly encoded. Base64 encoding is expected."
            ) from None
        if not content:
            raise FakeError("ERROR_CORE", "File content is empty.")
        return self._store_record(call.call_id, name, content)

    def _store_record(self, call_id: str, name: str, content: bytes) -> JSON:
        file_id = next(self._ids)
        self.records[call_id] = {
            "FILE_ID": file_id,
            "FILENAME": name,
            "content": content,
        }  # a repeat replaces
        self.calls[call_id].record = self.records[call_id]
        return {"FILE_ID": file_id}

    def _search(self, params: JSON) -> list[JSON]:
        phone = str(params.get("PHONE_NUMBER") or "")
        found: list[JSON] = []
        for name, store in (("CONTACT", self.contacts), ("LEAD", self.leads)):
            for entity in self._matching(store, phone):
                assigned = self.users.get(int(entity.get("ASSIGNED_BY_ID") or 0), {})
                found.append(
                    {
                        "CRM_ENTITY_TYPE": name,
                        "CRM_ENTITY_ID": entity["ID"],
                        "NAME": entity.get("NAME") or "",
                        "ASSIGNED_BY_ID": entity.get("ASSIGNED_BY_ID"),
                        "ASSIGNED_BY": {
                            "ID": assigned.get("ID"),
                            "USER_PHONE_INNER": assigned.get("UF_PHONE_INNER"),
                        },
                    }
                )
        return found

    def _line_add(self, params: JSON) -> JSON:
        number = str(params.get("NUMBER") or "")
        if not number:
            raise FakeError("ERROR_CORE", "NUMBER should not be empty")
        if number in self.lines:
            raise FakeError("ERROR_CORE", "Line already exists")
        self.lines[number] = {
            "NUMBER": number,
            "NAME": str(params.get("NAME") or ""),
            "CRM_AUTO_CREATE": str(params.get("CRM_AUTO_CREATE") or "Y"),
        }
        return {"ID": len(self.lines)}

    def _line_update(self, params: JSON) -> JSON:
        number = str(params.get("NUMBER") or "")
        if not number:
            raise FakeError("ERROR_CORE", "NUMBER should not be empty")
        changes: JSON = {k: str(params[k]) for k in ("NAME", "CRM_AUTO_CREATE") if k in params}
        if not changes:
            raise FakeError("ERROR_CORE", "There are no fields to update")
        if number not in self.lines:
            raise FakeError("ERROR_CORE", f"Could not find line with number {number}")
        self.lines[number].update(changes)
        return {"ID": list(self.lines).index(number) + 1}

    def _outgoing_set(self, params: JSON) -> int:
        """b24restdocs: changes the line only if LINE_ID exists, and answers 1 either way."""
        line = str(params.get("LINE_ID") or "")
        if line in self.voximplant_lines:
            self.outgoing_line = line
        return 1

    def _event_bind(self, params: JSON) -> bool:
        event = str(params.get("event") or params.get("EVENT") or "").upper()
        handler = str(params.get("handler") or params.get("HANDLER") or "")
        kind = str(params.get("event_type") or params.get("EVENT_TYPE") or "online").lower()
        if not event or (kind == "online" and not handler):
            raise FakeError("ERROR_HANDLER_URL_MISMATCH", "Handler URL host doesn't match application url")
        key = f"{event}|{handler}|{kind}"
        if key in self.events:
            raise FakeError("ERROR_EVENT_BIND", "Handler already binded")
        self.events[key] = {
            "event": event,
            "handler": handler,
            "auth_type": "0",
            "offline": 1 if kind == "offline" else 0,
            "event_type": kind,
        }
        return True

    def _offline_get(self, params: JSON) -> JSON:
        clear = str(params.get("clear", "1")) not in ("0", "N", "n")
        limit = max(1, min(int(params.get("limit") or 50), 1000))
        chunk, rest = self.offline[:limit], self.offline[limit:]
        if clear:
            self.offline = rest
        return {"events": chunk, "process_id": None if clear else secrets.token_hex(8)}


class _Paged(list[Any]):
    """A list result with Bitrix24's `next`/`total` paging fields."""

    def __init__(self, items: list[Any], next_start: int | None, total: int) -> None:
        super().__init__(items)
        self.next_start, self.total = next_start, total


def _check_start(value: Any) -> None:
    if value is None:
        return
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise FakeError("ERROR_CORE", "CALL_START_DATE should be in the ISO-8601 format", 400)


def _filter(items: Any, conditions: JSON) -> list[JSON]:
    def ok(item: JSON) -> bool:
        for key, want in conditions.items():
            have = item.get(key.lstrip("=@"))
            wanted = want if isinstance(want, list) else [want]
            if not any(_same(have, w) for w in wanted):
                return False
        return True

    return [dict(i) for i in items if ok(i)]


def _same(have: Any, want: Any) -> bool:
    if isinstance(have, bool):
        return have == (str(want).lower() in ("1", "true", "y"))
    return str(have) == str(want)


def _chain(params: Any, results: JSON) -> Any:
    if isinstance(params, dict):
        return {k: _chain(v, results) for k, v in params.items()}
    if isinstance(params, list):
        return [_chain(v, results) for v in params]
    match = re.fullmatch(r"\$result\[([^\]]+)\]((?:\[[^\]]+\])*)", str(params))
    if not match:
        return params
    value: Any = results.get(match.group(1))
    for part in re.findall(r"\[([^\]]+)\]", match.group(2)):
        value = value[int(part)] if isinstance(value, list) else (value or {}).get(part)
    return value if isinstance(value, dict | list) else str(value)  # substituted into a query string


async def _params(request: web.Request) -> JSON:
    if request.method == "GET":
        return php_parse(request.query_string)
    text = await request.text()
    if request.content_type == "application/json":
        data = json.loads(text or "{}")
        return data if isinstance(data, dict) else {}
    return php_parse(text)


def _error(exc: FakeError) -> web.Response:
    return web.json_response({"error": exc.code, "error_description": exc.description}, status=exc.status)
