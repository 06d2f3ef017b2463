"""Forms of the portal's banking pages.

They check what is cheap to check (formats, required fields, date order) so that people
get their errors early and beside the field. The services stay the authority: their
BankError.fields land beside the same fields (see `add_service_errors`).
"""

from __future__ import annotations

import re
import secrets
from datetime import date

from django import forms

from apps.accounts import money
from apps.accounts.errors import PaymentInvalid
from apps.accounts.models import Account, Payee
from apps.accounts.selectors.banking import PostingFilters
from apps.accounts.services.payments import REFERENCE_MAX, iban_parse
from banksight.errors import BankError
from banksight.forms import StyledFormMixin

# Dates outside this range are typos, and the ends of Python's calendar overflow.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_-]{16,100}$")


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(24)


def add_service_errors(
    form: forms.Form, error: BankError, *, field_map: dict[str, str] | None = None
) -> None:
    """Put a service error's field messages beside the matching form fields.

    `field_map` renames service field names to form field names; a field the form does
    not have becomes a non-field error. With no field errors, the message is shown alone.
    """
    field_map = field_map or {}
    if not isinstance(error, PaymentInvalid) or not error.fields:
        form.add_error(None, error.message)
    for name, messages in error.fields.items():
        target = field_map.get(name, name)
        for message in messages:
            form.add_error(target if target in form.fields else None, message)


def _date_widget() -> forms.DateInput:
    return forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})


def _amount_widget(**attrs) -> forms.TextInput:
    return forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", **attrs})


class _DateRangeMixin:
    """`date_from` ≤ `date_to`, both within sensible years."""

    def _check_dates(self, cleaned: dict) -> None:
        for name in ("date_from", "date_to"):
            day = cleaned.get(name)
            if day is not None and not EARLIEST_DATE <= day <= LATEST_DATE:
                self.add_error(name, "Enter a date between 1900 and 2999.")
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_to < date_from:
            self.add_error("date_to", "The end date cannot be before the start date.")


class PostingFilterForm(_DateRangeMixin, StyledFormMixin, forms.Form):
    """Filters of an account's history. Amounts compare the size of a movement, in or out."""

    q = forms.CharField(label="Search", required=False, max_length=100)
    date_from = forms.DateField(label="From", required=False, widget=_date_widget())
    date_to = forms.DateField(label="To", required=False, widget=_date_widget())
    amount_min = forms.CharField(label="Amount from", required=False, widget=_amount_widget())
    amount_max = forms.CharField(label="Amount to", required=False, widget=_amount_widget())

    def __init__(self, *args, currency: str, **kwargs):
        self.currency = currency
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = "Description or name"

    def _amount(self, name: str):
        raw = self.cleaned_data.get(name, "").strip()
        if not raw:
            return None
        try:
            return money.parse_amount(raw, self.currency)
        except money.AmountError as error:
            raise forms.ValidationError(str(error)) from error

    def clean_amount_min(self):
        return self._amount("amount_min")

    def clean_amount_max(self):
        return self._amount("amount_max")

    def clean(self):
        cleaned = super().clean()
        self._check_dates(cleaned)
        low, high = cleaned.get("amount_min"), cleaned.get("amount_max")
        if low is not None and high is not None and high < low:
            self.add_error("amount_max", "The largest amount cannot be below the smallest.")
        return cleaned

    def filters(self) -> PostingFilters:
        """The filters that are valid; a field with an error is left out."""
        cleaned = getattr(self, "cleaned_data", {}) if self.is_bound else {}
        return PostingFilters(
            date_from=cleaned.get("date_from"),
            date_to=cleaned.get("date_to"),
            amount_min=cleaned.get("amount_min"),
            amount_max=cleaned.get("amount_max"),
            text=(cleaned.get("q") or "").strip(),
        )


class StatementForm(_DateRangeMixin, StyledFormMixin, forms.Form):
    date_from = forms.DateField(label="From", widget=_date_widget())
    date_to = forms.DateField(label="To", widget=_date_widget())

    def clean(self):
        cleaned = super().clean()
        self._check_dates(cleaned)
        return cleaned


