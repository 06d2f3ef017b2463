"""Help for the person who takes a conversation over: a handoff summary and reply drafts.

Both are drafted by the model from the MASKED transcript only (`Message.masked_text`,
never `text`), and both come back masked: staff views show placeholders such as
[PERSON_1], and the code that sends an agent's reply restores them for the customer.

`handoff_summary_draft` always starts with facts computed without the model (why the
conversation was escalated, how many messages the customer wrote, their last message,
the actions proposed and what became of them), then adds the model's draft, marked as a
draft. A 135M development model writes weak prose: the facts are what an agent can rely
on. `agent_reply_suggest` drafts one reply an agent may edit and send; nothing is sent
from here.

The model's text passes the output guard with no values counted as the customer's own:
the model only ever saw placeholders, so any raw personal data in its text is made up or
someone else's, and the draft is dropped. When no model answers, the summary is the facts
alone and the suggestion is "" (the caller shows "no suggestion").
"""

from __future__ import annotations

import logging
import re

from django.db import transaction

from apps.chat.models import ActionProposal, Conversation, Message

logger = logging.getLogger(__name__)

SUMMARY_MESSAGES = 12
SUGGESTION_MESSAGES = 8
SUGGESTION_ARTICLES = 2
# Per message in a prompt: the development model has a 2048-token context.
MESSAGE_CHARS = 300
ARTICLE_CHARS = 500
# Two one-sentence answers: about 120 tokens in all.
SUMMARY_ANSWER_MAX_TOKENS = 60
SUGGESTION_MAX_TOKENS = 100
SUGGESTION_MAX_CHARS = 500
SUMMARY_LINE_CHARS = 200
ACTIONS_LISTED = 5

SUMMARY_PURPOSE = "summary"
# A suggested reply is a draft chat answer (InferenceCall has no purpose of its own for it).
SUGGESTION_PURPOSE = "chat"

DRAFT_HEADING = "Draft by the model (check it against the transcript):"

