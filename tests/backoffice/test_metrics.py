"""Handoff metrics from seeded rows with fixed times, and the protected /metrics endpoint."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.chat.handoff_metrics import handoff_metrics
from apps.chat.models import AgentPresence, Conversation, HandoffEvent, SatisfactionSurvey
from tests.factories import customer_make

pytestmark = pytest.mark.django_db

TOKEN = "m" * 40
K = HandoffEvent.Kind
P = Conversation.Priority
S = Conversation.Status


@pytest.fixture
def seeded(make_user):
    """Targets: urgent 120 s, high 300 s, normal 900 s (the settings' defaults).

    First responses in the window wait 60, 300, 1000, 100 and 200 s (c4 was escalated
    twice); 1000 s (normal) and 200 s (urgent) are late. Handle times: 570, 1200, 1000,
    150 and 490 s. Still unanswered now: c5 (normal, 1000 s: late), c6 (urgent, 60 s),
    c7 (high, with an agent, 400 s: late). c0 is from two days ago and outside the window.
    """
    now = timezone.now()
    t0 = now - timedelta(hours=3)
    customer = customer_make(username="metrics-customer")
    agent = make_user(Role.SUPPORT_AGENT)
    AgentPresence.objects.create(user=agent, status=AgentPresence.Status.AVAILABLE)

    def conversation(priority, status, *, created, escalated=None, first_response=None):
        row = Conversation.objects.create(
            customer=customer,
            priority=priority,
            status=status,
            escalated_at=escalated,
            first_agent_response_at=first_response,
        )
        Conversation.objects.filter(pk=row.pk).update(created_at=created)
        return row

    def events(row, *steps):
        """(kind, seconds after t0 or a datetime) for each step, in order."""
        for kind, when in steps:
            event = HandoffEvent.objects.create(conversation=row, kind=kind, agent=agent)
            moment = when if isinstance(when, datetime) else t0 + timedelta(seconds=when)
            HandoffEvent.objects.filter(pk=event.pk).update(created_at=moment)

    def at(seconds):
        return t0 + timedelta(seconds=seconds)

    def ago(seconds):
        return now - timedelta(seconds=seconds)

    esc, asg, first, xfer, back, closed = (
        K.ESCALATED, K.ASSIGNED, K.FIRST_RESPONSE, K.TRANSFERRED, K.HANDED_BACK, K.CLOSED
    )  # fmt: skip
    c1 = conversation(P.URGENT, S.CLOSED, created=at(-60), escalated=at(0))
    events(c1, (esc, 0), (asg, 30), (first, 60), (closed, 600))
    c2 = conversation(P.NORMAL, S.ACTIVE, created=at(-60), escalated=at(0))
    events(c2, (esc, 0), (asg, 100), (first, 300), (xfer, 400), (back, 1300))
    c3 = conversation(P.NORMAL, S.CLOSED, created=at(-60), escalated=at(0))
    events(c3, (esc, 0), (asg, 900), (first, 1000), (closed, 1900))
    c4 = conversation(P.URGENT, S.CLOSED, created=at(-60), escalated=at(1000))
    events(c4, (esc, 0), (asg, 50), (first, 100), (back, 200))
    events(c4, (esc, 1000), (asg, 1010), (first, 1200), (closed, 1500))
    conversation(P.NORMAL, S.ESCALATED, created=ago(1100), escalated=ago(1000))
    conversation(P.URGENT, S.ESCALATED, created=ago(100), escalated=ago(60))
    conversation(P.HIGH, S.WITH_AGENT, created=ago(500), escalated=ago(400))
    conversation(P.NORMAL, S.ACTIVE, created=at(10))
    conversation(P.NORMAL, S.CLOSED, created=at(20))

    old = now - timedelta(days=2)
    c0 = conversation(P.NORMAL, S.CLOSED, created=old, escalated=old)
    events(c0, (esc, old), (asg, old), (first, old + timedelta(hours=2)))
    events(c0, (closed, old + timedelta(hours=3)))

    for row, rating, created in [(c1, 5, at(700)), (c3, 2, at(2000)), (c0, 1, old)]:
        survey = SatisfactionSurvey.objects.create(conversation=row, rating=rating)
        SatisfactionSurvey.objects.filter(pk=survey.pk).update(created_at=created)
    return now


def test_metrics_from_seeded_rows(seeded):
    m = handoff_metrics(since=seeded - timedelta(days=1))
    assert m.queue.waiting_by_priority == {P.URGENT: 1, P.HIGH: 0, P.NORMAL: 1}
    assert m.queue.waiting == 2
    assert m.queue.with_agent == 1
    assert m.queue.agents_available == 1
    assert m.queue.longest_wait_seconds == pytest.approx(1000, abs=5)

    assert m.first_responses == 5
    assert m.first_response_p50_s == pytest.approx(200)
    assert m.first_response_p95_s == pytest.approx(860)  # 300 + 0.8 * (1000 - 300)
    assert m.handled == 5
    assert m.handle_p50_s == pytest.approx(570)
    assert m.handle_p95_s == pytest.approx(1160)  # 1000 + 0.8 * (1200 - 1000)

    assert m.breaches_answered_late == 2
    assert m.breaches_unanswered == 2
    assert m.breaches == 4

    assert m.satisfaction_average == pytest.approx(3.5)
    assert m.satisfaction_count == 2

    assert m.conversations_started == 9
    assert m.conversations_escalated == 7
    assert m.escalated_share == pytest.approx(7 / 9)
    assert m.assistant_resolved_share == pytest.approx(2 / 9)


def test_metrics_of_an_empty_window():
    m = handoff_metrics(since=timezone.now() - timedelta(hours=1))
    assert m.first_responses == 0
    assert m.first_response_p50_s is None
    assert m.handle_p95_s is None
    assert m.satisfaction_average is None
    assert m.satisfaction_count == 0
    assert m.escalated_share is None
    assert m.breaches == 0


def test_metrics_query_count(seeded, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        handoff_metrics(since=seeded - timedelta(days=1))


# --- /metrics -------------------------------------------------------------------------------

SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]+="[^"]*",?)*\})? -?[0-9.e+-]+$')


def test_metrics_anonymous_is_401(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401


def test_metrics_with_the_token(client, settings, seeded):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    body = response.content.decode()
    for line in body.splitlines():
        assert line.startswith("# ") or SAMPLE.match(line), line
    assert 'banksight_handoff_queue_length{priority="urgent"} 1' in body
    assert 'banksight_handoff_queue_length{priority="high"} 0' in body
    assert 'banksight_handoff_first_response_seconds{quantile="0.5"} 200.0' in body
    assert 'banksight_handoff_first_response_seconds{quantile="0.95"} 860.0' in body
    assert 'banksight_handoff_handle_seconds{quantile="0.5"} 570.0' in body
    assert 'banksight_handoff_target_breaches{state="answered"} 2' in body
    assert 'banksight_handoff_target_breaches{state="unanswered"} 2' in body
    assert "banksight_handoff_satisfaction_average 3.5" in body
    assert "banksight_handoff_satisfaction_responses 2" in body
    assert 'banksight_conversations_started{outcome="escalated"} 7' in body
    assert 'banksight_conversations_started{outcome="assistant_only"} 2' in body
    assert "# TYPE banksight_conversations_escalated_ratio gauge" in body


def test_metrics_without_data_leave_quantiles_out(client, settings):
    settings.METRICS_TOKEN = TOKEN
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert "# TYPE banksight_handoff_first_response_seconds gauge" in body
    assert "banksight_handoff_first_response_seconds{" not in body
    assert 'banksight_handoff_queue_length{priority="normal"} 0' in body


def test_metrics_for_a_verified_staff_session_outside_production(staff_client, settings):
    settings.METRICS_TOKEN = ""
    client, _ = staff_client(Role.SUPPORT_AGENT)
    assert client.get("/metrics").status_code == 200
    kyc_client, _ = staff_client(Role.KYC_OFFICER)  # no chat.view_handoff_metrics
    assert kyc_client.get("/metrics").status_code == 401


def test_metrics_unverified_staff_and_customers_are_refused(client, staff, customer, settings):
    settings.METRICS_TOKEN = ""
    client.force_login(staff)  # signed in, no second factor
    assert client.get("/metrics").status_code == 401
    client.force_login(customer)
    assert client.get("/metrics").status_code == 401


def test_metrics_in_production(client, staff_client, settings):
    settings.PRODUCTION = True
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    settings.METRICS_TOKEN = TOKEN
    staff, _ = staff_client(Role.ADMINISTRATOR)
    assert staff.get("/metrics").status_code == 401  # production: the token only
    assert staff.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
