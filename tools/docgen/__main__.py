"""`python -m tools.docgen [--check]`: write the generated reference pages in docs/
(or, with --check, exit 1 naming each page that is stale)."""

from __future__ import annotations

import argparse
import sys

from tools.docgen.pages import PAGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docgen")
    parser.add_argument("--check", action="store_true", help="fail when a page is stale")
    args = parser.parse_args(argv)
    stale = []
    for path, render in PAGES.items():
        text = render()
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path)
        else:
            path.write_text(text)
    for path in stale:
        print(f"stale: {path} (run python -m tools.docgen)", file=sys.stderr)  # noqa: T201
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
