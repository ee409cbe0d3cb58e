#!/usr/bin/env bash
# A real MLflow tracking server for the team-backend tests: PostgreSQL (Debian's package, started here on
# loopback) as the backend store and a local folder as the artifacts destination, served by `mlflow server`
# from the test venv.
#
#   scripts/team-server.sh start DIR   # prints `export MLX_TEST_SERVER_URI=...`; state lives in DIR
#   scripts/team-server.sh stop DIR
set -euo pipefail
cmd="${1:?usage: team-server.sh start|stop DIR}"
dir="${2:?usage: team-server.sh start|stop DIR}"
VENV="${MLX_VENV:-$HOME/.cache/mlx-ci/venv}"
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$pgbin/initdb" ] || { echo "team-server.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }

# PostgreSQL refuses to run as root: run it as the `postgres` user the package creates.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
  rm -rf "$dir"; mkdir -p "$dir/pg" "$dir/artifacts"; chmod 755 "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir/pg"
    runuser -u postgres -- test -x "$dir/pg" || {
      echo "team-server.sh: PostgreSQL runs as user postgres, which cannot reach $dir (make its parents traversable)" >&2
      exit 1
    }
  fi
  as_pg "$pgbin/initdb" -A trust -U postgres -D "$dir/pg/data" >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  pgport="$(free_port)"
  as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w \
    -o "-h 127.0.0.1 -p $pgport -k $dir/pg" start >/dev/null \
    || { cat "$dir/pg/server.log" >&2; exit 1; }
  "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres mlflow
  "$VENV/bin/python" -c 'import psycopg2' 2>/dev/null || "$VENV/bin/pip" install -q psycopg2-binary
  port="$(free_port)"
  echo "$pgport" >"$dir/pgport"
  # Its own session, so `stop` can end the server with every worker and job runner it forks.
  MLFLOW_ALLOW_FILE_STORE=true setsid "$VENV/bin/mlflow" server \
    --backend-store-uri "postgresql+psycopg2://postgres@127.0.0.1:$pgport/mlflow" \
    --artifacts-destination "$dir/artifacts" \
    --host 127.0.0.1 --port "$port" --workers 2 >"$dir/mlflow.log" 2>&1 &
  echo $! >"$dir/mlflow.pid"
  for _ in $(seq 1 240); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
      echo "export MLX_TEST_SERVER_URI=http://127.0.0.1:$port"
      exit 0
    fi
    kill -0 "$(cat "$dir/mlflow.pid")" 2>/dev/null || break
    sleep 0.5
  done
  echo "team-server.sh: mlflow server did not come up; its log:" >&2
  tail -40 "$dir/mlflow.log" >&2
  exit 1
  ;;
stop)
  if [ -f "$dir/mlflow.pid" ]; then
    pid="$(cat "$dir/mlflow.pid")"
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      pgrep -g "$pid" >/dev/null 2>&1 || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  [ -d "$dir/pg/data" ] && as_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: team-server.sh start|stop DIR" >&2; exit 2 ;;
esac
