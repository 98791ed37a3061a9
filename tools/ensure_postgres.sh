#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster when it is not accepting connections,
# so `make test` works alone and in CI. Never installs or configures anything.
set -euo pipefail
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  exit 0
fi
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is not installed." >&2
  echo "Start a PostgreSQL server there (trust auth, database 'test'), then re-run." >&2
  exit 1
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
pg_ctlcluster --skip-systemctl-redirect "$version" main start
for _ in $(seq 1 50); do
  pg_isready -h 127.0.0.1 -p 5432 -q && exit 0
  sleep 0.2
done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1
