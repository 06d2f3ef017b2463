"""The model registry: selectors and services for backends, call metrics and benchmarks.

Reads: `model_backend_chain` (what the client tries, in order), `model_backend_overview`
(per-backend metrics from `InferenceCall` rows, percentiles computed by PostgreSQL),
`benchmark_summary`. Writes: `model_backend_upsert`, `model_backend_activate` (audited:
`ModelBackend` is registered with the audit trail), `inference_call_record`,
`benchmark_run_request` / `benchmark_run_execute`, and the every-N trigger `benchmark_tick`.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Aggregate, Count, F, FloatField, Q, QuerySet, Sum
from django.utils import timezone

from apps.chat.models import BenchmarkResult, BenchmarkRun, InferenceCall, ModelBackend
from apps.compliance.audit import audit_actor_bind
from banksight.errors import BankError

logger = logging.getLogger(__name__)

BENCHMARK_COUNTER_KEY = "inference:benchmark:requests"
# A run still pending or running after this long is taken as lost (its worker died).
BENCHMARK_STALE_AFTER = timedelta(minutes=30)
BENCHMARK_MAX_TOKENS = 48

_SYSTEM = (
    "You are BankSight's assistant. Answer in one or two short sentences, using only these "
    "facts. Facts: the current account has a balance of 1,240.50 GBP. The savings account "
    "pays 3.1% interest a year. Card payments abroad cost no fee. Branches open 9:00-17:00 "
    "Monday to Friday. A frozen card can be unfrozen at any time in the app."
)
# The fixed prompt set: short banking questions, the same for every backend and every run.
BENCHMARK_PROMPTS: list[str] = [
    "What is the balance of my current account?",
    "How much interest does the savings account pay?",
    "Do I pay a fee for card payments abroad?",
    "When are the branches open?",
    "I froze my card by mistake. Can I unfreeze it?",
    "Summarise my accounts in one sentence.",
]


def benchmark_messages(prompt: str) -> list[dict]:
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]


class ModelBackendNotFound(BankError):
    code = "not_found"
    status = HTTPStatus.NOT_FOUND
    default_message = "There is no model backend with that name."


class BenchmarkRunNotFound(BankError):
    code = "not_found"
    status = HTTPStatus.NOT_FOUND
    default_message = "There is no such benchmark run."


class ModelBackendDisabled(BankError):
    code = "invalid_state"
    status = HTTPStatus.CONFLICT
    default_message = "A disabled backend cannot be made active."


# --- Selectors: backends ------------------------------------------------------------------


def model_backend_list() -> QuerySet[ModelBackend]:
    return ModelBackend.objects.all()


def model_backend_get(*, name: str) -> ModelBackend:
    backend = ModelBackend.objects.filter(name=name).first()
    if backend is None:
        raise ModelBackendNotFound(f"There is no model backend named {name!r}.")
    return backend


def model_backend_chain(*, name: str | None = None) -> list[ModelBackend]:
    """The backends to try, in order: the active one, then the fallback chain.

    With `name`, that backend alone (enabled or not): a forced call never falls back.
    """
    if name is not None:
        return [model_backend_get(name=name)]
    return list(
        ModelBackend.objects.filter(enabled=True)
        .filter(Q(is_active=True) | Q(fallback_order__isnull=False))
        .order_by("-is_active", F("fallback_order").asc(nulls_last=True), "name")
    )


# --- Selectors: metrics -------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(p) WITHIN GROUP (ORDER BY expr)`: interpolated."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float, **extra):
        fraction = float(fraction)  # formatted into the SQL: a number and nothing else
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=repr(fraction), **extra)


@dataclass
class BackendMetrics:
    requests: int = 0
    errors: int = 0
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    tokens_per_s: float | None = None
    completion_tokens: int = 0

    @property
    def ok_count(self) -> int:
        return self.requests - self.errors

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def _metric_aggregates() -> dict:
    ok = Q(ok=True)
    timed = ok & Q(ttft_ms__isnull=False) & Q(completion_tokens__gt=0)
    return {
        "requests": Count("id"),
        "errors": Count("id", filter=Q(ok=False)),
        "ttft_p50_ms": PercentileCont("ttft_ms", fraction=0.5, filter=ok),
        "ttft_p99_ms": PercentileCont("ttft_ms", fraction=0.99, filter=ok),
        "latency_p50_ms": PercentileCont("latency_ms", fraction=0.5, filter=ok),
        "latency_p99_ms": PercentileCont("latency_ms", fraction=0.99, filter=ok),
        # Not named completion_tokens: F("completion_tokens") below must mean the column.
        "tokens_total": Sum("completion_tokens", filter=ok, default=0),
        # Generation speed: tokens after the first, over the time after the first token.
        "decode_tokens": Sum(F("completion_tokens") - 1, filter=timed),
        "decode_ms": Sum(F("latency_ms") - F("ttft_ms"), filter=timed, output_field=FloatField()),
    }


def _metrics_from(row: dict) -> BackendMetrics:
    decode_ms = row.pop("decode_ms") or 0
    decode_tokens = row.pop("decode_tokens") or 0
    row.pop("backend_id", None)
    row["completion_tokens"] = row.pop("tokens_total")
    metrics = BackendMetrics(**row)
    if decode_ms > 0 and decode_tokens > 0:
        metrics.tokens_per_s = decode_tokens / (decode_ms / 1000)
    return metrics


def inference_metrics(
    *, since: datetime | None = None, purposes: list[str] | None = None
) -> dict[int, BackendMetrics]:
    """Per backend id: requests, errors, TTFT and latency p50/p99, tokens/s (one query)."""
    calls = InferenceCall.objects.all()
    if since is not None:
        calls = calls.filter(started_at__gte=since)
    if purposes is not None:
        calls = calls.filter(purpose__in=purposes)
    rows = calls.values("backend_id").annotate(**_metric_aggregates()).order_by()
    return {row["backend_id"]: _metrics_from(dict(row)) for row in rows}


@dataclass
class BackendOverview:
    backend: ModelBackend
    metrics: BackendMetrics
    breaker: str


def model_backend_overview(*, since: datetime | None) -> list[BackendOverview]:
    """Every backend with its live metrics (customer traffic only) and breaker state."""
    from apps.chat.inference import CircuitBreaker

    metrics = inference_metrics(
        since=since,
        purposes=[
            InferenceCall.Purpose.CHAT,
            InferenceCall.Purpose.SUMMARY,
            InferenceCall.Purpose.ACTION,
        ],
    )
    return [
        BackendOverview(
            backend=backend,
            metrics=metrics.get(backend.id, BackendMetrics()),
            breaker=CircuitBreaker(backend.name).state(),
        )
        for backend in model_backend_list()
    ]


# --- Selectors: benchmarks ----------------------------------------------------------------


def benchmark_run_list(*, limit: int = 20) -> QuerySet[BenchmarkRun]:
    return BenchmarkRun.objects.select_related("requested_by")[:limit]


def benchmark_run_get(*, run_id) -> BenchmarkRun:
    run = BenchmarkRun.objects.select_related("requested_by").filter(pk=run_id).first()
    if run is None:
        raise BenchmarkRunNotFound()
    return run


def benchmark_result_list(*, run: BenchmarkRun) -> QuerySet[BenchmarkResult]:
    return run.results.select_related("backend").order_by("backend__name")


@dataclass
class BenchmarkSummary:
    # The latest finished run, and every backend beside its latest result (from that run,
    # or an older one when the last run skipped the backend; None if never measured).
    run: BenchmarkRun | None
    rows: list[tuple[ModelBackend, BenchmarkResult | None]]


def benchmark_summary() -> BenchmarkSummary:
    run = BenchmarkRun.objects.filter(status=BenchmarkRun.Status.DONE).first()
    latest = {
        result.backend_id: result
        for result in BenchmarkResult.objects.filter(run__status=BenchmarkRun.Status.DONE)
        .select_related("run")
        .order_by("backend_id", "-run__created_at")
        .distinct("backend_id")
    }
    rows = [(backend, latest.get(backend.id)) for backend in model_backend_list()]
    return BenchmarkSummary(run=run, rows=rows)


# --- Services: backends -------------------------------------------------------------------


NEW_BACKEND_PARAMETERS = {"temperature": 0.2, "top_p": 0.9}


@transaction.atomic
def model_backend_upsert(
    *,
    name: str,
    kind: str,
    base_url: str,
    model: str,
    label: str = "",
    parameters: dict | None = None,
    fallback_order: int | None = None,
    supports_json_schema: bool = True,
    first_token_timeout_s: float | None = None,
    request_timeout_s: float | None = None,
) -> ModelBackend:
    """Create a backend, or point an existing one at a new URL/model (audited)."""
    backend = ModelBackend.objects.select_for_update().filter(name=name).first()
    if backend is None:
        # Grounded answers about money: little randomness unless staff choose otherwise.
        backend = ModelBackend(name=name, parameters=dict(NEW_BACKEND_PARAMETERS))
    backend.kind = kind
    backend.base_url = base_url
    backend.model = model
    backend.label = label or backend.label
    if parameters is not None:
        backend.parameters = parameters
    backend.fallback_order = fallback_order
    backend.supports_json_schema = supports_json_schema
    if first_token_timeout_s is not None:
        backend.first_token_timeout_s = first_token_timeout_s
    if request_timeout_s is not None:
        backend.request_timeout_s = request_timeout_s
    backend.full_clean()
    backend.save()
    return backend


@transaction.atomic
def model_backend_activate(*, backend: ModelBackend, actor) -> ModelBackend:
    """Make `backend` the active one. Both changed rows land in the audit trail."""
    audit_actor_bind(actor=actor)
    # Lock the current and the new active row in pk order: two switches never interleave.
    rows = list(
        ModelBackend.objects.select_for_update()
        .filter(Q(is_active=True) | Q(pk=backend.pk))
        .order_by("pk")
    )
    target = next((row for row in rows if row.pk == backend.pk), None)
    if target is None:
        raise ModelBackendNotFound()
    if not target.enabled:
        raise ModelBackendDisabled()
    if target.is_active:
        return target
    for row in rows:
        if row.is_active:
            row.is_active = False
            row.save(update_fields=["is_active", "updated_at"])
    target.is_active = True
    target.save(update_fields=["is_active", "updated_at"])
    logger.info("model backend activated", extra={"backend": target.name, "actor": actor.pk})
    return target


def model_backend_activate_first_if_none(*, name: str, actor) -> ModelBackend | None:
    """Activate `name` unless some backend already is (a staff choice survives restarts)."""
    if ModelBackend.objects.filter(is_active=True).exists():
        return None
    return model_backend_activate(backend=model_backend_get(name=name), actor=actor)


# --- Services: calls and benchmarks -------------------------------------------------------


def inference_call_record(
    *,
    backend: ModelBackend,
    purpose: str,
    started_at: datetime,
    ttft_ms: float | None,
    latency_ms: float,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    usage_estimated: bool,
    ok: bool,
    error_code: str,
    finish_reason: str,
    benchmark_run_id=None,
) -> InferenceCall:
    return InferenceCall.objects.create(
        backend=backend,
        purpose=purpose,
        started_at=started_at,
        ttft_ms=ttft_ms,
        latency_ms=latency_ms,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        usage_estimated=usage_estimated,
        ok=ok,
        error_code=str(error_code)[:32],
        finish_reason=finish_reason[:16],
        benchmark_run_id=benchmark_run_id,
    )


def benchmark_every_n() -> int:
    return int(getattr(settings, "ASSISTANT_BENCHMARK_EVERY_N_REQUESTS", 500))


def benchmark_tick() -> BenchmarkRun | None:
    """Count one request; every N-th one asks for a benchmark run (0 turns this off)."""
    every = benchmark_every_n()
    if every <= 0:
        return None
    try:
        cache.add(BENCHMARK_COUNTER_KEY, 0, timeout=None)
        count = cache.incr(BENCHMARK_COUNTER_KEY)
    except Exception:  # noqa: BLE001 - a missed count must never fail an answer
        logger.warning("benchmark counter unavailable")
        return None
    if count % every:
        return None
    try:
        return benchmark_run_request(trigger=BenchmarkRun.Trigger.EVERY_N)
    except DatabaseError:  # its own savepoint: the caller's transaction stays usable
        logger.exception("could not queue the every-N benchmark")
        return None


def benchmark_run_request(*, trigger: str, actor=None) -> BenchmarkRun:
    """Queue a benchmark run, or return the one already waiting or running."""
    with transaction.atomic():
        stale = timezone.now() - BENCHMARK_STALE_AFTER
        BenchmarkRun.objects.filter(
            status__in=[BenchmarkRun.Status.PENDING, BenchmarkRun.Status.RUNNING],
            created_at__lt=stale,
        ).update(status=BenchmarkRun.Status.FAILED, error="lost: no worker finished it")
        current = BenchmarkRun.objects.filter(
            status__in=[BenchmarkRun.Status.PENDING, BenchmarkRun.Status.RUNNING]
        ).first()
        if current is not None:
            return current
        run = BenchmarkRun.objects.create(
            trigger=trigger, requested_by=actor, prompt_count=len(BENCHMARK_PROMPTS)
        )

        def enqueue() -> None:
            from apps.chat.registry_tasks import benchmark_run_task

            benchmark_run_task.delay(run_id=str(run.pk))

        transaction.on_commit(enqueue)
    return run


def benchmark_run_execute(*, run_id, prompts: list[str] | None = None) -> BenchmarkRun | None:
    """Run the prompt set against every enabled backend, one prompt at a time.

    Idempotent: only a pending run starts (a redelivered task finds it running or done).
    """
    from apps.chat.inference import InferenceError, chat_stream

    prompts = BENCHMARK_PROMPTS if prompts is None else prompts
    started = BenchmarkRun.objects.filter(pk=run_id, status=BenchmarkRun.Status.PENDING).update(
        status=BenchmarkRun.Status.RUNNING, started_at=timezone.now(), prompt_count=len(prompts)
    )
    if not started:
        return None
    run = BenchmarkRun.objects.get(pk=run_id)
    backends = list(ModelBackend.objects.filter(enabled=True).order_by("name"))
    try:
        for backend in backends:
            for prompt in prompts:
                # A failure is recorded as a failed call and counts in the result's errors.
                with contextlib.suppress(InferenceError):
                    chat_stream(
                        messages=benchmark_messages(prompt),
                        purpose=InferenceCall.Purpose.BENCHMARK,
                        on_token=lambda _delta: None,
                        max_tokens=BENCHMARK_MAX_TOKENS,
                        backend=backend.name,
                        first_token_deadline_s=backend.first_token_timeout_s,
                        benchmark_run_id=run.pk,
                    )
        _benchmark_results_store(run=run, backends=backends, prompt_count=len(prompts))
    except Exception as error:
        BenchmarkRun.objects.filter(pk=run.pk).update(
            status=BenchmarkRun.Status.FAILED, finished_at=timezone.now(), error=str(error)[:300]
        )
        raise
    BenchmarkRun.objects.filter(pk=run.pk).update(
        status=BenchmarkRun.Status.DONE, finished_at=timezone.now()
    )
    run.refresh_from_db()
    return run


def _benchmark_results_store(
    *, run: BenchmarkRun, backends: list[ModelBackend], prompt_count: int
) -> None:
    """A prompt that produced no successful call is an error, also when it was never sent
    (circuit open): the figures are over the successful calls."""
    rows = (
        InferenceCall.objects.filter(benchmark_run=run)
        .values("backend_id")
        .annotate(**_metric_aggregates())
        .order_by()
    )
    metrics = {row["backend_id"]: _metrics_from(dict(row)) for row in rows}
    BenchmarkResult.objects.bulk_create(
        [
            BenchmarkResult(
                run=run,
                backend=backend,
                model=backend.model,
                prompts=prompt_count,
                errors=prompt_count - (m := metrics.get(backend.id, BackendMetrics())).ok_count,
                ttft_p50_ms=m.ttft_p50_ms,
                ttft_p99_ms=m.ttft_p99_ms,
                latency_p50_ms=m.latency_p50_ms,
                latency_p99_ms=m.latency_p99_ms,
                tokens_per_s=m.tokens_per_s,
                completion_tokens=m.completion_tokens,
            )
            for backend in backends
        ]
    )
