from io import StringIO

import pytest
from django.core.management import call_command

from accounts import roles
from accounts.demo import DEMO_LOGINS
from accounts.models import Store, User
from members.models import Member


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_its_sign_ins_work(client):
    call_command("seed_demo", members=40, stdout=StringIO(), stderr=StringIO())
    counts = (Store.objects.count(), User.objects.count(), Member.objects.count())
    call_command("seed_demo", members=40, stdout=StringIO(), stderr=StringIO())
    assert (Store.objects.count(), User.objects.count(), Member.objects.count()) == counts
    assert counts[0] == 3 and counts[2] >= 50
    # The history went through the real services: ledgers add up and tiers match the orders.
    call_command("ledger_verify", stdout=StringIO())
    from members.models import Order
    from members.selectors import purchase_count

    assert Order.objects.filter(source="demo").count() > 40
    for m in Member.objects.filter(purchase_count__gt=0):
        assert m.purchase_count == purchase_count(m)
    assert Member.objects.filter(tier__code="vip").exists()
    assert User.objects.get(email=DEMO_LOGINS["operator"]).role == roles.OPERATOR
    clerk = User.objects.get(email=DEMO_LOGINS["clerk"])
    assert clerk.role == roles.CLERK and list(clerk.stores.values_list("code", flat=True)) == [
        "SH01"
    ]
    assert Member.objects.filter(phone="+86" + DEMO_LOGINS["member_phone"]).exists()
    client.post(
        "/accounts/login/", {"login": DEMO_LOGINS["operator"], "password": "scrm-demo-2026"}
    )
    assert client.get("/").url == "/console/"
