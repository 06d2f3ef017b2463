"""Actions the assistant proposes: validated model output, confirmed only by the customer."""

from __future__ import annotations

import json
import logging
import threading
from decimal import Decimal
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import connection
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.errors import InvalidState, NotFound
from apps.accounts.models import Account, Card, JournalEntry, Payment, Posting
from apps.accounts.services import cards as card_services
from apps.accounts.services.payees import payee_create
from apps.accounts.services.payments import payment_create
from apps.chat.actions import (
    IDEMPOTENCY_PREFIX,
    STEP_UP_FAILURE_LIMIT,
    ActionInvalid,
    StepUpInvalid,
    StepUpLocked,
    StepUpRequired,
    action_confirm,
    action_decline,
    action_extract,
    action_parse,
    action_propose,
    action_schema,
    action_summary,
)
from apps.chat.models import ActionProposal, Conversation, Message
from apps.fraud.models import Dispute
from tests.factories import account_make, customer_make, ledger_book
from tests.helpers import PASSWORD, totp_code

Kind = ActionProposal.Kind
Status = ActionProposal.Status
OTHER_BANK_IBAN = "DE89370400440532013000"


def banked(username: str, *, last4: str):
    customer = customer_make(username=username, first_name=username.title(), last_name="Test")
    checking = account_make(customer, balance="500.00", name="Current")
    savings = account_make(customer, type=Account.Type.SAVINGS, name="Savings")
    ledger_book(checking, -1240, "Corner Cafe", kind=JournalEntry.Kind.CARD)
    card = Card.objects.create(
        customer=customer, account=checking, last4=last4, expiry_month=1, expiry_year=2030
    )
    conversation = Conversation.objects.create(customer=customer)
    message = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, status=Message.Status.COMPLETE
    )
    return SimpleNamespace(
        customer=customer,
        user=customer.user,
        checking=checking,
        savings=savings,
        card=card,
        posting=Posting.objects.filter(account=checking, amount_minor=-1240).get(),
        conversation=conversation,
        message=message,
    )


@pytest.fixture
def alice(db):
    return banked("alice_a", last4="4242")


@pytest.fixture
def bob(db):
    return banked("bob_a", last4="9191")


def propose(person, kind, payload) -> ActionProposal:
    return action_propose(
        conversation=person.conversation, message=person.message, kind=kind, payload=payload
    )


def transfer_payload(person, **extra) -> dict:
    return {
        "from_account_id": person.checking.pk,
        "to_account_id": person.savings.pk,
        "amount": "50.00",
        **extra,
    }


def ledger_snapshot():
    return (
        Payment.objects.count(),
        Posting.objects.count(),
        sorted(Account.objects.values_list("pk", "balance_minor")),
    )


class Model:
    """A stand-in for the model: returns the scripted outputs in turn, records the calls."""

    def __init__(self, *outputs: str) -> None:
        self.outputs = list(outputs)
        self.schemas: list[dict] = []

    def __call__(self, schema: dict) -> str:
        self.schemas.append(schema)
        return self.outputs.pop(0)  # an extra call fails the test

    @property
    def calls(self) -> int:
        return len(self.schemas)


# --- Schemas and parsing ---------------------------------------------------------------


