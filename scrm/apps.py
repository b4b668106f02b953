from django.apps import AppConfig


class ScrmConfig(AppConfig):
    name = "scrm"
    verbose_name = "SCRM"

    def ready(self) -> None:
        from django.urls import path
        from django.utils.translation import gettext_lazy as _

        from scrm import shells, views
        from scrm.lookups import register

        register()
        shells.pages_register(
            "console",
            [path("settings/", views.console_settings, name="settings")],
            namespace="console",
        )
        shells.menu_register(
            shells.MenuEntry(
                key="settings",
                label=_("Settings"),
                url_name="console:settings",
                icon="gear",
                order=90,
                permissions=("accounts.use_console",),
            )
        )
        shells.settings_register(
            shells.SettingsCard(
                title=_("API documentation"),
                blurb=_("The integration API and its OpenAPI schema."),
                url_name="api:docs",
                icon="shield",
                order=90,
            )
        )
