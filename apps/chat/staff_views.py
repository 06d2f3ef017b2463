"""Back-office pages of the human handoff: the queue and the agent console (/staff/chat/).

StaffAreaMiddleware has already checked staff + a verified OTP device; each view needs
chat.handle_conversations on top. The live console is static/js/agent_console.js over
/ws/staff/chat/<id>/ (apps/chat/staff_consumers.py); every form here also posts without
JavaScript, to the same services in apps/chat/handoff.py. Staff only ever see masked text.
"""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from apps.accounts.access import StaffPermissionMixin
from apps.accounts.errors import NotFound
from apps.chat import canned, console_selectors, handoff
from apps.chat.models import AgentPresence, Conversation
from apps.chat.presenters import message_for_staff
from banksight.errors import BankError

PERMISSION = handoff.HANDLE
PRIORITY_STYLES = {
    Conversation.Priority.URGENT: "danger",
    Conversation.Priority.HIGH: "warning",
    Conversation.Priority.NORMAL: "secondary",
}


def clock(seconds: int | None) -> str:
    """A duration as m:ss (h:mm:ss past an hour), for waits and targets."""
    if seconds is None:
        return ""
    sign = "-" if seconds < 0 else ""
    minutes, secs = divmod(abs(int(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}"
    return f"{sign}{minutes}:{secs:02d}"


def _time_left(seconds: int) -> str:
    return f"Overdue {clock(-seconds)}" if seconds < 0 else clock(seconds)


def _error_text(error: BankError) -> str:
    detail = " ".join(m for errors in error.fields.values() for m in errors)
    return detail or error.message


class _HandlesOrSupervisesMixin:
    """Agents who take conversations, and supervisors who read and reassign them."""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not (user.has_perm(handoff.HANDLE) or user.has_perm(handoff.SUPERVISE)):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def _conversation_or_404(request, conversation_id) -> Conversation:
    try:
        return handoff.conversation_for_staff(user=request.user, conversation_id=conversation_id)
    except NotFound as error:
        raise Http404(error.message) from error


class QueueView(_HandlesOrSupervisesMixin, TemplateView):
    """Waiting conversations (most urgent, then longest waiting, first), the agent's own,
    and the agent's presence."""

    template_name = "staff/chat/queue.html"

    def get_context_data(self, **kwargs):
        waiting = [
            {
                "conversation": conversation,
                "priority_style": PRIORITY_STYLES.get(conversation.priority, "secondary"),
                "waited": clock(conversation.waited_seconds),
                "target": clock(conversation.target_seconds),
                "left": _time_left(conversation.seconds_left),
                "breached": conversation.seconds_left < 0,
            }
            for conversation in handoff.queue_list()
        ]
        handles = self.request.user.has_perm(handoff.HANDLE)
        mine = [
            {
                "conversation": conversation,
                "priority_style": PRIORITY_STYLES.get(conversation.priority, "secondary"),
            }
            for conversation in handoff.agent_conversation_list(agent=self.request.user)
        ]
        return super().get_context_data(
            handles=handles,
            presence=handoff.agent_presence_get(user=self.request.user) if handles else None,
            statuses=AgentPresence.Status.choices,
            waiting=waiting,
            mine=mine,
            **kwargs,
        )


class PresenceView(StaffPermissionMixin, View):
    permission = PERMISSION

    def post(self, request):
        raw_max = request.POST.get("max_chats", "").strip()
        try:
            max_chats = int(raw_max) if raw_max else None
        except ValueError:
            messages.error(request, "Enter the number of chats you can take at once (1 to 20).")
            return redirect(reverse("staff:handoff:queue"))
        try:
            presence = handoff.agent_presence_set(
                user=request.user, status=request.POST.get("status", ""), max_chats=max_chats
            )
        except BankError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(
                request,
                f"You are {presence.get_status_display().lower()}, "
                f"taking up to {presence.max_chats} chats at once.",
            )
        return redirect(reverse("staff:handoff:queue"))


class ClaimView(StaffPermissionMixin, View):
    permission = PERMISSION

    def post(self, request, conversation_id):
        try:
            conversation = handoff.conversation_claim(
                conversation_id=conversation_id, agent=request.user
            )
        except NotFound as error:
            raise Http404(error.message) from error
        except BankError as error:
            messages.error(request, _error_text(error))
            return redirect(reverse("staff:handoff:queue"))
        return redirect(reverse("staff:handoff:console", args=[conversation.pk]))


class ConsoleView(_HandlesOrSupervisesMixin, TemplateView):
    """One conversation: summary, masked transcript, composer, notes, transfer, close."""

    template_name = "staff/chat/console.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        conversation = _conversation_or_404(self.request, self.kwargs["conversation_id"])
        transcript = [
            message_for_staff(m)
            for m in console_selectors.console_message_list(conversation=conversation)
        ]
        holds = (
            conversation.status == Conversation.Status.WITH_AGENT
            and conversation.assigned_agent_id == user.pk
        )
        return super().get_context_data(
            conversation=conversation,
            transcript=transcript,
            last_id=transcript[-1]["id"] if transcript else 0,
            notes=console_selectors.internal_note_list(conversation=conversation),
            canned=canned.canned_response_list_active(),
            agents=console_selectors.transfer_agent_list(agent=user),
            resolutions=Conversation.Resolution.choices,
            holds=holds,
            handles=user.has_perm(handoff.HANDLE),
            supervisor=user.has_perm(handoff.SUPERVISE),
            priority_style=PRIORITY_STYLES.get(conversation.priority, "secondary"),
            target=clock(handoff.first_response_target(conversation.priority)),
            form_client_id=secrets.token_hex(8),
            **kwargs,
        )


class _ConsoleActionView(_HandlesOrSupervisesMixin, View):
    """The no-JavaScript path of a console command: one service, then back to a page.

    The services decide who may do what (holding the conversation, or supervising it)."""

    done_message = ""
    # Where the agent lands when the conversation is no longer theirs to read.
    leaves_console = False

    def perform(self, request, conversation: Conversation) -> None:
        raise NotImplementedError

    def post(self, request, conversation_id):
        conversation = _conversation_or_404(request, conversation_id)
        try:
            self.perform(request, conversation)
        except BankError as error:
            messages.error(request, _error_text(error))
            return redirect(reverse("staff:handoff:console", args=[conversation.pk]))
        if self.done_message:
            messages.success(request, self.done_message)
        if self.leaves_console:
            return redirect(reverse("staff:handoff:queue"))
        return redirect(reverse("staff:handoff:console", args=[conversation.pk]))


class MessageSendView(_ConsoleActionView):
    def perform(self, request, conversation):
        handoff.agent_message_send(
            conversation=conversation,
            agent=request.user,
            text=request.POST.get("text", ""),
            client_id=request.POST.get("client_id", ""),
        )


class NoteAddView(_ConsoleActionView):
    done_message = "Note added. Customers never see notes."

    def perform(self, request, conversation):
        handoff.internal_note_add(
            conversation=conversation, author=request.user, text=request.POST.get("text", "")
        )


class HandBackView(_ConsoleActionView):
    done_message = "Handed back to the assistant."
    leaves_console = True

    def perform(self, request, conversation):
        handoff.conversation_hand_back(conversation=conversation, agent=request.user)


class TransferView(_ConsoleActionView):
    leaves_console = True

    def perform(self, request, conversation):
        to = request.POST.get("to", "")
        handoff.conversation_transfer(
            conversation=conversation,
            agent=request.user,
            to_username=to,
            note=request.POST.get("note", ""),
        )
        messages.success(request, f"Transferred to {to}.")


class CloseView(_ConsoleActionView):
    done_message = "Conversation closed. The customer has been asked for a rating."

    def perform(self, request, conversation):
        handoff.conversation_close(
            conversation=conversation,
            agent=request.user,
            resolution=request.POST.get("resolution", ""),
        )
