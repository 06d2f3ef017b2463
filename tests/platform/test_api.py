"""The mobile API's contract: tokens, /me, one error shape, throttling, the schema."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.tokens import AccessToken

from tests.helpers import PASSWORD, totp_code


def _token(client, username, password=PASSWORD, **extra):
    return client.post(
        "/api/v1/auth/token/",
        {"username": username, "password": password, **extra},
        content_type="application/json",
    )


def _assert_error_shape(body, code):
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]


def test_a_customer_gets_tokens_and_their_profile(client, customer):
    response = _token(client, customer.username)
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}

    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert me.status_code == 200
    assert me.json() == {
        "username": customer.username,
        "role": "customer",
        "profile": {
            "first_name": "Casey",
            "last_name": "Customer",
            "email": "",
            "mfa_enabled": False,
        },
    }


def test_the_refresh_token_gives_a_new_access_token(client, customer):
    tokens = _token(client, customer.username).json()
    response = client.post(
        "/api/v1/auth/token/refresh/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
    )
    assert response.status_code == 200
    access = response.json()["access"]
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 200


def test_a_revoked_refresh_token_is_refused(client, customer):
    tokens = _token(client, customer.username).json()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
    client.post(
        "/api/v1/auth/logout/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
        **auth,
    )
    response = client.post(
        "/api/v1/auth/token/refresh/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
    )
    assert response.status_code == 401
    _assert_error_shape(response.json(), "token_not_valid")


def test_someone_elses_refresh_token_cannot_be_revoked(client, make_user, customer):
    other = make_user()
    mine = _token(client, customer.username).json()
    theirs = _token(client, other.username).json()
    response = client.post(
        "/api/v1/auth/logout/",
        {"refresh": theirs["refresh"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {mine['access']}",
    )
    assert response.status_code == 400
    assert "refresh" in response.json()["fields"]


def test_the_session_works_for_the_web(client, customer):
    client.force_login(customer)
    assert client.get("/api/v1/me").json()["username"] == customer.username


def test_wrong_password_is_a_400_with_field_errors(client, customer):
    response = _token(client, customer.username, "wrong")
    assert response.status_code == 400
    body = response.json()
    _assert_error_shape(body, "invalid")
    assert body["fields"]["password"] == ["The username or password is not correct."]


def test_missing_fields_are_named(client, db):
    response = client.post("/api/v1/auth/token/", {}, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"username", "password"}


def test_staff_cannot_get_a_token(client, staff):
    response = _token(client, staff.username)
    assert response.status_code == 400
    assert "username" in response.json()["fields"]


def test_customers_with_mfa_must_send_their_code(client, customer):
    device = TOTPDevice.objects.create(user=customer, name="phone", confirmed=True)
    response = _token(client, customer.username)
    assert response.status_code == 400
    assert "otp" in response.json()["fields"]
    assert _token(client, customer.username, otp=totp_code(device)).status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ('{"username": ', "application/json"),
        ("\xff", "application/json"),
    ],
)
def test_malformed_json_is_a_400(client, db, body, content_type):
    response = client.post("/api/v1/auth/token/", body, content_type=content_type)
    assert response.status_code == 400
    _assert_error_shape(response.json(), "parse_error")


def test_a_wrong_content_type_is_a_415_in_the_error_shape(client, db):
    response = client.post("/api/v1/auth/token/", "username=a", content_type="text/plain")
    assert response.status_code == 415
    _assert_error_shape(response.json(), "unsupported_media_type")


def test_no_credentials_is_a_401_in_the_error_shape(client, db):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    _assert_error_shape(response.json(), "not_authenticated")


def test_a_garbage_bearer_token_is_a_401(client, db):
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer nonsense")
    assert response.status_code == 401
    body = response.json()
    _assert_error_shape(body, "token_not_valid")
    assert body["message"] == "Given token not valid for any token type"


def test_an_access_token_stops_working_when_it_expires(client, customer):
    # Checked tokens are remembered (apps/accounts/authentication.py): not past their expiry.
    token = AccessToken.for_user(customer)
    token.set_exp(lifetime=timedelta(seconds=2))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get("/api/v1/me", **auth).status_code == 200
    assert client.get("/api/v1/me", **auth).status_code == 200
    time.sleep(2.1)
    response = client.get("/api/v1/me", **auth)
    assert response.status_code == 401
    _assert_error_shape(response.json(), "token_not_valid")


def test_a_deactivated_user_is_refused_at_once_with_the_same_token(client, customer):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {_token(client, customer.username).json()['access']}"}
    assert client.get("/api/v1/me", **auth).status_code == 200
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    response = client.get("/api/v1/me", **auth)
    assert response.status_code == 401
    _assert_error_shape(response.json(), "user_inactive")


@pytest.mark.parametrize(
    ("user_id", "code"),
    [("987654321", "user_not_found"), ("not-an-id", "token_not_valid"), (1.5, "token_not_valid")],
)
def test_a_token_without_a_known_user_is_refused(client, db, user_id, code):
    token = AccessToken()
    token["user_id"] = user_id
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    _assert_error_shape(response.json(), code)


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_api_url_is_a_json_404(client, db, settings, debug):
    settings.DEBUG = debug
    response = client.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    _assert_error_shape(response.json(), "not_found")


def test_a_wrong_method_is_a_405_in_the_error_shape(client, customer):
    client.force_login(customer)
    response = client.delete("/api/v1/me")
    assert response.status_code == 405
    _assert_error_shape(response.json(), "method_not_allowed")


def test_anonymous_callers_are_throttled_at_60_a_minute(client, db):
    statuses = [
        client.post(
            "/api/v1/auth/token/refresh/", {"refresh": "x"}, content_type="application/json"
        ).status_code
        for _ in range(61)
    ]
    assert statuses[:60] == [401] * 60
    assert statuses[60] == 429
    response = client.post(
        "/api/v1/auth/token/refresh/", {"refresh": "x"}, content_type="application/json"
    )
    _assert_error_shape(response.json(), "throttled")
    assert 0 < int(response["Retry-After"]) <= 60


def test_signed_in_callers_are_throttled_at_1000_an_hour(client, customer):
    access = _token(client, customer.username).json()["access"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {access}"}
    for _ in range(1000):
        assert client.get("/api/v1/me", **auth).status_code == 200
    response = client.get("/api/v1/me", **auth)
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 60


def test_throttle_counters_live_in_redis(client, db):
    from django_redis import get_redis_connection

    client.post("/api/v1/auth/token/refresh/", {"refresh": "x"}, content_type="application/json")
    keys = get_redis_connection("default").keys("*throttle:anon*")
    assert keys


def test_the_openapi_schema_documents_the_mobile_endpoints(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/auth/token/refresh/",
        "/api/v1/me",
        "/api/v1/auth/logout/",
    ):
        assert path in schema["paths"], path


def test_the_swagger_ui_is_served_from_our_own_static_files(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
