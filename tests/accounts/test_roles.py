import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User
from accounts.services import staff_save
from scrm.exceptions import ApplicationError


@pytest.mark.django_db
def test_role_groups_carry_exactly_their_permissions():
    from django.apps import apps

    admin_site = {
        f"view_{model._meta.model_name}"
        for label in roles.ADMIN_SITE_APPS
        for model in apps.get_app_config(label).get_models()
    } | {
        f"{action}_{label.split('.')[1]}"
        for label in roles.ADMIN_SITE_EDITABLE
        for action in ("add", "change", "delete")
    }
    for role, codenames in roles.ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        expected = set(codenames) | (admin_site if role == roles.ADMIN else set())
        assert set(group.permissions.values_list("codename", flat=True)) == expected
    # operators and clerks never reach Django's admin models
    assert (
        not Group.objects.get(name=roles.OPERATOR)
        .permissions.filter(codename__startswith="view_")
        .exists()
    )
    assert "change_member" not in admin_site  # members are changed through audited services


@pytest.mark.django_db
def test_operator_uses_console_but_cannot_manage_staff(operator):
    assert operator.role == roles.OPERATOR
    assert operator.has_perm("accounts.use_console")
    assert not operator.has_perm("accounts.manage_staff")
    assert not operator.is_staff  # no Django admin


@pytest.mark.django_db
def test_admin_role_opens_django_admin(admin_user):
    assert admin_user.role == roles.ADMIN
    assert admin_user.is_staff
    assert admin_user.has_perm("accounts.view_audit_log")


@pytest.mark.django_db
def test_clerk_needs_a_store():
    with pytest.raises(ApplicationError) as exc:
        staff_save(
            email="c@example.com",
            name="C",
            role=roles.CLERK,
            stores=[],
            password="x" * 16,
            actor=None,
        )
    assert "stores" in exc.value.fields
    assert not User.objects.filter(email="c@example.com").exists()


@pytest.mark.django_db
def test_staff_passwords_need_twelve_characters(store_sh):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        staff_save(
            email="c@example.com",
            name="C",
            role=roles.CLERK,
            stores=[store_sh],
            password="short-pw-1",
            actor=None,
        )
    assert not User.objects.filter(email="c@example.com").exists()


@pytest.mark.django_db
def test_admin_cannot_demote_themselves(admin_user):
    with pytest.raises(ApplicationError):
        staff_save(
            user=admin_user, email=admin_user.email, name="x", role=roles.OPERATOR, actor=admin_user
        )
    assert User.objects.get(pk=admin_user.pk).role == roles.ADMIN


@pytest.mark.django_db
def test_member_users_have_no_staff_role(member_user):
    assert member_user.role == roles.MEMBER
    assert not member_user.has_perm("accounts.use_counter")


@pytest.mark.django_db
def test_a_role_change_takes_effect_on_the_next_request_despite_the_permission_cache(
    clerk_client, clerk_sh
):
    assert clerk_client.get("/counter/SH01/").status_code == 200
    assert clerk_client.get("/counter/SH01/").status_code == 200  # served from the cache
    clerk_sh.groups.remove(Group.objects.get(name="clerk"))
    assert clerk_client.get("/counter/SH01/").status_code == 403
    clerk_sh.groups.add(Group.objects.get(name="operator"))
    assert clerk_client.get("/console/members/").status_code == 200
