"""`python -m bench [NAME ...]`: run every benchmark module (or the named ones) and print figures."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(names: list[str]) -> int:
    """Run the named benchmarks, or all of them."""
    here = Path(__file__).parent
    found = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    for name in names or found:
        if name not in found:
            print(f"bench: no benchmark named {name!r} (known: {', '.join(found)})", file=sys.stderr)
            return 2
        print(f"== bench.{name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    # Names come first; options after them go to the benchmarks (python -m bench analytics --calls N).
    args = sys.argv[1:]
    first_option = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    sys.exit(main(args[:first_option]))
