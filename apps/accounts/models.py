from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from apps.accounts.crypto import EncryptedAttribute
from apps.accounts.money import CURRENCY_CHOICES, from_minor
from apps.accounts.roles import STAFF_ROLES, Role


class User(AbstractUser):
    """A person who logs in: a customer or a member of staff, never both.

    `role` is the user's one role. The services that set it (user_create, user_role_set)
    also make the user a member of that role's group, which carries its permissions, and
    set `is_staff` to whether the role belongs to the back office. The field saves a query
    on every request that only asks "is this a customer?".
    """

    email = models.EmailField("email address", blank=True)
    role = models.CharField(max_length=30, choices=Role.choices, blank=True, db_index=True)

    class Meta:
        ordering = ["username"]
        permissions = [
            ("access_back_office", "Can open the staff back office"),
            ("view_login_lockouts", "Can see locked-out logins"),
            ("unlock_login", "Can unlock a locked-out login"),
            ("view_audit_trail", "Can read the audit trail"),
            ("deactivate_user", "Can deactivate a user and revoke their sessions"),
        ]

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER and not self.is_staff

    @property
    def is_bank_staff(self) -> bool:
        return self.is_staff and self.role in STAFF_ROLES


class Customer(models.Model):
    """A customer's profile. SSN, national id and phone are encrypted at rest.

    Read them through the attributes (`customer.ssn`); the `*_ciphertext` columns hold
    AES-256-GCM ciphertexts and the `*_hash` columns keyed hashes for equality lookups.
    """

    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="customer")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="GB")
    email = models.EmailField(blank=True)
    # A customer in vulnerable circumstances (bereavement, illness, financial difficulty),
    # flagged by staff: their conversations go to the front of the human queue.
    vulnerable = models.BooleanField(default=False)
    ssn_ciphertext = models.TextField(blank=True, default="")
    ssn_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    national_id_ciphertext = models.TextField(blank=True, default="")
    national_id_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    phone_ciphertext = models.TextField(blank=True, default="")
    phone_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    ssn = EncryptedAttribute(searchable=True)
    national_id = EncryptedAttribute(searchable=True)
    phone = EncryptedAttribute(searchable=True)

    ENCRYPTED_FIELDS = ("ssn", "national_id", "phone")

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Account(models.Model):
    """A ledger account. Customers hold checking, savings and credit accounts; the bank's
    own internal accounts (clearing, settlement, income) have no customer.

    `balance_minor` caches the sum of the account's postings, in minor units, and is
    updated in the same transaction as each posting; `manage.py reconcile` checks it.
    """

    class Type(models.TextChoices):
        CHECKING = "checking", "Current account"
        SAVINGS = "savings", "Savings account"
        CREDIT = "credit", "Credit account"
        INTERNAL = "internal", "Internal"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        FROZEN = "frozen", "Frozen"
        CLOSED = "closed", "Closed"

    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    type = models.CharField(max_length=10, choices=Type.choices)
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    number = models.CharField(max_length=8, unique=True)
    iban = models.CharField(max_length=34, unique=True, null=True, blank=True)
    balance_minor = models.BigIntegerField(default=0)
    # How far below zero the balance may go: an overdraft or a credit limit.
    limit_minor = models.BigIntegerField(default=0)
    # Internal accounts are found by purpose and currency, e.g. ("external_clearing", "EUR").
    internal_purpose = models.CharField(max_length=40, blank=True, default="")
    opened_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(currency__regex=r"^[A-Z]{3}$"), name="account_currency_iso"
            ),
            models.CheckConstraint(
                condition=models.Q(limit_minor__gte=0), name="account_limit_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(type="internal")
                | models.Q(balance_minor__gte=-models.F("limit_minor")),
                name="account_within_limit",
            ),
            models.CheckConstraint(
                condition=models.Q(type="internal", customer__isnull=True)
                | (~models.Q(type="internal") & models.Q(customer__isnull=False)),
                name="account_owner_matches_type",
            ),
            models.UniqueConstraint(
                fields=["internal_purpose", "currency"],
                condition=models.Q(type="internal"),
                name="account_one_internal_per_purpose",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ••{self.number[-4:]}"

    @property
    def balance(self):
        return from_minor(self.balance_minor, self.currency)

    @property
    def available_minor(self) -> int:
        return self.balance_minor + self.limit_minor

    @property
    def available(self):
        return from_minor(self.available_minor, self.currency)

    @property
    def masked_number(self) -> str:
        return f"••••{self.number[-4:]}"


class JournalEntry(models.Model):
    """One movement of money: its postings sum to zero per currency (checked by PostgreSQL
    at commit). Entries and postings are never changed; a mistake is reversed by a new entry.
    """

    class Kind(models.TextChoices):
        TRANSFER = "transfer", "Transfer"
        EXTERNAL_PAYMENT = "external_payment", "Payment to another bank"
        SETTLEMENT = "settlement", "Settlement"
        INCOMING = "incoming", "Incoming payment"
        CARD = "card", "Card payment"
        FEE = "fee", "Fee"
        INTEREST = "interest", "Interest"
        REVERSAL = "reversal", "Reversal"
        OPENING = "opening", "Opening balance"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=200)
    booked_at = models.DateTimeField(db_index=True)
    payment = models.ForeignKey(
        "Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-booked_at", "-id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.description}"


class Posting(models.Model):
    """One side of a journal entry on one account: negative debits, positive credits."""

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # Copied from the entry so an account's history is one indexed range scan.
    booked_at = models.DateTimeField()
    description = models.CharField(max_length=200)
    counterparty = models.CharField(max_length=140, blank=True, default="")

    class Meta:
        ordering = ["-booked_at", "-id"]
        indexes = [models.Index(fields=["account", "-booked_at", "-id"], name="posting_history")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(amount_minor=0), name="posting_amount_not_zero"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"

    @property
    def amount(self):
        return from_minor(self.amount_minor, self.currency)


class Payment(models.Model):
    """A customer's instruction to move money, and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        HELD_FOR_REVIEW = "held_for_review", "Held for review"
        REJECTED = "rejected", "Rejected"
        REVERSED = "reversed", "Reversed"

    class Kind(models.TextChoices):
        OWN = "own", "Between own accounts"
        INTERNAL = "internal", "To another BankSight customer"
        EXTERNAL = "external", "To another bank"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments")
    from_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    to_account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_iban = models.CharField(max_length=34, blank=True, default="")
    to_name = models.CharField(max_length=140, blank=True, default="")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=140, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices)
    status_reason = models.CharField(max_length=200, blank=True, default="")
    idempotency_key = models.CharField(max_length=100)
    # Hash of what was asked: the same key with a different request is refused, not replayed.
    request_fingerprint = models.CharField(max_length=64)
    standing_order = models.ForeignKey(
        "StandingOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"], name="payment_idempotency_key_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="payment_amount_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(to_account__isnull=False) | ~models.Q(to_iban=""),
                name="payment_has_destination",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="payment_status_created")]

    def __str__(self) -> str:
        return f"Payment #{self.pk} {self.amount} {self.currency} ({self.status})"

    @property
    def amount(self):
        return from_minor(self.amount_minor, self.currency)


class Payee(models.Model):
    """A saved beneficiary."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payees")
    name = models.CharField(max_length=140)
    iban = models.CharField(max_length=34)
    default_reference = models.CharField(max_length=140, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "iban"], name="payee_iban_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.iban})"


class Card(models.Model):
    """A payment card. Only the last four digits of the number are stored."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        FROZEN = "frozen", "Frozen"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cards")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="cards")
    brand = models.CharField(max_length=20, default="Visa")
    last4 = models.CharField(max_length=4)
    expiry_month = models.PositiveSmallIntegerField()
    expiry_year = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last4__regex=r"^[0-9]{4}$"), name="card_last4_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} {self.masked_pan}"

    @property
    def masked_pan(self) -> str:
        return f"•••• •••• •••• {self.last4}"


class StandingOrder(models.Model):
    """A payment repeated every month (or week) until its end date; run by celery beat."""

    class Frequency(models.TextChoices):
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="standing_orders")
    from_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="standing_orders")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reference = models.CharField(max_length=140, blank=True, default="")
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    next_run_on = models.DateField()
    end_on = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["next_run_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(amount_minor__gt=0), name="standing_order_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} to {self.payee.name}"

    @property
    def amount(self):
        return from_minor(self.amount_minor, self.currency)


class LoanPrequalification(models.Model):
    """The stored outcome of a loan pre-qualification: an indicative range and the reasons."""

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="loan_prequalifications"
    )
    currency = models.CharField(max_length=3)
    stated_annual_income_minor = models.BigIntegerField()
    balances_minor = models.BigIntegerField()
    inflow_90d_minor = models.BigIntegerField()
    outflow_90d_minor = models.BigIntegerField()
    eligible = models.BooleanField()
    min_amount_minor = models.BigIntegerField(default=0)
    max_amount_minor = models.BigIntegerField(default=0)
    reasons = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Pre-qualification #{self.pk} ({'eligible' if self.eligible else 'not eligible'})"
