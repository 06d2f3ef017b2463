"""One full human handoff in two real browsers: the customer's chat page and the agent
console, over the real server, worker, channel layer and SmolLM2 model server.

customer asks → streamed answer → "Talk to a person" → agent signs in with TOTP, sets
their availability, finds the conversation in the queue, reads the summary, takes over →
both write, in order, while the assistant stays silent → agent hands back → the assistant
answers again → escalated again, auto-assigned to the now available agent → closed with a
resolution → the customer rates it 4 with a comment.

Screenshots of every step go to tests/output/screenshots/ for review. The model's wording
is never checked, only that answers arrive (and when they must not).
"""

from __future__ import annotations

import json
import re
import time

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.roles import Role
from apps.accounts.services import user_create
from apps.chat.models import CannedResponse, Conversation, Message, SatisfactionSurvey
from tests.browser.conftest import CHROMIUM
from tests.chat.sockets import STATEMENT_QUESTION
from tests.factories import account_make, customer_make
from tests.helpers import PASSWORD, totp_code

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)",
    ),
]

MODEL_WAIT_MS = 90_000  # an answer from the CPU model, worker included
LIVE_WAIT_MS = 15_000  # a websocket event between the two browsers


@pytest.fixture
def people(transactional_db, model_backends):
    alice = customer_make(username="alice", first_name="Alice", last_name="Example")
    account_make(alice, balance="1250.00")
    agent = user_create(
        username="agent",
        password=PASSWORD,
        role=Role.SUPPORT_AGENT,
        first_name="Amira",
        last_name="Agent",
    )
    device = TOTPDevice.objects.create(user=agent, name="phone", confirmed=True)
    CannedResponse.objects.create(
        title="Greeting", text="Hello, thanks for waiting. How can I help?"
    )
    return {"alice": alice, "agent": agent, "device": device}


