"""What the assistant may know when it answers: the customer's own data and help articles.

`intents_detect` reads the customer's (masked) message with keyword rules, no model.
`grounding_gather` then collects, for those intents only, short fact lines from the
customer's own accounts, transactions, cards, payments, standing orders and payees
(always through the customer-scoped selectors of apps.accounts) and the best matching
knowledge-base articles (PostgreSQL full-text search). The facts stay within a budget of
about 600 tokens: the development model has a 2048-token context.

Account numbers and IBANs appear as their last four digits only, card numbers never.
The caller still passes the facts through PII masking before they reach the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db.models import F, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode

from apps.accounts import money
from apps.accounts.models import Account, Customer, Posting
from apps.accounts.selectors import banking as selectors
from apps.chat.models import KnowledgeArticle

# About 4 characters a token: ~600 tokens of facts.
FACTS_BUDGET_CHARS = 2400
RECENT_TRANSACTIONS = 10
MATCHING_TRANSACTIONS = 3
RECENT_PAYMENTS = 5
ARTICLE_EXCERPT_CHARS = 600
ARTICLE_EXCERPT_MIN_CHARS = 160
# Kept for the articles when the question needs them, whatever the data sections take.
ARTICLES_RESERVED_CHARS = 1000
SEARCH_CONFIG = "english"
_SEARCH_WORDS_MAX = 12

INTENTS = frozenset(
    {
        "balance",
        "transactions",
        "cards",
        "payments",
        "fees",
        "policy",
        "freeze_card",
        "open_dispute",
        "transfer",
        "human",
        "greeting",
    }
)
# Intents the customer's own data answers, and those the help articles answer. A message
# with neither ("is my money safe with you?") is looked up in the articles too.
DATA_INTENTS = frozenset({"balance", "transactions", "cards", "payments"})
ARTICLE_INTENTS = frozenset({"fees", "policy", "freeze_card", "open_dispute"})
# Articles much weaker than the best match are left out: they would only add noise.
ARTICLE_RELATIVE_RANK_MIN = 0.5

# --- Intents ---------------------------------------------------------------------------

_MOVE = r"(?:transfer|send|pay|move|wire)"
_PERSON = (
    r"(?:human|person|people|someone|somebody|agent|advis[eo]r|representative|operator|"
    r"staff|colleague|team member|customer (?:service|support))"
)
_AMOUNT = (
    r"(?:[£€$]\s?\d|\b\d+(?:[.,]\d{1,2})?\s?(?:pounds?|quid|euros?|dollars?|gbp|eur|usd)\b"
    r"|\b\d+\.\d{2}\b)"
)

_PATTERNS: dict[str, list[str]] = {
    "balance": [
        r"\bbalances?\b",
        r"\bhow much (?:money )?(?:do i have|have i got|is (?:there )?(?:left )?in|is left"
        r"|(?:do )?i have left|can i spend)",
        r"\bavailable (?:balance|funds|money)\b",
        r"\boverdrawn\b",
        r"\bam i in (?:the )?(?:red|overdraft)\b",
        r"\bmoney (?:do i have|have i got|is) (?:left|in)\b",
    ],
    "transactions": [
        r"\btransactions?\b",
        r"\bspen[dt]\b",
        r"\bspending\b",
        r"\bpurchases?\b",
        r"\b(?:this|that|a|the|these|those) charges?\b",
        r"\bcharged\b",
        r"\bdebited\b",
        r"\bhistory\b",
        r"\brecent (?:activity|payments)\b",
        r"\bbought\b",
        r"\bmoney (?:went|came|go|come) (?:out|in)\b",
        r"\b(?:don't|do not|didn't|did not) recogni[sz]e\b",
        r"\b(?:did|has|have) (?:my )?(?:salary|wages|pay|refund)\b",
        r"\bwhat (?:was|is) (?:this|that)\b",
        r"\bwhat (?:was|is|were|are) (?:the|these|those)\b[^.?!]{0,30}"
        r"\b(?:payments?|charges?|debits?|transactions?)\b",
    ],
    "cards": [
        r"\bcards?\b",
        r"\bvisa\b",
        r"\bmastercard\b",
        r"\bpin\b",
        r"\bcontactless\b",
    ],
    "payments": [
        r"\bpayments?\b",
        r"\btransfers?\b",
        r"\bpayees?\b",
        r"\bbeneficiar(?:y|ies)\b",
        r"\bstanding orders?\b",
        r"\bdirect debits?\b",
        r"\bpending\b",
        r"\b(?:sent|send|paid)\b",
        r"\biban\b",
    ],
    "fees": [
        r"\bfees?\b",
        r"\bcharges\b",
        r"\bcosts?\b",
        r"\bprice\b",
        r"\bpricing\b",
        r"\bcommission\b",
        r"\bdo you charge\b",
        r"\b(?:is|are) (?:it|they|there|that) free\b",
        r"\bexchange rate\b",
        r"\bforeign (?:transaction|currency)\b",
        r"\batm\b",
    ],
    "policy": [
        r"\bpolic(?:y|ies)\b",
        r"\bterms\b",
        r"\bconditions\b",
        r"\brules?\b",
        r"\bcut-?off\b",
        r"\bhow long\b",
        r"\bhow (?:do|can|should) i\b",
        r"\bwhat happens\b",
        r"\bopening (?:hours|times)\b",
        r"\b(?:are|is) (?:you|the bank|banksight|the branch) open\b",
        r"\bcontact\b",
        r"\bphone number\b",
        r"\bcall you\b",
        r"\bcomplain(?:t|ts)?\b",
        r"\bprivacy\b",
        r"\bgdpr\b",
        r"\b(?:my|personal) data\b",
        r"\binterest\b",
        r"\boverdrafts?\b",
        r"\bloans?\b",
        r"\bborrow\b",
        r"\bpre-?qualif",
        r"\bstatements?\b",
        r"\bscams?\b",
        r"\bfraud\b",
        r"\bphishing\b",
        r"\bfscs\b",
        r"\blimits?\b",
        r"\bchargebacks?\b",
        r"\babroad\b",
        r"\binternational\b",
        r"\bsepa\b",
        r"\bswift\b",
        r"\bsavings rates?\b",
    ],
    "freeze_card": [
        r"\b(?:freeze|block|lock|stop|cancel|disable|suspend)\b[^.?!]{0,30}\bcards?\b",
        r"\bcards?\b[^.?!]{0,30}\b(?:lost|stolen|missing|been taken|freeze|block)\b",
        r"\b(?:lost|stole|stolen|can't find|cannot find|misplaced)\b[^.?!]{0,20}"
        r"\b(?:card|wallet|purse)\b",
    ],
    "open_dispute": [
        r"\bdisput(?:e|ing)\b",
        r"\bchargebacks?\b",
        r"\bcharge back\b",
        r"\b(?:didn't|did not|never) (?:make|authori[sz]e|recogni[sz]e|buy|order|agree to)\b",
        r"\b(?:don't|do not) recogni[sz]e\b",
        r"\bunauthori[sz]ed\b",
        r"\bnot authori[sz]ed\b",
        r"\bfraudulent\b",
        r"\b(?:charged|billed|taken|debited|paid) twice\b",
        r"\bdouble[- ]charged\b",
        r"\bduplicate (?:payment|charge|transaction)\b",
        r"\b(?:never|didn't|did not|hasn't|has not|haven't|have not) (?:arrived|received|"
        r"receive|turned up|turn up|come|came|got|get) (?:the|my|it|anything|goods|them)",
        r"\bnever (?:arrived|came|turned up)\b",
        r"\bwrong amount\b",
        r"\bovercharged\b",
        r"\bget (?:my )?money back\b",
    ],
    "transfer": [
        rf"\b(?:i want|i'd like|i would like|i need|can you|could you|please|help me|let me|"
        rf"i wanna)\b[^.?!]{{0,20}}\b{_MOVE}\b(?! me\b)",
        rf"^\s*(?:please\s+)?{_MOVE}\b(?! me\b)",
    ],
    "human": [
        rf"\b(?:speak|talk|chat)(?: (?:to|with))? (?:a |an |the |some |your |one of your )?"
        rf"(?:real |live |actual )?{_PERSON}\b",
        rf"\b(?:connect|put|pass|transfer|get) me (?:through )?(?:to |with )?"
        rf"(?:a |an |the |your )?(?:real |live |actual )?{_PERSON}\b",
        r"\b(?:real|live|actual) (?:person|human|agent|people)\b",
        r"\b(?:a|any) (?:human|person)\b[^.?!]{0,20}\b(?:talk|speak|chat)\b",
        r"^\s*(?:human|agent|operator|representative|person)(?: please)?\s*[.!?]*\s*$",
        r"\b(?:human|real person|agent) please\b",
        r"\bnot (?:a|the|this) (?:bot|robot|machine)\b",
    ],
    "greeting": [
        r"^\s*(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening))\b",
    ],
}
_COMPILED = {
    intent: [re.compile(pattern) for pattern in patterns] for intent, patterns in _PATTERNS.items()
}
# "Send £50 to Sam" is a transfer; "how much does it cost to send £50 abroad" is a question.
_TRANSFER_WITH_AMOUNT = re.compile(rf"\b{_MOVE}\b(?! me\b)[^.?!]{{0,40}}{_AMOUNT}")
_QUESTION_ABOUT_MOVING = re.compile(
    r"\b(?:cost|fees?|charge|how long|how much does|how much is it|how do i|can i)\b"
)


def intents_detect(text: str) -> set[str]:
    """The intents of a customer's message; several may apply, none is fine too."""
    normalized = " ".join(text.lower().replace("\u2019", "'").replace("\u2018", "'").split())
    found = {
        intent
        for intent, patterns in _COMPILED.items()
        if any(pattern.search(normalized) for pattern in patterns)
    }
    if _TRANSFER_WITH_AMOUNT.search(normalized) and not _QUESTION_ABOUT_MOVING.search(normalized):
        found.add("transfer")
    return found


