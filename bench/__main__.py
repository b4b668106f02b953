"""``make bench``: run the scenarios in bench/scenarios/ on a throwaway PostgreSQL database.

Each scenario module has ``NAME`` and ``run(size: int) -> dict`` returning its measured figures;
results are printed and written to bench/results/<scenario>.json. Usage:
    python -m bench [scenario ...] [--size N]
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

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.test")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str]) -> int:
    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases

    from bench import scenarios

    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument(
        "--size", type=int, default=None, help="data size (scenario default if omitted)"
    )
    args = parser.parse_args(argv)

    available = sorted(m.name for m in pkgutil.iter_modules(scenarios.__path__))
    chosen = args.names or available
    unknown = set(chosen) - set(available)
    if unknown:
        parser.error(
            f"unknown scenario(s): {', '.join(sorted(unknown))}; have {', '.join(available)}"
        )

    setup_test_environment()
    old = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    RESULTS.mkdir(exist_ok=True)
    try:
        for name in chosen:
            module = importlib.import_module(f"bench.scenarios.{name}")
            started = time.monotonic()
            figures = module.run(args.size or module.DEFAULT_SIZE)
            figures["seconds"] = round(time.monotonic() - started, 1)
            print(f"{name}: {json.dumps(figures, ensure_ascii=False)}")
            (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    finally:
        teardown_databases(old, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
