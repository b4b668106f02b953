from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = _("Community")

    def ready(self) -> None:
        from django.urls import path

        from scrm import shells
        from scrm.views import section_placeholder

        # Announced in the console until a coming release builds it.
        shells.pages_register(
            "console",
            [
                path(
                    "",
                    section_placeholder,
                    {
                        "title": _("Community"),
                        "blurb": _(
                            "Groups, events, polls, referrals, badges, NPS and service tickets."
                        ),
                        "active": "community",
                    },
                    name="home",
                )
            ],
            namespace="community",
            prefix="community/",
        )
        shells.menu_register(
            shells.MenuEntry(
                "community", _("Community"), "community:home", "chat", 40, ("accounts.use_console",)
            )
        )
