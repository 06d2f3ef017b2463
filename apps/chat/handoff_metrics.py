"""Handoff metrics for the staff home page and for Prometheus: reads only, a few queries.

Definitions (window = [since, until)):

- queue: conversations waiting for a person now (status escalated), per priority, and the
  longest wait; conversations held by an agent now; agents available now.
- first response: for each first human response in the window, the time since the
  escalation it answered (HandoffEvent first_response minus the latest escalated event
  before it); p50 and p95, interpolated (PostgreSQL percentile_cont).
- handle time: for each conversation an agent closed or handed back in the window, the time
  since it was assigned (the latest assigned event before it; transfers don't restart it).
- target breaches: first responses in the window later than their priority's target
  (settings.HANDOFF_FIRST_RESPONSE_TARGET_SECONDS), plus conversations still unanswered
  now past their target.
- satisfaction: average rating and count of the surveys submitted in the window.
- assistant-resolved vs escalated: conversations started in the window that never asked for
  a person, and those that did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Min,
    OuterRef,
    Q,
    Subquery,
)
from django.utils import timezone

from apps.chat.handoff import first_response_target
from apps.chat.models import (
    AgentPresence,
    Conversation,
    HandoffEvent,
    SatisfactionSurvey,
)
from apps.chat.registry import PercentileCont

PRIORITIES = list(Conversation.Priority)


class Epoch(Func):
    """Seconds in a PostgreSQL interval, as a float."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def day_start(moment: datetime | None = None) -> datetime:
    """Midnight of today (or of `moment`'s day) in the project's time zone."""
    day = timezone.localdate(moment)
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass
class QueueSnapshot:
    waiting_by_priority: dict[str, int] = field(default_factory=dict)
    longest_wait_seconds: float | None = None
    with_agent: int = 0
    agents_available: int = 0

    @property
    def waiting(self) -> int:
        return sum(self.waiting_by_priority.values())

    @property
    def waiting_rows(self) -> list[tuple[str, str, int]]:
        """(value, label, count) per priority, most urgent first: for templates."""
        return [(p.value, p.label, self.waiting_by_priority.get(p.value, 0)) for p in PRIORITIES]


@dataclass
class HandoffMetrics:
    since: datetime
    until: datetime
    queue: QueueSnapshot
    first_responses: int = 0
    first_response_p50_s: float | None = None
    first_response_p95_s: float | None = None
    handled: int = 0
    handle_p50_s: float | None = None
    handle_p95_s: float | None = None
    breaches_answered_late: int = 0
    breaches_unanswered: int = 0
    satisfaction_average: float | None = None
    satisfaction_count: int = 0
    conversations_started: int = 0
    conversations_escalated: int = 0

    @property
    def breaches(self) -> int:
        return self.breaches_answered_late + self.breaches_unanswered

    @property
    def conversations_assistant_only(self) -> int:
        return self.conversations_started - self.conversations_escalated

    @property
    def escalated_share(self) -> float | None:
        if not self.conversations_started:
            return None
        return self.conversations_escalated / self.conversations_started

    @property
    def assistant_resolved_share(self) -> float | None:
        share = self.escalated_share
        return None if share is None else 1 - share


def queue_snapshot(*, now: datetime | None = None) -> QueueSnapshot:
    now = now or timezone.now()
    waiting = Q(status=Conversation.Status.ESCALATED)
    counts = {p.value: Count("id", filter=waiting & Q(priority=p.value)) for p in PRIORITIES}
    row = Conversation.objects.filter(
        status__in=[Conversation.Status.ESCALATED, Conversation.Status.WITH_AGENT]
    ).aggregate(
        **counts,
        oldest=Min("escalated_at", filter=waiting),
        with_agent=Count("id", filter=Q(status=Conversation.Status.WITH_AGENT)),
    )
    oldest = row.pop("oldest")
    with_agent = row.pop("with_agent")
    available = AgentPresence.objects.filter(
        status=AgentPresence.Status.AVAILABLE, user__is_active=True
    ).count()
    return QueueSnapshot(
        waiting_by_priority=row,
        longest_wait_seconds=max((now - oldest).total_seconds(), 0) if oldest else None,
        with_agent=with_agent,
        agents_available=available,
    )


def _latest_before(kind: str) -> Subquery:
    """The time of the latest `kind` event of the same conversation up to this event."""
    return Subquery(
        HandoffEvent.objects.filter(
            conversation=OuterRef("conversation"),
            kind=kind,
            created_at__lte=OuterRef("created_at"),
        )
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )


def _seconds_since(kind: str) -> Epoch:
    return Epoch(
        ExpressionWrapper(F("created_at") - _latest_before(kind), output_field=DurationField())
    )


def _late(field_name: str) -> Q:
    """Rows whose `field_name` (seconds) exceeds their conversation priority's target."""
    late = Q()
    for priority in PRIORITIES:
        late |= Q(
            conversation__priority=priority.value,
            **{f"{field_name}__gt": first_response_target(priority.value)},
        )
    return late


def _unanswered_past_target(now: datetime) -> int:
    overdue = Q()
    for priority in PRIORITIES:
        target = timedelta(seconds=first_response_target(priority.value))
        overdue |= Q(priority=priority.value, escalated_at__lt=now - target)
    return (
        Conversation.objects.filter(
            status__in=[Conversation.Status.ESCALATED, Conversation.Status.WITH_AGENT],
            first_agent_response_at__isnull=True,
            escalated_at__isnull=False,
        )
        .filter(overdue)
        .count()
    )