def test_every_action_has_a_strict_schema():
    for kind in Kind.values:
        schema = action_schema(kind)
        variants = schema.get("anyOf", [schema])
        for variant in variants:
            assert variant["additionalProperties"] is False
            assert variant["required"]
    assert action_schema(Kind.OPEN_DISPUTE)["properties"]["reason"]["enum"] == list(
        Dispute.Reason.values
    )


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (Kind.FREEZE_CARD, '{"card_id": 7}'),
        (Kind.FREEZE_CARD, '```json\n{"card_id": 7}\n```'),
        (Kind.OPEN_DISPUTE, '{"transaction_id": 3, "reason": "duplicate"}'),
        (Kind.TRANSFER, '{"from_account_id": 1, "to_account_id": 2, "amount": "50"}'),
        (Kind.TRANSFER, '{"from_account_id": 1, "to_payee_id": 2, "amount": "0.5"}'),
        (
            Kind.TRANSFER,
            '{"from_account_id": 1, "to_iban": "DE89 3704 0044 0532 0130 00", '
            '"amount": "12.50", "reference": "Books"}',
        ),
    ],
)
def test_valid_output_parses(kind, raw):
    assert action_parse(raw, kind=kind) == json.loads(raw.strip("`").removeprefix("json"))


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (Kind.FREEZE_CARD, "{}"),  # missing field
        (Kind.FREEZE_CARD, '{"card_id": 7, "pin": "1234"}'),  # extra field
        (Kind.FREEZE_CARD, '{"card_id": "7"}'),  # wrong type
        (Kind.FREEZE_CARD, '{"card_id": 7.0}'),  # a float is not an id
        (Kind.FREEZE_CARD, '{"card_id": true}'),
        (Kind.FREEZE_CARD, '{"card_id": 0}'),
        (Kind.FREEZE_CARD, '{"card_id": 7, "card_id": 8}'),  # duplicate key
        (Kind.FREEZE_CARD, "[7]"),
        (Kind.FREEZE_CARD, "Sure! I will freeze card 7 for you."),
        (Kind.FREEZE_CARD, ""),
        (Kind.FREEZE_CARD, '{"card_id": 7' + " " * 3000 + "}"),
        (Kind.OPEN_DISPUTE, '{"transaction_id": 3, "reason": "i_just_want_money"}'),
        (Kind.OPEN_DISPUTE, '{"transaction_id": 3}'),
        (Kind.TRANSFER, '{"from_account_id": 1, "to_account_id": 2, "amount": "-5.00"}'),
        (Kind.TRANSFER, '{"from_account_id": 1, "to_account_id": 2, "amount": 50}'),
        (Kind.TRANSFER, '{"from_account_id": 1, "to_account_id": 2, "amount": "1e3"}'),
        (Kind.TRANSFER, '{"from_account_id": 1, "to_account_id": 2, "amount": NaN}'),
        (Kind.TRANSFER, '{"from_account_id": 1, "amount": "5.00"}'),  # nowhere to go
        (
            Kind.TRANSFER,
            '{"from_account_id": 1, "to_account_id": 2, "to_iban": "DE89370400440532013000", '
            '"amount": "5.00"}',
        ),
        (Kind.TRANSFER, '{"from_account_id": 1, "to_iban": "not an iban", "amount": "5"}'),
        (
            Kind.TRANSFER,
            '{"from_account_id": 1, "to_account_id": 2, "amount": "5", "reference": "a\\nb"}',
        ),
    ],
)
def test_invalid_output_is_refused(kind, raw):
    assert action_parse(raw, kind=kind) is None


# --- Extraction: retried once, then dropped ----------------------------------------------


def test_valid_output_is_accepted_at_once(alice):
    model = Model(json.dumps({"card_id": alice.card.pk}))
    payload = action_extract(kind=Kind.FREEZE_CARD, generate=model, customer=alice.customer)
    assert payload == {"card_id": alice.card.pk}
    assert model.calls == 1
    assert model.schemas[0] == action_schema(Kind.FREEZE_CARD)


@pytest.mark.parametrize(
    "bad",
    [
        "{}",  # missing field
        '{"card_id": 1, "extra": 1}',  # extra field
        '{"card_id": "one"}',  # wrong type
        "not json at all",
    ],
)
def test_bad_output_is_retried_once_then_dropped_and_logged(alice, caplog, bad):
    model = Model(bad, bad)
    with caplog.at_level(logging.WARNING, logger="apps.chat.actions"):
        payload = action_extract(kind=Kind.FREEZE_CARD, generate=model, customer=alice.customer)
    assert payload is None
    assert model.calls == 2
    assert "assistant action dropped after a retry" in caplog.messages
    # The log says why, never what the model wrote.
    for record in caplog.records:
        assert bad not in json.dumps(record.__dict__, default=str)


def test_a_negative_amount_is_dropped_after_one_retry(alice):
    bad = json.dumps(transfer_payload(alice, amount="-50.00"))
    model = Model(bad, bad)
    assert action_extract(kind=Kind.TRANSFER, generate=model, customer=alice.customer) is None
    assert model.calls == 2


def test_bad_then_good_output_is_accepted_on_the_retry(alice):
    model = Model("{oops", json.dumps({"card_id": alice.card.pk}))
    payload = action_extract(kind=Kind.FREEZE_CARD, generate=model, customer=alice.customer)
    assert payload == {"card_id": alice.card.pk}
    assert model.calls == 2