# --- Knowledge base search -------------------------------------------------------------


def article_search(*, query: str, limit: int = 3) -> list[KnowledgeArticle]:
    """Published articles for a question, best first, each with `.rank` and `.excerpt`.

    A websearch query first (all the words, "quoted phrases", -exclusions); when that
    finds nothing, any of the question's words. The excerpt is PostgreSQL's headline of
    the body for the query: the passages around the matching words.
    """
    query = (query or "").strip()[:500]
    if not query or limit <= 0:
        return []
    found = _articles_matching(SearchQuery(query, search_type="websearch", config=SEARCH_CONFIG))
    if not found:
        words = list(dict.fromkeys(re.findall(r"[a-z0-9]{3,}", query.lower())))
        if not words:
            return []
        any_word = SearchQuery(words[0], config=SEARCH_CONFIG)
        for word in words[1:_SEARCH_WORDS_MAX]:
            any_word |= SearchQuery(word, config=SEARCH_CONFIG)
        found = _articles_matching(any_word)
    return list(found[:limit])


def _articles_matching(search: SearchQuery):
    return (
        KnowledgeArticle.objects.filter(published=True, search_vector=search)
        .annotate(
            rank=SearchRank(F("search_vector"), search, normalization=1),
            excerpt=SearchHeadline(
                "body",
                search,
                config=SEARCH_CONFIG,
                start_sel="",
                stop_sel="",
                max_words=30,
                min_words=12,
                max_fragments=3,
                fragment_delimiter=" … ",
            ),
        )
        .defer("search_vector")
        .order_by("-rank", "slug")
    )


