# Shared by scripts/run, scripts/test and .ci/run: make sure a local Postgres is up.
# Natter needs PostgreSQL (15 is what it is developed on) at 127.0.0.1:5432 with trust auth,
# unless DATABASE_URL points somewhere else.

pg_ready() {
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null
}

ensure_postgres() {
  if [[ -n "${DATABASE_URL:-}" && "$DATABASE_URL" != *"@127.0.0.1:5432"* && "$DATABASE_URL" != *"@localhost:5432"* ]]; then
    return 0 # someone else's server: not ours to start
  fi
  if pg_ready; then
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "PostgreSQL is not installed; installing it (Debian's postgresql package)..." >&2
    apt-get install -y postgresql >/dev/null || { apt-get update >/dev/null && apt-get install -y postgresql >/dev/null; }
  fi
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)"
  if [[ -z "$version" ]]; then
    echo "error: no PostgreSQL cluster found under /etc/postgresql; start a server on 127.0.0.1:5432 or set DATABASE_URL" >&2
    return 1
  fi
  echo "Starting PostgreSQL $version..." >&2
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    pg_ready && return 0
    sleep 1
  done
  echo "error: PostgreSQL did not come up on 127.0.0.1:5432" >&2
  return 1
}

redis_ready() {
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1
}

# The tests of many nodes use Redis at 127.0.0.1:6379 (or REDIS_URL), and run a Redis of their
# own for the outage test, so redis-server must be installed.
ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "Redis is not installed; installing it (Debian's redis-server package)..." >&2
    apt-get install -y redis-server >/dev/null || { apt-get update >/dev/null && apt-get install -y redis-server >/dev/null; }
  fi
  if [[ -n "${REDIS_URL:-}" && "$REDIS_URL" != *"127.0.0.1:6379"* && "$REDIS_URL" != *"localhost:6379"* ]]; then
    return 0
  fi
  if redis_ready; then
    return 0
  fi
  echo "Starting Redis on 127.0.0.1:6379..." >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  for _ in $(seq 1 20); do
    redis_ready && return 0
    sleep 0.5
  done
  echo "error: Redis did not come up on 127.0.0.1:6379" >&2
  return 1
}
