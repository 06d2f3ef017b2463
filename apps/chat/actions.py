"""Actions the assistant may propose: freeze a card, dispute a transaction, make a transfer.

Nothing runs from model text. The model fills in an action's parameters as JSON under
the action's JSON Schema (constrained decoding where the backend supports it);
`action_extract` validates the output, checks that every id belongs to the customer,
retries once and otherwise drops it (logged without its content). `action_propose`
stores a valid proposal, which the chat shows as a card. Only the customer's click
(`action_confirm`) executes it, through the same services and checks as the portal:
`card_freeze`, `dispute_open`, `payment_create`. A transfer also needs the customer to
prove it is them again (step-up): a current code from their authenticator, or their
password only if they have none. Its idempotency key is derived from the proposal, so a
double click or a retry can never pay twice.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
from collections.abc import Callable
from http import HTTPStatus

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from jsonschema import Draft202012Validator, validators

from apps.accounts import money
from apps.accounts.errors import InvalidState, MfaCodeInvalid, NotFound
from apps.accounts.models import Account, Card, Customer, Payee, Payment, Posting, User
from apps.accounts.selectors import banking as selectors
from apps.accounts.selectors.people import mfa_device_get_confirmed
from apps.accounts.services import cards as card_services
from apps.accounts.services import mfa_token_check
from apps.accounts.services import payments as payment_services
from apps.chat.grounding import last4, money_format
from apps.chat.models import ActionProposal, Conversation, Message
from apps.fraud.models import Dispute
from apps.fraud.services import dispute_open
from banksight.errors import BankError

logger = logging.getLogger(__name__)

Kind = ActionProposal.Kind
Status = ActionProposal.Status

RAW_MAX_CHARS = 2000
STEP_UP_FAILURE_LIMIT = 5
STEP_UP_FAILURE_WINDOW_S = 15 * 60
IDEMPOTENCY_PREFIX = "assistant-"


class ActionInvalid(BankError):
    code = "invalid"
    default_message = "This action cannot be proposed."


STEP_UP_ASK_WITH_DEVICE = "Confirm it is you: enter the 6-digit code from your authenticator app."
STEP_UP_ASK_WITHOUT_DEVICE = "Confirm it is you: enter your password."


class StepUpRequired(BankError):
    code = "step_up_required"
    default_message = (
        "Confirm it is you: enter the code from your authenticator app, "
        "or your password if you have none."
    )


class StepUpCodeRequired(BankError):
    code = "step_up_code_required"
    default_message = (
        "Enter the 6-digit code from your authenticator app. Your password is not accepted "
        "here once you have set up an authenticator. Nothing was sent."
    )


class StepUpInvalid(BankError):
    code = "step_up_invalid"
    default_message = "That password or code is not right. Nothing was sent."


class StepUpLocked(BankError):
    code = "step_up_locked"
    status = HTTPStatus.TOO_MANY_REQUESTS
    default_message = "Too many wrong attempts. Try again in 15 minutes, or use the portal."


# --- Schemas ---------------------------------------------------------------------------

_ID = {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
_AMOUNT = {
    "type": "string",
    # [.] rather than \. : llama.cpp's schema-to-grammar converter rejects the escape
    # (and its server then dies mid-request).
    "pattern": r"^[0-9]{1,9}([.][0-9]{1,2})?$",
    "description": "A positive amount in the account's currency, such as 25.00",
}
_REFERENCE = {"type": "string", "maxLength": 140, "pattern": r"^[^\x00-\x1f\x7f]*$"}
_IBAN = {"type": "string", "pattern": r"^[A-Z]{2}[0-9]{2}( ?[A-Z0-9]){11,30}$"}


def _transfer_variant(destination: str, schema: dict) -> dict:
    return {
        "type": "object",
        "properties": {
            "from_account_id": {**_ID, "description": "id of one of the customer's accounts"},
            destination: schema,
            "amount": _AMOUNT,
            "reference": _REFERENCE,
        },
        "required": ["from_account_id", destination, "amount"],
        "additionalProperties": False,
    }


# One schema per action. Transfers go to one of the customer's own accounts, a saved
# payee, or an IBAN: three complete alternatives, which grammar-based decoders handle.
ACTION_SCHEMAS: dict[str, dict] = {
    Kind.FREEZE_CARD: {
        "type": "object",
        "properties": {"card_id": {**_ID, "description": "id of one of the customer's cards"}},
        "required": ["card_id"],
        "additionalProperties": False,
    },
    Kind.OPEN_DISPUTE: {
        "type": "object",
        "properties": {
            "transaction_id": {**_ID, "description": "id of the customer's transaction"},
            "reason": {"type": "string", "enum": list(Dispute.Reason.values)},
        },
        "required": ["transaction_id", "reason"],
        "additionalProperties": False,
    },
    Kind.TRANSFER: {
        "anyOf": [
            _transfer_variant("to_account_id", {**_ID, "description": "the customer's account"}),
            _transfer_variant("to_payee_id", {**_ID, "description": "a saved payee"}),
            _transfer_variant("to_iban", _IBAN),
        ]
    },
}

# Python's json gives floats for 1.0: an id must be an integer, and never a bool.
_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    ),
)
_VALIDATORS = {kind: _Validator(schema) for kind, schema in ACTION_SCHEMAS.items()}
for _schema in ACTION_SCHEMAS.values():
    Draft202012Validator.check_schema(_schema)


def action_schema(kind: str) -> dict:
    """The JSON Schema of an action's parameters (a copy: callers may change it)."""
    return copy.deepcopy(ACTION_SCHEMAS[Kind(kind)])


