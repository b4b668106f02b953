from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from accounts.portal import register_phone_resolver
        from members.services import member_portal_user

        register_phone_resolver(member_portal_user)
