"""``make bench``: the benchmark scenarios in bench/scenarios/, on a PostgreSQL database of their own.

The data set lives in ``<DATABASE_URL name>_bench`` and is kept between runs: the first run bulk-loads
it (``--members``, default 1,000,000 members with about 10 orders each; several minutes), later runs
reuse it. Each scenario module has ``run(args) -> dict``; results are printed and written to
bench/results/<scenario>.json.

    python -m bench [scenario ...] [--members N] [--orders N]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

RESULTS = Path(__file__).parent / "results"


def _bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("make bench needs PostgreSQL: set DATABASE_URL (make bench finds or starts one).")
    parts = urlsplit(url)
    name = (parts.path.strip("/") or "scrm") + "_bench"
    import psycopg

    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--members", type=int, default=1_000_000, help="members in the data set")
    parser.add_argument(
        "--orders", type=int, default=100_000, help="orders the ingest scenario sends"
    )
    parser.add_argument(
        "--import-rows", type=int, default=100_000, help="order rows the CSV import scenario loads"
    )
    args = parser.parse_args(argv)

    os.environ["DATABASE_URL"] = _bench_database_url()
    os.environ["DJANGO_SETTINGS_MODULE"] = "scrm.settings.test"
    import django

    django.setup()
    from django.core.management import call_command

    from bench import scenarios
    from bench.dataset import ensure_dataset

    available = sorted(m.name for m in pkgutil.iter_modules(scenarios.__path__))
    chosen = args.names or available
    unknown = set(chosen) - set(available)
    if unknown:
        parser.error(
            f"unknown scenario(s): {', '.join(sorted(unknown))}; have {', '.join(available)}"
        )

    call_command("migrate", verbosity=0)
    started = time.monotonic()
    info = ensure_dataset(args.members)
    print(f"data set: {json.dumps(info)} ({time.monotonic() - started:.0f}s)", flush=True)
    RESULTS.mkdir(exist_ok=True)
    for name in chosen:
        module = importlib.import_module(f"bench.scenarios.{name}")
        started = time.monotonic()
        figures = {"data_set": info, **module.run(args)}
        figures["seconds"] = round(time.monotonic() - started, 1)
        print(f"{name}: {json.dumps(figures, ensure_ascii=False)}", flush=True)
        (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
