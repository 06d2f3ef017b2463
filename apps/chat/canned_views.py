"""Back-office pages for canned responses (/staff/canned-responses/)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from apps.accounts.access import StaffPermissionMixin
from apps.accounts.errors import NotFound
from apps.chat import canned
from apps.chat.services import MAX_TEXT
from banksight.errors import BankError
from banksight.forms import StyledFormMixin

MANAGE = "chat.manage_canned_responses"


class CannedResponseForm(StyledFormMixin, forms.Form):
    title = forms.CharField(label="Title", max_length=canned.TITLE_MAX)
    text = forms.CharField(
        label="Reply",
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=(
            "Write it as the agent would send it. Never put a customer's details in a canned reply."
        ),
    )


def _get(canned_id):
    try:
        return canned.canned_response_get(canned_id=canned_id)
    except NotFound as error:
        raise Http404 from error


def _form_page(request, form, *, reply=None, status=200):
    context = {"form": form, "reply": reply}
    return render(request, "staff/canned/form.html", context, status=status)


def _apply_errors(form: forms.Form, error: BankError) -> None:
    for field, field_errors in error.fields.items():
        for message in field_errors:
            form.add_error(field if field in form.fields else None, message)
    if not error.fields:
        form.add_error(None, error.message)


class CannedResponseListView(StaffPermissionMixin, View):
    permission = MANAGE

    def get(self, request):
        replies = canned.canned_response_list()
        return render(request, "staff/canned/list.html", {"replies": replies})


class CannedResponseCreateView(StaffPermissionMixin, View):
    permission = MANAGE

    def get(self, request):
        return _form_page(request, CannedResponseForm())

    def post(self, request):
        form = CannedResponseForm(request.POST)
        if not form.is_valid():
            return _form_page(request, form, status=400)
        try:
            reply = canned.canned_response_create(actor=request.user, **form.cleaned_data)
        except BankError as error:
            _apply_errors(form, error)
            return _form_page(request, form, status=400)
        messages.success(request, f"“{reply.title}” is ready for agents.")
        return redirect(reverse("staff:canned-responses"))


class CannedResponseEditView(StaffPermissionMixin, View):
    permission = MANAGE

    def get(self, request, canned_id: int):
        reply = _get(canned_id)
        form = CannedResponseForm(initial={"title": reply.title, "text": reply.text})
        return _form_page(request, form, reply=reply)

    def post(self, request, canned_id: int):
        reply = _get(canned_id)
        form = CannedResponseForm(request.POST)
        if not form.is_valid():
            return _form_page(request, form, reply=reply, status=400)
        try:
            reply = canned.canned_response_update(
                canned=reply, actor=request.user, **form.cleaned_data
            )
        except BankError as error:
            _apply_errors(form, error)
            return _form_page(request, form, reply=reply, status=400)
        messages.success(request, f"“{reply.title}” is saved.")
        return redirect(reverse("staff:canned-responses"))


class CannedResponseActiveView(StaffPermissionMixin, View):
    """POST active=0 deactivates (agents no longer see it), active=1 brings it back."""

    permission = MANAGE

    def post(self, request, canned_id: int):
        reply = _get(canned_id)
        active = request.POST.get("active") == "1"
        reply = canned.canned_response_active_set(canned=reply, active=active, actor=request.user)
        state = "back in the agents' list" if active else "deactivated"
        messages.success(request, f"“{reply.title}” is {state}.")
        return redirect(reverse("staff:canned-responses"))