class TransferForm(StyledFormMixin, forms.Form):
    """A payment as the customer describes it: from, to (own account, payee or IBAN), amount.

    The idempotency key is made when the form is first shown and travels with it, so the
    same form submitted twice, or its confirmation posted twice, pays once.
    """

    OWN, PAYEE, IBAN = "own", "payee", "iban"
    DESTINATIONS = [
        (OWN, "One of my accounts"),
        (PAYEE, "A saved payee"),
        (IBAN, "Someone new (IBAN)"),
    ]

    from_account = forms.TypedChoiceField(label="From account", coerce=int)
    destination = forms.ChoiceField(
        label="Pay to", choices=DESTINATIONS, initial=OWN, widget=forms.RadioSelect
    )
    to_account = forms.TypedChoiceField(
        label="To account", coerce=int, required=False, empty_value=None
    )
    payee = forms.TypedChoiceField(label="Payee", coerce=int, required=False, empty_value=None)
    to_iban = forms.CharField(
        label="IBAN",
        required=False,
        max_length=50,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    to_name = forms.CharField(label="Recipient's name", required=False, max_length=140)
    amount = forms.CharField(label="Amount", max_length=30, widget=_amount_widget())
    reference = forms.CharField(
        label="Reference",
        required=False,
        max_length=REFERENCE_MAX,
        help_text="Shown on the recipient's statement.",
    )
    idempotency_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, accounts: list[Account], payees: list[Payee], **kwargs):
        self.accounts = {account.pk: account for account in accounts}
        self.payees = {payee.pk: payee for payee in payees}
        super().__init__(*args, **kwargs)
        self.fields["from_account"].choices = [("", "Choose an account")] + [
            (account.pk, _account_label(account)) for account in accounts
        ]
        self.fields["to_account"].choices = [("", "Choose an account")] + [
            (account.pk, f"{account.name} {account.masked_number} ({account.currency})")
            for account in accounts
        ]
        self.fields["payee"].choices = [("", "Choose a payee")] + [
            (payee.pk, f"{payee.name} · {payee.iban}") for payee in payees
        ]
        self.fields["destination"].widget.attrs["class"] = "form-check-input"
        self.fields["to_name"].help_text = "Optional; for your own records."

    @property
    def source(self) -> Account | None:
        return self.accounts.get(self.cleaned_data.get("from_account"))

    @property
    def currency(self) -> str:
        return self.source.currency if self.source else ""

    def clean_idempotency_key(self) -> str:
        key = self.cleaned_data.get("idempotency_key", "")
        return key if IDEMPOTENCY_KEY.match(key) else new_idempotency_key()

    def clean_to_iban(self) -> str:
        return "".join(self.cleaned_data.get("to_iban", "").split()).upper()

    def clean(self):
        cleaned = super().clean()
        destination = cleaned.get("destination")
        if destination == self.OWN:
            to_account = cleaned.get("to_account")
            if to_account is None:
                self.add_error("to_account", "Choose the account to pay into.")
            elif to_account == cleaned.get("from_account"):
                self.add_error("to_account", "Choose a different account to pay into.")
        elif destination == self.PAYEE:
            if cleaned.get("payee") is None:
                self.add_error("payee", "Choose a payee.")
        elif destination == self.IBAN:
            if not cleaned.get("to_iban"):
                self.add_error("to_iban", "Enter the IBAN to pay.")
            else:
                try:
                    iban_parse(cleaned["to_iban"])
                except PaymentInvalid as error:
                    self.add_error("to_iban", error.fields["to_iban"])
        # Without a valid source account, the amount's format is still worth checking.
        source = self.source or next(iter(self.accounts.values()), None)
        if source is not None and "amount" in cleaned:
            try:
                cleaned["amount"] = money.parse_amount(cleaned["amount"], source.currency)
            except money.AmountError as error:
                self.add_error("amount", str(error))
        return cleaned

    @property
    def error_field_map(self) -> dict[str, str]:
        """Service field names → this form's fields for the chosen destination."""
        iban_field = "payee" if self.cleaned_data.get("destination") == self.PAYEE else "to_iban"
        return {"currency": "amount", "to_iban": iban_field}

    def payment_kwargs(self) -> dict:
        """Keyword arguments of services.payments.payment_create, less customer and actor."""
        cleaned = self.cleaned_data
        kwargs = {
            "from_account_id": cleaned["from_account"],
            "amount": str(cleaned["amount"]),
            "currency": self.currency,
            "idempotency_key": cleaned["idempotency_key"],
            "to_account_id": None,
            "to_iban": "",
            "to_name": "",
            "reference": cleaned["reference"].strip(),
        }
        if cleaned["destination"] == self.OWN:
            kwargs["to_account_id"] = cleaned["to_account"]
        elif cleaned["destination"] == self.PAYEE:
            payee = self.payees[cleaned["payee"]]
            kwargs["to_iban"], kwargs["to_name"] = payee.iban, payee.name
        else:
            kwargs["to_iban"], kwargs["to_name"] = cleaned["to_iban"], cleaned["to_name"].strip()
        return kwargs

    def as_session_data(self) -> dict[str, str]:
        """The submitted values, as strings, to bind the form again on the next request."""
        data = {name: str(self.data.get(name, "")) for name in self.fields}
        data["idempotency_key"] = self.cleaned_data["idempotency_key"]
        return data


def _account_label(account: Account) -> str:
    available = money.format_money(account.available_minor, account.currency)
    return f"{account.name} {account.masked_number} ({available} available)"


class PayeeForm(StyledFormMixin, forms.Form):
    name = forms.CharField(label="Name", max_length=140)
    iban = forms.CharField(
        label="IBAN",
        max_length=50,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    default_reference = forms.CharField(
        label="Default reference", required=False, max_length=REFERENCE_MAX
    )


class LoanPrequalifyForm(StyledFormMixin, forms.Form):
    stated_annual_income = forms.CharField(
        label="Your annual income before tax",
        max_length=30,
        widget=_amount_widget(),
        help_text="In the currency of your current account, for example 42000.",
    )
