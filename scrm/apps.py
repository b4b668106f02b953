from django.apps import AppConfig


class ScrmConfig(AppConfig):
    name = "scrm"
    verbose_name = "SCRM"

    def ready(self) -> None:
        from scrm.lookups import register

        register()
