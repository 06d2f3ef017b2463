"""The chat pages of the customer portal. The live part is static/js/chat.js over the
websocket; without JavaScript the form still sends and a reload shows the answer."""

from __future__ import annotations

import secrets

from django.contrib import messages as flash
from django.http import Http404
from django.shortcuts import redirect

from apps.accounts.portal_views import PortalView
from apps.chat import selectors, services
from apps.chat.models import Conversation
from apps.chat.presenters import message_for_customer
from banksight.errors import BankError


class ConversationListView(PortalView):
    nav_section = "chat"

    def get(self, request):
        return self.render_page(
            "chat/conversation_list.html",
            {"conversations": self.page(selectors.conversation_list(customer=self.customer))},
        )

    def post(self, request):
        conversation = services.conversation_create(customer=self.customer)
        return redirect("chat:conversation", conversation_id=conversation.pk)


class ConversationView(PortalView):
    nav_section = "chat"

    def get(self, request, conversation_id):
        conversation = selectors.conversation_get(
            customer=self.customer, conversation_id=conversation_id
        )
        transcript = [
            message_for_customer(m) for m in selectors.message_list(conversation=conversation)
        ]
        return self.render_page(
            "chat/conversation.html",
            {
                "conversation": conversation,
                "transcript": transcript,
                "last_id": transcript[-1]["id"] if transcript else 0,
                "recent": selectors.conversation_list(customer=self.customer)[:8],
                "form_client_id": secrets.token_hex(8),
            },
        )


class MessageSendView(PortalView):
    """The no-JavaScript path: the same service as the socket."""

    def post(self, request, conversation_id):
        conversation = selectors.conversation_get(
            customer=self.customer, conversation_id=conversation_id
        )
        try:
            services.message_receive(
                conversation=conversation,
                user=request.user,
                text=request.POST.get("text", ""),
                client_id=request.POST.get("client_id", ""),
            )
        except BankError as error:
            detail = "; ".join(m for errors in error.fields.values() for m in errors)
            flash.error(request, detail or error.message)
        return redirect("chat:conversation", conversation_id=conversation.pk)


class EscalateView(PortalView):
    def post(self, request, conversation_id):
        conversation = selectors.conversation_get(
            customer=self.customer, conversation_id=conversation_id
        )
        try:
            services.conversation_escalate(
                conversation=conversation, reason=Conversation.EscalationReason.CUSTOMER_REQUEST
            )
        except BankError as error:
            flash.error(request, error.message)
        return redirect("chat:conversation", conversation_id=conversation.pk)


class ArticleView(PortalView):
    """A help article the assistant cited."""

    nav_section = "chat"

    def get(self, request, slug):
        from apps.chat.models import KnowledgeArticle

        article = KnowledgeArticle.objects.filter(slug=slug, published=True).first()
        if article is None:
            raise Http404("No such article.")
        return self.render_page("chat/article.html", {"article": article})


class SurveyView(PortalView):
    """The no-JavaScript path of the survey: the same service as the socket."""

    def post(self, request, conversation_id):
        from apps.chat.handoff import survey_submit

        conversation = selectors.conversation_get(
            customer=self.customer, conversation_id=conversation_id
        )
        try:
            survey_submit(
                conversation=conversation,
                user=request.user,
                rating=request.POST.get("rating"),
                comment=request.POST.get("comment", ""),
            )
        except BankError as error:
            detail = "; ".join(m for errors in error.fields.values() for m in errors)
            flash.error(request, detail or error.message)
        return redirect("chat:conversation", conversation_id=conversation.pk)