def test_another_customers_ids_are_dropped(alice, bob, caplog):
    card = json.dumps({"card_id": bob.card.pk})
    model = Model(card, card)
    with caplog.at_level(logging.WARNING, logger="apps.chat.actions"):
        assert (
            action_extract(kind=Kind.FREEZE_CARD, generate=model, customer=alice.customer) is None
        )
    assert model.calls == 2
    assert any(getattr(r, "problem", "") == "not_allowed" for r in caplog.records)

    for kind, payload in [
        (Kind.OPEN_DISPUTE, {"transaction_id": bob.posting.pk, "reason": "unauthorised"}),
        (Kind.TRANSFER, transfer_payload(bob)),  # from Bob's account
        (Kind.TRANSFER, transfer_payload(alice, to_account_id=bob.savings.pk)),
    ]:
        raw = json.dumps(payload)
        assert action_extract(kind=kind, generate=Model(raw, raw), customer=alice.customer) is None


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "0.00"},  # zero
        {"amount": "500.001"},  # passes no schema: three decimals
        {"to_account_id": None},  # to the same account, below
    ],
)
def test_impossible_transfers_are_dropped(alice, change):
    payload = transfer_payload(alice, **change)
    if change.get("to_account_id", 0) is None:
        payload["to_account_id"] = alice.checking.pk
    raw = json.dumps(payload)
    assert (
        action_extract(kind=Kind.TRANSFER, generate=Model(raw, raw), customer=alice.customer)
        is None
    )


def test_a_frozen_card_or_an_already_disputed_transaction_is_not_proposed(alice):
    card_services.card_freeze(card=alice.card, actor=alice.user)
    raw = json.dumps({"card_id": alice.card.pk})
    assert (
        action_extract(kind=Kind.FREEZE_CARD, generate=Model(raw, raw), customer=alice.customer)
        is None
    )

    Dispute.objects.create(
        customer=alice.customer, posting=alice.posting, reason="other", opened_by=alice.user
    )
    raw = json.dumps({"transaction_id": alice.posting.pk, "reason": "duplicate"})
    assert (
        action_extract(kind=Kind.OPEN_DISPUTE, generate=Model(raw, raw), customer=alice.customer)
        is None
    )


# --- Proposing -------------------------------------------------------------------------


def test_propose_stores_a_validated_proposal(alice):
    proposal = propose(alice, Kind.FREEZE_CARD, {"card_id": alice.card.pk})
    proposal.refresh_from_db()
    assert proposal.status == Status.PROPOSED
    assert proposal.payload == {"card_id": alice.card.pk}
    assert proposal.conversation == alice.conversation
    assert proposal.message == alice.message


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (Kind.FREEZE_CARD, {"card_id": "1"}),
        (Kind.FREEZE_CARD, {"card_id": 1, "extra": True}),
        ("delete_account", {}),
    ],
)
def test_propose_refuses_invalid_payloads(alice, kind, payload):
    with pytest.raises(ActionInvalid):
        propose(alice, kind, payload)
    assert not ActionProposal.objects.exists()


def test_propose_refuses_someone_elses_card_or_message(alice, bob):
    with pytest.raises(ActionInvalid):
        propose(alice, Kind.FREEZE_CARD, {"card_id": bob.card.pk})
    with pytest.raises(ActionInvalid):
        action_propose(
            conversation=alice.conversation,
            message=bob.message,
            kind=Kind.FREEZE_CARD,
            payload={"card_id": alice.card.pk},
        )
    assert not ActionProposal.objects.exists()


# --- Confirming: freeze and dispute ------------------------------------------------------


def test_confirm_freezes_the_card_through_the_portals_service(alice):
    proposal = propose(alice, Kind.FREEZE_CARD, {"card_id": alice.card.pk})

    with mock.patch.object(
        card_services, "card_freeze", wraps=card_services.card_freeze
    ) as service:
        done = action_confirm(proposal_id=proposal.pk, user=alice.user)
        again = action_confirm(proposal_id=str(proposal.pk), user=alice.user)  # double click

    service.assert_called_once()
    assert service.call_args.kwargs["actor"] == alice.user
    alice.card.refresh_from_db()
    assert alice.card.status == Card.Status.FROZEN
    assert done.status == again.status == Status.EXECUTED
    assert done.result["card_id"] == alice.card.pk
    assert done.result["card_status"] == "frozen"
    assert "4242" in done.result["message"]
    assert done.decided_at is not None


def test_a_service_error_fails_the_proposal_with_its_message(alice):
    proposal = propose(alice, Kind.FREEZE_CARD, {"card_id": alice.card.pk})
    Card.objects.filter(pk=alice.card.pk).update(status=Card.Status.CANCELLED)

    done = action_confirm(proposal_id=proposal.pk, user=alice.user)

    assert done.status == Status.FAILED
    assert done.result["code"] == "invalid_state"
    assert "cancelled" in done.result["message"]
    alice.card.refresh_from_db()
    assert alice.card.status == Card.Status.CANCELLED


