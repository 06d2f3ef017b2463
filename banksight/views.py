"""Error pages: JSON in the API's error shape under /api/, HTML elsewhere."""

import sys

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from banksight.api.errors import json_error_response
from banksight.outages import is_service_error, service_unavailable_response


def _error(request, status: int, code: str, message: str):
    if request.path.startswith("/api/"):
        return json_error_response(code, message, status)
    staff = request.path.startswith(("/staff/", "/admin/"))
    context = {"status": status, "message": message, "staff": staff}
    return render(request, "errors/error.html", context, status=status)


@login_not_required
def bad_request(request, exception=None):
    return _error(request, 400, "bad_request", "The request could not be understood.")


@login_not_required
def permission_denied(request, exception=None):
    return _error(request, 403, "permission_denied", "You do not have access to this page.")


@login_not_required
def page_not_found(request, exception=None):
    return _error(request, 404, "not_found", "We could not find that page.")


@login_not_required
def server_error(request):
    error = sys.exc_info()[1]  # Django calls this while handling the exception
    if is_service_error(error):  # PostgreSQL or Redis down: 503, fast
        return service_unavailable_response(request, error)
    return _error(
        request, 500, "server_error", "Something went wrong on our side. Please try again."
    )


@login_not_required
def admin_login_redirect(request, extra_context=None):
    """The admin has no sign-in of its own: staff sign in with MFA in the back office."""
    return redirect_to_login(request.get_full_path(), reverse(settings.STAFF_LOGIN_URL))


@csrf_exempt  # any method, with or without a session cookie: the JSON 404, never CSRF's page
@login_not_required
def api_not_found(request, *args, **kwargs):
    return json_error_response("not_found", "There is no such API endpoint.", 404)


@login_not_required
def favicon(request):
    return redirect(static("favicon.svg"), permanent=True)
