"""Transcript export for staff: masked text by default, unmasked with a recorded reason."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from apps.accounts.access import StaffPermissionMixin
from apps.accounts.customer_360 import REVEAL_REASON_MAX_LENGTH, REVEAL_REASON_MIN_LENGTH
from apps.accounts.errors import NotFound
from apps.chat import transcripts
from banksight.errors import BankError
from banksight.forms import StyledFormMixin

EXPORT = "chat.export_transcripts"


class UnmaskedExportForm(StyledFormMixin, forms.Form):
    reason = forms.CharField(
        label="Reason for the unmasked export",
        min_length=REVEAL_REASON_MIN_LENGTH,
        max_length=REVEAL_REASON_MAX_LENGTH,
        help_text="Recorded with your name. A masked export needs no reason.",
        error_messages={
            "required": "Give a reason for exporting the unmasked transcript.",
            "min_length": f"Write a reason of at least {REVEAL_REASON_MIN_LENGTH} characters.",
        },
    )


def _conversation(conversation_id):
    try:
        return transcripts.transcript_conversation_get(conversation_id=conversation_id)
    except NotFound as error:
        raise Http404 from error


def _export_page(request, conversation, form, *, status=200):
    context = {"conversation": conversation, "form": form}
    return render(request, "staff/transcripts/export.html", context, status=status)


def _text_response(text: str, conversation, *, unmasked: bool) -> HttpResponse:
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    suffix = "-unmasked" if unmasked else ""
    filename = f"transcript-{conversation.pk}{suffix}.txt"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@method_decorator(never_cache, name="dispatch")
class TranscriptExportView(StaffPermissionMixin, View):
    """The page with both choices: the masked download, and the form for the unmasked one."""

    permission = EXPORT

    def get(self, request, conversation_id):
        conversation = _conversation(conversation_id)
        return _export_page(request, conversation, UnmaskedExportForm())


@method_decorator(never_cache, name="dispatch")
class TranscriptTextView(StaffPermissionMixin, View):
    """GET: the masked transcript. POST with a reason: the unmasked one, recorded first."""

    permission = EXPORT

    def get(self, request, conversation_id):
        conversation = _conversation(conversation_id)
        text = transcripts.transcript_text(conversation=conversation, exported_by=request.user)
        return _text_response(text, conversation, unmasked=False)

    def post(self, request, conversation_id):
        conversation = _conversation(conversation_id)
        form = UnmaskedExportForm(request.POST)
        if not form.is_valid():
            return _export_page(request, conversation, form, status=400)
        try:
            reason = transcripts.transcript_unmasked_record(
                conversation=conversation,
                reason=form.cleaned_data["reason"],
                actor=request.user,
                ip_address=request.META.get("REMOTE_ADDR"),
            )
        except BankError as error:
            for message in error.fields.get("reason", [error.message]):
                form.add_error("reason", message)
            return _export_page(request, conversation, form, status=400)
        text = transcripts.transcript_text(
            conversation=conversation, exported_by=request.user, unmasked=True, reason=reason
        )
        return _text_response(text, conversation, unmasked=True)