def _article_url(slug: str) -> str:
    """The chat app's article page, once it has one; no link until then."""
    try:
        return reverse("chat:article", kwargs={"slug": slug})
    except NoReverseMatch:
        return ""


# --- Gathering -------------------------------------------------------------------------


@dataclass
class Grounding:
    facts: str = ""
    citations: list[dict] = field(default_factory=list)
    article_slugs: list[str] = field(default_factory=list)
    # The lines of `facts` from this one on quote help articles: the bank's own text.
    articles_from_line: int | None = None


class _Facts:
    """Sections of fact lines, kept within the character budget."""

    def __init__(self, budget: int) -> None:
        self.left = budget
        self.lines: list[str] = []

    def section(self, heading: str, lines: list[str]) -> int:
        """Add a heading and as many whole lines as fit; returns how many lines fit."""
        if not lines or self.left < len(heading) + len(lines[0]) + 2:
            return 0
        self.lines.append(heading)
        self.left -= len(heading) + 1
        added = 0
        for line in lines:
            if len(line) + 1 > self.left:
                break
            self.lines.append(line)
            self.left -= len(line) + 1
            added += 1
        return added

    def text(self) -> str:
        return "\n".join(self.lines)


def grounding_gather(*, customer: Customer, text: str, intents: set[str]) -> Grounding:
    """Facts for the model from this customer's own data and the knowledge base.

    Only what the intents need is read. Citations name the articles used and the
    transactions the question seems to be about, with links to the portal.
    """
    grounding = Grounding()
    if customer is None:
        return grounding
    # Articles answer fees, policy and anything the customer's own data does not.
    small_talk = not intents - {"greeting", "human"}
    articles_wanted = bool(intents & ARTICLE_INTENTS) or small_talk
    reserve = ARTICLES_RESERVED_CHARS if articles_wanted else 0
    facts = _Facts(FACTS_BUDGET_CHARS - reserve)
    wants = set(intents)
    if "freeze_card" in wants:
        wants.add("cards")
    if "open_dispute" in wants:
        wants.add("transactions")
    if "transfer" in wants:
        wants.update({"balance", "payees"})

    if wants & DATA_INTENTS:
        accounts = list(selectors.account_list(customer=customer))
        facts.section(
            "Your accounts:",
            [_account_line(account) for account in accounts] or ["- You have no open accounts."],
        )
    if "transactions" in wants:
        matched = _postings_matching(customer=customer, text=text)
        recent = list(selectors.posting_list_recent(customer=customer)[:RECENT_TRANSACTIONS])
        if matched:
            facts.section(
                "Transactions that match the question:", [_posting_line(p) for p in matched]
            )
            grounding.citations.extend(_posting_citation(p) for p in matched)
        recent = [p for p in recent if p.pk not in {m.pk for m in matched}]
        facts.section(
            "Recent transactions, newest first:",
            [_posting_line(p) for p in recent] or ["- No transactions yet."],
        )
    if "cards" in wants:
        cards = list(selectors.card_list(customer=customer))
        facts.section("Your cards:", [_card_line(card) for card in cards] or ["- No cards."])
    if "payees" in wants:
        payees = list(selectors.payee_list(customer=customer)[:10])
        facts.section("Saved payees:", [_payee_line(payee) for payee in payees])
    if "payments" in wants:
        payments = list(selectors.payment_list(customer=customer)[:RECENT_PAYMENTS])
        facts.section(
            "Recent payments, newest first:",
            [_payment_line(payment) for payment in payments] or ["- No payments yet."],
        )
        orders = [o for o in selectors.standing_order_list(customer=customer)[:5] if o.active]
        facts.section("Active standing orders:", [_standing_order_line(o) for o in orders])

    if articles_wanted:
        facts.left += reserve
        _articles_add(grounding, facts, text=text, say_none=not small_talk)
    grounding.facts = facts.text()
    return grounding


