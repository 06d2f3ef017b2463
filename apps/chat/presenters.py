"""How a message looks to the customer (their own values filled in) and to staff (masked)."""

from __future__ import annotations

from apps.chat.models import ActionProposal, Message

STEP_UP_KINDS = {ActionProposal.Kind.TRANSFER}


def _action(proposal: ActionProposal) -> dict:
    from apps.chat.actions import action_summary

    return {
        "id": str(proposal.pk),
        "kind": proposal.kind,
        "summary": action_summary(proposal),
        "status": proposal.status,
        "needs_step_up": proposal.kind in STEP_UP_KINDS,
        "result": proposal.result or {},
    }


def message_for_customer(message: Message) -> dict:
    feedback = getattr(message, "feedback", None) if message.role == "assistant" else None
    author = ""
    if message.role == Message.Role.AGENT and message.author_id:
        author = message.author.first_name or message.author.username
    return {
        "id": message.pk,
        "role": message.role,
        "text": message.text,
        "status": message.status,
        "client_id": message.client_id or None,
        "created_at": message.created_at.isoformat(),
        "author": author or None,
        "citations": message.citations or [],
        "actions": [_action(p) for p in message.action_proposals.all()],
        "feedback": {"rating": feedback.rating, "comment": feedback.comment} if feedback else None,
    }


def message_for_staff(message: Message) -> dict:
    data = message_for_customer(message)
    data["text"] = message.masked_text if message.role != Message.Role.SYSTEM else message.text
    data["guard_reasons"] = message.guard_reasons
    return data
