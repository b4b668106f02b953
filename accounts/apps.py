from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects receivers)
        from accounts.api import schema  # noqa: F401  (registers the OpenAPI auth scheme)

        _plug_into_shells()


def _plug_into_shells() -> None:
    """Stores, staff, API keys and the audit log in the console (``scrm.shells``)."""
    from accounts import auth_urls, urls
    from scrm import shells

    shells.pages_register("auth", auth_urls.urlpatterns, namespace="auth")
    shells.pages_register("console", urls.urlpatterns, namespace="accounts")
    shells.settings_register(
        shells.SettingsCard(
            _("Stores"),
            _("Codes, names, cities and time zones of your stores."),
            "accounts:store_list",
            "store",
            40,
            ("accounts.manage_stores",),
        ),
        shells.SettingsCard(
            _("Staff and roles"),
            _("Who signs in, with which role, in which stores."),
            "accounts:staff_list",
            "users",
            50,
            ("accounts.manage_staff",),
        ),
        shells.SettingsCard(
            _("API keys"),
            _("Keys for POS, online shops and mini-programs."),
            "accounts:apikey_list",
            "key",
            60,
            ("accounts.manage_api_keys",),
        ),
        shells.SettingsCard(
            _("Audit log"),
            _("Every change to stores, staff, keys and members, with who and when."),
            "accounts:audit_list",
            "list",
            70,
            ("accounts.view_audit_log",),
        ),
    )
