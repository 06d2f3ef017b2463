"""Back-office pages of the model registry: backends side by side, switching, benchmarks.

StaffAreaMiddleware has already checked staff + a verified OTP device; each view adds
its permission. Switching is audited (ModelBackend is in the audit trail).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.access import StaffPermissionMixin
from apps.chat import registry
from apps.chat.models import BenchmarkRun
from banksight.errors import BankError

VIEW_PERMISSION = "chat.view_model_metrics"
MANAGE_PERMISSION = "chat.manage_model_backends"

WINDOWS = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "all": ("All time", None),
}


class ModelBackendListView(StaffPermissionMixin, TemplateView):
    permission = VIEW_PERMISSION
    template_name = "chat/registry/backends.html"

    def get_context_data(self, **kwargs):
        window = self.request.GET.get("window", "24h")
        if window not in WINDOWS:
            window = "24h"
        span = WINDOWS[window][1]
        return super().get_context_data(
            rows=registry.model_backend_overview(since=timezone.now() - span if span else None),
            window=window,
            windows=[(key, label) for key, (label, _) in WINDOWS.items()],
            **kwargs,
        )


class ModelBackendActivateView(StaffPermissionMixin, View):
    permission = MANAGE_PERMISSION

    def post(self, request, name: str):
        try:
            backend = registry.model_backend_activate(
                backend=registry.model_backend_get(name=name), actor=request.user
            )
        except BankError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{backend} now answers customers.")
        return redirect(reverse("staff:assistant:model-backends"))


class BenchmarkListView(StaffPermissionMixin, TemplateView):
    permission = VIEW_PERMISSION
    template_name = "chat/registry/benchmarks.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            summary=registry.benchmark_summary(),
            runs=registry.benchmark_run_list(limit=20),
            prompts=registry.BENCHMARK_PROMPTS,
            every_n=registry.benchmark_every_n(),
            **kwargs,
        )


class BenchmarkRunCreateView(StaffPermissionMixin, View):
    permission = MANAGE_PERMISSION

    def post(self, request):
        run = registry.benchmark_run_request(
            trigger=BenchmarkRun.Trigger.MANUAL, actor=request.user
        )
        if run.requested_by_id == request.user.pk and run.status == BenchmarkRun.Status.PENDING:
            messages.success(request, "The benchmark is queued; results appear here when done.")
        else:
            messages.info(request, "A benchmark is already queued or running.")
        return redirect(reverse("staff:assistant:benchmark-detail", args=[run.pk]))


class BenchmarkDetailView(StaffPermissionMixin, TemplateView):
    permission = VIEW_PERMISSION
    template_name = "chat/registry/benchmark_detail.html"

    def get_context_data(self, **kwargs):
        try:
            run = registry.benchmark_run_get(run_id=self.kwargs["run_id"])
        except registry.BenchmarkRunNotFound as error:
            raise Http404(error.message) from error
        return super().get_context_data(
            run=run, results=registry.benchmark_result_list(run=run), **kwargs
        )
