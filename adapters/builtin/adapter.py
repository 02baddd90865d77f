"""The built-in CRM as an adapter: the same interface and outbox as amoCRM or Bitrix24."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from adapters.builtin import board, sms_missed
from adapters.builtin.db import REFUSED_ERRORS, UNAVAILABLE_ERRORS, NotFoundError
from adapters.builtin.numbers import normalise
from adapters.builtin.sms_settings import SmsSettings
from adapters.builtin.store import Store
from connector import logs
from connector.calls.model import Call
from connector.crm import Adapter, AdapterContext, Capability, Contact
from connector.errors import PermanentError, TransientError

log = logs.get_logger(__name__)


class BuiltinAdapter(Adapter):
    """Files calls on clients or on contact cards of unknown numbers in the local store."""

    capabilities = frozenset(
        {Capability.LOOKUP, Capability.LOG_CALL, Capability.RECORDING, Capability.UNSORTED}
    )

    def __init__(
        self, context: AdapterContext, store: Store, public_url: str = "", sms: SmsSettings | None = None
    ) -> None:
        super().__init__(context)
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.sms = sms  # for the missed-call SMS

    async def lookup(self, phone: str) -> Contact | None:
        """The client (or contact card) with this number and its responsible employee."""
        row = await self.store.clients.by_phone(normalise(phone))
        if row is None:
            return None
        return Contact(
            id=str(row["id"]),
            name=row["name"],
            phones=tuple(row["phones"]),
            kind=row["kind"],
            responsible_user_id=str(row["responsible_id"]) if row["responsible_id"] else None,
            responsible_extension=row["responsible_extension"],
            url=f"{self.public_url}/crm/#/client/{row['id']}" if self.public_url else None,
        )

    async def log_call(self, call: Call) -> None:
        """File the call on its client, or on the number's contact card (made if needed).

        A missed inbound call filed for the first time gets a call-back task (a setting); a
        redelivery of the same call does not make a second one.
        """
        with self._mapped_errors():
            known = await self.store.db.scalar("SELECT 1 FROM calls WHERE id = ?", (call.id,))
            row = await self.store.calls.save(call)
            if not known:
                await board.missed_call_task(self.store.db, row)
                await self._missed_call_sms(row)

    async def _missed_call_sms(self, row: dict[str, Any]) -> None:
        """Queue the missed-call SMS; its failure is logged and never fails filing the call."""
        if self.sms is None:
            return
        try:
            await sms_missed.on_missed_call(self.store.sms, self.sms, row)
        except (*UNAVAILABLE_ERRORS, *REFUSED_ERRORS) as exc:
            log.warning("sms.missed_call_failed", call_id=row["id"], error=str(exc))

    async def create_unsorted(self, call: Call) -> None:
        """An unknown caller gets a contact card; its calls show as unsorted until handled."""
        phone = normalise(call.client)
        if phone:
            with self._mapped_errors():
                await self.store.clients.ensure_contact(phone)

    async def attach_recording(self, call: Call, path: str) -> None:
        """Remember the recording of a filed call (it is served through signed links)."""
        try:
            with self._mapped_errors():
                await self.store.calls.set_recording(call.id, path)
        except NotFoundError:
            # The outbox runs log_call before attach_recording; a missing row means it was lost.
            await self.log_call(call)

    @contextlib.contextmanager
    def _mapped_errors(self) -> Iterator[None]:
        """Store errors as the outbox understands them: busy/closed → retry, refused → dead-letter."""
        try:
            yield
        except UNAVAILABLE_ERRORS as exc:  # locked, busy, unreachable, not open yet
            raise TransientError(f"built-in CRM store unavailable: {exc}", adapter=self.name) from exc
        except REFUSED_ERRORS as exc:
            raise PermanentError(f"built-in CRM store refused the call: {exc}", adapter=self.name) from exc

    async def start(self) -> None:
        """Open the store (raises `StorageError` when the file cannot be used)."""
        await self.store.start()
        admins = await self.store.db.scalar(
            "SELECT COUNT(*) FROM employees WHERE role = 'admin' AND active = 1 AND password_hash IS NOT NULL"
        )
        if not admins:  # said at every start until someone can sign in and add the others
            log.warning(
                "builtin.no_admin",
                hint="nobody can sign in to the CRM yet: run `crm-connector users add --login LOGIN"
                " --name NAME --extension EXT --role admin` (it prints the password once)",
            )

    async def aclose(self) -> None:
        """Close the store."""
        await self.store.close()
