"""Banking pages of the customer portal: accounts, history, statements, payments, payees,
cards, loan pre-qualification and standing orders.

Views stay thin: they find the customer, read through `selectors.banking` (always scoped
to that customer, so someone else's id is a 404) and write only through the services.
"""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views import View

from apps.accounts import money
from apps.accounts.access import CustomerRequiredMixin
from apps.accounts.errors import IdempotencyKeyReused, NotFound, PaymentInvalid
from apps.accounts.forms import OtpTokenForm
from apps.accounts.models import Account
from apps.accounts.portal_forms import (
    LoanPrequalifyForm,
    PayeeForm,
    PostingFilterForm,
    StatementForm,
    TransferForm,
    add_service_errors,
    new_idempotency_key,
)
from apps.accounts.selectors import banking as selectors
from apps.accounts.selectors.people import mfa_device_get_confirmed
from apps.accounts.services import cards as card_services
from apps.accounts.services import loans as loan_services
from apps.accounts.services import mfa_token_check
from apps.accounts.services import payees as payee_services
from apps.accounts.services import payments as payment_services
from apps.accounts.services import standing_orders as standing_order_services
from apps.accounts.services.ledger import is_bank_iban
from apps.accounts.statements import statement_csv
from banksight.errors import BankError

PAGE_SIZE = 25
RECENT_TRANSACTIONS = 5
# Pending transfers live in the session under random tokens; only the newest few are kept.
PENDING_TRANSFERS = "portal_pending_transfers"
PENDING_TRANSFERS_KEPT = 10


class _CustomerProfileMixin:
    """Sets `self.customer`; a customer user without a profile gets a friendly page.

    Selectors raise NotFound for someone else's object and a missing one alike; here it
    becomes Django's 404 page.
    """

    def dispatch(self, request, *args, **kwargs):
        self.customer = selectors.customer_for_user(user=request.user)
        if self.customer is None:
            return render(request, "accounts/no_profile.html", {"nav_section": ""})
        try:
            return super().dispatch(request, *args, **kwargs)
        except NotFound as error:
            raise Http404(error.message) from error


class PortalView(CustomerRequiredMixin, _CustomerProfileMixin, View):
    nav_section = ""

    def render_page(self, template: str, context: dict | None = None, *, status: int = 200):
        context = {"customer": self.customer, "nav_section": self.nav_section, **(context or {})}
        return render(self.request, template, context, status=status)

    def page(self, items):
        return Paginator(items, PAGE_SIZE).get_page(self.request.GET.get("page"))


# --- Overview and accounts ------------------------------------------------------------


class DashboardView(PortalView):
    nav_section = "overview"
    template_name = "accounts/home.html"

    def get(self, request):
        accounts = list(selectors.account_list(customer=self.customer))
        recent = [
            (posting, posting.account)
            for posting in selectors.posting_list_recent(customer=self.customer)[
                :RECENT_TRANSACTIONS
            ]
        ]
        return self.render_page(
            self.template_name,
            {
                "accounts": accounts,
                "recent": recent,
                "cards": list(selectors.card_list(customer=self.customer)),
            },
        )


class AccountDetailView(PortalView):
    nav_section = "overview"

    def get(self, request, account_id: int):
        account = selectors.account_get(customer=self.customer, account_id=account_id)
        filter_form = PostingFilterForm(
            request.GET if _has_any(request.GET, PostingFilterForm.base_fields) else None,
            currency=account.currency,
        )
        filter_form.is_valid()
        return self.render_account(account, filter_form=filter_form)

    def render_account(self, account, *, filter_form, statement_form=None, status=200):
        filters = filter_form.filters()
        page_obj = self.page(selectors.posting_list(account=account, filters=filters))
        return self.render_page(
            "accounts/account_detail.html",
            {
                "account": account,
                "filter_form": filter_form,
                "filtered": filters != selectors.PostingFilters(),
                "statement_form": statement_form
                or StatementForm(auto_id="id_statement_%s", initial=_this_month()),
                "page_obj": page_obj,
                "postings": page_obj.object_list,
            },
            status=status,
        )


