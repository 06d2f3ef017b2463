"""CSV statements: the same file for the portal and the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from apps.accounts.models import Account, Posting

HEADER = ["date", "description", "counterparty", "amount", "currency", "entry_id"]


def statement_csv(*, account: Account, postings: Iterable[Posting]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for posting in postings:
        writer.writerow(
            [
                posting.booked_at.date().isoformat(),
                _safe(posting.description),
                _safe(posting.counterparty),
                str(posting.amount),
                posting.currency,
                posting.entry_id,
            ]
        )
    return out.getvalue()


def _safe(text: str) -> str:
    # Spreadsheet programs run cells that start with these as formulas (CSV injection).
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