# --- Parsing and checking model output -------------------------------------------------

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class _Rejected(Exception):
    """Why a model output was not accepted, in words safe to log (no content)."""

    def __init__(self, problem: str, **details) -> None:
        self.problem = problem
        self.details = details
        super().__init__(problem)


def _no_duplicate_keys(pairs: list[tuple]) -> dict:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise _Rejected("duplicate_key")
    return dict(pairs)


def _reject_constant(_name: str):
    raise _Rejected("not_json")  # NaN, Infinity


def _parse(raw, kind: str) -> dict:
    if not isinstance(raw, str) or not raw.strip():
        raise _Rejected("empty")
    if len(raw) > RAW_MAX_CHARS:
        raise _Rejected("too_long", length=len(raw))
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant
        )
    except ValueError as error:
        raise _Rejected("not_json") from error
    if not isinstance(data, dict):
        raise _Rejected("not_an_object")
    error = next(iter(_VALIDATORS[kind].iter_errors(data)), None)
    if error is not None:
        # The keyword and the path only: the error's message would quote the value.
        raise _Rejected(
            "schema",
            keyword=error.validator,
            path="/".join(str(part) for part in error.absolute_path),
        )
    return data


def action_parse(raw: str, *, kind: str) -> dict | None:
    """The parameters in a model's raw output, if it is JSON valid under the action's
    schema; None otherwise. Ownership is not checked here (see action_extract)."""
    kind = Kind(kind)
    try:
        return _parse(raw, kind)
    except _Rejected:
        return None


def action_extract(
    *, kind: str, generate: Callable[[dict], str], customer: Customer
) -> dict | None:
    """Ask the model (through `generate(schema)`, which returns its raw text) for an
    action's parameters. Output that is not valid JSON under the schema, or that names
    anything not the customer's own, is asked for once more, then dropped: None, and a
    warning in the log with the reason but not the content."""
    kind = Kind(kind)
    for attempt in (1, 2):
        raw = generate(action_schema(kind))
        try:
            payload = _parse(raw, kind)
            _payload_check(kind=kind, payload=payload, customer=customer)
        except _Rejected as rejected:
            logger.warning(
                "assistant action output rejected",
                extra={
                    "action": str(kind),
                    "attempt": attempt,
                    "problem": rejected.problem,
                    **rejected.details,
                },
            )
        except ActionInvalid as error:
            logger.warning(
                "assistant action output rejected",
                extra={
                    "action": str(kind),
                    "attempt": attempt,
                    "problem": "not_allowed",
                    "fields": sorted(error.fields),
                },
            )
        else:
            return payload
    logger.warning("assistant action dropped after a retry", extra={"action": str(kind)})
    return None