def handoff_metrics(*, since: datetime, until: datetime | None = None) -> HandoffMetrics:
    now = timezone.now()
    until = until or now
    in_window = Q(created_at__gte=since, created_at__lt=until)

    responses = (
        HandoffEvent.objects.filter(in_window, kind=HandoffEvent.Kind.FIRST_RESPONSE)
        .annotate(waited_s=_seconds_since(HandoffEvent.Kind.ESCALATED))
        .aggregate(
            n=Count("id", filter=Q(waited_s__isnull=False)),
            p50=PercentileCont("waited_s", fraction=0.5),
            p95=PercentileCont("waited_s", fraction=0.95),
            late=Count("id", filter=_late("waited_s")),
        )
    )
    handling = (
        HandoffEvent.objects.filter(
            in_window, kind__in=[HandoffEvent.Kind.CLOSED, HandoffEvent.Kind.HANDED_BACK]
        )
        .annotate(handled_s=_seconds_since(HandoffEvent.Kind.ASSIGNED))
        .aggregate(
            n=Count("id", filter=Q(handled_s__isnull=False)),
            p50=PercentileCont("handled_s", fraction=0.5),
            p95=PercentileCont("handled_s", fraction=0.95),
        )
    )
    surveys = SatisfactionSurvey.objects.filter(in_window).aggregate(
        average=Avg("rating", output_field=FloatField()), n=Count("id")
    )
    started = Conversation.objects.filter(in_window).aggregate(
        n=Count("id"), escalated=Count("id", filter=Q(escalated_at__isnull=False))
    )
    return HandoffMetrics(
        since=since,
        until=until,
        queue=queue_snapshot(now=now),
        first_responses=responses["n"],
        first_response_p50_s=responses["p50"],
        first_response_p95_s=responses["p95"],
        handled=handling["n"],
        handle_p50_s=handling["p50"],
        handle_p95_s=handling["p95"],
        breaches_answered_late=responses["late"],
        breaches_unanswered=_unanswered_past_target(now),
        satisfaction_average=surveys["average"],
        satisfaction_count=surveys["n"],
        conversations_started=started["n"],
        conversations_escalated=started["escalated"],
    )


def agent_open_count(*, agent) -> int:
    return Conversation.objects.filter(
        status=Conversation.Status.WITH_AGENT, assigned_agent=agent
    ).count()


# --- Prometheus ----------------------------------------------------------------------------

PROMETHEUS_WINDOW = timedelta(hours=24)


def prometheus_metrics(*, now: datetime | None = None) -> list:
    """The handoff's gauges for /metrics (banksight.metrics): the queue now, and the rest
    over the last 24 hours (PROMETHEUS_WINDOW)."""
    from banksight.metrics import Metric

    now = now or timezone.now()
    m = handoff_metrics(since=now - PROMETHEUS_WINDOW, until=now)
    queue = m.queue
    short = {p.value: p.name.lower() for p in PRIORITIES}
    window = "over the last 24 hours"

    def ms(seconds):  # percentile_cont interpolates in float8: 859.9999999999999
        return None if seconds is None else round(seconds, 3)

    def quantiles(p50, p95):
        return [({"quantile": "0.5"}, ms(p50)), ({"quantile": "0.95"}, ms(p95))]

    return [
        Metric(
            "banksight_handoff_queue_length",
            "Conversations waiting for a person now, by priority.",
            [({"priority": short[value]}, count) for value, _, count in queue.waiting_rows],
        ),
        Metric(
            "banksight_handoff_longest_wait_seconds",
            "How long the longest-waiting conversation in the queue has waited.",
            [({}, ms(queue.longest_wait_seconds) or 0)],
        ),
        Metric(
            "banksight_handoff_with_agent",
            "Conversations held by an agent now.",
            [({}, queue.with_agent)],
        ),
        Metric(
            "banksight_handoff_agents_available",
            "Agents available to take conversations now.",
            [({}, queue.agents_available)],
        ),
        Metric(
            "banksight_handoff_first_response_seconds",
            f"Time from escalation to the first human response, {window}.",
            quantiles(m.first_response_p50_s, m.first_response_p95_s),
        ),
        Metric(
            "banksight_handoff_first_responses",
            f"First human responses {window}.",
            [({}, m.first_responses)],
        ),
        Metric(
            "banksight_handoff_handle_seconds",
            f"Time from assignment to closing or handing back, {window}.",
            quantiles(m.handle_p50_s, m.handle_p95_s),
        ),
        Metric(
            "banksight_handoff_handled",
            f"Conversations closed or handed back by an agent {window}.",
            [({}, m.handled)],
        ),
        Metric(
            "banksight_handoff_target_breaches",
            f"First responses later than their target {window} (answered), and conversations "
            "unanswered past their target now (unanswered).",
            [
                ({"state": "answered"}, m.breaches_answered_late),
                ({"state": "unanswered"}, m.breaches_unanswered),
            ],
        ),
        Metric(
            "banksight_handoff_satisfaction_average",
            f"Average satisfaction rating (1 to 5) {window}.",
            [({}, m.satisfaction_average)],
        ),
        Metric(
            "banksight_handoff_satisfaction_responses",
            f"Satisfaction surveys submitted {window}.",
            [({}, m.satisfaction_count)],
        ),
        Metric(
            "banksight_conversations_started",
            f"Conversations started {window}, by whether they asked for a person.",
            [
                ({"outcome": "assistant_only"}, m.conversations_assistant_only),
                ({"outcome": "escalated"}, m.conversations_escalated),
            ],
        ),
        Metric(
            "banksight_conversations_escalated_ratio",
            f"Share of the conversations started {window} that asked for a person.",
            [({}, m.escalated_share)],
        ),
    ]
