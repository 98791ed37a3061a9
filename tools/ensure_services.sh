#!/usr/bin/env bash
# Starts the machine's PostgreSQL cluster and Redis server when they are not
# answering, so `make test` works alone and in CI. Never installs or configures
# anything: both come with the machine (Debian packages).
set -euo pipefail

ensure_postgres() {
  if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is not installed." >&2
    echo "Start a PostgreSQL server there (trust auth, database 'test'), then re-run." >&2
    return 1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 50); do
    pg_isready -h 127.0.0.1 -p 5432 -q && return 0
    sleep 0.2
  done
  echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
  return 1
}

redis_up() {
  python3 - <<'PY'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
        s.sendall(b"PING\r\n")
        sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

ensure_redis() {
  if redis_up; then
    return 0
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "Redis is not running on 127.0.0.1:6379 and redis-server is not installed." >&2
    return 1
  fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 50); do
    redis_up && return 0
    sleep 0.2
  done
  echo "Redis did not become ready on 127.0.0.1:6379" >&2
  return 1
}

ensure_postgres
ensure_redis