def test_confirm_opens_a_dispute_once(alice):
    proposal = propose(
        alice, Kind.OPEN_DISPUTE, {"transaction_id": alice.posting.pk, "reason": "unauthorised"}
    )
    done = action_confirm(proposal_id=proposal.pk, user=alice.user)
    action_confirm(proposal_id=proposal.pk, user=alice.user)

    dispute = Dispute.objects.get()
    assert done.status == Status.EXECUTED
    assert done.result["dispute_id"] == dispute.pk
    assert dispute.posting == alice.posting
    assert dispute.reason == Dispute.Reason.UNAUTHORISED
    assert dispute.opened_by == alice.user
    assert str(alice.conversation.pk) in dispute.description


# --- Confirming: transfers need a step-up --------------------------------------------------


@pytest.mark.parametrize(
    ("step_up", "error"),
    [(None, StepUpRequired), ("", StepUpRequired), ("wrong password", StepUpInvalid)],
)
def test_a_transfer_without_the_right_step_up_writes_nothing(alice, step_up, error):
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice))
    before = ledger_snapshot()

    with pytest.raises(error) as raised:
        action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=step_up)

    assert "step_up" in raised.value.fields
    assert ledger_snapshot() == before
    proposal.refresh_from_db()
    assert proposal.status == Status.PROPOSED
    assert proposal.decided_at is None
    assert proposal.result == {}


def test_a_transfer_with_the_password_pays_once(alice):
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice, reference="Holiday"))

    done = action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=PASSWORD)
    again = action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=PASSWORD)

    payment = Payment.objects.get()
    assert payment.idempotency_key == f"{IDEMPOTENCY_PREFIX}{proposal.pk}"
    assert payment.status == Payment.Status.COMPLETED
    assert payment.reference == "Holiday"
    assert payment.created_by == alice.user
    assert done.status == again.status == Status.EXECUTED
    assert done.result["payment_id"] == again.result["payment_id"] == payment.pk
    alice.checking.refresh_from_db()
    alice.savings.refresh_from_db()
    assert alice.checking.balance == Decimal("437.60")  # 500 - 12.40 - 50
    assert alice.savings.balance == Decimal("50.00")


def test_a_transfer_with_an_authenticator_code(alice):
    device = TOTPDevice.objects.create(user=alice.user, name="phone", confirmed=True)
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice))

    done = action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=totp_code(device))

    assert done.status == Status.EXECUTED
    assert Payment.objects.count() == 1


def test_a_wrong_authenticator_code_is_refused(alice):
    device = TOTPDevice.objects.create(user=alice.user, name="phone", confirmed=True)
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice))
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"

    with pytest.raises(StepUpInvalid):
        action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=wrong)
    assert not Payment.objects.exists()


def test_step_up_guesses_are_limited(alice):
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice))
    for _ in range(STEP_UP_FAILURE_LIMIT):
        with pytest.raises(StepUpInvalid):
            action_confirm(proposal_id=proposal.pk, user=alice.user, step_up="guess")

    with pytest.raises(StepUpLocked):
        action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=PASSWORD)
    assert not Payment.objects.exists()


def test_a_crash_after_paying_replays_the_same_payment(alice):
    """The first click paid, then died before recording it: the next click must not pay
    again. The idempotency key comes from the proposal, so the payment service replays."""
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice))
    paid, _ = payment_create(
        customer=alice.customer,
        actor=alice.user,
        from_account_id=alice.checking.pk,
        to_account_id=alice.savings.pk,
        amount="50.00",
        currency="GBP",
        idempotency_key=f"{IDEMPOTENCY_PREFIX}{proposal.pk}",
    )

    done = action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=PASSWORD)

    assert done.status == Status.EXECUTED
    assert done.result["payment_id"] == paid.pk
    assert Payment.objects.count() == 1


def test_not_enough_money_fails_the_proposal_and_moves_nothing(alice):
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice, amount="5000.00"))
    before = ledger_snapshot()

    done = action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=PASSWORD)

    assert done.status == Status.FAILED
    assert done.result["code"] == "insufficient_funds"
    assert "You can send at most" in done.result["message"]
    assert ledger_snapshot() == before


def test_a_transfer_to_a_saved_payee(alice):
    payee = payee_create(customer=alice.customer, name="Landlord", iban=OTHER_BANK_IBAN)
    proposal = propose(
        alice,
        Kind.TRANSFER,
        {"from_account_id": alice.checking.pk, "to_payee_id": payee.pk, "amount": "20"},
    )
    assert action_summary(proposal) == (
        f"Transfer £20.00 from Current ••{alice.checking.number[-4:]} to Landlord ••3000"
    )

    done = action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=PASSWORD)

    payment = Payment.objects.get()
    assert done.status == Status.EXECUTED
    assert done.result["payment_status"] == Payment.Status.PENDING  # another bank: settles later
    assert payment.to_iban == OTHER_BANK_IBAN
    assert payment.kind == Payment.Kind.EXTERNAL