def _articles_add(grounding: Grounding, facts: _Facts, *, text: str, say_none: bool) -> None:
    grounding.articles_from_line = len(facts.lines)
    articles = article_search(query=text, limit=3)
    if articles:
        best = articles[0].rank
        articles = [
            a for a in articles if a.rank > 0 and a.rank >= best * ARTICLE_RELATIVE_RANK_MIN
        ]
    if not articles:
        if say_none:
            facts.section("Help articles:", ["- No help article matches this question."])
        return
    heading = "Help articles (cite by their [slug]):"
    if facts.left < len(heading) + ARTICLE_EXCERPT_MIN_CHARS + 60:
        return
    facts.lines.append(heading)
    facts.left -= len(heading) + 1
    for article in articles:
        room = min(ARTICLE_EXCERPT_CHARS, facts.left - len(article.title) - len(article.slug) - 8)
        if room < ARTICLE_EXCERPT_MIN_CHARS:
            break
        excerpt = _shorten(" ".join((article.excerpt or article.body).split()), room)
        line = f"- [{article.slug}] {article.title}: {excerpt}"
        facts.lines.append(line)
        facts.left -= len(line) + 1
        grounding.article_slugs.append(article.slug)
        grounding.citations.append(
            {
                "type": "article",
                "slug": article.slug,
                "title": article.title,
                "url": _article_url(article.slug),
            }
        )


