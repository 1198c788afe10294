#!/usr/bin/env bash
# Starts or stops a private RabbitMQ node on 127.0.0.1 for tests and benchmarks.
#
#   scripts/rabbitmq.sh start   start a node unless one already answers on 127.0.0.1:5672;
#                               installs Debian's rabbitmq-server with apt-get when missing and run as root.
#                               Prints "started" when it started one, "reused" when one was already there.
#   scripts/rabbitmq.sh stop    stop the node this script started (by PID), and nothing else.
#
# State lives in $RABBITMQ_STATE_DIR (default: .tmp/rabbitmq under the repository).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
state=${RABBITMQ_STATE_DIR:-$root/.tmp/rabbitmq-${RABBITMQ_PORT:-5672}}
port=${RABBITMQ_PORT:-5672}
node=rabbit-test-$port@localhost
# Erlang writes a crash dump into the current directory when a CLI call fails; keep it in the state dir.
export ERL_CRASH_DUMP="$state/erl_crash.dump"
bin=/usr/lib/rabbitmq/bin

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
# running NAME: a live (not zombie) process of that name exists.
running() { ps -C "$1" -o stat= 2>/dev/null | grep -qv '^Z'; }

install_broker() {
  if [ -x "$bin/rabbitmq-server" ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "rabbitmq-server is not installed and this is not root: cannot install it" >&2
    return 1
  fi
  echo "installing rabbitmq-server with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq rabbitmq-server >&2
  # Debian's package may start a node of its own; we run our own on a private state dir.
  if command -v service >/dev/null 2>&1; then service rabbitmq-server stop >/dev/null 2>&1 || true; fi
}

start() {
  if answers; then echo reused; return 0; fi
  install_broker
  mkdir -p "$state/mnesia" "$state/log" "$state/home"
  cat > "$state/rabbitmq.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:$port
loopback_users = none
CONF
  export HOME="$state/home"
  export RABBITMQ_MNESIA_BASE="$state/mnesia" RABBITMQ_LOG_BASE="$state/log"
  export RABBITMQ_CONFIG_FILE="$state/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$state/enabled_plugins"
  export RABBITMQ_PID_FILE="$state/rabbit.pid" RABBITMQ_NODENAME=""$node""
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=$((port + 20000))
  echo "[]." > "$state/enabled_plugins"
  epmd_started=0
  if ! running epmd; then epmd_started=1; fi
  nohup "$bin/rabbitmq-server" >"$state/log/stdout.log" 2>&1 &
  echo $! > "$state/wrapper.pid"
  echo $epmd_started > "$state/epmd.started"
  # await_startup fails at once while the node is not up yet, so retry it (bounded).
  ok=0
  for _ in $(seq 1 60); do
    if timeout 30 "$bin/rabbitmqctl" -n "$node" await_startup >/dev/null 2>&1 && answers; then ok=1; break; fi
    sleep 1
  done
  if [ $ok != 1 ]; then
    echo "rabbitmq did not start; log follows" >&2
    tail -30 "$state/log/stdout.log" >&2 || true
    return 1
  fi
  echo started
}

stop() {
  [ -f "$state/wrapper.pid" ] || { echo "nothing to stop"; return 0; }
  export HOME="$state/home"
  local beam
  beam=$(cat "$state/rabbit.pid" 2>/dev/null || true)
  timeout 30 "$bin/rabbitmqctl" -n "$node" stop >/dev/null 2>&1 || true
  kill "$(cat "$state/wrapper.pid")" 2>/dev/null || true
  if [ -n "$beam" ]; then
    kill "$beam" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$beam" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$beam" 2>/dev/null || true
  fi
  # epmd serves every node on the machine: stop it only when we started it and no node is left.
  if [ "$(cat "$state/epmd.started" 2>/dev/null)" = 1 ] && ! running beam.smp; then
    pkill -x epmd 2>/dev/null || true
  fi
  rm -f "$state/wrapper.pid" "$state/rabbit.pid" "$state/epmd.started"
  echo stopped
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  ctl) shift; export HOME="$state/home"; exec "$bin/rabbitmqctl" -n "$node" "$@" ;;
  *) echo "usage: $0 start|stop|ctl ARGS" >&2; exit 2 ;;
esac