_REPLY_LABEL = re.compile(r"^\s*(?:agent|assistant|reply|banksight)\s*:\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

ROLE_LABELS = {
    Message.Role.CUSTOMER: "Customer",
    Message.Role.ASSISTANT: "Assistant",
    Message.Role.AGENT: "Agent",
    Message.Role.SYSTEM: "System",
}

# The model's part of the summary: one short question per line, each answered in one
# sentence. Asked for three labelled lines at once (with a worked example, which it
# needs to keep the format), SmolLM2-135M mostly copied the example ("Customer wants: a
# new chequebook") or the transcript; asked one plain question it answers the question.
# "Why escalated" is never asked: the computed line above the draft is exact.
SUMMARY_INSTRUCTIONS = (
    "Read this bank chat and answer the question in one short sentence. Copy words in "
    "square brackets such as [PERSON_1] exactly."
)
SUMMARY_QUESTIONS = (
    # (label of the line, question, the role it is about, the answer's leading words
    # that the label already says)
    (
        "Customer wants:",
        "What does the customer want?",
        Message.Role.CUSTOMER,
        r"the customer (?:wants|would like)",
    ),
    (
        "Assistant already said:",
        "What did the assistant tell the customer?",
        Message.Role.ASSISTANT,
        r"the assistant (?:told|said to|informed) the customer(?: that)?",
    ),
)
SUGGESTION_INSTRUCTIONS = (
    "You help a BankSight support agent. Write one short, polite reply, at most three "
    "sentences, that the agent can send to the customer. Use only the help articles "
    "below. Words in square brackets such as [PERSON_1] stand for the customer's private "
    "details: copy them exactly."
)


# --- The transcript --------------------------------------------------------------------


def _shorten(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _input_guard_reasons() -> frozenset[str]:
    from apps.compliance import guards

    return frozenset(
        {
            guards.PROMPT_INJECTION,
            guards.JAILBREAK,
            guards.SYSTEM_PROMPT_REQUEST,
            guards.OTHER_CUSTOMER_DATA,
            guards.OBFUSCATION,
        }
    )


def _recent_messages(conversation: Conversation, limit: int, roles) -> list[Message]:
    """The latest messages with masked text, oldest first. Messages not masked yet (the
    worker masks them) are left out: their `text` is raw and never used here."""
    latest = (
        conversation.messages.filter(role__in=roles)
        .exclude(masked_text="")
        .order_by("-id")
        .only("id", "role", "status", "masked_text")[:limit]
    )
    return list(reversed(latest))


def _refused_by_input_guard(messages: list[Message]) -> dict[int, list[str]]:
    """Customer messages the input guard refused -> its reasons. Their text is an attack
    on a model: it is not passed to another one."""
    ids = [m.pk for m in messages if m.role == Message.Role.CUSTOMER]
    if not ids:
        return {}
    input_reasons = _input_guard_reasons()
    refused = {}
    for question_id, reasons in Message.objects.filter(
        reply_to_id__in=ids, status=Message.Status.REFUSED
    ).values_list("reply_to_id", "guard_reasons"):
        flagged = sorted(set(reasons or []) & input_reasons)
        if flagged:
            refused[question_id] = flagged
    return refused


def _message_line_text(message: Message, refused: dict[int, list[str]]) -> str:
    if message.pk in refused:
        return f"(a message the input guard refused: {', '.join(refused[message.pk])})"
    return _shorten(message.masked_text, MESSAGE_CHARS)


# --- The handoff summary ----------------------------------------------------------------


def _facts(conversation: Conversation) -> list[str]:
    """What is known for certain, without the model."""
    reason = conversation.get_escalation_reason_display()
    lines = [f"Why escalated: {reason}." if reason else "Why escalated: not escalated."]
    if conversation.priority != Conversation.Priority.NORMAL:
        lines.append(f"Priority: {conversation.get_priority_display()}.")
    messages = conversation.messages
    customer_count = messages.filter(role=Message.Role.CUSTOMER).count()
    lines.append(f"Customer messages: {customer_count}.")
    answers = messages.filter(role=Message.Role.ASSISTANT)
    given = answers.filter(status__in=[Message.Status.COMPLETE, Message.Status.STOPPED]).count()
    refused = answers.filter(status=Message.Status.REFUSED).count()
    failed = answers.filter(status=Message.Status.FAILED).count()
    counts = [f"{given} given"]
    counts += [f"{refused} refused by a guard"] if refused else []
    counts += [f"{failed} failed"] if failed else []
    lines.append(f"Assistant answers: {', '.join(counts)}.")
    last = (
        messages.filter(role=Message.Role.CUSTOMER)
        .exclude(masked_text="")
        .order_by("-id")
        .only("id", "role", "masked_text")
        .first()
    )
    if last is not None:
        text = _message_line_text(last, _refused_by_input_guard([last]))
        lines.append(f"Last customer message: \u201c{text}\u201d")
    proposals = list(
        ActionProposal.objects.filter(conversation=conversation).order_by("-created_at")[
            :ACTIONS_LISTED
        ]
    )
    if proposals:
        listed = "; ".join(
            f"{p.get_kind_display()} ({p.get_status_display().lower()})"
            for p in reversed(proposals)
        )
        lines.append(f"Actions: {listed}.")
    else:
        lines.append("Actions: none proposed.")
    return lines


def _summary_chat(conversation: Conversation) -> tuple[str, set[str]]:
    """The transcript as labelled lines, and the roles that wrote in it.

    System notices ("I've passed this conversation to our team…") are left out: the
    computed facts say as much, and the model took them for the assistant's answers."""
    messages = _recent_messages(
        conversation,
        SUMMARY_MESSAGES,
        [Message.Role.CUSTOMER, Message.Role.ASSISTANT, Message.Role.AGENT],
    )
    refused = _refused_by_input_guard(messages)
    chat = "\n".join(
        f"{ROLE_LABELS.get(m.role, 'System')}: {_message_line_text(m, refused)}" for m in messages
    )
    return chat, {m.role for m in messages}


def _answer_line(label: str, repeated: str, text: str) -> str:
    """The model's answer as one labelled line: its first sentence, without the words
    the label already says."""
    text = " ".join((text or "").split())
    text = _SENTENCE_END.split(text, maxsplit=1)[0] if text else ""
    text = re.sub(rf"^\s*{repeated}\s*", "", text, flags=re.IGNORECASE).strip(" :")
    if len(re.findall(r"\w+", text)) < 2:
        return ""
    return f"{label} {_shorten(text, SUMMARY_LINE_CHARS)}"


def _guard_passes(conversation: Conversation, text: str, instructions: str) -> bool:
    """The output guard, with nothing counted as the customer's own: the model saw only
    placeholders, so any raw value in its text must not be shown."""
    from apps.compliance.guards import output_guard_check
    from apps.compliance.pii import PlaceholderMap

    verdict = output_guard_check(
        text,
        mapping=PlaceholderMap(),
        system_prompt=instructions,
        customer_id=conversation.customer_id,
    )
    if verdict.flagged:
        logger.warning(
            "output guard dropped a staff draft",
            extra={"conversation_id": str(conversation.pk), "reasons": verdict.reasons},
        )
    return not verdict.flagged


def handoff_summary_draft(*, conversation: Conversation) -> str:
    """The handoff summary, masked: computed facts first, then the model's draft if any."""
    from apps.chat.inference import InferenceError, chat_complete

    summary = "\n".join(_facts(conversation))
    chat, roles = _summary_chat(conversation)
    lines = []
    for label, question, about, repeated in SUMMARY_QUESTIONS:
        if about not in roles:
            continue  # nothing to ask: no message of that role in the transcript
        try:
            completion = chat_complete(
                messages=[
                    {"role": "system", "content": f"{SUMMARY_INSTRUCTIONS}\n\n{chat}"},
                    {"role": "user", "content": question},
                ],
                purpose=SUMMARY_PURPOSE,
                max_tokens=SUMMARY_ANSWER_MAX_TOKENS,
            )
        except InferenceError as error:
            logger.warning(
                "no model drafted the handoff summary",
                extra={"conversation_id": str(conversation.pk), "code": error.code},
            )
            return summary  # the next question would only wait for the same failure
        line = _answer_line(label, repeated, completion.text)
        if line:
            lines.append(line)
    draft = "\n".join(lines)
    if not draft or not _guard_passes(conversation, draft, SUMMARY_INSTRUCTIONS):
        return summary
    return f"{summary}\n\n{DRAFT_HEADING}\n{draft}"


def handoff_summary_store(*, conversation_id) -> None:
    """Draft the summary and save it on the conversation (idempotent: it is recomputed).

    The model is called outside the transaction; the save is one short transaction, an
    audited change made by whoever runs it (the system actor in the task)."""
    conversation = (
        Conversation.objects.select_related("customer").filter(pk=conversation_id).first()
    )
    if conversation is None:
        logger.warning("no conversation to summarise", extra={"conversation_id": conversation_id})
        return
    summary = handoff_summary_draft(conversation=conversation)
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if locked.handoff_summary == summary:
            return
        locked.handoff_summary = summary
        # Not `updated_at`: a summary is no news for the customer's conversation list.
        locked.save(update_fields=["handoff_summary"])


# --- Agent assist -----------------------------------------------------------------------


def _suggestion_prompt(conversation: Conversation) -> list[dict]:
    from apps.chat.grounding import article_search

    messages = _recent_messages(
        conversation,
        SUGGESTION_MESSAGES,
        [Message.Role.CUSTOMER, Message.Role.ASSISTANT, Message.Role.AGENT],
    )
    # Refused attacks, and the assistant's refusals and "not available" notices, would
    # only teach the model to refuse: the reply answers the rest.
    refused = _refused_by_input_guard(messages)
    messages = [
        m
        for m in messages
        if m.pk not in refused and m.status not in (Message.Status.REFUSED, Message.Status.FAILED)
    ]
    last_question = next((m for m in reversed(messages) if m.role == Message.Role.CUSTOMER), None)
    articles = []
    if last_question is not None:
        found = article_search(query=last_question.masked_text, limit=SUGGESTION_ARTICLES)
        articles = [a for a in found if a.rank > 0]
    system = SUGGESTION_INSTRUCTIONS
    if articles:
        system += "\n\nHelp articles:\n" + "\n".join(
            f"- {a.title}: {_shorten(a.excerpt or a.body, ARTICLE_CHARS)}" for a in articles
        )
    prompt = [{"role": "system", "content": system}]
    for message in messages:
        role = "user" if message.role == Message.Role.CUSTOMER else "assistant"
        prompt.append({"role": role, "content": _shorten(message.masked_text, MESSAGE_CHARS)})
    return prompt


def _reply_tidy(text: str) -> str:
    """One paragraph, at most three sentences, no role label; cut at a sentence end."""
    text = _REPLY_LABEL.sub("", (text or "").strip().split("\n\n")[0])
    text = " ".join(text.split())
    sentences = _SENTENCE_END.split(text)
    text = " ".join(sentences[:3])
    if len(text) > SUGGESTION_MAX_CHARS:
        text = _shorten(text, SUGGESTION_MAX_CHARS)
    return text.strip()


def agent_reply_suggest(*, conversation: Conversation) -> str:
    """One short, polite reply an agent could send, masked; "" when there is none.

    Drafted from the last masked messages and the best one or two help articles for the
    customer's last question. Nothing is sent: the agent edits it and clicks send."""
    from apps.chat.inference import InferenceError, chat_complete

    prompt = _suggestion_prompt(conversation)
    if len(prompt) == 1:
        return ""  # no masked message to reply to yet
    try:
        completion = chat_complete(
            messages=prompt, purpose=SUGGESTION_PURPOSE, max_tokens=SUGGESTION_MAX_TOKENS
        )
    except InferenceError as error:
        logger.warning(
            "no model drafted a reply suggestion",
            extra={"conversation_id": str(conversation.pk), "code": error.code},
        )
        return ""
    reply = _reply_tidy(completion.text)
    if not reply or not _guard_passes(conversation, reply, SUGGESTION_INSTRUCTIONS):
        return ""
    return reply
