"""`make bench` entry point: runs every ``bench_*.py`` module's ``main()`` in turn."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks


def main() -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    only = set(sys.argv[1:])
    failed = 0
    for name in names:
        if only and name not in only:
            continue
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        failed += int(bool(module.main()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
