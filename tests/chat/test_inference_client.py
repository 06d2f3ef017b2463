"""The inference client against scripted servers: streaming, fallback, timeouts, breaker.

The real llama.cpp server is covered by test_sidecar_contract.py; here the failures are
staged (refused connections, silent sockets, errors before and after the first token).
"""

from __future__ import annotations

import time

import pytest

from apps.chat import inference
from apps.chat.inference import AllBackendsFailed, InferenceError, chat_complete, chat_stream
from apps.chat.models import BenchmarkRun, InferenceCall, ModelBackend
from tests.chat.fake_openai import FakeOpenAI, Reply, SilentServer, closed_port_url

pytestmark = pytest.mark.django_db

MESSAGES = [{"role": "user", "content": "What is my balance?"}]


def backend(name: str, url: str, **fields) -> ModelBackend:
    defaults = {
        "kind": ModelBackend.Kind.VLLM,
        "model": f"{name}-model",
        "first_token_timeout_s": 5.0,
        "request_timeout_s": 10.0,
    }
    return ModelBackend.objects.create(name=name, base_url=url, **{**defaults, **fields})


def collect():
    tokens: list[str] = []

    def on_token(delta: str) -> None:
        tokens.append(delta)

    return tokens, on_token


def test_streams_tokens_and_records_the_call_with_the_servers_usage():
    with FakeOpenAI(Reply(tokens=["Your", " balance", " is", " £10."])) as server:
        backend("primary", server.url, is_active=True)
        tokens, on_token = collect()
        completion = chat_stream(messages=MESSAGES, purpose="chat", on_token=on_token)

    assert tokens == ["Your", " balance", " is", " £10."]
    assert completion.text == "Your balance is £10."
    assert (completion.backend, completion.model) == ("primary", "primary-model")
    assert completion.finish_reason == "stop"
    assert completion.ttft_ms is not None
    assert completion.latency_ms >= completion.ttft_ms
    assert (completion.prompt_tokens, completion.completion_tokens) == (11, 4)
    assert completion.usage_estimated is False
    call = InferenceCall.objects.get()
    assert (call.backend.name, call.purpose, call.ok, call.error_code) == (
        "primary",
        "chat",
        True,
        "",
    )
    assert call.completion_tokens == 4
    assert call.finish_reason == "stop"


def test_the_request_carries_model_parameters_stop_and_asks_for_usage():
    with FakeOpenAI() as server:
        backend(
            "primary",
            server.url,
            is_active=True,
            parameters={"temperature": 0.2, "top_p": 0.9, "model": "sneaky", "stream": False},
        )
        chat_stream(
            messages=MESSAGES, purpose="chat", on_token=lambda d: None, max_tokens=7, stop=["\n"]
        )
    body = server.requests[0]
    assert body["model"] == "primary-model"  # parameters cannot override the client's keys
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 7)
    assert body["stop"] == ["\n"]
    assert body["messages"] == MESSAGES
    assert "response_format" not in body


SCHEMA = {"type": "object", "properties": {"card_id": {"type": "integer"}}, "required": ["card_id"]}


@pytest.mark.parametrize(
    ("kind", "supports", "expected"),
    [
        ("llama_cpp", True, {"type": "json_object", "schema": SCHEMA}),
        (
            "vllm",
            True,
            {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": SCHEMA, "strict": True},
            },
        ),
        (
            "openai",
            True,
            {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": SCHEMA, "strict": True},
            },
        ),
        ("vllm", False, None),
    ],
)
def test_a_json_schema_goes_out_in_each_servers_form(kind, supports, expected):
    with FakeOpenAI(Reply(tokens=['{"card_id": 1}'])) as server:
        backend("primary", server.url, kind=kind, supports_json_schema=supports, is_active=True)
        chat_complete(messages=MESSAGES, purpose="action", json_schema=SCHEMA)
    assert server.requests[0].get("response_format") == expected


def test_without_usage_in_the_stream_the_counts_are_estimated():
    with FakeOpenAI(Reply(tokens=["a", "b", "c"], usage=False)) as server:
        backend("primary", server.url, is_active=True)
        completion = chat_complete(messages=MESSAGES, purpose="chat")
    assert completion.completion_tokens == 3
    assert completion.prompt_tokens
    assert completion.prompt_tokens > 0
    assert completion.usage_estimated is True
    assert InferenceCall.objects.get().usage_estimated is True


def test_a_refused_connection_is_retried_once_then_the_chain_moves_on():
    with FakeOpenAI(Reply(tokens=["from", " fallback"])) as server:
        backend("primary", closed_port_url(), is_active=True)
        backend("secondary", server.url, fallback_order=1)
        completion = chat_complete(messages=MESSAGES, purpose="chat")
    assert completion.backend == "secondary"
    assert completion.text == "from fallback"
    calls = list(
        InferenceCall.objects.order_by("id").values_list("backend__name", "ok", "error_code")
    )
    assert calls == [("primary", False, "unavailable"), ("secondary", True, "")]