# --- Declining, and other people's proposals -----------------------------------------------


def test_decline(alice):
    proposal = propose(alice, Kind.FREEZE_CARD, {"card_id": alice.card.pk})

    declined = action_decline(proposal_id=proposal.pk, user=alice.user)
    assert declined.status == Status.DECLINED
    assert declined.decided_at is not None
    assert action_decline(proposal_id=proposal.pk, user=alice.user).status == Status.DECLINED

    with pytest.raises(InvalidState):
        action_confirm(proposal_id=proposal.pk, user=alice.user)
    alice.card.refresh_from_db()
    assert alice.card.status == Card.Status.ACTIVE


def test_a_confirmed_action_cannot_be_declined(alice):
    proposal = propose(alice, Kind.FREEZE_CARD, {"card_id": alice.card.pk})
    action_confirm(proposal_id=proposal.pk, user=alice.user)
    with pytest.raises(InvalidState):
        action_decline(proposal_id=proposal.pk, user=alice.user)


def test_another_customers_proposal_is_not_found(alice, bob):
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice))
    freeze = propose(alice, Kind.FREEZE_CARD, {"card_id": alice.card.pk})
    before = ledger_snapshot()

    for proposal_id in (proposal.pk, freeze.pk, "not-a-uuid", None):
        with pytest.raises(NotFound):
            action_confirm(proposal_id=proposal_id, user=bob.user, step_up=PASSWORD)
        with pytest.raises(NotFound):
            action_decline(proposal_id=proposal_id, user=bob.user)

    assert ledger_snapshot() == before
    assert set(ActionProposal.objects.values_list("status", flat=True)) == {Status.PROPOSED}
    alice.card.refresh_from_db()
    assert alice.card.status == Card.Status.ACTIVE


# --- Summaries -------------------------------------------------------------------------


def test_summaries_come_from_the_customers_records(alice):
    ending = alice.checking.number[-4:]
    assert action_summary(propose(alice, Kind.FREEZE_CARD, {"card_id": alice.card.pk})) == (
        "Freeze card ending 4242"
    )
    assert action_summary(propose(alice, Kind.TRANSFER, transfer_payload(alice))) == (
        f"Transfer £50.00 from Current ••{ending} to Savings ••{alice.savings.number[-4:]}"
    )
    iban = propose(
        alice,
        Kind.TRANSFER,
        {
            "from_account_id": alice.checking.pk,
            "to_iban": OTHER_BANK_IBAN,
            "amount": "7.5",
            "reference": "Books",
        },
    )
    assert (
        action_summary(iban)
        == f'Transfer £7.50 from Current ••{ending} to ••3000, reference "Books"'
    )
    dispute = propose(
        alice, Kind.OPEN_DISPUTE, {"transaction_id": alice.posting.pk, "reason": "duplicate"}
    )
    assert action_summary(dispute).startswith("Dispute Corner Cafe, £12.40 on ")
    assert action_summary(dispute).endswith("(charged twice)")


# --- Races (real concurrent transactions) -----------------------------------------------


def _race(works):
    barrier = threading.Barrier(len(works))
    results: list = [None] * len(works)

    def run(index):
        try:
            barrier.wait(timeout=10)
            results[index] = works[index]()
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_racing_clicks_on_a_transfer_pay_once():
    alice = banked("alice_r", last4="4242")
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice))

    def click():
        return action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=PASSWORD)

    results = _race([click] * 4)

    assert [r for r in results if isinstance(r, Exception)] == []
    payment = Payment.objects.get()
    assert {r.status for r in results} == {Status.EXECUTED}
    assert {r.result["payment_id"] for r in results} == {payment.pk}
    alice.checking.refresh_from_db()
    assert alice.checking.balance == Decimal("437.60")


@pytest.mark.django_db(transaction=True)
def test_a_decline_racing_a_confirm_never_leaves_both_done():
    alice = banked("alice_r", last4="4242")
    proposal = propose(alice, Kind.TRANSFER, transfer_payload(alice))

    results = _race(
        [
            lambda: action_confirm(proposal_id=proposal.pk, user=alice.user, step_up=PASSWORD),
            lambda: action_decline(proposal_id=proposal.pk, user=alice.user),
        ]
    )

    proposal.refresh_from_db()
    if proposal.status == Status.DECLINED:
        assert isinstance(results[0], InvalidState)
        assert not Payment.objects.exists()
    else:
        assert proposal.status == Status.EXECUTED
        assert isinstance(results[1], InvalidState)
        assert Payment.objects.count() == 1
