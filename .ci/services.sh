#!/usr/bin/env bash
# Runs a command with DATABASE_URL and REDIS_URL pointing at real PostgreSQL and Redis:
#   1. the ones given in DATABASE_URL / REDIS_URL, else
#   2. servers already on localhost (PostgreSQL 5432 with trust auth for "postgres", Redis 6379), else
#   3. throwaway private ones started here and stopped on exit.
# SCRM_TEST_SERVICES=throwaway forces 3. initdb refuses to run as root, so the throwaway cluster
# runs as an unprivileged user.
set -euo pipefail

mode="${SCRM_TEST_SERVICES:-auto}"
tmp=""
pg_bin=""
pg_user=""

log() { echo "[services] $*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  log "installing $*"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

redis_ping() { # host port
  (exec 3<>"/dev/tcp/$1/$2" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3 | grep -q PONG) 2>/dev/null
}

find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null && { dirname "$(readlink -f "$(command -v initdb)")"; return 0; }
  return 1
}

cleanup() {
  local rc=$?
  if [ -n "$tmp" ]; then
    if [ -n "$pg_bin" ] && [ -f "$tmp/pg/postmaster.pid" ]; then
      run_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ -f "$tmp/redis.pid" ]; then kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true; fi
    rm -rf "$tmp"
  fi
  exit $rc
}
trap cleanup EXIT INT TERM

run_pg() {
  if [ -n "$pg_user" ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi
}

start_postgres() {
  pg_bin="$(find_pg_bin)" || { apt_install postgresql; pg_bin="$(find_pg_bin)"; }
  if [ "$(id -u)" = 0 ]; then
    pg_user=scrmtest
    id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
    chown "$pg_user" "$tmp"
  fi
  local port; port="$(free_port)"
  mkdir -p "$tmp/pg" && [ -z "$pg_user" ] || chown "$pg_user" "$tmp/pg"
  run_pg "$pg_bin/initdb" -D "$tmp/pg" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  run_pg "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pg.log" -w -t 60 \
    -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/scrm"
  log "throwaway PostgreSQL on 127.0.0.1:$port"
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  local port; port="$(free_port)"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --pidfile "$tmp/redis.pid" --dir "$tmp" --logfile "$tmp/redis.log" >/dev/null
  for _ in $(seq 50); do redis_ping 127.0.0.1 "$port" && break; sleep 0.1; done
  export REDIS_URL="redis://127.0.0.1:$port/0"
  log "throwaway Redis on 127.0.0.1:$port"
}

local_postgres_ok() {
  command -v psql >/dev/null && psql "postgres://postgres@127.0.0.1:5432/postgres" -Atqc 'select 1' >/dev/null 2>&1
}

if [ "$mode" = throwaway ]; then
  unset DATABASE_URL REDIS_URL
fi
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  tmp="$(mktemp -d /tmp/scrm-services.XXXXXX)"
  chmod 755 "$tmp"
fi
if [ -z "${DATABASE_URL:-}" ]; then
  if [ "$mode" != throwaway ] && local_postgres_ok; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/scrm"
    log "PostgreSQL on localhost:5432"
  else
    start_postgres
  fi
else
  log "PostgreSQL from DATABASE_URL"
fi
if [ -z "${REDIS_URL:-}" ]; then
  if [ "$mode" != throwaway ] && redis_ping 127.0.0.1 6379; then
    # A database of its own: the suite flushes its cache between tests.
    export REDIS_URL="redis://127.0.0.1:6379/13"
    log "Redis on localhost:6379 (db 13)"
  else
    start_redis
  fi
else
  log "Redis from REDIS_URL"
fi

"$@"
