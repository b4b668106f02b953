from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts import roles
from accounts.models import Store, User
from accounts.services import staff_save
from members.models import Member

PASSWORD = "correct-horse-battery-staple"


class StoreFactory(DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"ST{n:02d}")
    name = factory.Sequence(lambda n: f"门店{n}")
    city = "上海"


def make_staff(role: str, *, stores=(), email: str | None = None, name: str = "") -> User:
    email = email or f"{role}.{User.objects.count() + 1}@example.com"
    return staff_save(
        email=email,
        name=name or role.title(),
        role=role,
        stores=list(stores),
        password=PASSWORD,
        actor=None,
    )


class MemberFactory(DjangoModelFactory):
    class Meta:
        model = Member

    code = factory.Sequence(lambda n: f"MT{n:05d}")
    phone = factory.Sequence(lambda n: f"+86139{n:08d}")
    name = factory.Sequence(lambda n: f"会员{n}")
    store = factory.SubFactory(StoreFactory)


__all__ = ["PASSWORD", "MemberFactory", "StoreFactory", "make_staff", "roles"]