class StatementView(AccountDetailView):
    """A CSV statement for a date range; bad dates show the account page with the errors."""

    def get(self, request, account_id: int):
        account = selectors.account_get(customer=self.customer, account_id=account_id)
        form = StatementForm(request.GET, auto_id="id_statement_%s")
        if not form.is_valid():
            return self.render_account(
                account,
                filter_form=PostingFilterForm(currency=account.currency),
                statement_form=form,
                status=400,
            )
        date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
        postings = selectors.posting_list(
            account=account,
            filters=selectors.PostingFilters(date_from=date_from, date_to=date_to),
        )
        filename = f"statement-{account.number[-4:]}-{date_from:%Y-%m-%d}-{date_to:%Y-%m-%d}.csv"
        response = HttpResponse(
            statement_csv(account=account, postings=postings.iterator()),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "private, no-store"
        return response


def _has_any(query, names) -> bool:
    return any(query.get(name) for name in names)


def _this_month() -> dict:
    today = timezone.localdate()
    return {"date_from": today.replace(day=1), "date_to": today}


# --- Transfers ------------------------------------------------------------------------


class _TransferMixin:
    nav_section = "payments"

    def transfer_form(self, data=None, *, initial=None) -> TransferForm:
        accounts = [
            account
            for account in selectors.account_list(customer=self.customer)
            if account.status == Account.Status.OPEN
        ]
        payees = list(selectors.payee_list(customer=self.customer))
        return TransferForm(data, initial=initial, accounts=accounts, payees=payees)

    def render_form(self, form: TransferForm):
        return self.render_page(
            "accounts/transfer_form.html",
            {"form": form, "has_accounts": bool(form.accounts)},
        )

    def pending_all(self) -> dict:
        return self.request.session.get(PENDING_TRANSFERS, {})

    def pending_get(self, token) -> dict | None:
        return self.pending_all().get(token) if isinstance(token, str) else None

    def pending_put(self, token: str, pending: dict) -> None:
        transfers = {k: v for k, v in self.pending_all().items() if k != token}
        transfers[token] = pending
        while len(transfers) > PENDING_TRANSFERS_KEPT:
            transfers.pop(next(iter(transfers)))
        self.request.session[PENDING_TRANSFERS] = transfers


class TransferCreateView(_TransferMixin, PortalView):
    """Step one: describe the payment. Valid input is kept in the session for step two."""

    def get(self, request):
        pending = self.pending_get(request.GET.get("change"))
        if pending is not None:
            initial = dict(pending["data"])
            if pending["payment_id"]:  # already paid: changing it makes a new payment
                initial["idempotency_key"] = new_idempotency_key()
            return self.render_form(self.transfer_form(initial=initial))
        form = self.transfer_form()
        from_id = _int_or_none(request.GET.get("from"))
        initial = {
            "idempotency_key": new_idempotency_key(),
            # The account asked for, or the first one (usually the current account).
            "from_account": from_id
            if from_id in form.accounts
            else next(iter(form.accounts), None),
        }
        payee = form.payees.get(_int_or_none(request.GET.get("payee")))
        if payee is not None:
            initial.update(
                destination=TransferForm.PAYEE,
                payee=payee.pk,
                reference=payee.default_reference,
            )
        form.initial = initial
        return self.render_form(form)

    def post(self, request):
        form = self.transfer_form(request.POST)
        if not form.is_valid():
            return self.render_form(form)
        token = secrets.token_urlsafe(16)
        self.pending_put(token, {"data": form.as_session_data(), "payment_id": None})
        return redirect(f"{reverse('accounts:transfer-confirm')}?{urlencode({'token': token})}")


class TransferConfirmView(_TransferMixin, PortalView):
    """Step two: check the summary, then pay. Posting the same token again never pays twice:
    the payment id is remembered with the token, and the service replays the idempotency key.
    """

    def get(self, request):
        token = request.GET.get("token")
        pending = self.pending_get(token)
        if pending is None:
            return self.expired()
        if pending["payment_id"]:
            return redirect("accounts:payment-detail", payment_id=pending["payment_id"])
        form = self.transfer_form(pending["data"])
        if not form.is_valid():  # an account or payee changed since: show what is wrong
            return self.render_form(form)
        code_form = OtpTokenForm(prefix="step_up") if self.code_needed(form) else None
        return self.render_confirm(token, form, code_form)

    def post(self, request):
        token = request.POST.get("token")
        pending = self.pending_get(token)
        if pending is None:
            return self.expired()
        if pending["payment_id"]:
            return redirect("accounts:payment-detail", payment_id=pending["payment_id"])
        form = self.transfer_form(pending["data"])
        if not form.is_valid():
            return self.render_form(form)
        if self.code_needed(form):
            code_form = OtpTokenForm(request.POST, prefix="step_up")
            if not self.code_passed(code_form):  # nothing is paid; the error is by the field
                return self.render_confirm(token, form, code_form, status=400)
        try:
            payment, _created = payment_services.payment_create(
                customer=self.customer, actor=request.user, **form.payment_kwargs()
            )
        except IdempotencyKeyReused:
            # The key already paid for something else (an old form sent again): start afresh.
            data = {**pending["data"], "idempotency_key": new_idempotency_key()}
            form = self.transfer_form(data)
            form.is_valid()
            form.add_error(
                None,
                "This form was already used for another payment. Check your payments; "
                "to send this one as well, review it and continue.",
            )
            return self.render_form(form)
        except BankError as error:
            add_service_errors(form, error, field_map=form.error_field_map)
            return self.render_form(form)
        self.pending_put(token, {**pending, "payment_id": payment.pk})
        return redirect("accounts:payment-detail", payment_id=payment.pk)

    def expired(self):
        messages.error(
            self.request, "That payment was not found or has expired. Please start again."
        )
        return redirect("accounts:transfer-new")

    def render_confirm(self, token: str, form: TransferForm, code_form, *, status: int = 200):
        return self.render_page(
            "accounts/transfer_confirm.html",
            {"token": token, "summary": _summary(form), "code_form": code_form},
            status=status,
        )

    def code_needed(self, form: TransferForm) -> bool:
        """A first payment to someone (a new IBAN, or a saved payee never paid) needs a
        current code when the customer has an authenticator: a session alone could be
        someone else's."""
        to_iban = form.payment_kwargs()["to_iban"]
        if not to_iban or mfa_device_get_confirmed(user=self.request.user) is None:
            return False
        try:
            iban = str(payment_services.iban_parse(to_iban))
        except PaymentInvalid:
            return True  # the service refuses it anyway; ask as for any new payee
        if iban in {account.iban for account in form.accounts.values()}:
            return False  # one of the customer's own accounts
        return selectors.payee_is_new(customer=self.customer, iban=iban)

    def code_passed(self, code_form: OtpTokenForm) -> bool:
        if not code_form.is_valid():
            return False
        try:
            mfa_token_check(
                user=self.request.user,
                token=code_form.cleaned_data["token"],
                ip_address=self.request.META.get("REMOTE_ADDR"),
            )
        except BankError as error:
            code_form.add_error("token", error.message)
            return False
        return True


def _summary(form: TransferForm) -> dict:
    kwargs, cleaned = form.payment_kwargs(), form.cleaned_data
    source = form.source
    summary = {
        "from_account": source,
        "amount": money.format_money(
            money.to_minor(cleaned["amount"], source.currency), source.currency
        ),
        "reference": kwargs["reference"],
        "to_account": form.accounts.get(kwargs["to_account_id"]),
        "to_name": kwargs["to_name"],
        "to_iban": kwargs["to_iban"],
        "other_bank": False,
    }
    if kwargs["to_iban"]:
        try:
            summary["other_bank"] = not is_bank_iban(payment_services.iban_parse(kwargs["to_iban"]))
        except PaymentInvalid:  # the service says so, beside the field, on confirming
            summary["other_bank"] = False
    return summary


def _int_or_none(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- Payments -------------------------------------------------------------------------


class PaymentListView(PortalView):
    nav_section = "payments"

    def get(self, request):
        page_obj = self.page(selectors.payment_list(customer=self.customer))
        return self.render_page(
            "accounts/payment_list.html",
            {"page_obj": page_obj, "payments": page_obj.object_list},
        )


class PaymentDetailView(PortalView):
    nav_section = "payments"

    def get(self, request, payment_id: int):
        payment = selectors.payment_get(customer=self.customer, payment_id=payment_id)
        return self.render_page(
            "accounts/payment_detail.html",
            {"payment": payment},
        )


# --- Payees ---------------------------------------------------------------------------


class PayeeListView(PortalView):
    nav_section = "payees"

    def get(self, request):
        return self.render_list(PayeeForm())

    def post(self, request):
        form = PayeeForm(request.POST)
        if form.is_valid():
            try:
                payee = payee_services.payee_create(customer=self.customer, **form.cleaned_data)
            except BankError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, f"{payee.name} is saved as a payee.")
                return redirect("accounts:payee-list")
        return self.render_list(form)

    def render_list(self, form):
        return self.render_page(
            "accounts/payee_list.html",
            {"form": form, "payees": list(selectors.payee_list(customer=self.customer))},
        )


class PayeeDeleteView(PortalView):
    def post(self, request, payee_id: int):
        payee = selectors.payee_get(customer=self.customer, payee_id=payee_id)
        try:
            payee_services.payee_delete(payee=payee)
        except BankError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{payee.name} is no longer a payee.")
        return redirect("accounts:payee-list")


# --- Cards ----------------------------------------------------------------------------


class CardListView(PortalView):
    nav_section = "cards"

    def get(self, request):
        return self.render_page(
            "accounts/card_list.html", {"cards": list(selectors.card_list(customer=self.customer))}
        )


class _CardActionView(PortalView):
    action = staticmethod(card_services.card_freeze)
    done = ""

    def post(self, request, card_id: int):
        card = selectors.card_get(customer=self.customer, card_id=card_id)
        try:
            card = self.action(card=card, actor=request.user)
        except BankError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, self.done.format(card=card))
        return redirect("accounts:card-list")


