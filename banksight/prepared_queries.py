"""Read queries whose SQL the ORM builds once per process instead of on every call.

For the small lookups made on every API request or chat message (the bearer token's user
with their customer profile, a customer's accounts, the question a worker answers),
building the SQL from a QuerySet (cloning it, resolving the lookups, compiling the select
with its joins) costs several times more CPU than PostgreSQL takes to answer: ~0.5 ms of
Python against ~0.1 ms. A PreparedQuery asks the ORM for the SQL once, with stand-in values
for its parameters, and afterwards runs that SQL with the real values and turns the rows
into model instances the way the ORM's own iterator does (select_related objects
included). The queryset is the ORM's, so the SQL, its joins and its scoping are exactly
what the same QuerySet would run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

# Stand-ins for the parameters while the SQL is built: integers no id column holds, so
# they cannot be mistaken for a constant of the query itself.
_STAND_IN_BASE = -(2**62)


class PreparedQuery:
    """`build(**params)` returns the QuerySet; calling the PreparedQuery with the same
    keyword arguments runs its SQL, built on the first call, and returns a list of models.

    Parameters must be integers (ids): each is given to `build` as a stand-in integer whose
    position in the compiled parameters is then known. Fields with database converters
    (JSON) are converted as the ORM does. Only plain model querysets (no values(), no
    prefetch_related, no annotations) are supported, which is checked.
    """

    def __init__(self, build: Callable[..., QuerySet], *, params: tuple[str, ...]):
        self._build = build
        self._names = params
        self._prepared: _Prepared | None = None
        self._lock = threading.Lock()

    def __call__(self, **params: int) -> list[Model]:
        prepared = self._prepared or self._prepare()
        if params.keys() != set(self._names):
            raise TypeError(f"expected the parameters {self._names}, got {sorted(params)}")
        for value in params.values():
            if type(value) is not int:  # bool is an int, and no id is a bool
                raise TypeError(f"parameters are integers (ids), got {value!r}")
        values = [params[slot] if isinstance(slot, str) else slot.value for slot in prepared.slots]
        connection = connections[prepared.db]
        with connection.cursor() as cursor:
            cursor.execute(prepared.sql, values)
            rows = cursor.fetchall()
        if prepared.converters:
            rows = [prepared.convert(row, connection) for row in rows]
        return [prepared.instance(row) for row in rows]

    def _prepare(self) -> _Prepared:
        with self._lock:
            if self._prepared is None:
                self._prepared = _Prepared.from_queryset(self._build, self._names)
            return self._prepared


class _Constant:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class _Prepared:
    def __init__(self, *, db, sql, slots, model, init_list, populators, start, end, converters):
        self.db = db
        self.sql = sql
        self.slots = slots  # a parameter's name, or a _Constant of the query itself
        self.model = model
        self.init_list = init_list
        self.populators = populators
        self.start, self.end = start, end
        self.converters = converters

    def convert(self, row, connection) -> list:
        row = list(row)
        for position, (functions, column) in self.converters.items():
            value = row[position]
            for function in functions:
                value = function(value, column, connection)
            row[position] = value
        return row

    @classmethod
    def from_queryset(cls, build, names) -> _Prepared:
        stand_ins = {name: _STAND_IN_BASE - i for i, name in enumerate(names)}
        queryset = build(**stand_ins)
        if queryset._prefetch_related_lookups or queryset.query.annotation_select:
            raise ValueError("PreparedQuery supports plain model querysets only")
        if queryset._iterable_class.__name__ != "ModelIterable":
            raise ValueError("PreparedQuery supports plain model querysets only")
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        by_value = {value: name for name, value in stand_ins.items()}
        slots = [
            by_value[value] if type(value) is int and value in by_value else _Constant(value)
            for value in params
        ]
        missing = set(names) - {slot for slot in slots if isinstance(slot, str)}
        if missing:
            raise ValueError(f"the query does not use the parameters {sorted(missing)}")
        # Fields that convert what the database returns (JSON, for one): {position: (the
        # converter functions, the column)}, applied to each row as the ORM does.
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        klass_info, select = compiler.klass_info, compiler.select
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return cls(
            db=queryset.db,
            sql=sql,
            slots=slots,
            model=klass_info["model"],
            init_list=[column[0].target.attname for column in select[start:end]],
            populators=get_related_populators(klass_info, select, queryset.db),
            start=start,
            end=end,
            converters=converters,
        )

    def instance(self, row) -> Model:
        obj = self.model.from_db(self.db, self.init_list, row[self.start : self.end])
        for populator in self.populators:
            populator.populate(row, obj)
        return obj
