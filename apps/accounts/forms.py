from django import forms

from banksight.forms import StyledFormMixin


class LoginForm(StyledFormMixin, forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        strip=False,
        max_length=4096,  # as the API's sign-in (apps.accounts.api.PASSWORD_MAX_LENGTH)
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class OtpTokenForm(StyledFormMixin, forms.Form):
    token = forms.RegexField(
        label="6-digit code",
        regex=r"^\d{6}$",
        error_messages={"invalid": "Enter the 6 digits shown in your authenticator app."},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "maxlength": 6,
                "pattern": r"\d{6}",
            }
        ),
    )
