"""Back-office customer pages: search, the customer 360, revealing a masked field with a
reason, and the vulnerable-customer flag. Every response is `Cache-Control: no-store`."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from apps.accounts import customer_360 as c360
from apps.accounts.access import StaffPermissionMixin
from apps.accounts.errors import NotFound
from banksight.errors import BankError
from banksight.forms import StyledFormMixin

VIEW_360 = "chat.view_customer_360"
REVEAL = "chat.reveal_personal_data"
# Setting the vulnerable flag: the agents who talk to customers (who learn of a
# bereavement or an illness first) and their supervisors.
FLAG_VULNERABLE = ("chat.handle_conversations", "chat.supervise_conversations")


class RevealForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label="Reason",
        min_length=c360.REVEAL_REASON_MIN_LENGTH,
        max_length=c360.REVEAL_REASON_MAX_LENGTH,
        help_text="Why you need the clear value. It is recorded with your name.",
        error_messages={
            "required": "Give a reason for revealing this value.",
            "min_length": f"Write a reason of at least {c360.REVEAL_REASON_MIN_LENGTH} characters.",
        },
    )


def _reveal_forms(customer_360: c360.Customer360, bound: RevealForm | None = None) -> dict:
    forms_by_field = {}
    for item in customer_360.profile:
        if not item.masked:
            continue
        if bound is not None and bound.prefix == item.name:
            forms_by_field[item.name] = bound
        else:
            forms_by_field[item.name] = RevealForm(prefix=item.name)
    return forms_by_field


def _customer_or_404(customer_id):
    try:
        return c360.customer_get(customer_id=customer_id)
    except NotFound as error:
        raise Http404 from error


def render_360(request, customer, *, bound_form=None, revealed=None, status=200):
    data = c360.customer_360(customer=customer)
    reveal_forms = _reveal_forms(data, bound_form)
    profile = [
        {
            "name": item.name,
            "label": item.label,
            "masked": item.masked,
            "form": reveal_forms.get(item.name),
            "revealed": revealed["value"] if revealed and revealed["field"] == item.name else None,
            "open": bound_form is not None and bound_form.prefix == item.name,
        }
        for item in data.profile
    ]
    context = {
        "c360": data,
        "customer": customer,
        "profile": profile,
        "revealed": revealed,
        "can_flag_vulnerable": any(request.user.has_perm(p) for p in FLAG_VULNERABLE),
    }
    return render(request, "staff/customers/detail.html", context, status=status)


@method_decorator(never_cache, name="dispatch")
class CustomerSearchView(StaffPermissionMixin, View):
    permission = VIEW_360

    def get(self, request):
        query = request.GET.get("q", "").strip()
        customers = list(c360.customer_search(query=query)) if query else []
        context = {"q": query, "customers": customers, "searched": bool(query)}
        return render(request, "staff/customers/search.html", context)


@method_decorator(never_cache, name="dispatch")
class Customer360View(StaffPermissionMixin, View):
    permission = VIEW_360

    def get(self, request, customer_id: int):
        return render_360(request, _customer_or_404(customer_id))


@method_decorator(never_cache, name="dispatch")
class CustomerRevealView(StaffPermissionMixin, View):
    """POST only: the clear value appears once, in this response's page, never in a URL."""

    permission = REVEAL

    def post(self, request, customer_id: int):
        customer = _customer_or_404(customer_id)
        field_name = request.POST.get("field", "")
        if field_name not in c360.REVEALABLE_FIELDS:
            return HttpResponseBadRequest("Unknown field.")
        form = RevealForm(request.POST, prefix=field_name)
        if not form.is_valid():
            return render_360(request, customer, bound_form=form, status=400)
        try:
            value = c360.customer_pii_reveal(
                customer=customer,
                field_name=field_name,
                reason=form.cleaned_data["reason"],
                actor=request.user,
                ip_address=request.META.get("REMOTE_ADDR"),
            )
        except BankError as error:
            for message in error.fields.get("reason", [error.message]):
                form.add_error("reason", message)
            return render_360(request, customer, bound_form=form, status=400)
        revealed = {
            "field": field_name,
            "label": c360.REVEALABLE_FIELDS[field_name],
            "value": value,
        }
        return render_360(request, customer, revealed=revealed)


@method_decorator(never_cache, name="dispatch")
class CustomerVulnerableView(StaffPermissionMixin, View):
    permission = VIEW_360

    def post(self, request, customer_id: int):
        if not any(request.user.has_perm(p) for p in FLAG_VULNERABLE):
            raise PermissionDenied
        customer = _customer_or_404(customer_id)
        vulnerable = request.POST.get("vulnerable") == "1"
        c360.customer_vulnerable_set(customer=customer, vulnerable=vulnerable, actor=request.user)
        if vulnerable:
            messages.success(request, f"{customer.full_name} is flagged as vulnerable.")
        else:
            messages.success(request, f"The vulnerable flag of {customer.full_name} is cleared.")
        return redirect(reverse("staff:customer-360", args=[customer.pk]))
