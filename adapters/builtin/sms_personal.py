"""A mailing's text for each recipient: the template filled with the client's fields, and its SMS count.

The estimate counts the real renderings: every recipient's own text is counted (GSM-7 or UCS-2,
parts), so a long name or company that pushes one text into a second SMS is paid for in the
estimate too. A text without placeholders is counted once and used for everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from adapters.builtin import placeholders, sms_text
from adapters.builtin.custom_fields import CustomFields
from adapters.builtin.db import Database


@dataclass(frozen=True, slots=True)
class Rendered:
    """Each recipient's (text, segments) in the audience's order, and the figures the form shows."""

    texts: list[tuple[str, int]]
    personal: bool  # the template has placeholders
    total: int  # SMS over every recipient
    longest: sms_text.Count  # the count of the rendering with the most SMS (the template's when none)


async def render_for(
    db: Database,
    custom: CustomFields,
    template: str,
    recipients: Sequence[tuple[int, str]],
    *,
    employee: str = "",
) -> Rendered:
    """The template rendered for every (client, phone); TemplateError when one is too long to send."""
    if not placeholders.uses_fields(template):
        count, many = sms_text.count(template), len(recipients)
        return Rendered([(template, count.segments)] * many, False, count.segments * many, count)
    values = await placeholders.client_values(db, custom, [cid for cid, _ in recipients], employee=employee)
    texts: list[tuple[str, int]] = []
    longest: sms_text.Count | None = None
    for client_id, phone in recipients:
        text = placeholders.render(template, {**values.get(client_id, {}), "телефон": phone})
        if len(text) > sms_text.MAX_CHARS:
            raise placeholders.TemplateError(
                f"для номера {phone} текст с подставленными полями длиннее {sms_text.MAX_CHARS} символов"
            )
        count = sms_text.count(text)
        longest = count if longest is None or count.segments > longest.segments else longest
        texts.append((text, count.segments))
    longest = longest or sms_text.count(placeholders.render(template, {}))
    return Rendered(texts, True, sum(segments for _, segments in texts), longest)
