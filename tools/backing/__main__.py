"""`python -m tools.backing -- CMD...`: run CMD with the suite's PostgreSQL and Redis.

Prints the two variables, then runs CMD with them set and exits with its status; any
server started for it is stopped afterwards. Without CMD it prints the variables and
keeps the servers until interrupted (for a shell: `export` the printed lines).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from tools.backing.session import backing_services


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    with backing_services(os.environ) as found:
        for name, value in found.items():
            sys.stdout.write(f"{name}={value}\n")
        sys.stdout.flush()
        if not command:
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                return 0
        return subprocess.run(command, env={**os.environ, **found}, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
