import re
import pytest
from django.urls import reverse
from tests.factories import MemberFactory
from members.models import Pet, Tag

pytestmark = pytest.mark.django_db

def _dump(client, url, name, lang="zh-hans"):
    client.cookies["django_language"] = lang
    r = client.get(url, HTTP_ACCEPT_LANGUAGE=lang)
    open(f"/tmp/c13/{name}.html", "w").write(r.content.decode())
    return r

def test_dump(operator_client, admin_client, clerk_client, member_client, member, operator):
    from members.services.profiles import note_add
    note_add(member=member, body="喜欢抹茶", actor=operator)
    _dump(admin_client, reverse("accounts:apikey_list"), "apikeys")
    _dump(operator_client, reverse("members:profile_fields"), "fields")
    _dump(operator_client, reverse("members:detail", args=[member.code]), "m360")
    _dump(operator_client, reverse("members:detail", args=[member.code]), "m360_en", "en")
    _dump(operator_client, reverse("members:segment_new"), "segnew")
    _dump(clerk_client, reverse("counter:member", args=["SH01", member.code]), "counter_en", "en")
    _dump(clerk_client, reverse("counter:member", args=["SH01", member.code]), "counter")
    _dump(clerk_client, reverse("counter:member_profile", args=["SH01", member.code]), "counter_profile")
    _dump(member_client, reverse("portal:home"), "portal")
    _dump(member_client, reverse("portal:profile"), "portal_profile")
    _dump(operator_client, reverse("offers:template_list"), "tpl")
    _dump(operator_client, reverse("offers:template_new"), "tplnew")