def _payload_check(*, kind: str, payload: dict, customer: Customer) -> None:
    """Every id must be the customer's own and the action possible now (ActionInvalid)."""
    if customer is None:
        raise ActionInvalid(fields={"customer": ["No customer."]})
    if kind == Kind.FREEZE_CARD:
        card = _own(selectors.card_get, customer=customer, card_id=payload["card_id"])
        if card is None:
            raise ActionInvalid(fields={"card_id": ["Choose one of your cards."]})
        if card.status != Card.Status.ACTIVE:
            raise ActionInvalid(fields={"card_id": [f"This card is {card.status}."]})
    elif kind == Kind.OPEN_DISPUTE:
        posting = _own_posting(customer, payload["transaction_id"])
        if posting is None or posting.amount_minor > 0:
            raise ActionInvalid(fields={"transaction_id": ["Choose one of your payments out."]})
        if Dispute.objects.filter(posting=posting, status__in=Dispute.ACTIVE_STATUSES).exists():
            raise ActionInvalid(fields={"transaction_id": ["It is already being disputed."]})
    elif kind == Kind.TRANSFER:
        _transfer_check(customer, payload)


def _transfer_check(customer: Customer, payload: dict) -> None:
    source = _own(selectors.account_get, customer=customer, account_id=payload["from_account_id"])
    if source is None or source.status != Account.Status.OPEN:
        raise ActionInvalid(fields={"from_account_id": ["Choose one of your open accounts."]})
    currency = source.currency
    if "to_account_id" in payload:
        target = _own(selectors.account_get, customer=customer, account_id=payload["to_account_id"])
        if target is None or target.pk == source.pk or target.status != Account.Status.OPEN:
            raise ActionInvalid(fields={"to_account_id": ["Choose another of your accounts."]})
        if target.currency != currency:
            raise ActionInvalid(fields={"to_account_id": [f"It holds {target.currency}."]})
    elif "to_payee_id" in payload:
        if _own(selectors.payee_get, customer=customer, payee_id=payload["to_payee_id"]) is None:
            raise ActionInvalid(fields={"to_payee_id": ["Choose one of your payees."]})
    else:
        try:
            payment_services.iban_parse(payload["to_iban"])
        except BankError as error:
            raise ActionInvalid(fields={"to_iban": ["This is not a valid IBAN."]}) from error
    try:
        money.parse_amount(payload["amount"], currency)
    except money.AmountError as error:
        raise ActionInvalid(fields={"amount": [str(error)]}) from error


def _own(selector, **kwargs):
    try:
        return selector(**kwargs)
    except NotFound:
        return None


def _own_posting(customer: Customer, posting_id) -> Posting | None:
    return (
        Posting.objects.select_related("account")
        .filter(pk=posting_id, account__customer=customer)
        .first()
    )


# --- Services --------------------------------------------------------------------------


@transaction.atomic
def action_propose(
    *, conversation: Conversation, message: Message, kind: str, payload: dict
) -> ActionProposal:
    """Store an action for the customer to confirm; the payload is checked again here."""
    try:
        kind = Kind(kind)
    except ValueError as error:
        raise ActionInvalid(fields={"kind": ["Unknown action."]}) from error
    if message.conversation_id != conversation.pk:
        raise ActionInvalid(fields={"message": ["The message is not in this conversation."]})
    try:
        payload = _parse(json.dumps(payload), kind)
    except (TypeError, ValueError, _Rejected) as error:
        raise ActionInvalid(fields={"payload": ["The action's details are not valid."]}) from error
    _payload_check(kind=kind, payload=payload, customer=conversation.customer)
    return ActionProposal.objects.create(
        conversation=conversation, message=message, kind=kind, payload=payload
    )


