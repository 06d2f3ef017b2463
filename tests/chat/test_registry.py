"""The model registry: the chain, switching (audited, permissioned), metrics, benchmarks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.roles import Role
from apps.chat import registry
from apps.chat.models import BenchmarkResult, BenchmarkRun, InferenceCall, ModelBackend
from apps.chat.registry_tasks import benchmark_run_task
from tests.chat.fake_openai import closed_port_url
from tests.helpers import PASSWORD

pytestmark = pytest.mark.django_db

SUMMARY_URL = "/api/v1/assistant/benchmarks/summary"


def make_backend(name: str, **fields) -> ModelBackend:
    defaults = {
        "kind": ModelBackend.Kind.VLLM,
        "base_url": f"http://{name}.invalid:8001/v1",
        "model": f"{name}-model",
    }
    return ModelBackend.objects.create(name=name, **{**defaults, **fields})


def call(backend, *, latency, ttft=None, ok=True, tokens=None, purpose="chat", ago=None):
    return InferenceCall.objects.create(
        backend=backend,
        purpose=purpose,
        started_at=timezone.now() - (ago or timedelta(0)),
        latency_ms=latency,
        ttft_ms=ttft,
        completion_tokens=tokens,
        ok=ok,
        error_code="" if ok else "timeout",
    )


# --- The chain and switching --------------------------------------------------------------


def test_the_chain_is_the_active_backend_then_the_fallbacks_in_order():
    make_backend("c", fallback_order=2)
    make_backend("a", fallback_order=1)
    make_backend("active", is_active=True, fallback_order=5)
    make_backend("outside")  # no fallback_order
    make_backend("off", fallback_order=0, enabled=False)
    assert [b.name for b in registry.model_backend_chain()] == ["active", "a", "c"]
    assert [b.name for b in registry.model_backend_chain(name="off")] == ["off"]
    with pytest.raises(registry.ModelBackendNotFound):
        registry.model_backend_chain(name="missing")


def test_the_database_allows_one_active_backend_and_only_an_enabled_one():
    make_backend("one", is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_backend("two", is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_backend("three", is_active=True, enabled=False)


def test_activate_switches_the_active_backend_and_audits_both_rows(administrator):
    old = make_backend("old", is_active=True)
    new = make_backend("new")
    registry.model_backend_activate(backend=new, actor=administrator)
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.is_active, new.is_active) == (False, True)
    for row in (old, new):
        entry = LogEntry.objects.get_for_object(row).filter(action=LogEntry.Action.UPDATE).get()
        assert "is_active" in entry.changes_dict


def test_a_disabled_backend_cannot_be_activated(administrator):
    active = make_backend("active", is_active=True)
    disabled = make_backend("disabled", enabled=False)
    with pytest.raises(registry.ModelBackendDisabled):
        registry.model_backend_activate(backend=disabled, actor=administrator)
    active.refresh_from_db()
    assert active.is_active


# --- Metrics ------------------------------------------------------------------------------


def test_metrics_are_percentiles_error_counts_and_generation_speed_per_backend():
    first = make_backend("first", is_active=True)
    second = make_backend("second")
    for ms in range(1, 101):  # latency 1..100 ms, first token at a tenth of it
        call(first, latency=ms, ttft=ms / 10, tokens=11)
    call(first, latency=5000, ok=False)
    call(first, latency=9999, ttft=1, tokens=5, purpose="benchmark")  # not customer traffic
    call(second, latency=70, ttft=20, tokens=6, ago=timedelta(days=2))  # outside the window

    rows = {row.backend.name: row for row in registry.model_backend_overview(since=None)}
    m = rows["first"].metrics
    assert (m.requests, m.errors) == (101, 1)
    assert m.latency_p50_ms == pytest.approx(50.5)
    assert m.latency_p99_ms == pytest.approx(99.01)
    assert m.ttft_p50_ms == pytest.approx(5.05)
    # 10 tokens after the first, over (latency - ttft) summed: 1000 tokens in 4545 ms.
    assert m.tokens_per_s == pytest.approx(1000 / (sum(range(1, 101)) * 0.9 / 1000))
    assert rows["first"].breaker == "closed"
    assert rows["second"].metrics.requests == 1

    recent = registry.model_backend_overview(since=timezone.now() - timedelta(hours=24))
    assert {row.backend.name: row.metrics.requests for row in recent} == {"first": 101, "second": 0}


# --- Benchmarks ---------------------------------------------------------------------------


def test_a_benchmark_run_measures_every_enabled_backend(model_backends):
    make_backend("dead", base_url=closed_port_url(), first_token_timeout_s=2)
    make_backend("off", enabled=False)
    run = BenchmarkRun.objects.create(trigger=BenchmarkRun.Trigger.COMMAND)

    done = registry.benchmark_run_execute(run_id=run.pk, prompts=registry.BENCHMARK_PROMPTS[:2])

    assert done.status == BenchmarkRun.Status.DONE
    assert done.finished_at is not None
    results = {r.backend.name: r for r in BenchmarkResult.objects.filter(run=run)}
    assert set(results) == {"smollm2", "dead"}
    smollm2 = results["smollm2"]
    assert (smollm2.prompts, smollm2.errors) == (2, 0)
    assert smollm2.ttft_p50_ms > 0
    assert smollm2.latency_p99_ms >= smollm2.latency_p50_ms
    assert smollm2.tokens_per_s > 0
    assert (results["dead"].prompts, results["dead"].errors) == (2, 2)
    assert results["dead"].ttft_p50_ms is None
    calls = InferenceCall.objects.filter(benchmark_run=run, purpose="benchmark")
    assert calls.count() == 4
    # A redelivered task finds the run done and leaves it alone.
    assert registry.benchmark_run_execute(run_id=run.pk) is None


def test_the_task_runs_a_queued_benchmark(model_backends):
    run = BenchmarkRun.objects.create(trigger=BenchmarkRun.Trigger.MANUAL, prompt_count=6)
    result = benchmark_run_task.apply(kwargs={"run_id": str(run.pk)})
    assert result.get() == "done"
    assert BenchmarkResult.objects.get(run=run).prompts == len(registry.BENCHMARK_PROMPTS)


def test_requesting_a_benchmark_queues_one_run_at_a_time(
    administrator, django_capture_on_commit_callbacks
):
    lost = BenchmarkRun.objects.create(trigger="manual", status=BenchmarkRun.Status.RUNNING)
    BenchmarkRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks() as callbacks:
        run = registry.benchmark_run_request(trigger="manual", actor=administrator)
        again = registry.benchmark_run_request(trigger="every_n")
    assert again == run
    assert (run.status, run.requested_by) == ("pending", administrator)
    assert len(callbacks) == 1
    lost.refresh_from_db()
    assert lost.status == "failed"


# --- The staff pages ----------------------------------------------------------------------


@pytest.fixture
def verified(make_user, verified_client):
    def sign_in(role: Role):
        return verified_client(make_user(role))

    return sign_in


def test_compliance_sees_backends_side_by_side_but_cannot_switch(verified):
    primary = make_backend("primary", label="Primary model", is_active=True)
    make_backend("spare", label="Spare model")
    call(primary, latency=100, ttft=20, tokens=9)
    call(primary, latency=300, ok=False)
    client = verified(Role.COMPLIANCE_OFFICER)
    page = client.get("/staff/assistant/backends/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "100 / 100 ms" in html  # latency p50 / p99 of the one successful call
    assert "(50%)" in html  # one error in two requests
    assert "100.0" in html  # 8 tokens after the first in 80 ms
    assert "Primary model" in html
    assert "Spare model" in html
    assert "Make spare active" not in html
    assert client.post("/staff/assistant/backends/spare/activate/").status_code == 403
    assert client.post("/staff/assistant/benchmarks/run/").status_code == 403
    assert ModelBackend.objects.get(is_active=True).name == "primary"
    assert client.get("/staff/assistant/benchmarks/").status_code == 200


def test_an_administrator_switches_the_active_backend_and_the_trail_names_them(verified):
    make_backend("primary", is_active=True)
    spare = make_backend("spare")
    client = verified(Role.ADMINISTRATOR)
    assert "Make spare active" in client.get("/staff/assistant/backends/").content.decode()
    response = client.post("/staff/assistant/backends/spare/activate/")
    assert response.status_code == 302
    assert ModelBackend.objects.get(is_active=True) == spare
    entry = LogEntry.objects.get_for_object(spare).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor.role == Role.ADMINISTRATOR
    assert entry.cid == response["X-Request-ID"]


def test_an_administrator_queues_a_benchmark_and_reads_its_page(
    verified, django_capture_on_commit_callbacks
):
    make_backend("primary", is_active=True)
    client = verified(Role.ADMINISTRATOR)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/staff/assistant/benchmarks/run/")
    run = BenchmarkRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/assistant/benchmarks/{run.pk}/"
    assert len(callbacks) == 1
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("role", [Role.SUPPORT_AGENT, Role.FRAUD_ANALYST, Role.KYC_OFFICER])
def test_other_staff_get_403_on_the_registry_pages(verified, role):
    client = verified(role)
    for path in ("/staff/assistant/backends/", "/staff/assistant/benchmarks/"):
        assert client.get(path).status_code == 403


# --- The summary API ----------------------------------------------------------------------


def finished_run_with(backend: ModelBackend, **figures) -> BenchmarkRun:
    run = BenchmarkRun.objects.create(
        trigger="manual", status="done", prompt_count=6, finished_at=timezone.now()
    )
    BenchmarkResult.objects.create(
        run=run, backend=backend, model=backend.model, prompts=6, errors=0, **figures
    )
    return run


def test_the_summary_compares_every_backend_with_its_latest_result(verified):
    primary = make_backend("primary", label="Primary", is_active=True)
    make_backend("never")
    old = finished_run_with(primary, tokens_per_s=10.0)
    BenchmarkRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=1))
    latest = finished_run_with(primary, tokens_per_s=80.0, ttft_p50_ms=120.0)

    response = verified(Role.COMPLIANCE_OFFICER).get(SUMMARY_URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["run"]["id"] == str(latest.pk)
    by_name = {row["name"]: row for row in body["backends"]}
    assert by_name["primary"]["tokens_per_s"] == 80.0
    assert by_name["primary"]["ttft_p50_ms"] == 120.0
    assert by_name["primary"]["is_active"] is True
    assert by_name["never"]["run_id"] is None
    assert by_name["never"]["tokens_per_s"] is None


def test_the_summary_with_no_runs_yet(verified):
    response = verified(Role.ADMINISTRATOR).get(SUMMARY_URL)
    assert response.json() == {"run": None, "backends": []}


def test_the_summary_is_closed_to_customers_and_anonymous_callers(client, customer):
    assert client.get(SUMMARY_URL).status_code == 401
    token = client.post(
        "/api/v1/auth/token/",
        {"username": customer.username, "password": PASSWORD},
        content_type="application/json",
    ).json()["access"]
    response = client.get(SUMMARY_URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    client.force_login(customer)
    assert client.get(SUMMARY_URL).status_code == 403


def test_the_summary_needs_a_verified_second_factor_and_the_permission(client, make_user, verified):
    officer = make_user(Role.COMPLIANCE_OFFICER)
    TOTPDevice.objects.create(user=officer, name="phone", confirmed=True)
    client.force_login(officer)  # password only: the session is not verified
    unverified = client.get(SUMMARY_URL)  # refused as not signed in (issue 12, item 7)
    assert unverified.status_code == 401
    assert unverified.json()["code"] == "mfa_required"
    assert verified(Role.SUPPORT_AGENT).get(SUMMARY_URL).status_code == 403


def test_the_openapi_schema_documents_the_summary(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    operation = response.json()["paths"]["/api/v1/assistant/benchmarks/summary"]["get"]
    assert operation["operationId"] == "assistant_benchmarks_summary"
    assert {"200", "401", "403"} <= set(operation["responses"])


# --- Registering backends -----------------------------------------------------------------


def test_sync_registers_local_servers_and_keeps_a_staff_choice(administrator, monkeypatch):
    call_command(
        "model_backends_sync",
        "--llama-cpp=smollm2=http://127.0.0.1:1234/v1",
        "--llama-cpp=gemma3=http://127.0.0.1:1235/v1",
    )
    smollm2 = ModelBackend.objects.get(name="smollm2")
    gemma3 = ModelBackend.objects.get(name="gemma3")
    assert (smollm2.is_active, smollm2.kind, smollm2.model) == (True, "llama_cpp", "smollm2")
    assert (smollm2.fallback_order, gemma3.fallback_order) == (0, None)  # junk stays out
    assert LogEntry.objects.get_for_object(smollm2).first().actor.username == "system"

    registry.model_backend_activate(backend=gemma3, actor=administrator)
    call_command("model_backends_sync", "--llama-cpp=smollm2=http://127.0.0.1:4321/v1")
    smollm2.refresh_from_db()
    assert smollm2.base_url == "http://127.0.0.1:4321/v1"
    assert ModelBackend.objects.get(is_active=True).name == "gemma3"

    monkeypatch.setenv("INFERENCE_URL", "http://inference:8001/v1")
    monkeypatch.setenv("INFERENCE_MODEL", "meta-llama/Llama-3.1-8B-Instruct")
    call_command("model_backends_sync", "--from-env", "--activate=inference")
    inference = ModelBackend.objects.get(is_active=True)
    assert (inference.name, inference.kind) == ("inference", "vllm")
    assert inference.model == "meta-llama/Llama-3.1-8B-Instruct"
