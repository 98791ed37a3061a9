"""`python -m tools.openapi [--descriptor gen/agentopia.pb] [--out gen/docs]`, run by
`make protos`: the OpenAPI document and the Swagger UI site around it."""

from __future__ import annotations

import argparse
import pathlib
import sys

from tools.openapi.document import build_document
from tools.openapi.site import write_site

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.openapi")
    parser.add_argument("--descriptor", type=pathlib.Path, default=ROOT / "gen" / "agentopia.pb")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "gen" / "docs")
    args = parser.parse_args(argv)
    write_site(build_document(args.descriptor), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