def _proposal_for_user(*, proposal_id, user: User) -> ActionProposal:
    """The user's own proposal; someone else's and a missing one are both NotFound."""
    try:
        pk = uuid.UUID(str(proposal_id))
    except ValueError as error:
        raise NotFound() from error
    if user is None or not user.is_authenticated:
        raise NotFound()
    proposal = (
        ActionProposal.objects.select_related("conversation__customer")
        .filter(pk=pk, conversation__customer__user=user)
        .first()
    )
    if proposal is None:
        raise NotFound()
    return proposal


def _locked(proposal: ActionProposal) -> ActionProposal:
    locked = ActionProposal.objects.select_for_update().get(pk=proposal.pk)
    locked.conversation = proposal.conversation  # keep the loaded customer
    return locked


def action_confirm(*, proposal_id, user: User, step_up: str | None = None) -> ActionProposal:
    """The customer's click: run the proposed action through the portal's own services.

    Returns the proposal, EXECUTED with the ids it produced in `result`, or FAILED with
    the service's message (not enough money, a cancelled card...). A second click gets the
    outcome of the first. A transfer needs `step_up` (an authenticator code; the password
    only for a customer without an authenticator): missing or wrong, it raises and
    nothing is written.
    """
    proposal = _proposal_for_user(proposal_id=proposal_id, user=user)
    if proposal.status != Status.PROPOSED:
        return _already_decided(proposal)
    if proposal.kind == Kind.TRANSFER:
        step_up_check(user=user, step_up=step_up)
        return _transfer_confirm(proposal, user)
    with transaction.atomic(durable=True):
        locked = _locked(proposal)
        if locked.status != Status.PROPOSED:
            return _already_decided(locked)
        customer = proposal.conversation.customer
        try:
            if locked.kind == Kind.FREEZE_CARD:
                result = _freeze(locked, customer, user)
            else:
                result = _dispute(locked, customer, user)
        except BankError as error:
            _finish(locked, Status.FAILED, _error_result(error))
        else:
            _finish(locked, Status.EXECUTED, result)
        return locked


def _already_decided(proposal: ActionProposal) -> ActionProposal:
    if proposal.status == Status.DECLINED:
        raise InvalidState("You declined this action. Ask the assistant again to start over.")
    return proposal  # executed or failed: the outcome of the first click


def _finish(proposal: ActionProposal, status: str, result: dict) -> None:
    proposal.status = status
    proposal.result = result
    proposal.decided_at = proposal.decided_at or timezone.now()
    proposal.save(update_fields=["status", "result", "decided_at"])


def _error_result(error: BankError) -> dict:
    details = [message for messages in error.fields.values() for message in messages]
    message = " ".join([error.message, *details[:1]]) if details else error.message
    return {"code": error.code, "message": message}


def _freeze(proposal: ActionProposal, customer: Customer, user: User) -> dict:
    card = selectors.card_get(customer=customer, card_id=proposal.payload["card_id"])
    card = card_services.card_freeze(card=card, actor=user)
    return {
        "card_id": card.pk,
        "card_status": card.status,
        "message": f"Your card ending {card.last4} is frozen.",
    }


def _dispute(proposal: ActionProposal, customer: Customer, user: User) -> dict:
    dispute = dispute_open(
        customer=customer,
        posting_id=proposal.payload["transaction_id"],
        reason=proposal.payload["reason"],
        description=f"Opened with the assistant (conversation {proposal.conversation_id}).",
        opened_by=user,
    )
    return {
        "dispute_id": dispute.pk,
        "dispute_status": dispute.status,
        "message": f"Dispute #{dispute.pk} is open. We will tell you the outcome.",
    }