@pytest.mark.parametrize(
    ("status", "code"), [(500, "server_error"), (503, "unavailable"), (404, "not_found")]
)
def test_an_error_status_before_the_first_token_falls_back(status, code):
    with FakeOpenAI(Reply(status=status)) as bad, FakeOpenAI() as good:
        backend("primary", bad.url, is_active=True)
        backend("secondary", good.url, fallback_order=1)
        completion = chat_complete(messages=MESSAGES, purpose="chat")
    assert completion.backend == "secondary"
    assert InferenceCall.objects.get(backend__name="primary").error_code == code


def test_when_every_backend_fails_all_attempts_are_reported():
    with FakeOpenAI(Reply(status=500)) as bad:
        backend("primary", bad.url, is_active=True)
        backend("secondary", closed_port_url(), fallback_order=1)
        backend("not-in-chain", bad.url)  # fallback_order null: never tried
        backend("disabled", bad.url, fallback_order=2, enabled=False)
        with pytest.raises(AllBackendsFailed) as failed:
            chat_complete(messages=MESSAGES, purpose="chat")
    assert failed.value.code == "all_backends_failed"
    assert failed.value.attempts == [("primary", "server_error"), ("secondary", "unavailable")]
    assert InferenceCall.objects.filter(ok=False).count() == 2


def test_no_backend_at_all_is_an_all_backends_failure():
    with pytest.raises(AllBackendsFailed) as failed:
        chat_complete(messages=MESSAGES, purpose="chat")
    assert failed.value.attempts == []


def test_a_silent_server_times_out_within_the_first_token_deadline_across_the_chain():
    with SilentServer() as silent, FakeOpenAI() as good:
        backend("primary", silent.url, is_active=True, first_token_timeout_s=30)
        backend("secondary", good.url, fallback_order=1)
        started = time.monotonic()
        with pytest.raises(AllBackendsFailed) as failed:
            chat_complete(messages=MESSAGES, purpose="chat", first_token_deadline_s=1.0)
        elapsed = time.monotonic() - started
    # The silent server used the whole budget: the next backend is not even tried.
    assert failed.value.attempts == [("primary", "timeout"), ("secondary", "deadline")]
    assert 0.9 < elapsed < 2.0
    assert good.requests == []


def test_a_slow_first_token_is_a_timeout_and_the_next_backend_answers_in_time():
    with FakeOpenAI(Reply(delay_before_first_s=3)) as slow, FakeOpenAI() as fast:
        backend("primary", slow.url, is_active=True, first_token_timeout_s=0.5)
        backend("secondary", fast.url, fallback_order=1)
        started = time.monotonic()
        completion = chat_complete(messages=MESSAGES, purpose="chat", first_token_deadline_s=5)
    assert completion.backend == "secondary"
    assert time.monotonic() - started < 2.5
    assert InferenceCall.objects.get(backend__name="primary").error_code == "timeout"


def test_on_accepted_runs_once_before_the_first_token_of_the_backend_that_answers():
    seen: list[str] = []
    with (
        FakeOpenAI(Reply(delay_before_first_s=3)) as slow,
        FakeOpenAI(Reply(tokens=["Hi", "."])) as fast,
    ):
        backend("slow", slow.url, is_active=True, first_token_timeout_s=0.5)
        backend("fast", fast.url, fallback_order=1)
        chat_stream(
            messages=MESSAGES,
            purpose="chat",
            on_accepted=lambda: seen.append("accepted"),
            on_token=seen.append,
        )
    # The slow backend took the request too; the callback still ran once, before any token.
    assert seen == ["accepted", "Hi", "."]


def test_on_accepted_does_not_run_when_no_backend_takes_the_request():
    seen: list[str] = []
    with FakeOpenAI(Reply(status=503)) as bad:
        backend("bad", bad.url, is_active=True)
        with pytest.raises(AllBackendsFailed):
            chat_stream(
                messages=MESSAGES,
                purpose="chat",
                on_accepted=lambda: seen.append("accepted"),
                on_token=seen.append,
            )
    assert seen == []


def test_a_failure_after_the_first_token_keeps_the_partial_text_and_does_not_fall_back():
    reply = Reply(tokens=["Your", " balance", " is"], fail_after=2, failure="drop")
    with FakeOpenAI(reply) as flaky, FakeOpenAI() as other:
        backend("primary", flaky.url, is_active=True)
        backend("secondary", other.url, fallback_order=1)
        tokens, on_token = collect()
        with pytest.raises(InferenceError) as failed:
            chat_stream(messages=MESSAGES, purpose="chat", on_token=on_token)
    assert not isinstance(failed.value, AllBackendsFailed)
    assert failed.value.partial_text == "Your balance" == "".join(tokens)
    assert failed.value.backend == "primary"
    assert failed.value.code in {"bad_response", "unavailable"}
    assert other.requests == []


