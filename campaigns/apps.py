from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from django.urls import path

        from scrm import shells
        from scrm.views import section_placeholder

        # Announced in the console until this release builds it.
        shells.pages_register(
            "console",
            [
                path(
                    "",
                    section_placeholder,
                    {
                        "title": _("Campaigns"),
                        "blurb": _(
                            "Plan campaigns on a calendar with holidays and commerce days, and"
                            " automate journeys."
                        ),
                        "active": "campaigns",
                    },
                    name="home",
                )
            ],
            namespace="campaigns",
            prefix="campaigns/",
        )
        shells.menu_register(
            shells.MenuEntry(
                "campaigns",
                _("Campaigns"),
                "campaigns:home",
                "megaphone",
                30,
                ("accounts.use_console",),
            )
        )
