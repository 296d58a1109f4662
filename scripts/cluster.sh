#!/usr/bin/env bash
# A one-machine stand-in for a real cluster: a Dask scheduler, two single-threaded Dask
# workers and a light MLflow tracking server, all on 127.0.0.1.
#
#   scripts/cluster.sh up      start them (idempotent: refuses if already up)
#   scripts/cluster.sh down    stop them (only the processes this script started)
#   scripts/cluster.sh status  show what is running
#
# Then: DASK_SCHEDULER_ADDRESS=tcp://127.0.0.1:8786 MLFLOW_TRACKING_URI=http://127.0.0.1:5001 \
#       python -m studies run NAME --quick --executor dask
#
# Settings (environment): DASK_PORT (8786), MLFLOW_PORT (5001; 5000 is `make mlflow-ui`),
# N_WORKERS (2),
# CLUSTER_DIR (.cluster: pids, logs, the server's SQLite store and artifacts), VENV_BIN.
#
# The MLflow server runs with one web worker and no job runner
# (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false): 2 processes, ~0.5 GiB, ~2 ms per request,
# instead of 15 processes and ~3 GiB for the defaults. Only the study driver talks to it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${VENV_BIN:-$REPO/.venv/bin}"
DIR="${CLUSTER_DIR:-$REPO/.cluster}"
DASK_PORT="${DASK_PORT:-8786}"
MLFLOW_PORT="${MLFLOW_PORT:-5001}"
N_WORKERS="${N_WORKERS:-2}"
SCHEDULER="tcp://127.0.0.1:$DASK_PORT"
TRACKING="http://127.0.0.1:$MLFLOW_PORT"

start() {  # start NAME COMMAND...: run in its own session, remember its pid
    local name="$1"
    shift
    setsid "$@" >"$DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$DIR/$name.pid"
}

alive() {
    [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null
}

names() {
    echo scheduler
    for i in $(seq 1 "$N_WORKERS"); do echo "worker-$i"; done
    echo mlflow
}

up() {
    mkdir -p "$DIR/mlartifacts"
    for name in $(names); do
        if alive "$name"; then
            echo "$name is already running (pid $(cat "$DIR/$name.pid")); run '$0 down' first" >&2
            exit 1
        fi
    done
    # One rerun of a trial whose worker died, then it is reported failed (see studies.executors).
    DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1 start scheduler \
        "$BIN/dask" scheduler --host 127.0.0.1 --port "$DASK_PORT" --no-dashboard
    for i in $(seq 1 "$N_WORKERS"); do
        # Workers import the trial functions (studies, dlkit) from this checkout; one thread
        # each, and one BLAS thread, so N workers use N cores.
        PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
            MKL_NUM_THREADS=1 start "worker-$i" \
            "$BIN/dask" worker "$SCHEDULER" --host 127.0.0.1 --nworkers 1 --nthreads 1 \
            --name "worker-$i" --no-dashboard
    done
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true start mlflow \
        "$BIN/mlflow" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 1 \
        --backend-store-uri "sqlite:///$DIR/mlflow-server.db" \
        --serve-artifacts --artifacts-destination "$DIR/mlartifacts"
    "$BIN/python" - "$SCHEDULER" "$N_WORKERS" "$TRACKING" <<'EOF'
import sys
import time
from urllib.request import urlopen

from distributed import Client

scheduler, n_workers, tracking = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with Client(scheduler, timeout=30) as client:
    client.wait_for_workers(n_workers, timeout=60)
deadline = time.monotonic() + 120
while True:
    try:
        with urlopen(f"{tracking}/health", timeout=2):
            break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"the MLflow server at {tracking} did not start; see its log")
        time.sleep(0.5)
EOF
    echo "Dask scheduler: $SCHEDULER ($N_WORKERS workers); MLflow: $TRACKING"
    echo "export DASK_SCHEDULER_ADDRESS=$SCHEDULER MLFLOW_TRACKING_URI=$TRACKING"
}

down() {
    local name pid
    for name in $(names); do
        [[ -f "$DIR/$name.pid" ]] || continue
        pid="$(cat "$DIR/$name.pid")"
        # Each service leads its own session (setsid): end its whole process group (the
        # MLflow server's web worker, a Dask worker's nanny child) and nothing else.
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$DIR/$name.pid"
        echo "stopped $name (pid $pid)"
    done
}

status() {
    local name
    for name in $(names); do
        if alive "$name"; then
            echo "$name: running (pid $(cat "$DIR/$name.pid"), log $DIR/$name.log)"
        else
            echo "$name: stopped"
        fi
    done
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
