"""The assistant's mobile API: conversations, messages, feedback, stop, escalation, actions.

The live stream is Server-Sent Events at /conversations/{id}/events (apps/chat/sse.py).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.banking_api.common import (
    customer_of,
    customer_or_403,
    customer_or_404,
    error_example,
    error_responses,
    page_of,
)
from apps.accounts.permissions import IsCustomer
from apps.chat import events, selectors, services, streams
from apps.chat.errors import ConversationClosed
from apps.chat.models import Conversation
from apps.chat.presenters import message_for_customer

CONVERSATION_EXAMPLE = {
    "id": "8d7f3c1e-2b8a-4c55-9a3e-1f2d3c4b5a69",
    "title": "New conversation",
    "status": "active",
    "created_at": "2026-11-25T10:02:11.120000+00:00",
    "updated_at": "2026-11-25T10:02:14.480000+00:00",
    "websocket": "/ws/chat/8d7f3c1e-2b8a-4c55-9a3e-1f2d3c4b5a69/",
    "events": "/api/v1/conversations/8d7f3c1e-2b8a-4c55-9a3e-1f2d3c4b5a69/events",
}
MESSAGE_EXAMPLE = {
    "id": 41,
    "role": "assistant",
    "text": "Your Everyday account ending 1234 has £1,250.00.",
    "status": "complete",
    "client_id": None,
    "created_at": "2026-11-25T10:02:12.001000+00:00",
    "author": None,
    "citations": [],
    "actions": [],
    "feedback": None,
}
EVENTS_EXAMPLE = (
    ": connected\n\n"
    "event: message\n"
    'data: {"id":40,"role":"customer","text":"What is my balance?","status":"received",'
    '"client_id":"c-8f1b2a","created_at":"2026-11-25T10:02:11.900000+00:00","author":null,'
    '"citations":[],"actions":[],"feedback":null}\n\n'
    "event: message\n"
    'data: {"id":41,"role":"assistant","text":"","status":"streaming","client_id":null,'
    '"created_at":"2026-11-25T10:02:12.001000+00:00","author":null,"citations":[],'
    '"actions":[],"feedback":null}\n\n'
    "event: token\n"
    'data: {"message_id":41,"seq":1,"text":"Your Everyday "}\n\n'
    "event: token\n"
    'data: {"message_id":41,"seq":2,"text":"account ending 1234 has \u00a31,250.00."}\n\n'
    "event: message\n"
    "id: 41\n"
    'data: {"id":41,"role":"assistant","text":"Your Everyday account ending 1234 has '
    '\u00a31,250.00.","status":"complete","client_id":null,'
    '"created_at":"2026-11-25T10:02:12.001000+00:00","author":null,"citations":[],'
    '"actions":[],"feedback":null}\n\n'
    "event: done\n"
    'data: {"message_id":41,"status":"complete"}\n\n'
    ": keep-alive\n\n"
)


class ConversationOutputSerializer(serializers.ModelSerializer):
    websocket = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "title", "status", "created_at", "updated_at", "websocket", "events"]

    def get_websocket(self, conversation) -> str:
        return f"/ws/chat/{conversation.pk}/"

    def get_events(self, conversation) -> str:
        return f"/api/v1/conversations/{conversation.pk}/events"


class MessageOutputSerializer(serializers.Serializer):
    """Documents message_for_customer(); the API returns that dict as it is."""

    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["customer", "assistant", "agent", "system"])
    text = serializers.CharField()
    status = serializers.CharField()
    client_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    author = serializers.CharField(allow_null=True)
    citations = serializers.ListField(child=serializers.DictField())
    actions = serializers.ListField(child=serializers.DictField())
    feedback = serializers.DictField(allow_null=True)

    def to_representation(self, instance):
        return message_for_customer(instance)


MessageAcceptedSerializer = inline_serializer(
    name="MessageAccepted",
    fields={
        "id": serializers.IntegerField(help_text="The saved message; resume events after it."),
        "client_id": serializers.CharField(),
        "status": serializers.CharField(),
    },
)
StopAcceptedSerializer = inline_serializer(
    name="StopAccepted",
    fields={
        "message_id": serializers.IntegerField(
            allow_null=True, help_text="The answer being stopped; null when none was running."
        )
    },
)
CLOSED_EXAMPLE = error_example(
    "Closed", ConversationClosed.code, ConversationClosed.default_message
)
CURSOR_PARAMETER = OpenApiParameter(
    "cursor", OpenApiTypes.STR, description="Opaque; follow `next` and `previous`."
)


class ConversationPagination(CursorPagination):
    page_size = 25
    ordering = ("-updated_at", "-created_at")


class MessagePagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-id",)


def _conversation(request, conversation_id) -> Conversation:
    return selectors.conversation_get(
        customer=customer_or_404(request), conversation_id=conversation_id
    )


class ConversationListApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema_serializer(component_name="ConversationCreate")
    class InputSerializer(serializers.Serializer):
        title = serializers.CharField(required=False, allow_blank=True, max_length=120)

    @extend_schema(
        summary="The customer's conversations with the assistant, newest first",
        operation_id="conversations_list",
        tags=["assistant"],
        parameters=[CURSOR_PARAMETER],
        responses={
            200: OpenApiResponse(
                page_of(ConversationOutputSerializer, "ConversationPage"),
                examples=[
                    OpenApiExample(
                        "Page",
                        value={"next": None, "previous": None, "results": [CONVERSATION_EXAMPLE]},
                    )
                ],
            ),
            **error_responses(401, 403),
        },
    )
    def get(self, request):
        paginator = ConversationPagination()
        page = paginator.paginate_queryset(
            selectors.conversation_list(customer=customer_of(request)), request, view=self
        )
        return paginator.get_paginated_response(ConversationOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Start a conversation",
        operation_id="conversations_create",
        tags=["assistant"],
        request=InputSerializer,
        responses={
            201: OpenApiResponse(
                ConversationOutputSerializer,
                examples=[OpenApiExample("Created", value=CONVERSATION_EXAMPLE)],
            ),
            **error_responses(400, 401, 403),
        },
    )
    def post(self, request):
        customer = customer_or_403(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = services.conversation_create(
            customer=customer, title=data.validated_data.get("title", "")
        )
        return Response(
            ConversationOutputSerializer(conversation).data, status=status.HTTP_201_CREATED
        )


class ConversationDetailApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="One conversation",
        operation_id="conversations_retrieve",
        tags=["assistant"],
        responses={200: ConversationOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, conversation_id):
        return Response(ConversationOutputSerializer(_conversation(request, conversation_id)).data)


class MessageListApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema_serializer(component_name="MessageCreate")
    class InputSerializer(serializers.Serializer):
        text = serializers.CharField(trim_whitespace=False, allow_blank=True)
        client_id = serializers.CharField(allow_blank=True)

    @extend_schema(
        summary="The conversation's messages, newest first",
        description="Cursor-paginated. `after=<message id>` returns only newer messages.",
        operation_id="conversation_messages_list",
        tags=["assistant"],
        parameters=[
            OpenApiParameter("after", int, description="Only messages after this id"),
            CURSOR_PARAMETER,
            OpenApiParameter(
                "page_size", int, description="Messages a page: 50 by default, at most 200."
            ),
        ],
        responses={
            200: OpenApiResponse(
                page_of(MessageOutputSerializer, "MessagePage"),
                examples=[
                    OpenApiExample(
                        "Page", value={"next": None, "previous": None, "results": [MESSAGE_EXAMPLE]}
                    )
                ],
            ),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, conversation_id):
        conversation = _conversation(request, conversation_id)
        after = streams.message_id_or_none(request.query_params.get("after"))
        paginator = MessagePagination()
        page = paginator.paginate_queryset(
            selectors.message_list(conversation=conversation, after=after),
            request,
            view=self,
        )
        return paginator.get_paginated_response(MessageOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Send a message to the assistant",
        description=(
            "The message is saved before anything else and answered by the assistant in the "
            "background: follow `/events` (SSE) or the websocket for the answer. Sending the "
            "same `client_id` again returns the first message and is not answered twice."
        ),
        operation_id="conversation_messages_create",
        tags=["assistant"],
        request=InputSerializer,
        examples=[
            OpenApiExample(
                "Question",
                value={"text": "What is my balance?", "client_id": "c-8f1b2a"},
                request_only=True,
            )
        ],
        responses={
            202: OpenApiResponse(
                MessageAcceptedSerializer,
                description="Saved; the answer follows on the event stream",
                examples=[
                    OpenApiExample(
                        "Accepted", value={"id": 40, "client_id": "c-8f1b2a", "status": "received"}
                    )
                ],
            ),
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                e409=[CLOSED_EXAMPLE],
                e400=[
                    error_example(
                        "Missing text",
                        "invalid",
                        "Some fields are not valid.",
                        {"text": ["Write a message."]},
                    )
                ],
            ),
        },
    )
    def post(self, request, conversation_id):
        conversation = _conversation(request, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message, _ = services.message_receive(
            conversation=conversation,
            user=request.user,
            text=data.validated_data["text"],
            client_id=data.validated_data["client_id"],
        )
        return Response(
            {"id": message.pk, "client_id": message.client_id, "status": message.status},
            status=status.HTTP_202_ACCEPTED,
        )


class ConversationStopApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="Stop the answer being written",
        description="The partial answer is kept with status `stopped`.",
        operation_id="conversations_stop",
        tags=["assistant"],
        request=None,
        responses={
            202: OpenApiResponse(
                StopAcceptedSerializer,
                description="Stopping",
                examples=[OpenApiExample("Stopping", value={"message_id": 41})],
            ),
            **error_responses(401, 403, 404),
        },
    )
    def post(self, request, conversation_id):
        answer = services.answer_stop(conversation=_conversation(request, conversation_id))
        return Response(
            {"message_id": answer.pk if answer else None}, status=status.HTTP_202_ACCEPTED
        )


class ConversationEscalateApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema(
        summary="Talk to a person",
        operation_id="conversations_escalate",
        tags=["assistant"],
        request=None,
        responses={
            200: ConversationOutputSerializer,
            **error_responses(401, 403, 404, 409, e409=[CLOSED_EXAMPLE]),
        },
    )
    def post(self, request, conversation_id):
        conversation = services.conversation_escalate(
            conversation=_conversation(request, conversation_id),
            reason=Conversation.EscalationReason.CUSTOMER_REQUEST,
        )
        return Response(ConversationOutputSerializer(conversation).data)


class MessageFeedbackApi(APIView):
    permission_classes = [IsCustomer]

    @extend_schema_serializer(component_name="MessageFeedbackCreate")
    class InputSerializer(serializers.Serializer):
        rating = serializers.ChoiceField(choices=["up", "down"])
        comment = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    @extend_schema(
        summary="Thumbs up or down on an answer",
        operation_id="conversation_message_feedback",
        tags=["assistant"],
        request=InputSerializer,
        responses={200: MessageOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, conversation_id, message_id):
        conversation = _conversation(request, conversation_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.feedback_set(
            conversation=conversation,
            message_id=message_id,
            rating=data.validated_data["rating"],
            comment=data.validated_data.get("comment", ""),
        )
        message = selectors.message_get(conversation=conversation, message_id=message_id)
        return Response(message_for_customer(message))


class ActionDecisionApi(APIView):
    """Confirm or decline an action the assistant proposed (one subclass each)."""

    permission_classes = [IsCustomer]
    decision = "confirm"

    @extend_schema_serializer(component_name="ActionConfirm")
    class InputSerializer(serializers.Serializer):
        step_up = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text=(
                "For transfers: a current 6-digit code from the customer's authenticator app. "
                "Only a customer without an authenticator sends their password instead; once "
                "they have one, the password is refused (`step_up_code_required`)."
            ),
        )

    def post(self, request, conversation_id, action_id):
        conversation = _conversation(request, conversation_id)
        if not conversation.action_proposals.filter(pk=action_id).exists():
            raise selectors.NotFound
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        from apps.chat import actions

        if self.decision == "confirm":
            proposal = actions.action_confirm(
                proposal_id=str(action_id),
                user=request.user,
                step_up=data.validated_data.get("step_up") or None,
            )
        else:
            proposal = actions.action_decline(proposal_id=str(action_id), user=request.user)
        events.broadcast(conversation.pk, events.message_event(proposal.message_id))
        message = selectors.message_get(conversation=conversation, message_id=proposal.message_id)
        return Response(message_for_customer(message))


class ActionConfirmApi(ActionDecisionApi):
    decision = "confirm"

    @extend_schema(
        summary="Confirm a proposed action",
        description=(
            "Nothing the assistant proposes happens until the customer confirms it here. "
            "Transfers also need `step_up`: a current code from the customer's "
            "authenticator app, or the password if they have not set one up."
        ),
        operation_id="conversation_action_confirm",
        tags=["assistant"],
        request=ActionDecisionApi.InputSerializer,
        responses={200: MessageOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, conversation_id, action_id):
        return super().post(request, conversation_id, action_id)


class ActionDeclineApi(ActionDecisionApi):
    decision = "decline"

    @extend_schema(
        summary="Decline a proposed action",
        description="The action is not carried out; the card shows it as declined.",
        operation_id="conversation_action_decline",
        tags=["assistant"],
        request=None,
        responses={200: MessageOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, conversation_id, action_id):
        return super().post(request, conversation_id, action_id)


class ConversationEventsApi(APIView):
    """Documentation only: apps.chat.sse.conversation_events serves this path (DRF has no
    async views). `documented_by` lets drf-spectacular find it."""

    permission_classes = [IsCustomer]

    @extend_schema(
        summary="The conversation's live events (Server-Sent Events)",
        description=(
            "`text/event-stream`, for clients without websockets. Events: `message` (a saved "
            "message in full, the shape of the history's items; it carries `id:` once the "
            "message is final), `token` (`{message_id, seq, text}`: the answer as it streams), "
            "`done` (`{message_id, status}`: the answer ended), `conversation` "
            "(`{status, agent}`: e.g. escalated; `agent` is the first name of the person who "
            "joined, or null). Lines starting with `:` are comments (keep-alives every 15 s). "
            "Resume with `after=<message id>` or the `Last-Event-ID` header: every message "
            "after it is sent first, an answer still streaming with its text so far."
        ),
        operation_id="conversation_events",
        tags=["assistant"],
        parameters=[
            OpenApiParameter(
                "after", int, description="Send every message after this id first, then live."
            ),
            OpenApiParameter(
                "Last-Event-ID",
                int,
                location=OpenApiParameter.HEADER,
                description="As `after` (browsers' EventSource sends it when reconnecting).",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                OpenApiTypes.STR,
                description="An open stream of events",
                examples=[OpenApiExample("An answer", value=EVENTS_EXAMPLE)],
            ),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, conversation_id):
        raise NotImplementedError("served by apps.chat.sse.conversation_events")


def documented_by(view_class):
    """Mark a plain Django view as documented by a DRF view class for drf-spectacular (the
    view itself is unchanged; only schema generation looks at `cls`)."""

    def mark(view):
        view.cls = view_class
        view.initkwargs = {}
        return view

    return mark