class PageWatch:
    """Collects a page's script errors, CSP violations and websocket frames received."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.frames: list[dict] = []
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _console(self, message) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused" in text):
            self.errors.append(f"console: {text}")

    def _frame(self, payload) -> None:
        if isinstance(payload, str):
            self.frames.append(json.loads(payload))


def _assistant_count(conversation) -> int:
    return Message.objects.filter(conversation=conversation, role=Message.Role.ASSISTANT).count()


def test_a_full_handoff_between_the_chat_page_and_the_agent_console(
    web_server, chromium, people, screenshots
):
    from playwright.sync_api import expect

    base = web_server.url
    viewport = {"width": 1280, "height": 900}
    customer_context = chromium.new_context(viewport=viewport)
    agent_context = chromium.new_context(viewport=viewport)
    customer = customer_context.new_page()
    agent = agent_context.new_page()
    customer_watch = PageWatch(customer)
    agent_watch = PageWatch(agent)

    # --- The customer asks the assistant; the answer streams in ------------------------
    customer.goto(f"{base}/login/")
    customer.fill("#id_username", "alice")
    customer.fill("#id_password", PASSWORD)
    customer.get_by_role("button", name="Sign in").click()
    customer.wait_for_url(f"{base}/")
    customer.goto(f"{base}/chat/")
    customer.get_by_role("button", name="New conversation").first.click()
    customer.wait_for_url(re.compile(r"/chat/[0-9a-f-]{36}/$"))
    conversation_id = customer.url.rstrip("/").rsplit("/", 1)[1]
    conversation = Conversation.objects.get(pk=conversation_id)
    expect(customer.locator("#chat-connection")).to_have_text("Connected", timeout=LIVE_WAIT_MS)
    screenshots(customer, "customer-new-chat")

    customer.fill("#chat-text", STATEMENT_QUESTION)
    customer.get_by_role("button", name="Send", exact=True).click()
    first_answer = customer.locator(".chat-message.chat-assistant").first
    expect(first_answer).to_have_attribute("data-status", "complete", timeout=MODEL_WAIT_MS)
    assert first_answer.locator(".chat-text").inner_text().strip()
    tokens = [f for f in customer_watch.frames if f["type"] == "token"]
    assert len(tokens) >= 2, "the answer did not stream"
    screenshots(customer, "customer-streamed-answer")

    # --- ... and asks for a person ------------------------------------------------------
    customer.get_by_role("button", name="Talk to a person").click()
    expect(customer.locator("#chat-status")).to_contain_text("asked a person", timeout=LIVE_WAIT_MS)
    expect(customer.locator("#chat-escalate")).to_be_disabled()
    screenshots(customer, "customer-asked-for-a-person")

    # --- The agent signs in with TOTP and finds the conversation in the queue -------------
    agent.goto(f"{base}/staff/login/")
    agent.fill("#id_username", "agent")
    agent.fill("#id_password", PASSWORD)
    agent.get_by_role("button", name="Sign in").click()
    agent.wait_for_url(re.compile(r"/staff/mfa/verify/"))
    agent.fill("#id_token", totp_code(people["device"]))
    agent.get_by_role("button", name="Continue").click()
    agent.wait_for_url(f"{base}/staff/")
    screenshots(agent, "agent-signed-in")

    agent.goto(f"{base}/staff/chat/")
    # Away for now: while available, waiting conversations are assigned automatically.
    agent.check("#presence-away")
    agent.fill("#presence-max", "2")
    agent.get_by_role("button", name="Save").click()
    expect(agent.locator(".messages")).to_contain_text("You are away, taking up to 2 chats")
    row = agent.locator(f'.queue-row[data-conversation="{conversation_id}"]')
    expect(row).to_be_visible()
    expect(row.locator(".badge")).to_have_text("Normal")
    expect(row.locator('[data-clock="down"]')).to_have_text(re.compile(r"^1[0-5]:\d\d$"))
    screenshots(agent, "agent-queue")

    row.get_by_role("link", name="Open").click()
    agent.wait_for_url(re.compile(rf"/staff/chat/{conversation_id}/$"))
    expect(agent.locator("#console-connection")).to_have_text("Connected", timeout=LIVE_WAIT_MS)
    expect(agent.locator("#console-status")).to_have_text("Waiting for a person")
    expect(agent.locator("#console-log")).to_contain_text(STATEMENT_QUESTION)
    # The summary is drafted by the worker after the escalation; the console looks again.
    expect(agent.locator("#console-summary")).not_to_contain_text(
        "being drafted", timeout=MODEL_WAIT_MS
    )
    assert agent.locator("#console-summary").inner_text().strip()
    expect(agent.locator("#console-text")).to_be_disabled()
    screenshots(agent, "agent-console-summary")

    # --- Takeover ------------------------------------------------------------------------
    agent.get_by_role("button", name="Take over this conversation").click()
    expect(agent.locator("#console-status")).to_have_text("With you", timeout=LIVE_WAIT_MS)
    expect(agent.locator("#console-text")).to_be_enabled()
    expect(customer.locator("#chat-status")).to_contain_text(
        "You're talking to Amira from BankSight", timeout=LIVE_WAIT_MS
    )
    expect(customer.locator(".chat-message.chat-system").last).to_contain_text(
        "Amira from BankSight has joined"
    )
    screenshots(agent, "agent-took-over")
    screenshots(customer, "customer-sees-amira-joined")

    # Agent assist: the draft fills the composer and nothing goes out without Send.
    agent.get_by_role("button", name="Suggest a reply").click()
    expect(agent.locator("#console-hint")).to_contain_text(
        re.compile("Suggested reply|No suggestion"), timeout=MODEL_WAIT_MS
    )
    screenshots(agent, "agent-suggested-reply")
    time.sleep(1)
    expect(customer.locator(".chat-message.chat-agent")).to_have_count(0)
    assert not Message.objects.filter(conversation=conversation, role="agent").exists()

    # A canned response is inserted into the composer, edited, then sent.
    agent.select_option("#console-canned", label="Greeting")
    agent.get_by_role("button", name="Insert").click()
    expect(agent.locator("#console-text")).to_have_value(re.compile("thanks for waiting"))
    agent.fill("#console-text", "Hello Alice, I'm Amira. I can see your question; one moment.")
    agent.get_by_role("button", name="Send", exact=True).click()
    agent_line = customer.locator(".chat-message.chat-agent").last
    expect(agent_line).to_contain_text("I'm Amira", timeout=LIVE_WAIT_MS)
    expect(agent_line.locator(".small").first).to_have_text("Amira")

    assistant_before = _assistant_count(conversation)
    customer.fill("#chat-text", "Thanks Amira, please check my last card payment.")
    customer.get_by_role("button", name="Send", exact=True).click()
    expect(agent.locator(".console-message.console-customer").last).to_contain_text(
        "check my last card payment", timeout=LIVE_WAIT_MS
    )
    agent.fill("#console-text", "Your last card payment went through normally.")
    agent.get_by_role("button", name="Send", exact=True).click()
    expect(customer.locator(".chat-message").last).to_contain_text(
        "went through normally", timeout=LIVE_WAIT_MS
    )
    # Both sides show the same order: agent, customer, agent.
    tail = [
        "I'm Amira",
        "check my last card payment",
        "went through normally",
    ]
    for page, selector in ((customer, ".chat-message"), (agent, ".console-message")):
        texts = page.locator(selector).all_inner_texts()[-3:]
        assert all(part in text for part, text in zip(tail, texts, strict=True)), texts
    # The assistant stays silent while a person holds the conversation.
    time.sleep(3)
    assert _assistant_count(conversation) == assistant_before
    expect(customer.locator(".chat-message.chat-assistant")).to_have_count(assistant_before)

    # Internal notes stay in the back office.
    agent.fill("#console-note", "Checked the card payment with Alice; nothing odd.")
    agent.get_by_role("button", name="Add note").click()
    expect(agent.locator("#console-notes")).to_contain_text("nothing odd", timeout=LIVE_WAIT_MS)
    screenshots(agent, "agent-conversation-and-note")
    screenshots(customer, "customer-talking-to-amira")
    assert "nothing odd" not in customer.content()
    assert not any(f["type"] == "note" for f in customer_watch.frames)

    # --- Hand back: the assistant answers again -----------------------------------------
    agent.get_by_role("button", name="Hand back to the assistant").click()
    expect(agent.locator("#console-gone")).to_contain_text(
        "handed this conversation back", timeout=LIVE_WAIT_MS
    )
    expect(customer.locator("#chat-status")).to_contain_text(
        "BankSight assistant again", timeout=LIVE_WAIT_MS
    )
    expect(customer.locator("#chat-escalate")).to_be_enabled()
    screenshots(agent, "agent-handed-back")

    customer.fill("#chat-text", "And how do I get a statement?")
    customer.get_by_role("button", name="Send", exact=True).click()
    expect(customer.locator(".chat-message.chat-assistant")).to_have_count(
        assistant_before + 1, timeout=MODEL_WAIT_MS
    )
    expect(customer.locator(".chat-message.chat-assistant").last).to_have_attribute(
        "data-status", "complete", timeout=MODEL_WAIT_MS
    )
    screenshots(customer, "customer-assistant-again")

    # --- Escalated again: the now available agent gets it automatically -------------------
    agent.goto(f"{base}/staff/chat/")
    agent.check("#presence-available")
    agent.get_by_role("button", name="Save").click()
    expect(agent.locator("#presence-status")).to_have_text("You are available")
    customer.get_by_role("button", name="Talk to a person").click()
    expect(customer.locator("#chat-status")).to_contain_text(
        "You're talking to Amira", timeout=LIVE_WAIT_MS
    )
    agent.goto(f"{base}/staff/chat/")
    mine = agent.locator("#my-conversations a", has_text="Alice")
    expect(mine).to_have_count(1)
    screenshots(agent, "agent-auto-assigned")
    mine.click()
    expect(agent.locator("#console-connection")).to_have_text("Connected", timeout=LIVE_WAIT_MS)
    expect(agent.locator("#console-status")).to_have_text("With you")

    # --- Close with a resolution; the customer gets the survey ---------------------------
    agent.select_option("#console-resolution", "answered")
    agent.get_by_role("button", name="Close conversation").click()
    expect(agent.locator("#console-status")).to_have_text("Closed", timeout=LIVE_WAIT_MS)
    screenshots(agent, "agent-closed")
    survey = customer.locator("#chat-survey")
    expect(survey).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(customer.locator("#chat-text")).to_be_disabled()
    expect(customer.locator("#chat-escalate")).to_be_disabled()
    screenshots(customer, "customer-survey")
    customer.check("#chat-survey-4")
    customer.fill("#chat-survey-comment", "Quick and friendly.")
    survey.get_by_role("button", name="Send").click()
    expect(customer.locator("#chat-survey-thanks")).to_be_visible(timeout=LIVE_WAIT_MS)
    expect(survey).to_be_hidden()
    screenshots(customer, "customer-survey-thanks")

    saved = SatisfactionSurvey.objects.get(conversation=conversation)
    assert (saved.rating, saved.comment) == (4, "Quick and friendly.")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.CLOSED
    assert conversation.resolution_code == Conversation.Resolution.ANSWERED
    assert customer_watch.errors == []
    assert agent_watch.errors == []
    customer_context.close()
    agent_context.close()
