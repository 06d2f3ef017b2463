"""The assistant's guards: one on what the customer asks, one on what the model answers.

`input_guard_check` flags prompt injection, jailbreaks, requests for the system prompt and
requests for other customers' data, by regular expressions over the message as typed and
over its de-obfuscated forms (leetspeak, spaced-out letters, base64, ROT13). No model: it
costs well under a millisecond. A flagged message is answered safely and never sent on.

`output_guard_check` reads the model's raw answer (which only ever saw placeholders) and
flags raw PII that is not the customer's own, IBANs and account numbers of other
customers, and answers that reproduce the system prompt.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from apps.compliance.pii import PlaceholderMap, pii_find


@dataclass(frozen=True)
class GuardVerdict:
    flagged: bool
    reasons: list[str] = field(default_factory=list)
    # The entity types ("IBAN_CODE", "PHONE_NUMBER", ...) behind "foreign_pii": for the
    # log, which must never carry the text itself.
    entities: list[str] = field(default_factory=list)


PROMPT_INJECTION = "prompt_injection"
JAILBREAK = "jailbreak"
SYSTEM_PROMPT_REQUEST = "system_prompt_request"
OTHER_CUSTOMER_DATA = "other_customer_data"
OBFUSCATION = "obfuscation"
FOREIGN_PII = "foreign_pii"
SYSTEM_PROMPT_LEAK = "system_prompt_leak"

# --- Input guard ------------------------------------------------------------------------

_RULE_WORDS = (
    r"(?:instructions?|rules|prompts?|directions|guidelines|commands|context|programming"
    r"|constraints|polic(?:y|ies)|restrictions|directives|guardrails|training)"
)
_READ = (
    r"(?:show|give|tell|see|view|read|check|look\s+up|lookup|access|list|get|display|find"
    r"|open|print|send\s+me|what(?:'s|\s+is|\s+are|\s+was)|how\s+much)"
)
_DATA = (
    r"(?:balances?|accounts?|transactions?|details|data|information|info|statements?"
    r"|cards?|ibans?|address(?:es)?|payments?|history|pins?|passwords?|loans?|spending"
    r"|salary|savings|phone\s+numbers?|emails?|sort\s+codes?)"
)
# Words before "'s" that do not name another person: "today's balance", "the card's PIN".
_NOT_SOMEONE = (
    r"(?:my|your|our|the|this|that|it|today|yesterday|tomorrow|tonight|week|month|year|day"
    r"|weekend|morning|quarter|bank|banksight|account|card|company|last|next|previous"
    r"|one|loan|isa|app|payment|transaction|statement)"
)

_PATTERNS: dict[str, tuple[str, ...]] = {
    PROMPT_INJECTION: (
        r"\b(?:ignore|disregard|forget|override|bypass|skip|abandon|drop)\b[^.?!\n]{0,30}?"
        r"\b(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system"
        r"|existing|old|default|all\s+(?:your|the))\s+" + _RULE_WORDS,
        r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+)?(?:of\s+)?(?:your|these|those)\s+"
        + _RULE_WORDS,
        r"\b(?:do\s+not|don't|dont|stop)\s+follow(?:ing)?\s+(?:your|the|any)\s+" + _RULE_WORDS,
        r"\b(?:your|the)\s+(?:instructions|rules)\s+(?:are|have\s+been)\s+(?:now\s+)?"
        r"(?:changed|updated|cancell?ed|revoked|void|lifted|suspended|replaced)",
        r"\b(?:new|updated|revised|real|actual)\s+(?:instructions|system\s+prompt)\s*:",
        r"\bfrom\s+now\s+on,?\s+you\s+(?:are|will\s+be|act|must\s+act|shall|respond\s+as"
        r"|answer\s+as|have\s+no|are\s+no\s+longer)\b",
        r"\byou\s+are\s+no\s+longer\s+(?:a|an|the|bound|restricted|limited|banksight)",
        r"\b(?:execute|follow|obey)\s+(?:the\s+)?(?:following|these|this|my)\s+"
        r"(?:instructions?|commands?|code|orders)\b",
        r"<\|?\s*(?:im_start|im_end|system|endoftext|start_header_id|eot_id)\s*\|?>",
        r"\[/?inst\]|<<\s*/?sys\s*>>",
        r"(?m)^\s*(?:#+\s*)?(?:system|developer)\s*(?:message|prompt)?\s*:",
        r"\bact\s+as\s+(?:an?\s+|the\s+|my\s+)?(?:system|administrator|admin|developer|root"
        r"|superuser|bank\s+(?:employee|manager|staff)|staff\s+member|supervisor)\b",
    ),
    JAILBREAK: (
        r"\bdo\s+anything\s+now\b",
        r"\byou\s+are\s+(?:now\s+)?(?:dan|stan|dude|aim)\b",
        r"\b(?:act|pretend|behave|respond)\s+(?:as|like|to\s+be)\s+(?:dan|stan|dude)\b",
        r"\b(?:dan|anti-?dan)\s+(?:mode|prompt|jailbreak)\b",
        r"\bjailbr(?:eak|oken|eaking|eaked)\b",
        r"\b(?:developer|god|sudo|admin|debug|unrestricted|unfiltered|uncensored|evil"
        r"|opposite|maintenance)\s+mode\b",
        r"\b(?:unrestricted|unfiltered|uncensored|unaligned|amoral|unethical|rogue)\s+"
        r"(?:ai|assistant|model|bot|chatbot|version|persona)\b",
        r"\b(?:pretend|imagine|suppose|assume|act\s+as\s+if|hypothetically)\b[^.?!\n]{0,50}"
        r"\b(?:no|without(?:\s+any)?|zero|free\s+(?:of|from))\s+(?:restrictions|rules"
        r"|limits|limitations|filters|guidelines|boundaries|policies|censorship|ethics"
        r"|safety|guardrails|programming)",
        r"\byou\s+(?:have|had|now\s+have)\s+(?:no|zero)\s+(?:restrictions|rules|filters"
        r"|limitations|guidelines|boundaries|censorship|guardrails)",
        r"\b(?:bypass|circumvent|disable|turn\s+off|switch\s+off|get\s+around|evade|break"
        r"|ignore|remove|deactivate)\s+(?:your\s+(?:own\s+)?|all\s+(?:your\s+)?"
        r"|the\s+(?:ai'?s?\s+|assistant'?s?\s+|bot'?s?\s+)?)"
        r"(?:safety|content\s+filters?|filters?|guardrails?|safeguards|restrictions|rules"
        r"|guidelines|policies|programming|alignment|moderation|censorship)\b",
        r"\b(?:role-?play|roleplay|let's\s+play\s+a\s+game|play\s+a\s+game|pretend|imagine"
        r"|act\s+as|you\s+are\s+now)\b[^.?!\n]{0,60}\b(?:no\s+rules|no\s+restrictions"
        r"|ignores?\s+(?:all\s+)?(?:the\s+)?rules|breaks?\s+(?:all\s+)?(?:the\s+)?rules"
        r"|rogue|evil|hacker|criminal|unrestricted|anything\s+i\s+(?:say|ask|want))",
        r"\b(?:stay|remain)\s+in\s+character\b",
        r"\bcan\s+do\s+anything\b[^.?!\n]{0,40}\b(?:without|no)\b",
    ),
    SYSTEM_PROMPT_REQUEST: (
        r"\bsystem\s+(?:prompt|message|instructions?)\b",
        r"\b(?:hidden|secret|initial|original|internal|underlying|pre-?)\s*"
        r"(?:prompts?|instructions)\b",
        r"\b(?:reveal|show|print|display|output|repeat|recite|tell|give|share|dump|leak"
        r"|expose|write\s+out|spell\s+out|paste|list|what\s+(?:is|are|were|was))\b"
        r"(?:\s+me)?(?:\s+(?:all|exactly|verbatim|word\s+for\s+word))?\s+your\s+"
        r"(?:\w+\s+){0,2}?(?:prompt|instructions|directives|programming|configuration"
        r"|initial\s+message)\b(?!\s+(?:for|on|about|to|regarding)\b)",
        r"\brepeat\s+(?:everything|all|the\s+(?:text|words|message|lines?))\s+"
        r"(?:above|before|prior)\b",
        r"\b(?:text|everything|words)\s+above\s+(?:this|the\s+line|my\s+message)\b",
        r"\bwhat\s+(?:were|have)\s+you\s+(?:been\s+)?(?:told|instructed|programmed)\b",
        r"\b(?:instructions|prompt|rules)\b[^.?!\n]{0,30}\bverbatim\b",
        r"\bverbatim\b[^.?!\n]{0,30}\b(?:instructions|prompt|rules)\b",
        r"\b(?:starts?|begins?)\s+with\s+['\"]?you\s+are\b",
    ),
    OTHER_CUSTOMER_DATA: (
        _READ + r"\b[^.?!\n]{0,40}\b(?:another|other|a\s+different|other\s+people's"
        r"|another\s+person's)\s+(?:customer|user|client|member|person|account\s*holder)"
        r"(?:s|'s|s')?\s+(?:\w+\s+){0,2}?" + _DATA + r"\b",
        _READ + r"\b[^.?!\n]{0,40}\b(?:someone|somebody|anyone|anybody)\s+else'?s\s+"
        r"(?:\w+\s+)?" + _DATA + r"\b",
        _READ + r"\b(?:\s+me)?[^.?!\n]{0,20}?\b(?!" + _NOT_SOMEONE + r"\b)[a-z]+(?:'s|s')\s+"
        r"(?:(?:current|savings|bank|credit|debit|joint)\s+)?" + _DATA + r"\b",
        r"\b(?:balances?|accounts?|transactions|details|data|statements?|ibans?|information)"
        r"\s+(?:of|belonging\s+to|owned\s+by)\s+(?:another|other|a\s+different|someone\s+else"
        r"|somebody\s+else|other\s+people|any\s+other|all\s+(?:the\s+)?other)\b",
        r"\b(?:show|list|give|dump|export|get|display|print|send)\b[^.?!\n]{0,20}\b(?:all|every"
        r"|other)\s+(?:the\s+)?(?:other\s+)?(?:customers|users|clients|account\s*holders)\b",
        r"\b(?:who\s+(?:owns|holds|is\s+behind)|owner\s+of|holder\s+of)\s+(?:this\s+|that\s+"
        r"|the\s+)?(?:account|iban|card)\b",
        r"\bwhose\s+(?:account|iban|card)\s+is\b",
        r"(?<!my\s)(?<!our\s)\b(?:customer|user|client)\s*(?:id|#)\s*:?\s*\d+",
    ),
}

_COMPILED: tuple[tuple[str, re.Pattern], ...] = tuple(
    (reason, re.compile(pattern)) for reason, patterns in _PATTERNS.items() for pattern in patterns
)
_OBFUSCATION_REQUEST = re.compile(
    r"\b(?:decode|decipher|decrypt|translate|reverse|unscramble)\b[^.?!\n]{0,40}\b"
    r"(?:and|then)\s+(?:follow|execute|obey|do|run|act\s+on)\b"
)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a"})
_LEET_WORD = re.compile(r"\b(?=\w*[a-z])(?=\w*[0134578@])[\w@]+\b")
_SPACED_LETTERS = re.compile(r"\b(?:[a-z][ .\-_*]){3,}[a-z]\b")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).lower()
    return text.replace("\u2019", "'").replace("\u2018", "'")


def _reasons_in(text: str) -> set[str]:
    return {reason for reason, pattern in _COMPILED if pattern.search(text)}


def _deobfuscated_forms(text: str, original: str) -> Iterable[str]:
    """Forms that an attacker's encoding hides: leetspeak, s p a c e d letters, base64
    and ROT13."""
    yield _LEET_WORD.sub(lambda m: m.group().translate(_LEET), text)
    yield _SPACED_LETTERS.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), text)
    for blob in _BASE64.findall(original):
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
            decoded_text = decoded.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        if decoded_text.isprintable() or "\n" in decoded_text:
            yield _normalise(decoded_text)
    yield codecs.decode(text, "rot13")


def input_guard_check(text: str) -> GuardVerdict:
    """Flag prompt injection, jailbreaks, system prompt requests and requests for other
    customers' data. Ordinary banking questions pass."""
    normalised = _normalise(text or "")
    reasons = _reasons_in(normalised)
    hidden: set[str] = set()
    for form in _deobfuscated_forms(normalised, text or ""):
        if form != normalised:
            hidden |= _reasons_in(form) - reasons
    if hidden:
        reasons |= hidden | {OBFUSCATION}
    if _OBFUSCATION_REQUEST.search(normalised):
        reasons.add(OBFUSCATION)
    return GuardVerdict(flagged=bool(reasons), reasons=sorted(reasons))