def _transfer_confirm(proposal: ActionProposal, user: User) -> ActionProposal:
    """Claim, pay, record: three steps because the payment service owns its (durable)
    transaction. `decided_at` marks the claim, so a decline cannot slip in between; the
    idempotency key makes a concurrent second click, or a retry after a crash between
    paying and recording, replay the same payment instead of paying twice."""
    with transaction.atomic(durable=True):
        locked = _locked(proposal)
        if locked.status != Status.PROPOSED:
            return _already_decided(locked)
        if locked.decided_at is None:
            locked.decided_at = timezone.now()
            locked.save(update_fields=["decided_at"])
    customer = proposal.conversation.customer
    payload = proposal.payload
    try:
        payment = _pay(customer=customer, user=user, proposal=proposal, payload=payload)
    except BankError as error:
        status, result = Status.FAILED, _error_result(error)
    else:
        status, result = _payment_outcome(payment)
    with transaction.atomic(durable=True):
        locked = _locked(proposal)
        if locked.status == Status.PROPOSED:
            _finish(locked, status, result)
        return locked


def _pay(*, customer: Customer, user: User, proposal: ActionProposal, payload: dict) -> Payment:
    source = selectors.account_get(customer=customer, account_id=payload["from_account_id"])
    destination: dict = {}
    if "to_account_id" in payload:
        destination["to_account_id"] = payload["to_account_id"]
    elif "to_payee_id" in payload:
        payee = selectors.payee_get(customer=customer, payee_id=payload["to_payee_id"])
        destination.update(to_iban=payee.iban, to_name=payee.name)
    else:
        destination["to_iban"] = payload["to_iban"]
    payment, _created = payment_services.payment_create(
        customer=customer,
        actor=user,
        from_account_id=source.pk,
        amount=payload["amount"],
        currency=source.currency,
        idempotency_key=f"{IDEMPOTENCY_PREFIX}{proposal.pk}",
        reference=payload.get("reference", ""),
        **destination,
    )
    return payment


def _payment_outcome(payment: Payment) -> tuple[str, dict]:
    result = {"payment_id": payment.pk, "payment_status": payment.status}
    amount = money_format(payment.amount_minor, payment.currency)
    if payment.status == Payment.Status.REJECTED:
        return Status.FAILED, {**result, "message": f"The payment of {amount} was not made."}
    messages = {
        Payment.Status.COMPLETED: f"{amount} has been sent.",
        Payment.Status.PENDING: f"{amount} is on its way to the other bank.",
        Payment.Status.HELD_FOR_REVIEW: f"The payment of {amount} is being checked by our team.",
    }
    return Status.EXECUTED, {**result, "message": messages.get(payment.status, "")}


@transaction.atomic(durable=True)
def action_decline(*, proposal_id, user: User) -> ActionProposal:
    proposal = _proposal_for_user(proposal_id=proposal_id, user=user)
    locked = _locked(proposal)
    if locked.status == Status.DECLINED:
        return locked
    if locked.status != Status.PROPOSED or locked.decided_at is not None:
        raise InvalidState("This action has already been confirmed.")
    locked.status = Status.DECLINED
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_at"])
    return locked


# --- Step-up ---------------------------------------------------------------------------

_CODE = re.compile(r"^[0-9]{6}$")


def _step_up_failures_key(user: User) -> str:
    return f"banksight:chat:step_up_failures:{user.pk}"


def step_up_check(*, user: User, step_up: str | None) -> None:
    """The customer proves it is them again: a current code from their confirmed
    authenticator, or their password when they have none. Once a customer has an
    authenticator, their password is not enough (whoever learned it could move money).
    Wrong answers are counted per user (the sign-in lockout does not see these), so the
    confirmation cannot be used to guess a password or a code."""
    has_device = mfa_device_get_confirmed(user=user) is not None
    secret = step_up or ""  # a password may start or end with a space; a code may not
    if not secret.strip():
        message = STEP_UP_ASK_WITH_DEVICE if has_device else STEP_UP_ASK_WITHOUT_DEVICE
        raise StepUpRequired(message, fields={"step_up": [message]})
    key = _step_up_failures_key(user)
    if (cache.get(key) or 0) >= STEP_UP_FAILURE_LIMIT:
        raise StepUpLocked(fields={"step_up": [StepUpLocked.default_message]})
    if has_device:
        code = secret.strip()
        if not _CODE.match(code):  # most likely the password: refused, and said so
            raise StepUpCodeRequired(fields={"step_up": [StepUpCodeRequired.default_message]})
        passed = _totp_ok(user, code)
        wrong = "That code is not right. Nothing was sent."
    else:
        passed = len(secret) <= 128 and user.check_password(secret)
        wrong = "That password is not right. Nothing was sent."
    if passed:
        cache.delete(key)
        return
    cache.add(key, 0, timeout=STEP_UP_FAILURE_WINDOW_S)
    cache.incr(key)
    raise StepUpInvalid(wrong, fields={"step_up": [wrong]})


