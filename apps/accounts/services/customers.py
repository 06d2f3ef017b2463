from __future__ import annotations

from datetime import date

from django.db import transaction

from apps.accounts.models import Customer, User


@transaction.atomic
def customer_create(
    *,
    user: User,
    first_name: str,
    last_name: str,
    email: str = "",
    date_of_birth: date | None = None,
    address_line: str = "",
    city: str = "",
    postcode: str = "",
    country: str = "GB",
    ssn: str = "",
    national_id: str = "",
    phone: str = "",
) -> Customer:
    customer = Customer(
        user=user,
        first_name=first_name,
        last_name=last_name,
        email=email,
        date_of_birth=date_of_birth,
        address_line=address_line,
        city=city,
        postcode=postcode,
        country=country,
    )
    customer.ssn, customer.national_id, customer.phone = ssn, national_id, phone
    customer.save()
    return customer


def customers_reencrypt_batch(*, batch_size: int = 200) -> int:
    """Re-encrypt one batch of customers whose values use an older key; 0 when done."""
    return encrypted_rows_reencrypt_batch(
        model=Customer, fields=Customer.ENCRYPTED_FIELDS, batch_size=batch_size
    )


def encrypted_rows_reencrypt_batch(*, model, fields, batch_size: int = 200) -> int:
    """Re-encrypt one batch of `model` rows with a value under an older key; 0 when done.

    Each batch is its own transaction and skips rows locked by others, so the command can
    be stopped at any point and run again.
    """
    from django.db.models import Q

    from apps.accounts.crypto import PREFIX, keyring

    current = f"{PREFIX}:{keyring().active}:"
    stale = Q()
    for field in fields:
        stale |= ~Q(**{f"{field}_ciphertext": ""}) & ~Q(
            **{f"{field}_ciphertext__startswith": current}
        )
    columns = [f"{field}_ciphertext" for field in fields]
    columns += [f"{field}_hash" for field in fields if getattr(model, field).searchable]
    with transaction.atomic():
        batch = list(
            model.objects.select_for_update(skip_locked=True)
            .filter(stale)
            .order_by("pk")[:batch_size]
        )
        for row in batch:
            for field in fields:
                setattr(row, field, getattr(row, field))
            row.save(update_fields=columns)
    return len(batch)
