"""Demo conversations, so the back office has something to show after `seed_demo`.

alice asked the assistant a question (answered, no person involved) and then asked for a
person (waiting in the queue); bob is talking to the demo support agent. The texts hold no
personal data, so what staff see (masked) and what the customer sees are the same. Rows
are written as they stand after the real flow: no task is enqueued, no model is called.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Customer, User
from apps.chat.models import Conversation, Message
from apps.chat.services import ESCALATION_NOTICE

DEMO_AGENT = "agent"


def _message(conversation, role, text, *, author=None, client_id="") -> Message:
    complete = role != Message.Role.CUSTOMER
    message = Message(
        conversation=conversation,
        role=role,
        status=Message.Status.COMPLETE if complete else Message.Status.RECEIVED,
        masked_text=text,
        author=author,
        client_id=client_id,
        completed_at=timezone.now() if complete else None,
    )
    message.text = text
    message.save()
    return message


@transaction.atomic
def conversations_demo_seed() -> int:
    """Create the demo conversations of customers who have none; returns how many."""
    made = 0
    now = timezone.now()
    alice = Customer.objects.filter(user__username="alice").first()
    if alice is not None and not alice.conversations.exists():
        answered = Conversation.objects.create(customer=alice, title="Freezing my card")
        _message(
            answered,
            Message.Role.CUSTOMER,
            "How do I freeze my card?",
            author=alice.user,
            client_id="demo-1",
        )
        _message(
            answered,
            Message.Role.ASSISTANT,
            "Open Cards, choose the card and select Freeze. Payments with it stop at once, "
            "and you can unfreeze it there whenever you like.",
        )
        waiting = Conversation.objects.create(
            customer=alice,
            title="Change of address",
            status=Conversation.Status.ESCALATED,
            escalation_reason=Conversation.EscalationReason.CUSTOMER_REQUEST,
            escalated_at=now - timedelta(minutes=3),
        )
        _message(
            waiting,
            Message.Role.CUSTOMER,
            "I have moved house. Can a person update my address?",
            author=alice.user,
            client_id="demo-2",
        )
        _message(waiting, Message.Role.SYSTEM, ESCALATION_NOTICE)
        made += 2
    bob = Customer.objects.filter(user__username="bob").first()
    agent = User.objects.filter(username=DEMO_AGENT).first()
    if bob is not None and agent is not None and not bob.conversations.exists():
        talking = Conversation.objects.create(
            customer=bob,
            title="Card payment I don't recognise",
            status=Conversation.Status.WITH_AGENT,
            escalation_reason=Conversation.EscalationReason.CUSTOMER_REQUEST,
            escalated_at=now - timedelta(minutes=20),
            assigned_agent=agent,
            assigned_at=now - timedelta(minutes=18),
            first_agent_response_at=now - timedelta(minutes=17),
        )
        _message(
            talking,
            Message.Role.CUSTOMER,
            "There is a card payment to Amazon I don't recognise. Can I talk to someone?",
            author=bob.user,
            client_id="demo-3",
        )
        _message(
            talking,
            Message.Role.AGENT,
            "Hello Bob, I'm looking at your recent card payments now.",
            author=agent,
        )
        made += 1
    return made
