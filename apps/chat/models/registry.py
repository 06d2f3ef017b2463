"""The model registry: named inference backends, one active, and what they measured.

A backend is any OpenAI-compatible server (vLLM in production, llama.cpp in development).
Exactly one enabled backend is active (a partial unique index holds this); the others with a
`fallback_order` form the chain tried, in that order, when the active one fails before its
first token. Every attempt is an `InferenceCall`; benchmarks group calls into runs.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


def validate_base_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError("Enter an http(s) URL such as http://inference:8001/v1.")


class ModelBackend(models.Model):
    class Kind(models.TextChoices):
        LLAMA_CPP = "llama_cpp", "llama.cpp server"
        VLLM = "vllm", "vLLM"
        OPENAI = "openai", "Other OpenAI-compatible server"

    name = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=120, blank=True, default="")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Up to and including the API version: "http://inference:8001/v1". Not a URLField:
    # its validator refuses single-label hosts such as compose service names.
    base_url = models.CharField(max_length=300, validators=[validate_base_url])
    model = models.CharField(max_length=200)
    # Request defaults merged into every call: temperature, max_tokens, top_p, ...
    parameters = models.JSONField(default=dict, blank=True)
    # Name of an environment variable holding the API key, never the key itself.
    api_key_env = models.CharField(max_length=100, blank=True, default="")
    enabled = models.BooleanField(default=True)
    is_active = models.BooleanField(default=False)
    # Position in the fallback chain; null keeps the backend out of it.
    fallback_order = models.PositiveSmallIntegerField(null=True, blank=True)
    first_token_timeout_s = models.FloatField(default=10.0)
    request_timeout_s = models.FloatField(default=60.0)
    # Constrained decoding: llama.cpp's JSON-schema response format, vLLM's structured outputs.
    supports_json_schema = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [models.F("fallback_order").asc(nulls_last=True), "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"],
                condition=Q(is_active=True),
                name="chat_model_backend_one_active",
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(enabled=True),
                name="chat_model_backend_active_is_enabled",
            ),
            models.CheckConstraint(
                condition=Q(first_token_timeout_s__gt=0) & Q(request_timeout_s__gt=0),
                name="chat_model_backend_timeouts_positive",
            ),
        ]
        permissions = [
            ("manage_model_backends", "Can switch the active model backend and run benchmarks"),
            ("view_model_metrics", "Can see model backend metrics and benchmarks"),
        ]

    def __str__(self) -> str:
        return self.label or self.name


class InferenceCall(models.Model):
    """One attempt against one backend: a fallback writes one row per backend tried."""

    class Purpose(models.TextChoices):
        CHAT = "chat", "Chat answer"
        SUMMARY = "summary", "Summary"
        ACTION = "action", "Action proposal"
        BENCHMARK = "benchmark", "Benchmark"
        CONTRACT = "contract", "Contract check"

    id = models.BigAutoField(primary_key=True)
    backend = models.ForeignKey(ModelBackend, on_delete=models.PROTECT, related_name="calls")
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    benchmark_run = models.ForeignKey(
        "chat.BenchmarkRun", on_delete=models.CASCADE, null=True, blank=True, related_name="calls"
    )
    started_at = models.DateTimeField()
    ttft_ms = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField()
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    # llama.cpp does not report usage on a stream: the counts are then estimates.
    usage_estimated = models.BooleanField(default=False)
    ok = models.BooleanField()
    error_code = models.CharField(max_length=32, blank=True, default="")
    finish_reason = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["backend", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} call {self.pk} on {self.backend_id}"


class BenchmarkRun(models.Model):
    class Trigger(models.TextChoices):
        MANUAL = "manual", "Started by staff"
        EVERY_N = "every_n", "Every N requests"
        COMMAND = "command", "Management command"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prompt_count = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Benchmark {self.created_at:%Y-%m-%d %H:%M} ({self.status})"


class BenchmarkResult(models.Model):
    """One backend's figures in one run: the fixed prompt set, each prompt once."""

    run = models.ForeignKey(BenchmarkRun, on_delete=models.CASCADE, related_name="results")
    backend = models.ForeignKey(
        ModelBackend, on_delete=models.PROTECT, related_name="benchmark_results"
    )
    # Copied at run time: the row may point elsewhere later.
    model = models.CharField(max_length=200)
    prompts = models.PositiveSmallIntegerField()
    errors = models.PositiveSmallIntegerField()
    ttft_p50_ms = models.FloatField(null=True, blank=True)
    ttft_p99_ms = models.FloatField(null=True, blank=True)
    latency_p50_ms = models.FloatField(null=True, blank=True)
    latency_p99_ms = models.FloatField(null=True, blank=True)
    tokens_per_s = models.FloatField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "backend__name"]
        constraints = [
            models.UniqueConstraint(fields=["run", "backend"], name="chat_benchmark_result_once"),
        ]

    def __str__(self) -> str:
        return f"{self.backend_id} in {self.run_id}"
