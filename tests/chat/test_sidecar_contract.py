"""The contract between the inference client and a real OpenAI-compatible server.

By default the server is the development llama.cpp server (`model_server`). `make
test-vllm` runs the same tests against vLLM's OpenAI server with SIDECAR_URL (ending in
/v1), SIDECAR_KIND=vllm and SIDECAR_MODEL set. Where the two servers differ, the test
says how; everything else must hold for both.

Answers of a 135M model are not checked for wording: only the plumbing is (temperature 0
makes runs repeatable, which the stop test relies on).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import jsonschema
import pytest

from apps.chat.inference import AllBackendsFailed, InferenceError, chat_complete, chat_stream
from apps.chat.models import InferenceCall, ModelBackend
from tests.chat.fake_openai import SilentServer

pytestmark = pytest.mark.django_db

ASK = [
    {"role": "system", "content": "You are a helpful bank assistant. Answer briefly."},
    {"role": "user", "content": "Name three things a bank account is used for."},
]


@dataclass
class Sidecar:
    url: str
    kind: str
    model: str


@pytest.fixture(scope="session")
def sidecar(request) -> Sidecar:
    if url := os.environ.get("SIDECAR_URL"):
        return Sidecar(
            url=url,
            kind=os.environ.get("SIDECAR_KIND", ModelBackend.Kind.VLLM),
            model=os.environ["SIDECAR_MODEL"],
        )
    server = request.getfixturevalue("model_server")
    return Sidecar(url=server.url, kind=server.kind, model=server.model)


@pytest.fixture
def backend(sidecar) -> ModelBackend:
    # vLLM on a CPU compiles and warms up: its first answers can be slow.
    return ModelBackend.objects.create(
        name="sidecar",
        kind=sidecar.kind,
        base_url=sidecar.url,
        model=sidecar.model,
        parameters={"temperature": 0.0},
        is_active=True,
        first_token_timeout_s=60.0,
        request_timeout_s=120.0,
    )


def stream(**kwargs):
    events: list[tuple[float, str]] = []

    def on_token(delta: str) -> None:
        events.append((time.monotonic(), delta))

    completion = chat_stream(
        messages=kwargs.pop("messages", ASK),
        purpose="contract",
        on_token=on_token,
        first_token_deadline_s=60,
        **kwargs,
    )
    return completion, events


def test_tokens_arrive_one_delta_at_a_time_before_the_answer_ends(backend):
    started = time.monotonic()
    completion, events = stream(max_tokens=24)
    ended = time.monotonic()
    assert len(events) >= 5
    assert "".join(delta for _, delta in events) == completion.text
    # Streamed, not buffered: the deltas spread over the answer's time.
    assert events[-1][0] - events[0][0] >= 0.25 * (ended - started)
    assert completion.ttft_ms < completion.latency_ms
    assert completion.finish_reason in {"stop", "length"}
    assert InferenceCall.objects.get().ok


def test_max_tokens_ends_the_answer_with_length(backend):
    completion = chat_complete(messages=ASK, purpose="contract", max_tokens=5)
    assert completion.finish_reason == "length"
    assert 1 <= completion.completion_tokens <= 6


def test_a_stop_sequence_cuts_the_answer_before_it(backend):
    full = chat_complete(messages=ASK, purpose="contract", max_tokens=40).text
    words = full.split()
    assert len(words) >= 4, full
    stop_word = words[len(words) // 2]
    cut = chat_stream(
        messages=ASK,
        purpose="contract",
        on_token=lambda delta: None,
        max_tokens=40,
        stop=[stop_word],
        first_token_deadline_s=60,
    )
    assert stop_word not in cut.text
    assert full.startswith(cut.text)
    assert full.index(stop_word) >= len(cut.text.rstrip())
    assert cut.finish_reason == "stop"


def test_usage_is_reported(sidecar, backend):
    completion = chat_complete(messages=ASK, purpose="contract", max_tokens=16)
    assert completion.prompt_tokens > 10
    assert 1 <= completion.completion_tokens <= 16
    # vLLM sends usage in the stream (stream_options.include_usage); llama-cpp-python
    # ignores the option, so the client counts the deltas and estimates the prompt.
    assert completion.usage_estimated is (sidecar.kind == ModelBackend.Kind.LLAMA_CPP)
    call = InferenceCall.objects.get()
    assert call.completion_tokens == completion.completion_tokens


CARD_FREEZE = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["freeze_card"]},
        "card_last4": {"type": "string", "pattern": "^[0-9]{4}$"},
        "reason": {"type": "string", "maxLength": 60},
    },
    "required": ["action", "card_last4", "reason"],
    "additionalProperties": False,
}


def test_json_schema_constrained_output_parses_and_validates(backend):
    completion = chat_complete(
        messages=[
            {"role": "system", "content": "Reply with JSON only."},
            {"role": "user", "content": "I lost my card ending 4421, please freeze it."},
        ],
        purpose="contract",
        max_tokens=80,
        json_schema=CARD_FREEZE,
    )
    payload = json.loads(completion.text)
    jsonschema.validate(payload, CARD_FREEZE)


def test_cancelling_mid_stream_keeps_the_partial_text_and_frees_the_server(backend):
    seen: list[str] = []

    def on_token(delta: str) -> bool:
        seen.append(delta)
        return len(seen) < 3

    completion = chat_stream(
        messages=ASK,
        purpose="contract",
        on_token=on_token,
        max_tokens=400,
        first_token_deadline_s=60,
    )
    assert completion.finish_reason == "cancelled"
    assert completion.text == "".join(seen)
    assert len(seen) == 3
    # The server stopped generating the abandoned answer: the next one starts at once
    # (llama.cpp serves one request at a time; it would otherwise finish 400 tokens first).
    after = chat_complete(messages=ASK, purpose="contract", max_tokens=4)
    assert after.ttft_ms < 3000


def test_an_unknown_model_is_an_error_code_not_a_crash(sidecar, backend):
    ModelBackend.objects.filter(pk=backend.pk).update(model="no-such-model")
    if sidecar.kind == ModelBackend.Kind.LLAMA_CPP:
        # llama-cpp-python serves its one model whatever name is asked for.
        assert chat_complete(messages=ASK, purpose="contract", max_tokens=2).text
        return
    with pytest.raises(AllBackendsFailed) as failed:
        chat_complete(messages=ASK, purpose="contract", max_tokens=2)
    assert failed.value.attempts == [("sidecar", "not_found")]


def test_a_prompt_longer_than_the_context_is_an_error_code(backend):
    too_long = [{"role": "user", "content": "balance " * 5000}]
    with pytest.raises(AllBackendsFailed) as failed:
        chat_complete(messages=too_long, purpose="contract", max_tokens=4)
    # vLLM answers 400; llama.cpp starts a 200 stream and ends it empty.
    ((name, code),) = failed.value.attempts
    assert (name, code) in {("sidecar", "bad_request"), ("sidecar", "bad_response")}


def test_a_server_that_accepts_and_never_answers_times_out_within_the_deadline(sidecar, db):
    with SilentServer() as silent:
        ModelBackend.objects.create(
            name="stuck",
            kind=sidecar.kind,
            base_url=silent.url,
            model=sidecar.model,
            is_active=True,
            first_token_timeout_s=30,
        )
        started = time.monotonic()
        with pytest.raises(InferenceError) as failed:
            chat_complete(messages=ASK, purpose="contract", first_token_deadline_s=1.5)
        elapsed = time.monotonic() - started
    assert failed.value.attempts == [("stuck", "timeout")]
    assert 1.4 < elapsed < 2.5