# --- Output guard -----------------------------------------------------------------------

# Types whose raw value in an answer is a leak; PERSON only from banking phrasing (our
# recognizer's 0.9), never spaCy's guesses alone.
_SENSITIVE_TYPES = frozenset(
    {
        "CREDIT_CARD",
        "IBAN_CODE",
        "US_SSN",
        "ACCOUNT_NUMBER",
        "ROUTING_NUMBER",
        "SORT_CODE",
        "PHONE_NUMBER",
        "EMAIL_ADDRESS",
        "UK_NINO",
        "DATE_OF_BIRTH",
        "CREDENTIAL",
    }
)
_PERSON_MIN_SCORE = 0.9
_SHINGLE = 8
_WORD = re.compile(r"\w+")
_EIGHT_DIGITS = re.compile(r"(?<![\d-])(\d{4})[ -]?(\d{4})(?![\d-])")


def _compact(value: str) -> str:
    return re.sub(r"[\W_]", "", value).casefold()


@functools.lru_cache(maxsize=32)
def _prompt_shingles(system_prompt: str) -> frozenset[tuple[str, ...]]:
    words = _WORD.findall(system_prompt.lower())
    if len(words) < _SHINGLE:
        return frozenset({tuple(words)}) if len(words) >= 4 else frozenset()
    return frozenset(tuple(words[i : i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1))


def _leaks_system_prompt(answer: str, system_prompt: str) -> bool:
    shingles = _prompt_shingles(system_prompt)
    if not shingles:
        return False
    size = len(next(iter(shingles)))
    words = _WORD.findall(answer.lower())
    return any(tuple(words[i : i + size]) in shingles for i in range(len(words) - size + 1))


def _other_customers_accounts(*, ibans: set[str], numbers: set[str], customer_id: int) -> bool:
    if not (ibans or numbers):
        return False
    from django.db.models import Q

    from apps.accounts.models import Account

    return (
        Account.objects.filter(customer__isnull=False)
        .exclude(customer_id=customer_id)
        .filter(Q(iban__in=ibans) | Q(number__in=numbers))
        .exists()
    )


def output_guard_check(
    answer_masked: str,
    *,
    mapping: PlaceholderMap,
    system_prompt: str,
    customer_id: int,
    allowed: Iterable[str] = (),
) -> GuardVerdict:
    """Flag an answer that carries PII that is not the customer's own ("foreign_pii"),
    another customer's IBAN or account number ("other_customer_data", `customer_id` is
    the `Customer` primary key) or a run of 8 words of the system prompt
    ("system_prompt_leak").

    Values in `mapping` or `allowed`, and values written in the system prompt itself (the
    bank's helpline, say), are not foreign. The verdict's `entities` name the types of the
    foreign values (for the log), never the values.
    """
    reasons: set[str] = set()
    own = {_compact(v) for v in mapping.values().values()} | {_compact(v) for v in allowed}
    prompt_compact = _compact(system_prompt)
    spans = pii_find(answer_masked)
    entities: set[str] = set()
    for span in spans:
        if span.type not in _SENSITIVE_TYPES and not (
            span.type == "PERSON" and span.score >= _PERSON_MIN_SCORE
        ):
            continue
        value = _compact(span.text)
        if value and value not in own and value not in prompt_compact:
            reasons.add(FOREIGN_PII)
            entities.add(span.type)

    ibans = {_compact(s.text).upper() for s in spans if s.type == "IBAN_CODE"}
    numbers = {a + b for a, b in _EIGHT_DIGITS.findall(answer_masked)}
    if _other_customers_accounts(ibans=ibans, numbers=numbers, customer_id=customer_id):
        reasons.add(OTHER_CUSTOMER_DATA)

    if _leaks_system_prompt(answer_masked, system_prompt):
        reasons.add(SYSTEM_PROMPT_LEAK)
    return GuardVerdict(flagged=bool(reasons), reasons=sorted(reasons), entities=sorted(entities))
