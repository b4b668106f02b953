from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from accounts.portal import register_phone_resolver
        from members.services import member_portal_user

        register_phone_resolver(member_portal_user)

        from django.db.models.signals import post_save

        from accounts.models import Store
        from members.selectors import _store_codes

        post_save.connect(
            lambda **kw: _store_codes.clear(), sender=Store, weak=False, dispatch_uid="store-codes"
        )
