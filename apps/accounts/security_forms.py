"""Django's password forms with our styling, and the code that proves an authenticator."""

from __future__ import annotations

from django.contrib.auth import forms as auth_forms

from apps.accounts.forms import OtpTokenForm
from banksight.forms import StyledFormMixin


class PasswordChangeForm(StyledFormMixin, auth_forms.PasswordChangeForm):
    """The old password, then the new one twice; the password validators apply."""


class SetPasswordForm(StyledFormMixin, auth_forms.SetPasswordForm):
    """The new password twice, after an emailed reset link."""


class PasswordResetForm(StyledFormMixin, auth_forms.PasswordResetForm):
    """An email address; Django sends each active user with it a one-time link."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs["autofocus"] = True


class MfaRemoveForm(OtpTokenForm):
    """A current code from the authenticator about to be removed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["token"].label = "Code from your authenticator app"
        self.fields["token"].widget.attrs.pop("autofocus", None)
