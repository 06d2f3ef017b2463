"""What a customer's live connection (websocket or SSE) sends, shared by both transports.

The group's events carry ids and masked text. A CustomerView turns them into the
customer's view: saved messages serialized with their own values, streamed tokens with
placeholders restored (a placeholder split across two tokens is held until complete),
duplicates after a resume dropped by sequence number.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from django_redis import get_redis_connection

from apps.accounts.errors import NotFound
from apps.accounts.selectors.banking import customer_for_user
from apps.chat import events, services
from apps.chat.events import conversation_group  # noqa: F401 - re-exported for transports
from apps.chat.models import Conversation, Message
from apps.chat.presenters import message_for_customer
from apps.chat.selectors import conversation_get, message_get, message_list

CLIENT_ACTIONS = {
    "message",
    "stop",
    "escalate",
    "feedback",
    "survey",
    "action.confirm",
    "action.decline",
}


def conversation_for_user(*, user, conversation_id) -> Conversation | None:
    try:
        return conversation_get(
            customer=customer_for_user(user=user), conversation_id=conversation_id
        )
    except NotFound:
        return None


def message_id_or_none(value) -> int | None:
    """A message id a client sent (`after=`, Last-Event-ID): ASCII digits only.

    str.isdigit() alone lets "²" through, which int() then refuses."""
    value = str(value or "")
    return int(value) if value.isascii() and value.isdigit() else None


def after_from_query(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("after")
    return message_id_or_none(values[0]) if values else None


class _Stream:
    def __init__(self, mapping):
        from apps.compliance.pii import PlaceholderStreamRestorer

        self.restorer = PlaceholderStreamRestorer(mapping)
        self.seq = 0


class CustomerView:
    def __init__(self, conversation: Conversation):
        self.conversation = conversation
        self.streams: dict[int, _Stream] = {}
        self._load_mapping()

    def _load_mapping(self) -> None:
        from apps.compliance.pii import PlaceholderMap

        self.conversation.refresh_from_db(fields=["pii_map_ciphertext", "status"])
        self.mapping = PlaceholderMap(self.conversation.pii_mapping)

    # Events from the group -----------------------------------------------------------

    def message(self, message_id: int) -> dict | None:
        try:
            message = message_get(conversation=self.conversation, message_id=message_id)
        except NotFound:
            return None
        if message.status == Message.Status.STREAMING:
            self._load_mapping()  # the question may have added placeholders
            self.streams[message.pk] = _Stream(self.mapping)
        elif message.status != Message.Status.PENDING:
            self.streams.pop(message.pk, None)
        return {"type": "message", "message": message_for_customer(message)}

    def token(self, event: dict) -> dict | None:
        """Reads nothing from the database: transports call it on their event loop."""
        stream = self.streams.get(event["message_id"])
        if stream is None:
            stream = self.streams[event["message_id"]] = _Stream(self.mapping)
        if event["seq"] <= stream.seq:
            return None  # already part of a snapshot this connection sent
        stream.seq = event["seq"]
        text = stream.restorer.feed(event["delta"])
        if not text:
            return None
        return {"type": "token", "message_id": event["message_id"], "seq": stream.seq, "text": text}

    # Resuming ------------------------------------------------------------------------

    def replay(self, *, after: int) -> list[dict]:
        """Every message after `after`, in order; an answer still streaming comes with the
        text so far, and its later tokens continue from there."""
        self._load_mapping()
        payloads = []
        redis = get_redis_connection("default")
        for message in message_list(conversation=self.conversation, after=after):
            payload = {"type": "message", "message": message_for_customer(message)}
            if message.status == Message.Status.STREAMING:
                stream = self.streams[message.pk] = _Stream(self.mapping)
                tokens = [t.decode() for t in redis.lrange(events.partial_key(message.pk), 0, -1)]
                stream.seq = len(tokens)
                payload["message"]["text"] = "".join(stream.restorer.feed(t) for t in tokens)
                payload["message"]["seq"] = stream.seq
            payloads.append(payload)
        return payloads

    # From the client -----------------------------------------------------------------

    def handle(self, *, user, kind: str, content: dict) -> dict | None:
        from apps.chat import actions

        if kind == "message":
            message, _ = services.message_receive(
                conversation=self.conversation,
                user=user,
                text=content.get("text"),
                client_id=content.get("client_id"),
            )
            return {"type": "ack", "client_id": message.client_id, "id": message.pk}
        if kind == "stop":
            services.answer_stop(conversation=self.conversation)
            return None
        if kind == "escalate":
            services.conversation_escalate(
                conversation=self.conversation,
                reason=Conversation.EscalationReason.CUSTOMER_REQUEST,
            )
            return None
        if kind == "feedback":
            services.feedback_set(
                conversation=self.conversation,
                message_id=content.get("message_id"),
                rating=content.get("rating"),
                comment=content.get("comment") or "",
            )
            return {"type": "feedback.saved", "message_id": content.get("message_id")}
        if kind == "survey":
            from apps.chat.handoff import survey_submit

            self.conversation.refresh_from_db()
            survey_submit(
                conversation=self.conversation,
                user=user,
                rating=content.get("rating"),
                comment=content.get("comment") or "",
            )
            return {"type": "survey.saved"}
        proposal_id = str(content.get("id") or "")
        self._own_proposal(proposal_id)
        if kind == "action.confirm":
            proposal = actions.action_confirm(
                proposal_id=proposal_id, user=user, step_up=content.get("step_up") or None
            )
        else:
            proposal = actions.action_decline(proposal_id=proposal_id, user=user)
        events.broadcast(self.conversation.pk, events.message_event(proposal.message_id))
        return None

    def _own_proposal(self, proposal_id: str) -> None:
        if not self.conversation.action_proposals.filter(
            pk__in=_uuid_or_none(proposal_id)
        ).exists():
            raise NotFound


def _uuid_or_none(value: str) -> list:
    import uuid

    try:
        return [uuid.UUID(value)]
    except ValueError:
        return []
