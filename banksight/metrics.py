"""/metrics: Prometheus text exposition (format 0.0.4), written here without a client library.

Every value is read from PostgreSQL at scrape time (gauges), so there is no per-process
state to collect and nothing to aggregate across workers.

Who may read it:
- a scraper sending `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time);
- outside production, also a signed-in member of staff with a verified second factor and
  `chat.view_handoff_metrics` (handy in development; production relies on the token).
Anyone else gets 401. In production without METRICS_TOKEN the endpoint is switched off:
404 for everyone.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
STAFF_PERMISSION = "chat.view_handoff_metrics"

# Dotted paths of functions returning a list of Metric; each app adds its own here.
COLLECTORS: list[str] = [
    "apps.chat.handoff_metrics.prometheus_metrics",
]


@dataclass(frozen=True)
class Metric:
    name: str
    help: str
    # (labels, value); a None value is left out (no data in the window).
    samples: list[tuple[dict[str, str], float | int | None]] = field(default_factory=list)
    type: str = "gauge"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float | int) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def exposition(metrics: Iterable[Metric]) -> str:
    lines = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {_escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.type}")
        for labels, value in metric.samples:
            if value is None:
                continue
            label_text = ",".join(f'{key}="{_escape_label(str(v))}"' for key, v in labels.items())
            name = f"{metric.name}{{{label_text}}}" if label_text else metric.name
            lines.append(f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"


def _collect() -> list[Metric]:
    metrics: list[Metric] = []
    for dotted in COLLECTORS:
        collector: Callable[[], list[Metric]] = import_string(dotted)
        metrics.extend(collector())
    return metrics


def _bearer_ok(request: HttpRequest, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _staff_session_ok(request: HttpRequest) -> bool:
    user = request.user
    return (
        user.is_authenticated
        and user.is_bank_staff
        and user.is_verified()
        and user.has_perm(STAFF_PERMISSION)
    )


def metrics_allowed(request: HttpRequest) -> bool:
    """True for the scraper's token, or (not in production) a verified staff session.

    Raises Http404 in production when no token is configured: the endpoint is off.
    """
    token = settings.METRICS_TOKEN
    if token and _bearer_ok(request, token):
        return True
    if settings.PRODUCTION:
        if not token:
            raise Http404
        return False
    return _staff_session_ok(request)


@login_not_required
@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(_collect()), content_type=CONTENT_TYPE)
