"""Grounding: intents, the customer's own facts, knowledge-base search and citations."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from django.urls import reverse

from apps.accounts.models import Account, Card, JournalEntry, Payment
from apps.accounts.services.payees import payee_create
from apps.accounts.services.payments import payment_create
from apps.accounts.services.standing_orders import standing_order_create
from apps.chat.grounding import (
    FACTS_BUDGET_CHARS,
    article_search,
    grounding_gather,
    intents_detect,
)
from apps.chat.knowledge import article_sources, articles_sync
from apps.chat.models import KnowledgeArticle
from tests.factories import account_make, customer_make, ledger_book

OTHER_BANK_IBAN = "DE89370400440532013000"


def person(username: str, first: str, *, card: str, shop: str, payee: str):
    customer = customer_make(username=username, first_name=first, last_name="Test")
    checking = account_make(customer, balance="900.00")
    savings = account_make(customer, type=Account.Type.SAVINGS, balance="50.00")
    ledger_book(checking, -1240, shop, kind=JournalEntry.Kind.CARD, counterparty=shop)
    card_row = Card.objects.create(
        customer=customer, account=checking, last4=card, expiry_month=4, expiry_year=2030
    )
    saved = payee_create(customer=customer, name=payee, iban=OTHER_BANK_IBAN)
    payment, _ = payment_create(
        customer=customer,
        actor=customer.user,
        from_account_id=checking.pk,
        to_account_id=savings.pk,
        amount="25.00",
        currency="GBP",
        idempotency_key=f"{username}-1",
        reference=f"{first} savings",
    )
    standing_order_create(
        customer=customer,
        from_account_id=checking.pk,
        payee_id=saved.pk,
        amount="700.00",
        frequency="monthly",
        first_run_on=date(2999, 1, 1),
    )
    return SimpleNamespace(
        customer=customer,
        checking=checking,
        savings=savings,
        card=card_row,
        payee=saved,
        payment=payment,
    )


@pytest.fixture
def alice(db):
    return person("alice_g", "Alice", card="4242", shop="Corner Cafe", payee="Landlord Alice")


@pytest.fixture
def bob(db):
    return person("bob_g", "Bob", card="9191", shop="Garage Bob", payee="Landlord Bob")


EVERYTHING = {"balance", "transactions", "cards", "payments", "transfer", "fees"}


# --- Intents ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What's my balance?", {"balance"}),
        ("how much money do I have in savings", {"balance"}),
        ("Am I overdrawn?", {"balance"}),
        ("Show me my recent transactions", {"transactions"}),
        ("What did I spend at Tesco last week?", {"transactions"}),
        ("what is this £12.40 charge from Corner Cafe?", {"transactions"}),
        ("Did my salary come in?", {"transactions"}),
        ("When does my debit card expire?", {"cards"}),
        ("Did my payment to the landlord go through?", {"payments"}),
        ("Which standing orders do I have?", {"payments"}),
        ("How much does an international transfer cost?", {"fees", "payments", "policy"}),
        ("Are there fees for using my card abroad?", {"fees", "cards", "policy"}),
        ("What are your opening hours?", {"policy"}),
        ("what's the cut-off time for euro payments", {"policy", "payments"}),
        ("Please freeze my card", {"freeze_card", "cards"}),
        ("I lost my card", {"freeze_card", "cards"}),
        ("my card was stolen last night", {"freeze_card", "cards"}),
        ("I can\u2019t find my wallet anywhere", {"freeze_card"}),
        ("I want to dispute a transaction", {"open_dispute", "transactions"}),
        ("I don't recognise this payment of £30", {"open_dispute", "transactions", "payments"}),
        ("I was charged twice at the supermarket", {"open_dispute", "transactions"}),
        ("The parcel never arrived but I paid for it", {"open_dispute", "payments"}),
        ("Send £50 to my savings account", {"transfer", "payments"}),
        ("Can you transfer 100 pounds to Landlord?", {"transfer", "payments"}),
        ("move 20 to savings", {"transfer"}),
        ("I'd like to pay my rent", {"transfer"}),
        ("Can I speak to a human?", {"human"}),
        ("I want to talk to someone", {"human"}),
        ("get me a real person please", {"human"}),
        ("agent", {"human"}),
        ("connect me with an advisor", {"human"}),
        ("Hi there", {"greeting"}),
        ("Good morning! What's my balance?", {"greeting", "balance"}),
    ],
)
def test_intents_of_realistic_messages(text, expected):
    found = intents_detect(text)
    assert expected <= found, found


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        # Questions about moving money are not instructions to move it.
        ("How much does an international transfer cost?", {"transfer"}),
        ("How do I transfer money abroad?", {"transfer"}),
        ("How much does it cost to send £500 to Spain?", {"transfer"}),
        ("transfer me to a person", {"transfer"}),
        # An estate agent is not a request for a person.
        ("I want to pay my estate agent £200", {"human"}),
        ("Why is my card frozen?", {"freeze_card"}),
        ("How do I unfreeze my card?", {"freeze_card"}),
        ("What's my balance?", {"transfer", "freeze_card", "open_dispute", "human", "greeting"}),
        ("this is not a greeting: hi", {"greeting"}),
    ],
)
def test_intents_that_must_not_fire(text, absent):
    assert not (intents_detect(text) & absent), intents_detect(text)


def test_no_intent_for_small_talk():
    assert intents_detect("Is my money safe with you?") == set()


# --- Knowledge base --------------------------------------------------------------------


def test_the_seeded_knowledge_base_is_there_after_migrate(db):
    slugs = {source.slug for source in article_sources()}
    assert len(slugs) == 12
    assert set(KnowledgeArticle.objects.filter(published=True).values_list("slug", flat=True)) >= (
        slugs
    )


def test_sync_never_overwrites_an_edited_article_and_restores_a_missing_one(db):
    fees = KnowledgeArticle.objects.get(slug="fees-and-charges")
    fees.body = "Edited by staff."
    fees.save()
    KnowledgeArticle.objects.filter(slug="statements").delete()

    assert articles_sync() == 1
    assert KnowledgeArticle.objects.get(slug="fees-and-charges").body == "Edited by staff."
    assert KnowledgeArticle.objects.filter(slug="statements").exists()
    assert articles_sync() == 0


@pytest.mark.parametrize(
    ("question", "slug"),
    [
        ("how much does an international transfer cost", "fees-and-charges"),
        ("what are your opening hours", "contact-and-opening-hours"),
        ("I lost my card", "lost-stolen-card"),
        ("how long does a chargeback take", "disputes-and-chargebacks"),
        ("what is the cut-off time for euro payments", "international-payments"),
        ("what interest do I get on savings", "savings-interest-rates"),
        ("how do I cancel a standing order", "standing-orders"),
        ("do you sell my data", "data-privacy"),
        ("what happens if I go overdrawn", "overdrafts"),
        ("can I get a loan", "loan-prequalification"),
        ("someone called saying my account is at risk and to move money", "fraud-and-scams"),
        ("can I download a statement", "statements"),
    ],
)
def test_article_search_ranks_the_right_article_first(db, question, slug):
    found = article_search(query=question)
    assert found
    assert found[0].slug == slug
    assert found[0].rank > 0
    assert found[0].excerpt


def test_article_search_uses_websearch_syntax_and_falls_back_to_any_word(db):
    # All of the words ("websearch"): the article that has every one of them.
    assert [a.slug for a in article_search(query='"non-sterling transaction fee"')] == [
        "fees-and-charges"
    ]
    # No article has all these words: any of them will do.
    fallback = article_search(query="chargeback xylophone quasar")
    assert [a.slug for a in fallback][:1] == ["disputes-and-chargebacks"]
    assert article_search(query="xylophone quasar") == []
    assert article_search(query="   ") == []
    assert len(article_search(query="card payment fee", limit=2)) <= 2


def test_unpublished_articles_are_never_found(db):
    KnowledgeArticle.objects.filter(slug="fees-and-charges").update(published=False)
    found = article_search(query="how much does an international transfer cost")
    assert "fees-and-charges" not in [a.slug for a in found]


# --- Facts -----------------------------------------------------------------------------


def test_facts_hold_only_the_customers_own_data(alice, bob):
    intents = {"balance", "transactions", "cards", "payments", "transfer"}
    grounding = grounding_gather(customer=alice.customer, text="everything", intents=intents)
    facts = grounding.facts

    assert f"••{alice.checking.number[-4:]}" in facts
    assert "Corner Cafe" in facts
    assert "ending 4242" in facts
    assert "Landlord Alice" in facts
    assert "Alice savings" in facts
    assert "£700.00 to Landlord Alice" in facts
    assert f"id {alice.card.pk}:" in facts
    for secret in (
        bob.checking.number[-4:],
        bob.savings.number[-4:],
        "Garage Bob",
        "9191",
        "Landlord Bob",
        "Bob savings",
    ):
        assert secret not in facts, secret
    # Numbers are cut to their last four: no full account number or IBAN.
    for full in (alice.checking.number, alice.checking.iban, OTHER_BANK_IBAN):
        assert full not in facts


def test_only_what_the_intents_need_is_read(alice):
    cards = grounding_gather(customer=alice.customer, text="my cards", intents={"cards"}).facts
    assert "ending 4242" in cards
    assert "Corner Cafe" not in cards
    assert "Help articles" not in cards

    balance = grounding_gather(customer=alice.customer, text="balance", intents={"balance"})
    assert "balance £" in balance.facts
    assert "ending 4242" not in balance.facts
    assert balance.citations == []


def test_greetings_gather_nothing(alice):
    grounding = grounding_gather(customer=alice.customer, text="Hello!", intents={"greeting"})
    assert grounding.facts == ""
    assert grounding.citations == []


def test_an_article_answer_cites_the_article(alice):
    text = "How much does an international transfer cost?"
    grounding = grounding_gather(customer=alice.customer, text=text, intents=intents_detect(text))

    assert grounding.article_slugs[0] == "fees-and-charges"
    assert "[fees-and-charges]" in grounding.facts
    assert "£15.00" in grounding.facts  # the excerpt holds the answer
    assert grounding.citations[0] == {
        "type": "article",
        "slug": "fees-and-charges",
        "title": KnowledgeArticle.objects.get(slug="fees-and-charges").title,
        "url": "/chat/help/fees-and-charges/",
    }
    # Weak matches are left out rather than padding the prompt.
    assert len(grounding.article_slugs) <= 3
    # The article lines come last, marked as the bank's own text (masked without names).
    lines = grounding.facts.split("\n")
    assert lines[grounding.articles_from_line].startswith("Help articles")
    assert all("[" in line for line in lines[grounding.articles_from_line + 1 :])


def test_facts_without_articles_mark_none(alice):
    grounding = grounding_gather(customer=alice.customer, text="my balance", intents={"balance"})
    assert grounding.articles_from_line is None


def test_a_question_no_article_answers_says_so(alice):
    grounding = grounding_gather(
        customer=alice.customer, text="xylophone quasar policy", intents={"policy"}
    )
    assert "No help article matches" in grounding.facts
    assert grounding.citations == []


def test_a_question_about_a_transaction_links_to_it(alice, bob, client):
    text = "What is this £12.40 from Corner Cafe?"
    grounding = grounding_gather(customer=alice.customer, text=text, intents=intents_detect(text))

    posting = alice.checking.postings.get(description="Corner Cafe")
    (citation,) = [c for c in grounding.citations if c["type"] == "transaction"]
    assert citation["id"] == posting.pk
    assert "Corner Cafe" in citation["label"]
    assert "£12.40" in citation["label"]
    assert citation["url"].startswith(
        reverse("accounts:account-detail", args=[alice.checking.pk]) + "?"
    )
    assert "Transactions that match the question:" in grounding.facts

    # The link opens the account's history filtered down to that transaction.
    client.force_login(alice.customer.user)
    page = client.get(citation["url"]).content.decode()
    assert "Corner Cafe" in page
    assert "Opening balance" not in page
    # And it is the customer's own page: someone else gets a 404.
    client.force_login(bob.customer.user)
    assert client.get(citation["url"]).status_code == 404


def test_facts_stay_within_the_budget(alice):
    for n in range(40):
        ledger_book(
            alice.checking,
            -(100 + n),
            f"A rather long card payment description number {n} at a shop",
            kind=JournalEntry.Kind.CARD,
        )
    grounding = grounding_gather(
        customer=alice.customer,
        text="what does a card payment abroad cost and what did I spend",
        intents=EVERYTHING | {"policy"},
    )
    assert len(grounding.facts) <= FACTS_BUDGET_CHARS
    assert "Help articles" in grounding.facts  # kept for the articles whatever the data takes
    assert "Recent transactions" in grounding.facts


def test_payments_abroad_show_the_iban_last_four_only(alice):
    payment_create(
        customer=alice.customer,
        actor=alice.customer.user,
        from_account_id=alice.checking.pk,
        to_iban=OTHER_BANK_IBAN,
        to_name="Hans Example",
        amount="10.00",
        currency="GBP",
        idempotency_key="abroad-1",
    )
    facts = grounding_gather(
        customer=alice.customer, text="my payments", intents={"payments", "transactions"}
    ).facts
    assert "••3000" in facts
    assert OTHER_BANK_IBAN not in facts
    assert Payment.objects.filter(customer=alice.customer).count() == 2


def test_a_count_is_not_an_amount(alice):
    ledger_book(alice.checking, -1000, "Cinema", kind=JournalEntry.Kind.CARD)
    text = "show me my last 10 transactions"
    grounding = grounding_gather(customer=alice.customer, text=text, intents=intents_detect(text))
    assert grounding.citations == []
    assert "Cinema" in grounding.facts  # among the recent ones

    text = "what was the 10 pounds payment?"
    grounding = grounding_gather(customer=alice.customer, text=text, intents=intents_detect(text))
    assert [c["label"].split(",")[0] for c in grounding.citations] == ["Cinema"]


def test_a_cited_article_opens_for_the_customer_and_a_retired_one_does_not(alice, client):
    client.force_login(alice.customer.user)
    page = client.get("/chat/help/fees-and-charges/")
    assert page.status_code == 200
    assert "£15.00" in page.content.decode()
    KnowledgeArticle.objects.filter(slug="fees-and-charges").update(published=False)
    assert client.get("/chat/help/fees-and-charges/").status_code == 404
    client.logout()
    assert client.get("/chat/help/overdrafts/").status_code == 302  # sign in first
