from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication

from apps.compliance.audit import audit_actor_bind


class AuditedJWTAuthentication(JWTAuthentication):
    """JWT auth that also names the user as the actor of audit entries for this request.

    AuditlogMiddleware runs before DRF authenticates a bearer token, so without this an
    API change would be logged without its actor.
    """

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            audit_actor_bind(actor=result[0])
        return result


class AuditedJWTScheme(SimpleJWTScheme):
    """Documents AuditedJWTAuthentication as the bearer scheme in the OpenAPI schema."""

    target_class = "apps.accounts.authentication.AuditedJWTAuthentication"
    name = "jwtAuth"
