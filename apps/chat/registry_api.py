"""API of the model registry: the benchmark comparison for dashboards and scripts.

Staff cannot get API tokens (a bearer token from a password alone would get around
their MFA), so this endpoint takes the back-office session: signed in, past the second
factor (django-otp's `is_verified()`), with the metrics permission. Customers get 403.
"""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.banking_api.common import error_example, error_responses
from apps.chat import registry


class IsVerifiedStaffWithPermission(BasePermission):
    """Bank staff on a session verified with their authenticator, holding `view.permission`."""

    message = "This endpoint is for bank staff signed in with MFA and the right role."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and getattr(user, "is_bank_staff", False)):
            return False
        is_verified = getattr(user, "is_verified", None)  # set by OTPMiddleware (sessions)
        return bool(is_verified and is_verified() and user.has_perm(view.permission))


class _RunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    trigger = serializers.CharField(help_text="`manual`, `every_n` or `command`.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    prompt_count = serializers.IntegerField(help_text="Prompts sent to each backend.")


class _BackendResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField(help_text="`llama_cpp`, `vllm` or `openai`.")
    model = serializers.CharField()
    enabled = serializers.BooleanField()
    is_active = serializers.BooleanField()
    run_id = serializers.UUIDField(allow_null=True, help_text="Run of this backend's result.")
    measured_at = serializers.DateTimeField(allow_null=True)
    prompts = serializers.IntegerField(allow_null=True)
    errors = serializers.IntegerField(allow_null=True)
    ttft_p50_ms = serializers.FloatField(allow_null=True, help_text="Time to first token.")
    ttft_p99_ms = serializers.FloatField(allow_null=True)
    latency_p50_ms = serializers.FloatField(allow_null=True, help_text="Whole answer.")
    latency_p99_ms = serializers.FloatField(allow_null=True)
    tokens_per_s = serializers.FloatField(
        allow_null=True, help_text="Generation speed after the first token."
    )


_EXAMPLE = {
    "run": {
        "id": "6f1f0c7e-3c55-4d8e-9a53-0d7d8f1e2a10",
        "trigger": "manual",
        "created_at": "2026-11-25T15:00:00Z",
        "finished_at": "2026-11-25T15:00:21Z",
        "prompt_count": 6,
    },
    "backends": [
        {
            "name": "smollm2",
            "label": "SmolLM2 135M Instruct (llama.cpp, CPU)",
            "kind": "llama_cpp",
            "model": "smollm2",
            "enabled": True,
            "is_active": True,
            "run_id": "6f1f0c7e-3c55-4d8e-9a53-0d7d8f1e2a10",
            "measured_at": "2026-11-25T15:00:21Z",
            "prompts": 6,
            "errors": 0,
            "ttft_p50_ms": 142.0,
            "ttft_p99_ms": 210.5,
            "latency_p50_ms": 610.3,
            "latency_p99_ms": 802.9,
            "tokens_per_s": 78.4,
        }
    ],
}


class BenchmarkSummaryApi(APIView):
    permission = "chat.view_model_metrics"
    permission_classes = [IsVerifiedStaffWithPermission]

    @extend_schema_serializer(component_name="BenchmarkSummary")
    class OutputSerializer(serializers.Serializer):
        run = _RunSerializer(allow_null=True, help_text="The latest finished run.")
        backends = _BackendResultSerializer(many=True)

    @extend_schema(
        summary="Benchmarks: every backend side by side",
        description=(
            "Each model backend with its latest benchmark result: the same fixed prompt set "
            "sent to every enabled backend, on demand (back office) and every N customer "
            "requests. For bank staff on a back-office session verified with MFA and the "
            "`chat.view_model_metrics` permission (compliance officers, administrators); "
            "staff cannot use API tokens. A backend never measured has null figures."
        ),
        operation_id="assistant_benchmarks_summary",
        tags=["assistant"],
        responses={
            200: OpenApiResponse(
                OutputSerializer, examples=[OpenApiExample("Summary", value=_EXAMPLE)]
            ),
            **error_responses(
                401,
                403,
                e403=[
                    error_example(
                        "Not staff with MFA",
                        "permission_denied",
                        IsVerifiedStaffWithPermission.message,
                    )
                ],
            ),
        },
    )
    def get(self, request):
        summary = registry.benchmark_summary()
        run = summary.run
        data = {
            "run": (
                {
                    "id": run.pk,
                    "trigger": run.trigger,
                    "created_at": run.created_at,
                    "finished_at": run.finished_at,
                    "prompt_count": run.prompt_count,
                }
                if run
                else None
            ),
            "backends": [_backend_row(backend, result) for backend, result in summary.rows],
        }
        return Response(self.OutputSerializer(data).data)


def _backend_row(backend, result) -> dict:
    row = {
        "name": backend.name,
        "label": str(backend),
        "kind": backend.kind,
        "model": backend.model,
        "enabled": backend.enabled,
        "is_active": backend.is_active,
        "run_id": result.run_id if result else None,
        "measured_at": result.run.finished_at if result else None,
    }
    fields = ("prompts", "errors", "ttft_p50_ms", "ttft_p99_ms", "latency_p50_ms")
    for field in (*fields, "latency_p99_ms", "tokens_per_s"):
        row[field] = getattr(result, field) if result else None
    return row
