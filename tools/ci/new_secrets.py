"""Fail on any secret-scanner finding that the reviewed baseline does not list.

    python tools/ci/new_secrets.py REVIEWED_BASELINE RESCANNED_BASELINE

detect-secrets' own hook also fails whenever a listed finding merely moved to another
line; this compares findings by file and hashed value only, so moving code is fine
and a new secret is not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def findings(path: str) -> dict[tuple[str, str], dict[str, object]]:
    results = json.loads(Path(path).read_text())["results"]
    return {
        (name, item["hashed_secret"]): item for name, items in results.items() for item in items
    }


def main(reviewed: str, rescanned: str) -> int:
    known = findings(reviewed)
    new = {key: item for key, item in findings(rescanned).items() if key not in known}
    for (name, _), item in sorted(new.items()):
        sys.stdout.write(f"{name}:{item['line_number']}: {item['type']} (not in the baseline)\n")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
