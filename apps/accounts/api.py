"""Mobile API: sign-in tokens and the caller's own profile."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView

from apps.accounts import selectors, services
from apps.accounts.roles import Role
from banksight.errors import BankError


class MobileTokenObtainSerializer(TokenObtainPairSerializer):
    """Customers only; those who enrolled an authenticator also send `otp`.

    Staff work in the MFA-protected back office: a bearer token from a password alone
    would let them around it.
    """

    otp = serializers.RegexField(r"^\d{6}$", required=False, write_only=True)

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


class LogoutApi(APIView):
    """Sign the mobile app out: its refresh token can no longer be used."""

    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(summary="Sign out (mobile app)", request=InputSerializer, responses={204: None})
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.refresh_token_revoke(user=request.user, token=serializer.validated_data["refresh"])
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