# --- Transactions the question is about -------------------------------------------------

# Words of four letters or more that say nothing about which transaction is meant.
_STOPWORDS_TEXT = """
about above account accounts after again against also amount anything appear appears
arrived authorised authorized back balance bank banksight because been before being below
between both bought came cannot card cards charge charged charges check could current
debit debited didnt dispute disputed does doesnt doing dont down during each from
further hello have having help here isnt just know last latest like made make many money
month months more morning most much must need never open other over paid payment payments
please pounds purchase purchases quid received recent recognise recognize refund same
saving savings seen send sent should show showing shows some something spend spending
spent statement such taken tell than thank thanks that their them then there these they
think this those through today transaction transactions transfer twice under unauthorised
unauthorized until very want wasnt week weekend went were what whats when where which
while whose with wrong would year yesterday your
"""
_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
# An amount has a currency sign, two decimals or a currency word: "last 10 payments" has none.
_AMOUNT_IN_TEXT = re.compile(
    r"[£€$]\s?(\d{1,7}(?:[.,]\d{2})?)(?![\d.,])"
    r"|(?<![\w.,])(\d{1,7}[.,]\d{2})(?![\d.,])"
    r"|(?<![\w.,])(\d{1,7})\s?(?:pounds?|quid|euros?|dollars?|gbp|eur|usd)\b"
)
_PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+\]")


def _postings_matching(*, customer: Customer, text: str) -> list[Posting]:
    """Up to three of the customer's transactions whose description, counterparty or
    amount the question mentions ("what is this £12.40 from Corner Cafe?")."""
    cleaned = _PLACEHOLDER.sub(" ", text.lower().replace("'", ""))
    words = [
        word
        for word in dict.fromkeys(re.findall(r"[a-z][a-z0-9&-]{3,}", cleaned))
        if word not in _STOPWORDS
    ][:6]
    amounts: set[Decimal] = set()
    for groups in _AMOUNT_IN_TEXT.findall(cleaned):
        raw = next(group for group in groups if group)
        try:
            amounts.add(Decimal(raw.replace(",", ".")))
        except InvalidOperation:
            continue
    condition = Q()
    for word in words:
        condition |= Q(description__icontains=word) | Q(counterparty__icontains=word)
    for amount in amounts:
        minor = int(amount * 100)  # GBP-like currencies; a JPY amount simply will not match
        if 0 < minor < 10**12:
            condition |= Q(amount_minor=minor) | Q(amount_minor=-minor)
    if not condition:
        return []
    return list(
        selectors.posting_list_recent(customer=customer).filter(condition)[:MATCHING_TRANSACTIONS]
    )


# --- Lines ------------------------------------------------------------------------------

_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}
_IBAN_LIKE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")


