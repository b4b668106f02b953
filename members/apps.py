from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from accounts.portal import register_phone_resolver
        from members.services import member_portal_user

        register_phone_resolver(member_portal_user)

        from django.utils.translation import pgettext_lazy

        from accounts.models import register_audit_actions

        register_audit_actions(
            {
                "member.updated": pgettext_lazy("audit action", "Member details changed"),
                "member.profile_updated": pgettext_lazy("audit action", "Profile changed"),
                "member.child_saved": pgettext_lazy("audit action", "Child saved"),
                "member.child_deleted": pgettext_lazy("audit action", "Child removed"),
                "member.pet_saved": pgettext_lazy("audit action", "Pet saved"),
                "member.pet_deleted": pgettext_lazy("audit action", "Pet removed"),
                "member.attribute_set": pgettext_lazy("audit action", "Custom attribute set"),
                "member.tagged": pgettext_lazy("audit action", "Tag added"),
                "member.untagged": pgettext_lazy("audit action", "Tag removed"),
                "member.note_added": pgettext_lazy("audit action", "Note added"),
                "member.consent_changed": pgettext_lazy("audit action", "Consent changed"),
                "member.opted_out": pgettext_lazy("audit action", "Opted out of marketing"),
                "member.handover": pgettext_lazy("audit action", "Members handed over"),
                "member.owner_changed": pgettext_lazy("audit action", "Owner changed"),
                "member.exported": pgettext_lazy("audit action", "Member data downloaded"),
                "member.erased": pgettext_lazy("audit action", "Member data erased"),
                "attribute.created": pgettext_lazy("audit action", "Custom attribute defined"),
                "attribute.deleted": pgettext_lazy("audit action", "Custom attribute deleted"),
                "tag.created": pgettext_lazy("audit action", "Tag defined"),
                "tag.deleted": pgettext_lazy("audit action", "Tag deleted"),
                "counter.card_opened": pgettext_lazy(
                    "audit action", "Member card opened at the counter"
                ),
                "voucher.redeemed": pgettext_lazy(
                    "audit action", "Voucher redeemed at the counter"
                ),
                "gift.fulfilled": pgettext_lazy("audit action", "Gift handed over"),
                "segment.created": pgettext_lazy("audit action", "Segment created"),
                "segment.updated": pgettext_lazy("audit action", "Segment changed"),
                "segment.deleted": pgettext_lazy("audit action", "Segment deleted"),
                "segment.exported": pgettext_lazy("audit action", "Segment exported"),
            }
        )

        from django.db.models.signals import post_save

        from accounts.models import Store
        from members.selectors import _store_codes

        post_save.connect(
            lambda **kw: _store_codes.clear(), sender=Store, weak=False, dispatch_uid="store-codes"
        )
