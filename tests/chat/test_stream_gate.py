"""The stream gate (apps.chat.assistant.StreamGate): what a customer may see of a streamed
answer before the output guard reads the whole of it.

Pure functions of the tokens fed in: no database, no model.
"""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace

import pytest

from apps.chat import assistant
from apps.chat.assistant import SYSTEM_PROMPT, AnswerRun, StreamGate


def _stream(tokens: list[str]) -> tuple[StreamGate, list[str]]:
    """Feed tokens as a model streams them; returns the gate and what each feed let out
    (the last item is what flush() let out)."""
    gate = StreamGate(SYSTEM_PROMPT)
    released = [gate.feed(token) for token in tokens]
    released.append(gate.flush())
    return gate, released


def test_a_plain_word_goes_out_with_its_first_token():
    gate = StreamGate(SYSTEM_PROMPT)
    assert gate.feed("Your") == "Your"
    assert gate.feed(" current") == " current"
    assert gate.feed(" account") == " account"


@pytest.mark.parametrize(
    "tokens",
    [
        ["Your", " balance", " is", " £1,234.50", " today", "."],
        ["Hello", " [PER", "SON_1]", ",", " your", " card", " ending", " 4242", " is", " active."],
        ["I", " can", "'t", " see", " that", " payment", "!"],
        [
            "Yes",
            ":",
            " the",
            " SEPA",
            " cut",
            "-off",
            " is",
            " 3",
            " pm",
            " (",
            "UK",
            " time",
            ").",
        ],
    ],
)
def test_an_ordinary_answer_comes_out_whole_and_unchanged(tokens):
    gate, released = _stream(tokens)
    assert not gate.blocked_reason
    assert "".join(released) == "".join(tokens) == gate.released


@pytest.mark.parametrize(
    ("tokens", "kept_back"),
    [
        # A card number (Luhn-valid), in groups and in one piece.
        (["Your", " card", " is", " 4111", " 1111", " 1111", " 1111", " thanks"], "4111"),
        (["Card", ":", " 41", "1111", "1111", "111111", " ok"], "41"),
        # A word that starts as letters and turns into an account number.
        (["Account", " no", ".", "3141", "5926", " is", " open"], "3141"),
        # An IBAN: its capital-letter groups are held too.
        (
            ["Send", " it", " to", " GB", "29", " NW", "BK", " 6016", " 1331", " 9268", " 19", "."],
            "GB",
        ),
        # An SSN, an account number, a phone number.
        (["SSN", " 078", "-05", "-1120", " on", " file"], "078"),
        (["Account", " 3141", "5926", " is", " open"], "3141"),
        (["Call", " +44", " 20", " 7946", " 0958"], "+44"),
    ],
)
def test_a_raw_identifier_never_gets_out(tokens, kept_back):
    gate, released = _stream(tokens)
    assert gate.blocked_reason == "foreign_pii"
    out = "".join(released)
    assert kept_back not in out
    assert not re.search(r"\d{4}", out)


@pytest.mark.parametrize(
    ("tokens", "entities"),
    [
        (["Your", " card", " is", " 4111", " 1111", " 1111", " 1111", " thanks"], ["CREDIT_CARD"]),
        (["Account", " 3141", "5926", " is", " open"], ["ACCOUNT_NUMBER"]),
        (
            ["Send", " to", " GB", "29", " NW", "BK", " 6016", " 1331", " 9268", " 19"],
            ["IBAN_CODE"],
        ),
        (["SSN", " 078", "-05", "-1120", " on", " file"], ["US_SSN"]),
        (["Write", " to", " john", ".smith", "@", "example", ".com"], ["EMAIL_ADDRESS"]),
        (["Call", " +44", " 20", " 7946", " 0958"], ["PHONE_NUMBER"]),
    ],
)
def test_the_gate_names_the_entity_type_that_stopped_the_answer(tokens, entities):
    gate, _ = _stream(tokens)
    assert gate.blocked_reason == "foreign_pii"
    assert gate.blocked_entities == entities