class CardFreezeView(_CardActionView):
    action = staticmethod(card_services.card_freeze)
    done = "Your card ending {card.last4} is frozen. Nobody can pay with it until you unfreeze it."


class CardUnfreezeView(_CardActionView):
    action = staticmethod(card_services.card_unfreeze)
    done = "Your card ending {card.last4} works again."


# --- Loans ----------------------------------------------------------------------------


class LoanPrequalifyView(PortalView):
    nav_section = "loans"

    def get(self, request):
        return self.render_form(LoanPrequalifyForm())

    def post(self, request):
        form = LoanPrequalifyForm(request.POST)
        if form.is_valid():
            try:
                result = loan_services.loan_prequalify(
                    customer=self.customer,
                    stated_annual_income=form.cleaned_data["stated_annual_income"],
                )
            except BankError as error:
                if error.fields:
                    add_service_errors(form, error)
                else:
                    messages.error(request, error.message)
            else:
                return redirect("accounts:loan-prequalification-detail", pk=result.pk)
        return self.render_form(form)

    def render_form(self, form):
        results = [
            _loan_result(result)
            for result in selectors.loan_prequalification_list(customer=self.customer)[:10]
        ]
        return self.render_page("accounts/loan_prequalify.html", {"form": form, "results": results})


class LoanPrequalificationDetailView(PortalView):
    nav_section = "loans"

    def get(self, request, pk: int):
        result = selectors.loan_prequalification_get(customer=self.customer, prequalification_id=pk)
        return self.render_page(
            "accounts/loan_prequalification_detail.html", {"result": _loan_result(result)}
        )


def _loan_result(result) -> dict:
    def fmt(minor: int) -> str:
        return money.format_money(minor, result.currency)

    return {
        "object": result,
        "minimum": fmt(result.min_amount_minor),
        "maximum": fmt(result.max_amount_minor),
        "income": fmt(result.stated_annual_income_minor),
    }


# --- Standing orders ------------------------------------------------------------------


class StandingOrderListView(PortalView):
    nav_section = "payments"

    def get(self, request):
        return self.render_page(
            "accounts/standing_order_list.html",
            {
                "rows": [
                    {"order": order, "amount": money.from_minor(order.amount_minor, order.currency)}
                    for order in selectors.standing_order_list(customer=self.customer)
                ]
            },
        )


class StandingOrderCancelView(PortalView):
    def post(self, request, order_id: int):
        order = selectors.standing_order_get(customer=self.customer, order_id=order_id)
        if not order.active:
            messages.info(request, "That standing order was already cancelled.")
        else:
            try:
                standing_order_services.standing_order_cancel(order=order)
            except BankError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request, f"Your standing order to {order.payee.name} is cancelled."
                )
        return redirect("accounts:standing-order-list")
