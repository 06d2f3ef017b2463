"""banksight.prepared_queries: the ORM's SQL built once, run with new parameters."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import Account, Customer, User
from apps.accounts.selectors.banking import account_list
from banksight.prepared_queries import PreparedQuery
from tests.factories import account_make, customer_make

pytestmark = pytest.mark.django_db


def _with_customer(user_id):
    return User.objects.select_related("customer").filter(pk=user_id).order_by()


def test_rows_and_related_objects_are_what_the_orm_returns():
    casey = customer_make(username="prep_casey", first_name="Casey", last_name="Case")
    prepared = PreparedQuery(_with_customer, params=("user_id",))

    [user] = prepared(user_id=casey.user.pk)
    [expected] = _with_customer(casey.user.pk)
    assert [getattr(user, f.attname) for f in User._meta.concrete_fields] == [
        getattr(expected, f.attname) for f in User._meta.concrete_fields
    ]
    with CaptureQueriesContext(connection) as queries:  # loaded with the user: no query
        assert user.customer.pk == casey.pk
        assert user.customer.first_name == "Casey"
    assert len(queries) == 0
    assert user._state.adding is False
    assert user._state.db == "default"


def test_each_call_binds_its_own_parameters():
    first, second = customer_make(username="prep_a"), customer_make(username="prep_b")
    prepared = PreparedQuery(_with_customer, params=("user_id",))
    assert [u.username for u in prepared(user_id=first.user.pk)] == ["prep_a"]
    assert [u.username for u in prepared(user_id=second.user.pk)] == ["prep_b"]
    assert prepared(user_id=987_654_321) == []


def test_a_missing_related_row_reads_as_missing():
    lone = User.objects.create_user(username="prep_lone", password="x")
    [user] = PreparedQuery(_with_customer, params=("user_id",))(user_id=lone.pk)
    with pytest.raises(Customer.DoesNotExist):
        user.customer  # noqa: B018


def test_the_constants_of_the_query_are_kept():
    # account_list: the customer's accounts that are not closed, oldest first.
    customer = customer_make(username="prep_accounts")
    first = account_make(customer, balance="1.00")
    closed = account_make(customer, balance="0.00")
    last = account_make(customer, balance="2.00")
    Account.objects.filter(pk=closed.pk).update(status=Account.Status.CLOSED)
    assert [a.pk for a in account_list(customer=customer)] == [first.pk, last.pk]
    assert [str(a.balance) for a in account_list(customer=customer)] == ["1.00", "2.00"]


@pytest.mark.parametrize("value", ["5", 5.0, True, None])
def test_parameters_are_integers(value):
    prepared = PreparedQuery(_with_customer, params=("user_id",))
    with pytest.raises(TypeError):
        prepared(user_id=value)


def test_unknown_or_missing_parameters_are_refused():
    prepared = PreparedQuery(_with_customer, params=("user_id",))
    with pytest.raises(TypeError):
        prepared(user=1)
    with pytest.raises(TypeError):
        prepared()


def test_querysets_it_cannot_reproduce_are_refused():
    with pytest.raises(ValueError, match="plain model querysets"):
        PreparedQuery(
            lambda user_id: User.objects.filter(pk=user_id).values("pk"), params=("user_id",)
        )(user_id=1)
    with pytest.raises(ValueError, match="does not use"):
        PreparedQuery(lambda user_id: User.objects.all(), params=("user_id",))(user_id=1)


def test_fields_that_convert_database_values_are_converted():
    # JSONField converts what PostgreSQL returns, as the ORM's own iterator does.
    from apps.chat.models import Message
    from apps.chat.services import conversation_create

    conversation = conversation_create(customer=customer_make(username="prep_json"))
    message = Message(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.REFUSED,
        citations=[{"kind": "article", "slug": "fees"}],
        guard_reasons=["prompt_injection"],
    )
    message.text = "Refused."
    message.save()
    prepared = PreparedQuery(
        lambda message_id: Message.objects.select_related("conversation__customer").filter(
            pk=message_id
        ),
        params=("message_id",),
    )
    [found] = prepared(message_id=message.pk)
    assert found.citations == [{"kind": "article", "slug": "fees"}]
    assert found.guard_reasons == ["prompt_injection"]
    assert found.text == "Refused."
    assert found.conversation.customer.user.username == "prep_json"
