"""Canned responses: replies agents reuse in the console, managed by staff.

Every change names its actor (`updated_by`, and the audit trail: CannedResponse is an
audited model). Deactivated replies are kept, so the trail and old transcripts still make
sense; the console offers only active ones (`canned_response_list_active`).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from apps.accounts.errors import NotFound
from apps.accounts.models import User
from apps.chat.errors import MessageInvalid
from apps.chat.models import CannedResponse
from apps.chat.services import MAX_TEXT
from apps.compliance.audit import audit_actor_bind

TITLE_MAX = 100

DEMO_CANNED_RESPONSES = [
    (
        "Greeting",
        "Hello, thanks for waiting. I'm a member of the BankSight team and I've read your "
        "conversation with the assistant. How can I help?",
    ),
    (
        "Card frozen for safety",
        "I've checked your card and it's frozen, so no new payments can be made with it. "
        "You can unfreeze it yourself under Cards once you're sure it's safe, or I can "
        "order a replacement for you.",
    ),
    (
        "Suspected fraud: next steps",
        "Thank you for telling us. I've frozen the card to protect your money. We'll review "
        "the payments you don't recognise and contact you within 2 working days. We will "
        "never ask you for your full PIN or password.",
    ),
    (
        "Payment still pending",
        "Payments to other banks usually arrive within 2 hours, and always by the end of "
        "the next working day. If it hasn't arrived by then, reply here and I'll trace it.",
    ),
    (
        "Closing",
        "Is there anything else I can help you with today? If not, I'll close this chat; "
        "you'll get a one-question survey about how we did.",
    ),
]


def canned_response_list() -> QuerySet[CannedResponse]:
    """Every reply, active first, for the management page."""
    return CannedResponse.objects.select_related("updated_by").order_by("-active", "title")


def canned_response_list_active() -> QuerySet[CannedResponse]:
    return CannedResponse.objects.filter(active=True).order_by("title")


def canned_response_get(*, canned_id) -> CannedResponse:
    try:
        return CannedResponse.objects.get(pk=int(canned_id))
    except (CannedResponse.DoesNotExist, TypeError, ValueError) as error:
        raise NotFound() from error


def _clean(*, title, text, exclude_id: int | None = None) -> tuple[str, str]:
    title = " ".join(str(title or "").split())
    text = str(text or "").strip()
    fields: dict[str, list[str]] = {}
    if not title:
        fields["title"] = ["Give the reply a title."]
    elif len(title) > TITLE_MAX:
        fields["title"] = [f"Use at most {TITLE_MAX} characters."]
    else:
        clash = CannedResponse.objects.filter(title__iexact=title)
        if exclude_id is not None:
            clash = clash.exclude(pk=exclude_id)
        if clash.exists():
            fields["title"] = ["Another reply has this title."]
    if not text:
        fields["text"] = ["Write the reply."]
    elif len(text) > MAX_TEXT:
        fields["text"] = [f"Use at most {MAX_TEXT} characters."]
    if fields:
        raise MessageInvalid(fields=fields)
    return title, text


@transaction.atomic
def canned_response_create(*, title, text, actor: User) -> CannedResponse:
    title, text = _clean(title=title, text=text)
    audit_actor_bind(actor=actor)
    return CannedResponse.objects.create(title=title, text=text, updated_by=actor)


@transaction.atomic
def canned_response_update(*, canned: CannedResponse, title, text, actor: User) -> CannedResponse:
    title, text = _clean(title=title, text=text, exclude_id=canned.pk)
    audit_actor_bind(actor=actor)
    locked = CannedResponse.objects.select_for_update().get(pk=canned.pk)
    locked.title, locked.text, locked.updated_by = title, text, actor
    locked.save()
    return locked


@transaction.atomic
def canned_response_active_set(
    *, canned: CannedResponse, active: bool, actor: User
) -> CannedResponse:
    audit_actor_bind(actor=actor)
    locked = CannedResponse.objects.select_for_update().get(pk=canned.pk)
    if locked.active != active:
        locked.active, locked.updated_by = active, actor
        locked.save()
    return locked


@transaction.atomic
def canned_responses_demo_seed() -> int:
    """Create the demo replies that are missing (by title); returns how many were made."""
    made = 0
    for title, text in DEMO_CANNED_RESPONSES:
        _, created = CannedResponse.objects.get_or_create(title=title, defaults={"text": text})
        made += created
    return made