def test_a_stream_that_stalls_after_tokens_times_out_with_the_partial_text():
    reply = Reply(tokens=["one", " two", " three"], fail_after=1, failure="hang")
    with FakeOpenAI(reply) as stalling:
        backend("primary", stalling.url, is_active=True, first_token_timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(InferenceError) as failed:
            chat_complete(messages=MESSAGES, purpose="chat", first_token_deadline_s=0.5)
    assert failed.value.code == "timeout"
    assert failed.value.partial_text == "one"
    assert time.monotonic() - started < 2.0


def test_returning_false_from_on_token_cancels_and_closes_the_stream():
    reply = Reply(tokens=[f" t{i}" for i in range(200)], delay_between_s=0.01)
    with FakeOpenAI(reply) as server:
        backend("primary", server.url, is_active=True)
        seen: list[str] = []

        def on_token(delta: str) -> bool:
            seen.append(delta)
            return len(seen) < 3

        completion = chat_stream(messages=MESSAGES, purpose="chat", on_token=on_token)
        deadline = time.monotonic() + 5
        while server.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert completion.finish_reason == "cancelled"
    assert completion.text == " t0 t1 t2"
    assert server.disconnects == 1  # the server saw the connection go
    call = InferenceCall.objects.get()
    assert call.ok
    assert call.finish_reason == "cancelled"


def test_the_circuit_opens_after_consecutive_failures_then_lets_one_probe_through(settings):
    settings.ASSISTANT_BREAKER_FAILURES = 2
    settings.ASSISTANT_BREAKER_OPEN_SECONDS = 1
    with FakeOpenAI(Reply(status=500), Reply(status=500), Reply()) as server:
        backend("primary", server.url, is_active=True)
        for _ in range(2):
            with pytest.raises(AllBackendsFailed):
                chat_complete(messages=MESSAGES, purpose="chat")
        assert inference.CircuitBreaker("primary").state() == "open"
        with pytest.raises(AllBackendsFailed) as skipped:
            chat_complete(messages=MESSAGES, purpose="chat")
        assert skipped.value.attempts == [("primary", "circuit_open")]
        assert len(server.requests) == 2  # the open circuit sent nothing

        time.sleep(1.1)
        assert inference.CircuitBreaker("primary").state() == "half_open"
        assert chat_complete(messages=MESSAGES, purpose="chat").text == "Hello there."
    assert inference.CircuitBreaker("primary").state() == "closed"


def test_a_failed_half_open_probe_opens_the_circuit_again(settings):
    settings.ASSISTANT_BREAKER_FAILURES = 1
    settings.ASSISTANT_BREAKER_OPEN_SECONDS = 0.3
    breaker = inference.CircuitBreaker("primary")
    breaker.record_failure()
    assert not breaker.allow()
    time.sleep(0.35)
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.record_failure()
    assert breaker.state() == "open"


def test_a_bad_request_does_not_count_against_the_backend(settings):
    settings.ASSISTANT_BREAKER_FAILURES = 1
    with FakeOpenAI(Reply(status=400, error_message="prompt too long")) as server:
        backend("primary", server.url, is_active=True)
        with pytest.raises(AllBackendsFailed) as failed:
            chat_complete(messages=MESSAGES, purpose="chat")
    assert failed.value.attempts == [("primary", "bad_request")]
    assert inference.CircuitBreaker("primary").state() == "closed"


def test_backend_forces_one_backend_even_a_disabled_one_without_fallback():
    with FakeOpenAI(Reply(status=500)) as bad, FakeOpenAI(Reply(tokens=["forced"])) as other:
        backend("primary", bad.url, is_active=True)
        backend("bench", other.url, enabled=False)
        assert chat_complete(messages=MESSAGES, purpose="benchmark", backend="bench").text == (
            "forced"
        )
        with pytest.raises(AllBackendsFailed) as failed:
            chat_complete(messages=MESSAGES, purpose="benchmark", backend="primary")
    assert failed.value.attempts == [("primary", "server_error")]
    with pytest.raises(InferenceError) as unknown:
        chat_complete(messages=MESSAGES, purpose="chat", backend="nope")
    assert unknown.value.code == "unknown_backend"


def test_an_unknown_purpose_is_a_programming_error():
    with pytest.raises(ValueError, match="purpose"):
        chat_complete(messages=MESSAGES, purpose="gossip")


def test_every_nth_customer_request_queues_one_benchmark(
    settings, django_capture_on_commit_callbacks
):
    settings.ASSISTANT_BENCHMARK_EVERY_N_REQUESTS = 3
    with FakeOpenAI() as server:
        backend("primary", server.url, is_active=True)
        with django_capture_on_commit_callbacks() as callbacks:
            for _ in range(2):
                chat_complete(messages=MESSAGES, purpose="chat")
            for _ in range(4):  # benchmarks and contract checks are not counted
                chat_complete(messages=MESSAGES, purpose="benchmark", backend="primary")
            assert not BenchmarkRun.objects.exists()
            chat_complete(messages=MESSAGES, purpose="summary")
    run = BenchmarkRun.objects.get()
    assert (run.trigger, run.status) == ("every_n", "pending")
    assert len(callbacks) == 1  # the task goes out once the transaction commits


def test_every_n_zero_turns_the_trigger_off(settings):
    settings.ASSISTANT_BENCHMARK_EVERY_N_REQUESTS = 0
    with FakeOpenAI() as server:
        backend("primary", server.url, is_active=True)
        for _ in range(3):
            chat_complete(messages=MESSAGES, purpose="chat")
    assert not BenchmarkRun.objects.exists()
