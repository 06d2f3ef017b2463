"""Mobile API: sign-in tokens and the caller's own profile."""

from __future__ import annotations

import time

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import (
    PasswordField,
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from apps.accounts import selectors, services
from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.accounts.services import tokens
from banksight.errors import BankError

USERNAME_MAX_LENGTH = User._meta.get_field(User.USERNAME_FIELD).max_length
PASSWORD_MAX_LENGTH = 4096  # no one types more; the hashers need not see more


class MobileTokenObtainSerializer(TokenObtainPairSerializer):
    """Customers only; those who enrolled an authenticator also send `otp`.

    Staff work in the MFA-protected back office: a bearer token from a password alone
    would let them around it.
    """

    otp = serializers.RegexField(r"^\d{6}$", max_length=6, required=False, write_only=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # simplejwt's fields take any length: a username longer than the column reached
        # django-axes' failure log and failed there (a 500). Too long is a 400 on the field.
        self.fields[self.username_field] = serializers.CharField(
            write_only=True, max_length=USERNAME_MAX_LENGTH
        )
        self.fields["password"] = PasswordField(max_length=PASSWORD_MAX_LENGTH)

    def validate(self, attrs):
        # django-axes counts failures on Django's HttpRequest, not DRF's wrapper.
        http_request = getattr(self.context["request"], "_request", self.context["request"])
        user = authenticate(http_request, username=attrs["username"], password=attrs["password"])
        if user is None or not user.is_active:
            raise serializers.ValidationError(
                {"password": ["The username or password is not correct."]}
            )
        if not user.is_customer:
            raise serializers.ValidationError(
                {"username": ["Bank staff use the back office, not the mobile API."]}
            )
        if selectors.mfa_device_get_confirmed(user=user) is not None:
            if not attrs.get("otp"):
                raise serializers.ValidationError(
                    {"otp": ["Enter the 6-digit code from your authenticator app."]}
                )
            try:
                services.mfa_token_check(user=user, token=attrs["otp"])
            except BankError as error:
                raise serializers.ValidationError({"otp": [error.message]}) from error
        refresh = self.get_token(user)
        # When this sign-in happened; kept through refreshes, so that signing out
        # everywhere can refuse every token that comes from an earlier sign-in.
        refresh[tokens.AUTH_TIME_CLAIM] = round(time.time(), 3)
        return {"refresh": str(refresh), "access": str(refresh.access_token)}


class TokenObtainApi(TokenObtainPairView):
    serializer_class = MobileTokenObtainSerializer

    @extend_schema(
        summary="Sign in (mobile app)",
        examples=[
            OpenApiExample(
                "Sign in",
                value={"username": "alice", "password": "banksight-demo"},
                request_only=True,
            ),
        ],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class MobileTokenRefreshSerializer(TokenRefreshSerializer):
    """simplejwt's refresh (rotated, the used token blacklisted), refusing a token from a
    sign-in that was ended everywhere (its refresh tokens are blacklisted too; this also
    covers one rotated while that happened)."""

    def validate(self, attrs):
        try:
            refresh = RefreshToken(attrs["refresh"])
        except TokenError as error:
            raise InvalidToken(str(error)) from error
        if tokens.access_token_is_revoked(token=refresh):
            raise InvalidToken("This token was revoked: sign in again.")
        return super().validate(attrs)


class TokenRefreshApi(TokenRefreshView):
    """A new access token and a new refresh token; the refresh token sent is used up."""

    serializer_class = MobileTokenRefreshSerializer

    @extend_schema(summary="Refresh the tokens (mobile app)")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class LogoutApi(APIView):
    """Sign the mobile app out: its refresh token and the access token sending this request
    stop working at once."""

    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(summary="Sign out (mobile app)", request=InputSerializer, responses={204: None})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.refresh_token_revoke(user=request.user, token=serializer.validated_data["refresh"])
        if request.auth is not None:
            tokens.access_token_revoke(token=request.auth)
        return Response(status=204)


class LogoutAllApi(APIView):
    """Sign out everywhere: every API token and every browser session of the caller."""

    @extend_schema(summary="Sign out everywhere", request=None, responses={204: None})
    def post(self, request):
        tokens.user_sign_out_everywhere(
            user=request.user, ip_address=request.META.get("REMOTE_ADDR")
        )
        return Response(status=204)


class MeApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class ProfileSerializer(serializers.Serializer):
            first_name = serializers.CharField()
            last_name = serializers.CharField()
            email = serializers.EmailField()
            mfa_enabled = serializers.BooleanField()

        username = serializers.CharField()
        role = serializers.ChoiceField(choices=Role.choices, allow_null=True)
        profile = ProfileSerializer()

    @extend_schema(summary="The signed-in person", responses=OutputSerializer)
    def get(self, request):
        return Response(self.OutputSerializer(selectors.user_profile(user=request.user)).data)
