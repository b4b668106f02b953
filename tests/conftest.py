from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from accounts import roles, sms
from tests.factories import PASSWORD, MemberFactory, StoreFactory, make_staff


def _ensure_reference_data():
    from campaigns.defaults import system_templates_ensure
    from members.defaults import ensure_loyalty_defaults
    from members.services.orders import _product_ids

    roles.ensure_role_groups()
    ensure_loyalty_defaults()
    system_templates_ensure()
    _product_ids.clear()  # product ids cached per process; a flushed database reuses none
    from members.selectors.rules import loyalty_context_clear

    loyalty_context_clear()
    from members.selectors.members import _store_codes

    _store_codes.clear()


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Each test starts with an empty cache (rate limits, locks) and SMS outbox; role groups exist
    even after a transactional test emptied the tables the data migration filled."""
    cache.clear()
    sms.outbox.clear()
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if names & {"transactional_db", "live_server"} or (marker and marker.kwargs.get("transaction")):
        request.getfixturevalue("transactional_db")
        _ensure_reference_data()
    elif "db" in names or marker:
        request.getfixturevalue("db")
        _ensure_reference_data()
    yield
    sms.outbox.clear()


class _Logged(list):
    """The member ids of the ``member_enrolled`` events in the log since the fixture began,
    read afresh each time the test looks (``in``, iteration, ``len``)."""

    def __init__(self, start: int) -> None:
        super().__init__()
        self.start = start

    def _read(self) -> list[int]:
        from members.models import Event

        return list(
            Event.objects.filter(type="member_enrolled", id__gt=self.start)
            .order_by("id")
            .values_list("member_id", flat=True)
        )

    def __iter__(self):
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __contains__(self, item) -> bool:
        return item in self._read()


@pytest.fixture
def enrolled_ids(db):
    """Member ids that ``member_enrolled`` events announce during the test (from the log)."""
    from members.models import Event

    return _Logged(Event.objects.order_by("-id").values_list("id", flat=True).first() or 0)


@pytest.fixture
def store_sh(db):
    return StoreFactory(code="SH01", name="上海静安店", city="上海")


@pytest.fixture
def store_bj(db):
    return StoreFactory(code="BJ01", name="北京三里屯店", city="北京")


@pytest.fixture
def admin_user(db):
    return make_staff(roles.ADMIN, email="admin@example.com", name="Admin Chen")


@pytest.fixture
def operator(db):
    return make_staff(roles.OPERATOR, email="operator@example.com", name="Operator Zhou")


@pytest.fixture
def clerk_sh(db, store_sh):
    return make_staff(roles.CLERK, stores=[store_sh], email="clerk.sh@example.com", name="王芳")


@pytest.fixture
def clerk_bj(db, store_bj):
    return make_staff(roles.CLERK, stores=[store_bj], email="clerk.bj@example.com", name="李娜")


@pytest.fixture
def member(db, store_sh):
    return MemberFactory(phone="+8613800138000", name="林晓雨", store=store_sh, code="MABC234")


@pytest.fixture
def member_user(db, member):
    from members.services import member_portal_user

    return member_portal_user(member.phone)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def operator_client(operator):
    return _client_for(operator)


@pytest.fixture
def clerk_client(clerk_sh):
    return _client_for(clerk_sh)


@pytest.fixture
def member_client(member_user):
    return _client_for(member_user)


@pytest.fixture
def password():
    return PASSWORD