def _totp_ok(user: User, code: str) -> bool:
    try:
        mfa_token_check(user=user, token=code)  # a wrong code is recorded as a security event
    except MfaCodeInvalid:
        return False
    return True


# --- Summaries -------------------------------------------------------------------------

_REASONS = {
    Dispute.Reason.UNAUTHORISED: "not made by you",
    Dispute.Reason.NOT_RECEIVED: "not received",
    Dispute.Reason.DUPLICATE: "charged twice",
    Dispute.Reason.WRONG_AMOUNT: "wrong amount",
    Dispute.Reason.OTHER: "other reason",
}


def action_summary(proposal: ActionProposal) -> str:
    """One line for the chat card, built from the customer's own records (never from
    model text): "Freeze card ending 4242", "Transfer £50.00 from Current ••1234 to ••5678"."""
    payload = proposal.payload or {}
    customer_id = proposal.conversation.customer_id
    if proposal.kind == Kind.FREEZE_CARD:
        card = Card.objects.filter(pk=payload.get("card_id"), customer_id=customer_id).first()
        return f"Freeze card ending {card.last4}" if card else "Freeze a card"
    if proposal.kind == Kind.OPEN_DISPUTE:
        posting = (
            Posting.objects.filter(
                pk=payload.get("transaction_id"), account__customer_id=customer_id
            ).first()
            if isinstance(payload.get("transaction_id"), int)
            else None
        )
        if posting is None:
            return "Dispute a transaction"
        reason = _REASONS.get(payload.get("reason"), "other reason")
        return (
            f"Dispute {posting.description[:60]}, "
            f"{money_format(-posting.amount_minor, posting.currency)} on "
            f"{_date(timezone.localdate(posting.booked_at))} ({reason})"
        )
    if proposal.kind == Kind.TRANSFER:
        return _transfer_summary(payload, customer_id)
    return "Proposed action"


def _date(day) -> str:
    return f"{day.day} {day:%b %Y}"


def _transfer_summary(payload: dict, customer_id: int) -> str:
    ids = [payload.get("from_account_id"), payload.get("to_account_id")]
    accounts = {
        account.pk: account
        for account in Account.objects.filter(
            pk__in=[pk for pk in ids if isinstance(pk, int)], customer_id=customer_id
        )
    }
    source = accounts.get(payload.get("from_account_id"))
    if source is None:
        return "Make a transfer"
    try:
        amount = money_format(
            money.to_minor(
                money.parse_amount(payload.get("amount"), source.currency), source.currency
            ),
            source.currency,
        )
    except money.AmountError:
        return "Make a transfer"
    if "to_account_id" in payload:
        target = accounts.get(payload["to_account_id"])
        to = f"{target.name} {last4(target.number)}" if target else "another account"
    elif "to_payee_id" in payload:
        payee = Payee.objects.filter(pk=payload["to_payee_id"], customer_id=customer_id).first()
        to = f"{payee.name} {last4(payee.iban)}" if payee else "a payee"
    else:
        iban = str(payload.get("to_iban", ""))
        payee = Payee.objects.filter(customer_id=customer_id, iban=iban.replace(" ", "")).first()
        to = f"{payee.name} {last4(iban)}" if payee else last4(iban)
    summary = f"Transfer {amount} from {source.name} {last4(source.number)} to {to}"
    reference = str(payload.get("reference", "")).strip()
    return f'{summary}, reference "{reference[:40]}"' if reference else summary
