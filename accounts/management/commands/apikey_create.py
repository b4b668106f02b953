from django.core.management.base import BaseCommand, CommandError

from accounts.models import AuditEntry, Store
from accounts.services import apikey_create
from scrm.exceptions import ApplicationError


class Command(BaseCommand):
    help = "Create an integration API key. The key is printed once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Who uses the key, e.g. 'POS Shanghai'")
        parser.add_argument("--store", help="Limit the key to one store (store code)")
        parser.add_argument("--rate", type=int, help="Requests per minute (default from settings)")

    def handle(self, *args, name: str, store: str | None, rate: int | None, **options):
        store_obj = None
        if store:
            store_obj = Store.objects.filter(code=store.upper()).first()
            if store_obj is None:
                raise CommandError(f"Unknown store code: {store}")
        if rate is not None and rate < 1:
            raise CommandError("--rate must be a positive number of requests per minute")
        try:
            key, plain = apikey_create(
                name=name, store=store_obj, rate_per_minute=rate, actor=None, via=AuditEntry.Via.CLI
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        scope = f"store {store_obj.code}" if store_obj else "all stores"
        self.stderr.write(
            f"Created API key '{key.name}' ({scope}). Store it now: it is not shown again."
        )
        self.stdout.write(plain)
