"""PII detection, reversible masking and the streamed restoring of placeholders."""

from __future__ import annotations

import itertools
import json
import socket

import pytest

from apps.compliance.pii import (
    PlaceholderMap,
    PlaceholderStreamRestorer,
    pii_find,
    pii_find_memoized,
    pii_mask,
    pii_mask_lines,
    pii_unmask,
    pii_warm_up,
)
from apps.compliance.pii import _memo as pii_memo

# (message, the findings as (type, text)): what a customer might type into the chat.
DETECTION_CORPUS = [
    # SSN: presidio alone reads this one as a phone number.
    ("My SSN is 078-05-1120, can you update it?", [("US_SSN", "078-05-1120")]),
    ("ssn 123 45 6789 please update", [("US_SSN", "123 45 6789")]),
    ("My card 4111 1111 1111 1111 was declined", [("CREDIT_CARD", "4111 1111 1111 1111")]),
    ("card 5555-5555-5555-4444 is lost", [("CREDIT_CARD", "5555-5555-5555-4444")]),
    ("Amex 378282246310005 please", [("CREDIT_CARD", "378282246310005")]),
    # Luhn check digit wrong: not a card.
    ("card 4111-1111-1111-1112 was declined", []),
    ("IBAN GB29 NWBK 6016 1331 9268 19 please", [("IBAN_CODE", "GB29 NWBK 6016 1331 9268 19")]),
    ("my iban is gb82west12345698765432", [("IBAN_CODE", "gb82west12345698765432")]),
    ("send it to DE89 3704 0044 0532 0130 00", [("IBAN_CODE", "DE89 3704 0044 0532 0130 00")]),
    # mod-97 check fails: not an IBAN.
    ("IBAN GB29 NWBK 6016 1331 9268 18 is wrong", []),
    (
        "Pay John Smith £50 from account 12345678, sort code 20-00-00",
        [("PERSON", "John Smith"), ("ACCOUNT_NUMBER", "12345678"), ("SORT_CODE", "20-00-00")],
    ),
    ("my acct no. 87654321", [("ACCOUNT_NUMBER", "87654321")]),
    ("details: 40-40-40 12345678", [("SORT_CODE", "40-40-40"), ("ACCOUNT_NUMBER", "12345678")]),
    (
        "wire to routing 111000025 account 987654321",
        [("ROUTING_NUMBER", "111000025"), ("ACCOUNT_NUMBER", "987654321")],
    ),
    # A 9-digit number without a valid ABA checksum is not a routing number.
    ("routing number 111000026", []),
    ("I was born on 12/03/1985", [("DATE_OF_BIRTH", "12/03/1985")]),
    ("DOB 1985-03-12", [("DATE_OF_BIRTH", "1985-03-12")]),
    ("date of birth: 3 March 1985", [("DATE_OF_BIRTH", "3 March 1985")]),
    # A transaction's date is not a date of birth; amounts and merchants are not PII.
    ("I paid Tesco £23.50 on 12/03/2024", []),
    ("I spent £1,234.56 at Amazon on 3 March", []),
    ("Account ending 4821 has a pending payment of $1,250.00 dated 2024-03-12", []),
    ("pay British Gas £45 tomorrow", []),
    ("Can I move £300 from my Current Account to my ISA?", []),
    ("I paid £12 on the High Street yesterday", []),
    ("Send the card to 12 High Street please", [("STREET_ADDRESS", "12 High Street")]),
    (
        "I live at 221B Baker Street, London NW1 6XE",
        [("STREET_ADDRESS", "221B Baker Street, London NW1 6XE")],
    ),
    (
        "Their office is 1600 Pennsylvania Avenue NW, Washington, DC 20500",
        [("STREET_ADDRESS", "1600 Pennsylvania Avenue NW, Washington, DC 20500")],
    ),
    ("my postcode is SW1A 1AA", [("POSTCODE", "SW1A 1AA")]),
    ("transfer £50 to Maria Garcia tomorrow", [("PERSON", "Maria Garcia")]),
    ("my name is Priya Patel and I need help", [("PERSON", "Priya Patel")]),
    ("payee: Tom O'Brien", [("PERSON", "Tom O'Brien")]),
    ("received £200 from David Jones yesterday", [("PERSON", "David Jones")]),
    ("My daughter Emily needs a card", [("PERSON", "Emily")]),
    (
        "email me at jane.doe@example.co.uk or call 07911 123456",
        [("EMAIL_ADDRESS", "jane.doe@example.co.uk"), ("PHONE_NUMBER", "07911 123456")],
    ),
    ("My national insurance number is AB 12 34 56 C", [("UK_NINO", "AB 12 34 56 C")]),
    ("My PIN is 1234, is that safe?", [("CREDENTIAL", "1234")]),
    ("my password is hunter2", [("CREDENTIAL", "hunter2")]),
    ("my password is not working", []),
    ("what's my balance?", []),
    ("Please freeze my Visa card ending 1234", []),
    ("Pay Acme Holdings Ltd £300", []),
    # Placeholders are never PII themselves.
    ("Can you pay [PERSON_1] £20 from [ACCOUNT_NUMBER_1]?", []),
]