# Endings SmolLM2-135M really wrote to "What is my balance?" (temperature 0, seed 42) for
# some customers' facts: helplines it made up. The model never saw a phone number (the
# facts had none, and the bank's helpline is a placeholder there), so such a number is
# not the customer's or the bank's: the answer must stop, whatever the test data.
@pytest.mark.parametrize(
    "ending",
    [
        " please contact us directly at 1800 732 569 for a free consultation.",
        " please contact us at 1800 739 624 for more details.",
        " please contact our customer support team at 1-800-237-4659 (English).",
        " or by calling 08452317969 (FX).",
        " please contact us at 0243716895 for assistance.",
        # At the end of a sentence: the full stop is part of the last word.
        " please contact us directly at 1800 739 5642.",
    ],
)
def test_a_made_up_helpline_number_is_stopped(ending):
    text = "I'm sorry for any confusion. If you need assistance," + ending
    gate, released = _stream(re.findall(r"\s*\S+", text))
    assert gate.blocked_reason == "foreign_pii"
    assert gate.blocked_entities == ["PHONE_NUMBER"]
    assert not re.search(r"\d{3}", "".join(released))


def test_the_customers_own_amounts_dates_and_last_digits_pass_the_gate():
    text = (
        "Your Current account ••4063 (id 292) has a balance of £1,250.00 on 4 Dec 2026; "
        "card ending 4242 expires 09/2030."
    )
    gate, released = _stream(re.findall(r"\s*\S+", text))
    assert not gate.blocked_reason
    assert gate.blocked_entities == []
    assert "".join(released) == text


def test_the_log_line_of_a_blocked_answer_names_entity_types_never_the_text(monkeypatch, caplog):
    gate, _ = _stream(["Call", " us", " at", " 1800", " 739", " 624", " today"])
    finished = {}
    run = SimpleNamespace(
        answer=SimpleNamespace(pk=7),
        conversation=None,
        _finish=lambda **values: finished.update(values),
    )
    monkeypatch.setattr(assistant, "_count_refusal", lambda conversation: None)
    with caplog.at_level(logging.WARNING, logger="apps.chat.assistant"):
        AnswerRun._block(
            run, None, [gate.blocked_reason], gate.blocked_entities, check="stream_gate"
        )
    (record,) = caplog.records
    assert record.getMessage() == "output guard blocked an answer"
    assert record.reasons == ["foreign_pii"]
    assert record.entities == ["PHONE_NUMBER"]
    assert record.check == "stream_gate"
    assert "1800" not in str(record.__dict__)
    assert finished["reasons"] == ["foreign_pii"]


def test_an_email_is_stopped_before_its_at_sign_and_domain():
    """A word's letters go out at once; from its first digit or `@` on it is held, and the
    whole word (the letters already out included) is checked."""
    gate, released = _stream(["Write", " to", " john", ".smith", "@", "example", ".com", " today"])
    assert gate.blocked_reason == "foreign_pii"
    out = "".join(released)
    assert "@" not in out
    assert "example" not in out
    assert ".smith" not in out


def test_short_capital_groups_wait_for_their_word_to_end():
    gate = StreamGate(SYSTEM_PROMPT)
    assert gate.feed("I") == ""  # "I" might still become "IBAN" or "GB29"
    assert gate.feed(" can") == "I can"


def _prompt_tokens(text: str) -> list[str]:
    """The text cut into word-and-a-half tokens, as tokenizers often do."""
    tokens = []
    for word in re.findall(r"\s*\S+", text):
        cut = max(1, len(word) // 2)
        tokens += [word[:cut], word[cut:]] if len(word) > 2 else [word]
    return tokens


def test_at_most_seven_words_of_the_system_prompt_get_out():
    gate, released = _stream(["Sure", ":", " ", *_prompt_tokens(SYSTEM_PROMPT)])
    assert gate.blocked_reason == "system_prompt_leak"
    out_words = re.findall(r"[a-z0-9]+", "".join(released).lower())
    prompt_words = re.findall(r"[a-z0-9]+", SYSTEM_PROMPT.lower())
    assert out_words[0] == "sure"
    # Seven words of the prompt, and not even the start of the eighth.
    assert out_words[1:] == prompt_words[:7]


def test_the_eighth_word_is_held_only_where_it_would_complete_a_run_of_the_prompt():
    seven = "You are the BankSight banking assistant, talking"
    gate = StreamGate(SYSTEM_PROMPT)
    assert gate.feed(seven) == seven  # seven words of the prompt are no leak yet
    assert gate.feed(" wi") == " "  # "wi..." may become "with", the eighth word: held
    assert gate.feed("sely") == "wisely"  # ... and now it cannot
    assert not gate.blocked_reason

    gate = StreamGate(SYSTEM_PROMPT)
    gate.feed(seven)
    assert gate.feed(" wi") == " "
    assert gate.feed("th") == ""
    assert gate.feed(" one") == ""
    assert gate.blocked_reason == "system_prompt_leak"
    assert gate.released == seven + " "
