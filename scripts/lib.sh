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
