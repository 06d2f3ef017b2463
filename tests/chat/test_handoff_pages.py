"""The queue and agent console pages (/staff/chat/) and the customer side of a handoff on
the chat page, without JavaScript: every console form also posts to the same services.

The live side (the sockets, two browsers) is tests/browser/test_handoff_browser.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.accounts.roles import Role
from apps.chat import handoff
from apps.chat.models import (
    AgentPresence,
    CannedResponse,
    Conversation,
    InternalNote,
    Message,
    SatisfactionSurvey,
)
from apps.chat.services import conversation_create, conversation_escalate
from tests.factories import customer_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    return customer_make(username="alice", first_name="Alice", last_name="Example")


def _conversation(customer, *, raw: str = "My card 4111 1111 1111 1111 was stolen") -> Conversation:
    conversation = conversation_create(customer=customer)
    message = Message(
        conversation=conversation,
        role=Message.Role.CUSTOMER,
        status=Message.Status.RECEIVED,
        client_id="c1",
        masked_text="My card [CARD_1] was stolen",
    )
    message.text = raw
    message.save()
    return conversation_escalate(
        conversation=conversation, reason=Conversation.EscalationReason.CUSTOMER_REQUEST
    )


@pytest.fixture
def agent(make_user):
    return make_user(Role.SUPPORT_AGENT, username="amira", first_name="Amira", last_name="Agent")


@pytest.fixture
def console(verified_client, agent):
    return verified_client(agent)


def _console_url(conversation) -> str:
    return reverse("staff:handoff:console", args=[conversation.pk])


def test_the_queue_lists_waiting_conversations_urgent_first_with_their_clocks(alice, console):
    normal = _conversation(alice, raw="Hello")
    Message.objects.filter(conversation=normal).update(masked_text="Hello")
    normal.refresh_from_db()
    urgent = _conversation(customer_make(username="bob", first_name="Bob"))  # "stolen"
    assert urgent.priority == Conversation.Priority.URGENT

    response = console.get(reverse("staff:handoff:queue"))

    assert response.status_code == 200
    rows = [row["conversation"].pk for row in response.context["waiting"]]
    assert rows == [urgent.pk, normal.pk]
    html = response.content.decode()
    assert html.index(str(urgent.pk)) < html.index(str(normal.pk))
    assert "Suspected fraud" in html
    assert 'data-clock="down"' in html
    assert "2:00" in html  # the urgent target
    assert "You are away" in html
    assert "js/agent_console.js" in html


def test_an_overdue_conversation_shows_in_red(alice, console):
    conversation = _conversation(alice)
    Conversation.objects.filter(pk=conversation.pk).update(
        escalated_at=timezone.now() - timedelta(minutes=3)
    )

    html = console.get(reverse("staff:handoff:queue")).content.decode()

    assert "text-danger" in html
    assert "Overdue 1:0" in html  # 2-minute target, waited 3


def test_presence_is_saved_and_errors_are_shown(console, agent):
    response = console.post(
        reverse("staff:handoff:presence"), {"status": "available", "max_chats": "4"}, follow=True
    )
    presence = AgentPresence.objects.get(user=agent)
    assert (presence.status, presence.max_chats) == ("available", 4)
    assert "You are available, taking up to 4 chats at once." in response.content.decode()

    response = console.post(
        reverse("staff:handoff:presence"), {"status": "away", "max_chats": "99"}, follow=True
    )
    assert "Choose between 1 and 20 chats." in response.content.decode()
    presence.refresh_from_db()
    assert presence.status == "available"


def test_claim_without_javascript_takes_it_and_opens_the_console(alice, console, agent):
    conversation = _conversation(alice)

    response = console.post(reverse("staff:handoff:claim", args=[conversation.pk]))

    assert response.status_code == 302
    assert response["Location"] == _console_url(conversation)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WITH_AGENT
    assert conversation.assigned_agent == agent


def test_claiming_a_conversation_someone_else_has_is_refused_with_a_message(
    alice, console, make_user
):
    conversation = _conversation(alice)
    kim = make_user(Role.SUPPORT_AGENT, username="kim", first_name="Kim")
    handoff.conversation_claim(conversation_id=conversation.pk, agent=kim)

    response = console.post(reverse("staff:handoff:claim", args=[conversation.pk]), follow=True)

    assert "Kim already has it." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assigned_agent == kim


def test_the_console_shows_the_masked_transcript_summary_and_tools(alice, console, agent):
    conversation = _conversation(alice)
    Conversation.objects.filter(pk=conversation.pk).update(
        handoff_summary="Why escalated: the customer asked for a person."
    )
    CannedResponse.objects.create(title="Greeting", text="Hello, how can I help?")
    InternalNote.objects.create(conversation=conversation, author=agent, text="Called before.")

    response = console.get(_console_url(conversation))

    assert response.status_code == 200
    html = response.content.decode()
    assert "My card [CARD_1] was stolen" in html
    assert "4111" not in html
    assert "Why escalated: the customer asked for a person." in html
    assert 'data-text="Hello, how can I help?"' in html
    assert "Called before." in html
    assert "Take over this conversation" in html
    assert f'data-socket="/ws/staff/chat/{conversation.pk}/"' in html
    assert response.context["holds"] is False
    assert reverse("staff:customer-360", args=[alice.pk]) in html
    assert reverse("staff:transcript-export", args=[conversation.pk]) not in html  # supervisors
    for value, _ in Conversation.Resolution.choices:
        assert f'value="{value}"' in html


def test_a_conversation_held_by_another_agent_is_a_404(alice, console, make_user):
    conversation = _conversation(alice)
    kim = make_user(Role.SUPPORT_AGENT, username="kim")
    handoff.conversation_claim(conversation_id=conversation.pk, agent=kim)

    assert console.get(_console_url(conversation)).status_code == 404
    assert console.post(reverse("staff:handoff:close", args=[conversation.pk])).status_code == 404


def test_staff_without_the_chat_permission_get_403(verified_client, make_user, alice):
    conversation = _conversation(alice)
    kyc = verified_client(make_user(Role.KYC_OFFICER))

    assert kyc.get(reverse("staff:handoff:queue")).status_code == 403
    assert kyc.get(_console_url(conversation)).status_code == 403


def test_the_pages_need_mfa(agent, alice):
    from tests.helpers import PASSWORD

    client = Client()
    client.post("/staff/login/", {"username": agent.username, "password": PASSWORD})
    response = client.get(reverse("staff:handoff:queue"))
    assert response.status_code == 302
    assert "/staff/mfa/" in response["Location"]


def test_the_console_forms_work_without_javascript(alice, console, agent, make_user):
    conversation = _conversation(alice)
    console.post(reverse("staff:handoff:claim", args=[conversation.pk]))

    console.post(
        reverse("staff:handoff:send", args=[conversation.pk]),
        {"text": "Hello [PERSON_1], I'm here.", "client_id": "form-1"},
    )
    sent = conversation.messages.get(role=Message.Role.AGENT)
    assert sent.author == agent
    assert sent.masked_text == "Hello [PERSON_1], I'm here."

    console.post(reverse("staff:handoff:note", args=[conversation.pk]), {"text": "Card seen."})
    assert InternalNote.objects.filter(conversation=conversation, text="Card seen.").exists()

    response = console.post(
        reverse("staff:handoff:close", args=[conversation.pk]), {"resolution": ""}, follow=True
    )
    assert "Choose how the conversation was resolved." in response.content.decode()

    response = console.post(
        reverse("staff:handoff:close", args=[conversation.pk]), {"resolution": "fraud_reported"}
    )
    assert response["Location"] == _console_url(conversation)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    assert conversation.resolution_code == "fraud_reported"
    closed = console.get(_console_url(conversation)).content.decode()
    assert "Closed" in closed


def test_hand_back_and_transfer_without_javascript_go_back_to_the_queue(
    alice, console, agent, make_user
):
    kim = make_user(Role.SUPPORT_AGENT, username="kim", first_name="Kim", last_name="Lee")
    first = _conversation(alice)
    console.post(reverse("staff:handoff:claim", args=[first.pk]))
    response = console.get(_console_url(first))
    assert {"username": "kim", "name": "Kim Lee", "available": False} in response.context["agents"]

    response = console.post(
        reverse("staff:handoff:transfer", args=[first.pk]), {"to": "kim", "note": "Fraud team."}
    )
    assert response["Location"] == reverse("staff:handoff:queue")
    first.refresh_from_db()
    assert first.assigned_agent == kim

    second = _conversation(customer_make(username="carol", first_name="Carol"))
    console.post(reverse("staff:handoff:claim", args=[second.pk]))
    response = console.post(reverse("staff:handoff:hand-back", args=[second.pk]))
    assert response["Location"] == reverse("staff:handoff:queue")
    second.refresh_from_db()
    assert second.status == Conversation.Status.ACTIVE


def test_the_customer_page_names_the_agent_and_offers_the_survey_once(alice, agent, client):
    conversation = _conversation(alice)
    handoff.conversation_claim(conversation_id=conversation.pk, agent=agent)
    client.force_login(alice.user)
    url = reverse("chat:conversation", args=[conversation.pk])

    html = client.get(url).content.decode()
    assert "You're talking to Amira from BankSight" in html
    assert 'data-status="with_agent"' in html
    assert 'data-agent="Amira"' in html

    handoff.conversation_close(conversation=conversation, agent=agent, resolution="answered")
    html = client.get(url).content.decode()
    assert 'data-status="closed"' in html
    assert 'id="chat-survey"' in html
    assert 'data-survey-done=""' in html
    assert "disabled></textarea>" in html

    SatisfactionSurvey.objects.create(conversation=conversation, rating=4)
    assert 'data-survey-done="1"' in client.get(url).content.decode()


def test_a_supervisor_reads_the_queue_and_any_console_but_does_not_claim(
    verified_client, make_user, alice, agent
):
    waiting = _conversation(alice)
    held = _conversation(customer_make(username="bob", first_name="Bob"))
    handoff.conversation_claim(conversation_id=held.pk, agent=agent)
    supervisor = verified_client(make_user(Role.COMPLIANCE_OFFICER))

    html = supervisor.get(reverse("staff:handoff:queue")).content.decode()
    assert str(waiting.pk) in html
    assert "Your availability" not in html
    assert reverse("staff:handoff:claim", args=[waiting.pk]) not in html

    html = supervisor.get(_console_url(held)).content.decode()
    assert "My card [CARD_1] was stolen" in html
    assert "Take over this conversation" not in html
    assert supervisor.post(reverse("staff:handoff:claim", args=[waiting.pk])).status_code == 403


def test_the_survey_works_without_javascript(client, transactional_db):
    from apps.accounts.roles import Role
    from apps.accounts.services import user_create
    from apps.chat import handoff
    from apps.chat.models import SatisfactionSurvey
    from apps.chat.services import conversation_create, conversation_escalate
    from tests.factories import customer_make
    from tests.helpers import PASSWORD

    customer = customer_make(username="nojs")
    agent = user_create(username="nojs-agent", password=PASSWORD, role=Role.SUPPORT_AGENT)
    conversation = conversation_create(customer=customer)
    conversation_escalate(conversation=conversation, reason="customer_request")
    handoff.conversation_claim(conversation_id=conversation.pk, agent=agent)
    client.force_login(customer.user)
    url = f"/chat/{conversation.pk}/survey/"
    assert client.post(url, {"rating": "4"}).status_code == 302
    assert not SatisfactionSurvey.objects.filter(conversation=conversation).exists()  # not closed
    page = client.get(f"/chat/{conversation.pk}/").content.decode()
    assert "The survey opens when a person has closed the conversation." in page
    handoff.conversation_close(conversation=conversation, agent=agent, resolution="answered")
    page = client.get(f"/chat/{conversation.pk}/").content.decode()
    assert f'action="{url}"' in page
    assert client.post(url, {"rating": "5", "comment": "Great"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.survey.rating == 5
