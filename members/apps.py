from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _plug_into_shells() -> None:
    """The members app's pages, menu entries, settings cards and landings (``scrm.shells``)."""
    from members import urls
    from scrm import shells

    shells.pages_register("console", urls.console_home_urlpatterns, namespace="console")
    shells.pages_register(
        "console", urls.console_urlpatterns, namespace="members", prefix="members/"
    )
    shells.pages_register("console", urls.offers_urlpatterns, namespace="offers", prefix="offers/")
    shells.pages_register("counter", urls.counter_urlpatterns, namespace="counter")
    shells.pages_register("portal", urls.portal_urlpatterns, namespace="portal")
    shells.pages_register("api", urls.api_urlpatterns, namespace="api")
    console, manage = "accounts.use_console", "accounts.manage_members"
    shells.menu_register(
        shells.MenuEntry("dashboard", _("Dashboard"), "console:home", "chart", 0, (console,)),
        shells.MenuEntry("members", _("Members"), "members:list", "users", 10, (console,)),
        shells.MenuEntry(
            "segments", _("Segments"), "members:segment_list", "filter", 20, (console,)
        ),
        shells.MenuEntry(
            "offers", _("Offers"), "offers:template_list", "ticket", 25, (console, manage)
        ),
        shells.MenuEntry(
            "counter", _("Counter"), "counter:index", "store", 60, ("accounts.use_counter",)
        ),
    )
    shells.settings_register(
        shells.SettingsCard(
            _("Tiers and points rules"),
            _("The ladder, milestones, earning and expiry, with a dry run before publishing."),
            "members:rules",
            "chart",
            10,
            (manage,),
        ),
        shells.SettingsCard(
            _("Import"),
            _("Orders and members from CSV, checked row by row."),
            "members:import_list",
            "list",
            20,
            (manage,),
        ),
        shells.SettingsCard(
            _("Event log"),
            _("What the loyalty engine announced, and how far each consumer has read."),
            "members:event_log",
            "list",
            80,
            ("accounts.view_audit_log",),
        ),
    )
    shells.landing_register(
        shells.Landing("portal:home", lambda u: getattr(u, "is_member_user", False), 0),
        shells.Landing(
            "console:home",
            lambda u: not getattr(u, "is_member_user", False) and u.has_perm(console),
            10,
        ),
        shells.Landing(
            "counter:index",
            lambda u: (
                not getattr(u, "is_member_user", False) and u.has_perm("accounts.use_counter")
            ),
            20,
        ),
    )


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = _("Members")

    def ready(self) -> None:
        from accounts.portal import register_phone_resolver
        from members.services import member_portal_user

        register_phone_resolver(member_portal_user)
        _plug_into_shells()

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
                "counter.cross_store_lookup": pgettext_lazy(
                    "audit action", "Member of another store found at the counter"
                ),
                "counter.cross_store_card": pgettext_lazy(
                    "audit action", "Card of another store's member opened"
                ),
                "counter.cross_store_served": pgettext_lazy(
                    "audit action", "Member of another store served"
                ),
                "voucher.redeemed": pgettext_lazy(
                    "audit action", "Voucher redeemed at the counter"
                ),
                "gift.fulfilled": pgettext_lazy("audit action", "Gift handed over"),
                "segment.created": pgettext_lazy("audit action", "Segment created"),
                "segment.updated": pgettext_lazy("audit action", "Segment changed"),
                "segment.deleted": pgettext_lazy("audit action", "Segment deleted"),
                "segment.exported": pgettext_lazy("audit action", "Segment exported"),
                "import.applied": pgettext_lazy("audit action", "Import applied"),
                "voucher_template.created": pgettext_lazy(
                    "audit action", "Voucher template created"
                ),
                "voucher_template.updated": pgettext_lazy(
                    "audit action", "Voucher template changed"
                ),
                "voucher.batch_issued": pgettext_lazy("audit action", "Vouchers issued"),
                "reward.created": pgettext_lazy("audit action", "Reward created"),
                "reward.updated": pgettext_lazy("audit action", "Reward changed"),
                "product.updated": pgettext_lazy("audit action", "Product changed"),
                "product.imported": pgettext_lazy("audit action", "Product imported"),
                "products.import_applied": pgettext_lazy("audit action", "Product file imported"),
                "import.abandoned": pgettext_lazy(
                    "audit action", "Import failed: its worker stopped"
                ),
                "points.adjusted": pgettext_lazy("audit action", "Points adjusted"),
                "rules.published": pgettext_lazy("audit action", "Loyalty rules published"),
            }
        )

        from django.db.models.signals import post_save

        from accounts.models import Store
        from members.selectors.members import _store_codes

        post_save.connect(
            lambda **kw: _store_codes.clear(), sender=Store, weak=False, dispatch_uid="store-codes"
        )