@pytest.fixture(scope="module", autouse=True)
def _analyzer():
    pii_warm_up()


@pytest.mark.parametrize(("message", "expected"), DETECTION_CORPUS)
def test_detection_corpus(message, expected):
    spans = pii_find(message)
    assert [(s.type, s.text) for s in spans] == expected
    for span in spans:
        assert message[span.start : span.end] == span.text


def test_findings_are_sorted_and_do_not_overlap():
    text = (
        "Hi, I'm Sarah Connor, account number 87654321, card 4111 1111 1111 1111, "
        "SSN 078-05-1120, born on 1 May 1980, I live at 12 High Street, Leeds LS1 4AP."
    )
    spans = pii_find(text)
    assert len(spans) >= 5
    for before, after in itertools.pairwise(spans):
        assert before.end <= after.start


def test_ssn_wins_over_phone_number():
    (span,) = pii_find("please call about 078-05-1120")
    assert span.type == "US_SSN"


def test_the_analyzer_never_fetches_the_public_suffix_list(monkeypatch):
    """tldextract (inside presidio's email recognizer) uses its bundled list."""
    import tldextract.tldextract

    extractor = tldextract.tldextract.TLD_EXTRACTOR
    assert extractor.suffix_list_urls == ()

    def no_network(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    extractor._extractor = None  # forget the parsed list: it is loaded again, offline
    (span,) = pii_find("write to jane.doe@example.co.uk")
    assert span.type == "EMAIL_ADDRESS"
    assert extractor("jane.doe@example.co.uk").suffix == "co.uk"


# --- Masking ------------------------------------------------------------------------------


def test_mask_replaces_findings_with_numbered_placeholders():
    mapping = PlaceholderMap()
    masked = pii_mask("Pay John Smith from card 4111 1111 1111 1111 now", mapping)
    assert masked == "Pay [PERSON_1] from card [CREDIT_CARD_1] now"
    assert mapping.values() == {
        "[PERSON_1]": "John Smith",
        "[CREDIT_CARD_1]": "4111 1111 1111 1111",
    }


def test_same_value_keeps_its_placeholder_across_messages():
    mapping = PlaceholderMap()
    first = pii_mask("my card 4111 1111 1111 1111 is blocked", mapping)
    second = pii_mask("card 4111-1111-1111-1111 again, and pay John Smith", mapping)
    third = pii_mask("did JOHN SMITH get paid? my card is 4111111111111111", mapping)
    assert first == "my card [CREDIT_CARD_1] is blocked"
    assert second == "card [CREDIT_CARD_1] again, and pay [PERSON_1]"
    # Once seen, a value stays masked even where the recognizers would miss it.
    assert third == "did [PERSON_1] get paid? my card is [CREDIT_CARD_1]"


def test_different_values_get_different_numbers():
    mapping = PlaceholderMap()
    masked = pii_mask(
        "pay John Smith and Maria Garcia from IBAN GB29 NWBK 6016 1331 9268 19 "
        "or DE89 3704 0044 0532 0130 00",
        mapping,
    )
    assert masked == ("pay [PERSON_1] and [PERSON_2] from IBAN [IBAN_CODE_1] or [IBAN_CODE_2]")


def test_masking_is_idempotent():
    mapping = PlaceholderMap()
    once = pii_mask("transfer £50 to Maria Garcia, account 12345678", mapping)
    twice = pii_mask(once, mapping)
    assert twice == once == "transfer £50 to [PERSON_1], account [ACCOUNT_NUMBER_1]"
    assert len(mapping) == 2


def test_unmask_round_trip():
    mapping = PlaceholderMap()
    text = "I'm Sarah Connor, card 5555 5555 5555 4444, born on 3 March 1985."
    masked = pii_mask(text, mapping)
    assert masked == "I'm [PERSON_1], card [CREDIT_CARD_1], born on [DATE_OF_BIRTH_1]."
    assert pii_unmask(masked, mapping) == text


def test_unmask_leaves_unknown_placeholders():
    mapping = PlaceholderMap()
    pii_mask("pay John Smith", mapping)
    assert pii_unmask("[PERSON_1] and [PERSON_7] [not one]", mapping) == (
        "John Smith and [PERSON_7] [not one]"
    )


def test_known_values_are_masked_even_when_recognizers_miss_them():
    mapping = PlaceholderMap()
    masked = pii_mask(
        "casey here, is everything ok? Casey Customer, IBAN gb33bsig40404012345678",
        mapping,
        known={
            "PERSON": ["Casey", "Casey Customer"],
            "IBAN_CODE": ["GB33 BSIG 4040 4012 3456 78"],
        },
    )
    # Longest known value first: "Casey Customer" is one name, not "Casey" + "Customer".
    assert masked == ("[PERSON_1] here, is everything ok? [PERSON_2], IBAN [IBAN_CODE_1]")
    assert mapping.value_of("[PERSON_2]") == "Casey Customer"


def test_a_finding_that_wraps_a_known_value_is_masked_whole():
    mapping = PlaceholderMap()
    masked = pii_mask("pay John Smith, not John", mapping, known={"PERSON": ["John"]})
    assert masked == "pay [PERSON_1], not [PERSON_2]"
    assert mapping.values() == {"[PERSON_1]": "John Smith", "[PERSON_2]": "John"}


def test_map_round_trips_through_json():
    mapping = PlaceholderMap()
    pii_mask("pay John Smith from 4111 1111 1111 1111", mapping)
    restored = PlaceholderMap(json.loads(json.dumps(mapping.to_dict())))
    assert restored.values() == mapping.values()
    # Numbering and stability carry on after the round trip.
    assert restored.placeholder_for("PERSON", "john  smith") == "[PERSON_1]"
    assert restored.placeholder_for("PERSON", "Maria Garcia") == "[PERSON_2]"
    assert restored.placeholder_for("CREDIT_CARD", "4111-1111-1111-1111") == "[CREDIT_CARD_1]"


def test_placeholder_numbering_is_per_type():
    mapping = PlaceholderMap()
    assert mapping.placeholder_for("PERSON", "A Person") == "[PERSON_1]"
    assert mapping.placeholder_for("IBAN_CODE", "GB29NWBK60161331926819") == "[IBAN_CODE_1]"
    assert mapping.placeholder_for("IBAN_CODE", "gb29 nwbk 6016 1331 9268 19") == "[IBAN_CODE_1]"
    assert mapping.placeholder_for("PERSON", "B Person") == "[PERSON_2]"
    assert mapping.value_of("[PERSON_3]") is None


def test_every_mention_of_a_value_found_once_is_masked():
    mapping = PlaceholderMap()
    text = "pay John Smith £20 today; John Smith said thanks"
    assert pii_mask(text, mapping) == "pay [PERSON_1] £20 today; [PERSON_1] said thanks"


FACTS = (
    "Recent transactions, newest first:\n"
    "- id 7: 24 Nov 2026, Rent November (Amelia Hartley), -£45.00, Current account ••1234\n"
    "- id 6: 23 Nov 2026, Corner Cafe, -£4.20, Current account ••1234\n"
    "Help articles (cite by their [slug]):\n"
    "- [contact] Contact us: call 0345 600 4040, 24 hours a day."
)


def test_facts_masked_line_by_line_read_the_same_from_the_memo():
    known = {"PERSON": ["Casey Jones"], "ACCOUNT_NUMBER": ["31415926"]}
    first, second = PlaceholderMap(), PlaceholderMap()
    masked = pii_mask_lines(FACTS, first, known=known)
    assert "Amelia" not in masked
    assert "0345" not in masked
    assert "(Amelia Hartley)" not in masked
    assert "[PERSON_1]" in masked
    assert masked == pii_mask_lines(FACTS, second, known=known)  # from the memo now
    assert first.values() == second.values()
    # Each line as pii_mask would read it on its own.
    assert pii_find_memoized(FACTS.split("\n")) == [pii_find(line) for line in FACTS.split("\n")]


def test_bank_text_is_read_without_the_name_model():
    text = (
        "Recent transactions, newest first:\n"
        "- id 7: 24 Nov 2026, Rent November (Amelia Hartley), -£45.00\n"
        "Help articles (cite by their [slug]):\n"
        "- [lost-stolen-card] Lost or stolen card: Freezing your card stops new payments. "
        "Call 0345 600 4040 to cancel it."
    )
    mapping = PlaceholderMap()
    masked = pii_mask_lines(text, mapping, known={"PERSON": ["Amelia Hartley"]}, bank_text_from=2)
    assert "Amelia" not in masked
    assert "0345" not in masked  # pattern recognizers still read the bank's text
    assert "Freezing your card" in masked
    assert mapping.type_of("[PHONE_NUMBER_1]") == "PHONE_NUMBER"


def test_the_memo_keeps_no_text():
    pii_find_memoized(["Transfer to Amelia Hartley"])
    assert "Amelia" not in repr(pii_memo)
    assert all(isinstance(key, bytes) for key in pii_memo)


# --- Streaming ----------------------------------------------------------------------------


def _stream(mapping: PlaceholderMap, tokens: list[str]) -> tuple[list[str], str]:
    restorer = PlaceholderStreamRestorer(mapping)
    emitted = [restorer.feed(token) for token in tokens]
    return emitted, "".join(emitted) + restorer.flush()


@pytest.fixture
def card_map():
    mapping = PlaceholderMap()
    mapping.placeholder_for("CREDIT_CARD", "4111 1111 1111 1111")
    mapping.placeholder_for("PERSON", "John Smith")
    return mapping


def test_stream_restores_a_placeholder_split_over_two_tokens(card_map):
    emitted, text = _stream(card_map, ["Your card [CRED", "IT_CARD_1] is active."])
    assert emitted == ["Your card ", "4111 1111 1111 1111 is active."]
    assert text == "Your card 4111 1111 1111 1111 is active."


def test_stream_restores_a_placeholder_split_over_three_tokens(card_map):
    emitted, text = _stream(card_map, ["Paid [", "PERSON", "_1]", " today"])
    assert emitted == ["Paid ", "", "John Smith", " today"]
    assert text == "Paid John Smith today"


def test_stream_releases_brackets_that_are_not_placeholders(card_map):
    emitted, text = _stream(card_map, ["Options: [a", "] or [", "B] [1", "]"])
    assert emitted == ["Options: [a", "] or ", "[B] [1", "]"]
    assert text == "Options: [a] or [B] [1]"


def test_stream_leaves_unknown_placeholders(card_map):
    _, text = _stream(card_map, ["Hello [PERS", "ON_9], card [CREDIT_CARD_1]."])
    assert text == "Hello [PERSON_9], card 4111 1111 1111 1111."


def test_flush_releases_held_text(card_map):
    restorer = PlaceholderStreamRestorer(card_map)
    assert restorer.feed("The end [CREDIT_CA") == "The end "
    assert restorer.flush() == "[CREDIT_CA"
    assert restorer.flush() == ""