def money_format(minor: int, currency: str, *, signed: bool = False) -> str:
    """£1,234.50, -£12.40, 1,000 JPY."""
    amount = money.from_minor(abs(minor), currency)
    symbol = _SYMBOLS.get(currency)
    text = f"{symbol}{amount:,}" if symbol else f"{amount:,} {currency}"
    if minor < 0:
        return f"-{text}"
    return f"+{text}" if signed and minor > 0 else text


def last4(value: str) -> str:
    digits = re.sub(r"\s", "", value or "")
    return f"••{digits[-4:]}" if digits else ""


def _masked(text: str) -> str:
    """IBANs inside free text (counterparties of payments abroad) cut to their last four."""
    return _IBAN_LIKE.sub(lambda match: last4(match.group(0)), text)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _date(day) -> str:
    return f"{day.day} {day:%b %Y}"


def _day(moment) -> str:
    return _date(timezone.localdate(moment))


def _account_label(account: Account) -> str:
    return f"{account.name} {last4(account.number)}"


def _account_line(account: Account) -> str:
    status = "" if account.status == Account.Status.OPEN else f", {account.get_status_display()}"
    prefix = f"- id {account.pk}: "
    available = ""
    if account.limit_minor:
        available = f", available {money_format(account.available_minor, account.currency)}"
    kind = account.get_type_display()
    kind = f"{kind}, " if account.name != kind else ""
    return (
        f"{prefix}{_account_label(account)} ({kind}{account.currency}): "
        f"balance {money_format(account.balance_minor, account.currency)}{available}{status}"
    )


def _posting_line(posting: Posting) -> str:
    description = _shorten(_masked(posting.description), 60)
    counterparty = _masked(posting.counterparty)
    if counterparty and counterparty.lower() not in description.lower():
        description = f"{description} ({_shorten(counterparty, 40)})"
    return (
        f"- id {posting.pk}: {_day(posting.booked_at)}, {description}, "
        f"{money_format(posting.amount_minor, posting.currency, signed=True)}, "
        f"{_account_label(posting.account)}"
    )


def _posting_citation(posting: Posting) -> dict:
    day = timezone.localdate(posting.booked_at).isoformat()
    size = str(money.from_minor(abs(posting.amount_minor), posting.currency))
    # The account's history filtered to that day and amount: the transaction, in context.
    url = reverse("accounts:account-detail", args=[posting.account_id])
    query = urlencode({"date_from": day, "date_to": day, "amount_min": size, "amount_max": size})
    label = (
        f"{_shorten(_masked(posting.description), 60)}, "
        f"{money_format(posting.amount_minor, posting.currency)} on {_day(posting.booked_at)}"
    )
    return {"type": "transaction", "id": posting.pk, "label": label, "url": f"{url}?{query}"}


def _card_line(card) -> str:
    return (
        f"- id {card.pk}: {card.brand} card ending {card.last4} on "
        f"{_account_label(card.account)}, {card.get_status_display().lower()}, "
        f"expires {card.expiry_month:02d}/{card.expiry_year}"
    )


def _payee_line(payee) -> str:
    return f"- id {payee.pk}: {_shorten(payee.name, 40)} {last4(payee.iban)}"


def _payment_line(payment) -> str:
    to = (
        _account_label(payment.to_account)
        if payment.kind == payment.Kind.OWN and payment.to_account
        else " ".join(filter(None, [_shorten(payment.to_name, 40), last4(payment.to_iban)]))
    )
    reference = f", reference {_shorten(payment.reference, 30)}" if payment.reference else ""
    return (
        f"- {_day(payment.created_at)}: {money_format(payment.amount_minor, payment.currency)} "
        f"from {_account_label(payment.from_account)} to {to}{reference}, "
        f"{payment.get_status_display().lower()}"
    )


def _standing_order_line(order) -> str:
    return (
        f"- {order.get_frequency_display()} {money_format(order.amount_minor, order.currency)} "
        f"to {_shorten(order.payee.name, 40)} from {_account_label(order.from_account)}, "
        f"next on {_date(order.next_run_on)}"
    )
