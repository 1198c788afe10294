#!/usr/bin/env bash
# Starts and stops private RabbitMQ nodes on 127.0.0.1 for tests and benchmarks: one node, or a cluster of
# three. Everything listens on loopback only: AMQP on the node's port, the Erlang distribution on that port
# + 20000, and an epmd of the script's own on that port - 1000 (never the machine's shared 4369). The script
# ends only processes it started, by PID checked against the start time it recorded, never by name.
#
#   scripts/rabbitmq.sh start        start a node on 127.0.0.1:$RABBITMQ_PORT unless one already answers
#                                    there; installs Debian's rabbitmq-server with apt-get when missing and
#                                    run as root (and ends whatever the package's install started).
#                                    Prints "started" when it started one, "reused" when one was there.
#   scripts/rabbitmq.sh stop         stop that node and its epmd, if this script started them.
#   scripts/rabbitmq.sh ctl ARGS     rabbitmqctl ARGS against that node.
#
#   scripts/rabbitmq.sh cluster start       start three nodes on $RABBITMQ_CLUSTER_PORT, +1 and +2, from
#                                           empty state, join them, and wait until all three run in one
#                                           cluster. Prints "started", or "reused" when it already runs.
#   scripts/rabbitmq.sh cluster stop        stop the three nodes and their epmd.
#   scripts/rabbitmq.sh cluster urls        print each node's AMQP URL, one a line, node 1 first.
#   scripts/rabbitmq.sh cluster kill N      SIGKILL node N's Erlang VM (N is 1, 2 or 3).
#   scripts/rabbitmq.sh cluster revive N    start node N again and wait until it has rejoined the cluster.
#   scripts/rabbitmq.sh cluster ctl N ARGS  rabbitmqctl ARGS against node N.
#
# Environment: RABBITMQ_PORT (default 5672), RABBITMQ_STATE_DIR (default .tmp/rabbitmq-$RABBITMQ_PORT),
# RABBITMQ_CLUSTER_PORT (default 5701), RABBITMQ_CLUSTER_STATE_DIR (default
# .tmp/rabbitmq-cluster-$RABBITMQ_CLUSTER_PORT). Logs stay in the state dirs after a stop.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=/usr/lib/rabbitmq/bin
port=${RABBITMQ_PORT:-5672}
state=${RABBITMQ_STATE_DIR:-$root/.tmp/rabbitmq-$port}
cport=${RABBITMQ_CLUSTER_PORT:-5701}
cstate=${RABBITMQ_CLUSTER_STATE_DIR:-$root/.tmp/rabbitmq-cluster-$cport}
# Binds the node's and the CLI's Erlang distribution listener to loopback.
loopback_dist="-kernel inet_dist_use_interface {127,0,0,1}"

fail() { echo "rabbitmq.sh: $*" >&2; return 1; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# proc_stat PID: the process's state and start time (clock ticks since boot); fails when there is none.
proc_stat() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # shellcheck disable=SC2086 # split the fields after "(comm) "
  set -- ${stat##*) }
  echo "$1 ${20}"
}
# alive PID [START]: the process runs (is no zombie), and started at START when given.
alive() {
  local st
  st=$(proc_stat "$1") || return 1
  [ "${st% *}" != Z ] && { [ -z "${2:-}" ] || [ "${st#* }" = "$2" ]; }
}
# record PID FILE: remember a process this script started, with its start time.
record() {
  local st
  st=$(proc_stat "$1") || fail "process $1 ended at once" || return 1
  echo "$1 ${st#* }" >"$2"
}
# recorded FILE: the PID in FILE, when that very process still runs.
recorded() {
  local pid start
  [ -f "$1" ] && read -r pid start <"$1" && [ -n "${start:-}" ] && alive "$pid" "$start" && echo "$pid"
}
# tree FILE: "PID START" of the process FILE recorded and of all its descendants (erl_child_setup, the disk
# monitor's shell, inet_gethost: Erlang starts them in sessions of their own). Nothing when it is gone.
tree() {
  local top
  top=$(recorded "$1") || return 0
  ps -eo pid=,ppid= | awk -v top="$top" '
    { parent[$1] = $2 }
    END { for (p in parent) { q = p; while (q in parent && q != top) q = parent[q]; if (q == top) print p } }' |
    while read -r pid; do
      if st=$(proc_stat "$pid"); then echo "$pid ${st#* }"; fi
    done
}
# still LIST: the PIDs of LIST ("PID START" lines) whose very process still runs.
still() {
  local pid start
  while read -r pid start; do
    if [ -n "$pid" ] && alive "$pid" "$start"; then echo "$pid"; fi
  done <<<"$1"
}
# end PID...: SIGTERM, up to 60 s to go, then SIGKILL.
end() {
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local p left
  for _ in $(seq 300); do
    left=
    for p; do if alive "$p"; then left="$left $p"; fi; done
    [ -n "$left" ] || return 0
    sleep 0.2
  done
  # shellcheck disable=SC2086
  kill -KILL $left 2>/dev/null || true
}

# ---- the package ----

installed() { [ -x "$bin/rabbitmq-server" ]; }
install_package() {
  echo "installing rabbitmq-server with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >&2
}
# service_procs: "PID START" of each process of the package's service user.
service_procs() {
  local pid st
  for pid in $(ps -u rabbitmq -o pid= 2>/dev/null || true); do
    if st=$(proc_stat "$pid"); then echo "$pid ${st#* }"; fi
  done
}
# install_broker installs the package when missing. Its install may start a broker and an epmd of its own
# on every interface (the init script or systemd unit, or a rabbitmqctl call spawning epmd); those are the
# install's doing, so they are stopped here: the units it activated, and the processes of the package's
# user that were not there before it.
install_broker() {
  if installed; then return 0; fi
  [ "$(id -u)" = 0 ] || fail "rabbitmq-server is not installed and this is not root: cannot install it" || return 1
  local before units=() u pid start new=()
  before=$(service_procs)
  if [ "$(ps -o comm= -p 1)" = systemd ]; then
    for u in rabbitmq-server.service epmd.service epmd.socket; do
      systemctl -q is-active "$u" || units+=("$u")
    done
  fi
  install_package
  for u in ${units[@]+"${units[@]}"}; do
    if systemctl -q is-active "$u"; then systemctl stop "$u" >&2; fi
  done
  while read -r pid start; do
    [ -n "$pid" ] || continue
    grep -qx "$pid $start" <<<"$before" || new+=("$pid")
  done < <(service_procs)
  if [ ${#new[@]} -gt 0 ]; then
    echo "ending what the package's install started: pids ${new[*]}" >&2
    end "${new[@]}"
  fi
}

# ---- one node: n_dir, n_port, n_name, n_home, epmd_dir and epmd_port describe it ----

single_node() {
  n_dir=$state n_port=$port n_name=rabbit-test-$port@localhost n_home=$state/home epmd_dir=$state
  epmd_port=$((port - 1000))
  if [ -f "$state/epmd.port" ]; then epmd_port=$(cat "$state/epmd.port")
  elif [ -f "$state/wrapper.pid" ]; then epmd_port=4369 # a node started by this script's earlier version
  fi
}
cluster_node() {
  case "${1:-}" in 1 | 2 | 3) ;; *) fail "cluster node must be 1, 2 or 3, not '${1:-}'" || return 1 ;; esac
  n_port=$((cport + $1 - 1))
  n_dir=$cstate/node-$n_port n_name=rabbit-cluster-$n_port@localhost n_home=$cstate/home epmd_dir=$cstate
  epmd_port=$((cport - 1000))
}
# node_env: the environment of the node, and of a CLI talking to it.
node_env() {
  export HOME=$n_home ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1 ERL_CRASH_DUMP=$n_dir/erl_crash.dump
  export RABBITMQ_NODENAME=$n_name RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$n_port
  export RABBITMQ_DIST_PORT=$((n_port + 20000))
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=$loopback_dist RABBITMQ_CTL_ERL_ARGS=$loopback_dist
  export RABBITMQ_MNESIA_BASE=$n_dir/mnesia RABBITMQ_LOG_BASE=$n_dir/log RABBITMQ_CONFIG_FILE=$n_dir/rabbitmq
  export RABBITMQ_ENABLED_PLUGINS_FILE=$n_dir/enabled_plugins RABBITMQ_PID_FILE=$n_dir/rabbit.pid
}
# ctl ARGS: rabbitmqctl against the node. Refused unless the node's epmd runs: the CLI would start one
# (`epmd -daemon`) that nobody stops.
ctl() {
  if [ "$epmd_port" != 4369 ] && ! recorded "$epmd_dir/epmd.proc" >/dev/null; then
    fail "no node of this script runs for $n_name (its epmd on port $epmd_port is not running)" || return 1
  fi
  (node_env && exec timeout 120 "$bin/rabbitmqctl" -n "$n_name" "$@")
}

# epmd_start starts the node's own epmd on loopback and waits until that very process listens.
epmd_start() {
  mkdir -p "$epmd_dir"
  (cd "$epmd_dir" && exec setsid epmd -address 127.0.0.1 -port "$epmd_port" >>"$epmd_dir/epmd.log" 2>&1 </dev/null) &
  local pid=$!
  record "$pid" "$epmd_dir/epmd.proc"
  echo "$epmd_port" >"$epmd_dir/epmd.port"
  for _ in $(seq 100); do
    if ss -ltnpH "sport = :$epmd_port" | grep -q "pid=$pid,"; then return 0; fi
    alive "$pid" || break
    sleep 0.1
  done
  fail "epmd did not listen on 127.0.0.1:$epmd_port (port taken?): $(tail -3 "$epmd_dir/epmd.log")"
}
epmd_stop() {
  local pid
  if pid=$(recorded "$epmd_dir/epmd.proc"); then end "$pid"; fi
  rm -f "$epmd_dir/epmd.proc"
}

# node_launch starts the node detached from the caller's terminal and process group (its own session): it
# lives until stop, whatever happens to the shell that started it.
node_launch() {
  mkdir -p "$n_dir/mnesia" "$n_dir/log" "$n_home"
  printf 'listeners.tcp.1 = 127.0.0.1:%s\nloopback_users = none\n' "$n_port" >"$n_dir/rabbitmq.conf"
  echo "[]." >"$n_dir/enabled_plugins"
  rm -f "$n_dir/rabbit.pid" "$n_dir/beam.proc"
  (node_env && cd "$n_dir" && exec setsid "$bin/rabbitmq-server" >>"$n_dir/log/stdout.log" 2>&1 </dev/null) &
  record $! "$n_dir/wrapper.proc"
}
# node_await waits (bounded) until the node's AMQP port answers and the broker reports it started, then
# records its Erlang VM.
node_await() {
  for _ in $(seq 120); do
    if ! recorded "$n_dir/wrapper.proc" >/dev/null; then break; fi
    if answers "$n_port" && ctl -q await_startup --timeout 10 >/dev/null 2>&1 && [ -s "$n_dir/rabbit.pid" ]; then
      record "$(cat "$n_dir/rabbit.pid")" "$n_dir/beam.proc"
      return 0
    fi
    sleep 1
  done
  echo "rabbitmq node $n_name did not start; log follows" >&2
  tail -30 "$n_dir/log/stdout.log" >&2 || true
  return 1
}
# node_end stops the node's Erlang VM and wrapper (SIGTERM: RabbitMQ shuts down cleanly), then whatever
# is left of their descendants.
node_end() {
  local procs
  procs=$(tree "$n_dir/wrapper.proc")
  # shellcheck disable=SC2046
  end $(recorded "$n_dir/beam.proc" || true) $(recorded "$n_dir/wrapper.proc" || true)
  # shellcheck disable=SC2046
  end $(still "$procs")
  rm -f "$n_dir/wrapper.proc" "$n_dir/beam.proc" "$n_dir/rabbit.pid"
}

# ---- the single node ----

start() {
  single_node
  if answers "$port"; then echo reused; return 0; fi
  install_broker
  mkdir -p "$state"
  rm -f "$state/wrapper.pid" "$state/epmd.started"
  if ! recorded "$state/epmd.proc" >/dev/null; then epmd_start; fi
  node_launch
  if ! node_await; then node_end; epmd_stop; return 1; fi
  echo started
}

stop() {
  single_node
  if [ -f "$state/wrapper.pid" ]; then legacy_stop; return 0; fi
  if [ ! -f "$state/wrapper.proc" ] && [ ! -f "$state/epmd.proc" ]; then echo "nothing to stop"; return 0; fi
  node_end
  epmd_stop
  echo stopped
}

# legacy_stop stops a node that this script's earlier version started (it recorded bare PIDs and shared
# the machine's epmd, which is left alone).
legacy_stop() {
  local f pid pids=
  for f in "$state/rabbit.pid" "$state/wrapper.pid"; do # rabbit.pid has no final newline
    pid=$(cat "$f" 2>/dev/null || true)
    if [ -n "$pid" ] && alive "$pid"; then pids="$pids $pid"; fi
  done
  # shellcheck disable=SC2086
  end $pids
  rm -f "$state/wrapper.pid" "$state/rabbit.pid" "$state/epmd.started"
  echo stopped
}

# ---- the cluster ----

cluster_running() {
  local i
  for i in 1 2 3; do cluster_node "$i"; recorded "$n_dir/beam.proc" >/dev/null || return 1; done
}
# cluster_members N: the node names that node N reports running in its cluster, one a line.
cluster_members() {
  cluster_node "$1"
  ctl -q cluster_status --formatter json 2>/dev/null |
    sed -n 's/.*"running_nodes":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' | tr -d '"' | sort
}
# cluster_await N NAME...: waits (bounded) until node N reports exactly the nodes NAME... running.
cluster_await() {
  local n=$1 want
  shift
  want=$(printf '%s\n' "$@" | sort)
  for _ in $(seq 60); do
    if [ "$(cluster_members "$n")" = "$want" ]; then return 0; fi
    sleep 1
  done
  fail "node $n reports running: $(cluster_members "$n" | tr '\n' ' '), not: $*"
}
# cluster_live: the names of the cluster's nodes whose Erlang VM this script sees running.
cluster_live() {
  local i
  for i in 1 2 3; do cluster_node "$i"; if recorded "$n_dir/beam.proc" >/dev/null; then echo "$n_name"; fi; done
}

cluster_start() {
  local i
  if cluster_running; then echo reused; return 0; fi
  for i in 1 2 3; do
    cluster_node "$i"
    if answers "$n_port" && ! recorded "$n_dir/beam.proc" >/dev/null; then
      fail "127.0.0.1:$n_port answers, but not a node of this script's cluster" || return 1
    fi
  done
  install_broker
  cluster_end # what is left of an earlier, partial start
  rm -rf "${cstate:?}"/node-* "${cstate:?}/home" "${cstate:?}/join.log"
  mkdir -p "$cstate/home"
  # All three nodes share one Erlang cookie; written before they start so that none writes its own.
  (umask 077 && head -c 30 /dev/urandom | base64 | tr -dc A-Za-z0-9 >"$cstate/home/.erlang.cookie")
  chmod 400 "$cstate/home/.erlang.cookie"
  cluster_node 1
  epmd_start
  for i in 1 2 3; do cluster_node "$i"; node_launch; done
  for i in 1 2 3; do cluster_node "$i"; node_await || { cluster_end; return 1; }; done
  local first=rabbit-cluster-$cport@localhost
  for i in 2 3; do
    cluster_node "$i"
    if ! { ctl -q stop_app && ctl -q join_cluster "$first" && ctl -q start_app; } >>"$cstate/join.log" 2>&1; then
      cluster_end
      fail "node $i could not join $first: $(tail -n 20 "$cstate/join.log")" || return 1
    fi
  done
  cluster_await 1 "rabbit-cluster-$cport@localhost" "rabbit-cluster-$((cport + 1))@localhost" \
    "rabbit-cluster-$((cport + 2))@localhost" || { cluster_end; return 1; }
  echo started
}

# cluster_end stops every node of the cluster and its epmd, all at once.
cluster_end() {
  local i pids=
  for i in 1 2 3; do
    cluster_node "$i"
    pids="$pids $(recorded "$n_dir/beam.proc" || true) $(recorded "$n_dir/wrapper.proc" || true)"
  done
  # shellcheck disable=SC2086
  end $pids
  for i in 1 2 3; do cluster_node "$i"; node_end; done
  epmd_stop
}

cluster_kill() {
  local beam procs
  cluster_node "$1"
  beam=$(recorded "$n_dir/beam.proc") || fail "node $1 ($n_name) is not running" || return 1
  procs=$(tree "$n_dir/wrapper.proc")
  kill -KILL "$beam"
  for _ in $(seq 100); do alive "$beam" || break; sleep 0.1; done
  ! alive "$beam" || fail "node $1's Erlang VM (pid $beam) survived SIGKILL" || return 1
  # Its wrapper and helpers end once the VM is gone; end what has not after a few seconds.
  for _ in $(seq 50); do [ -n "$(still "$procs")" ] || break; sleep 0.1; done
  # shellcheck disable=SC2046
  end $(still "$procs")
  rm -f "$n_dir/beam.proc"
  echo "killed $n_name (pid $beam)"
}

cluster_revive() {
  local i other
  cluster_node "$1"
  ! recorded "$n_dir/beam.proc" >/dev/null || fail "node $1 ($n_name) is running" || return 1
  recorded "$epmd_dir/epmd.proc" >/dev/null || fail "the cluster is not running (no epmd): cluster start" || return 1
  node_end # its wrapper, if it has not ended by itself yet
  node_launch
  node_await || return 1
  # Rejoined: a node that stayed up reports it running, with every other live node.
  other=$1
  for i in 1 2 3; do cluster_node "$i"; if [ "$i" != "$1" ] && recorded "$n_dir/beam.proc" >/dev/null; then other=$i; fi; done
  # shellcheck disable=SC2046
  cluster_await "$other" $(cluster_live)
  cluster_node "$1"
  echo "revived $n_name"
}

cluster() {
  local i
  case "${1:-}" in
    start) cluster_start ;;
    stop)
      if ! compgen -G "$cstate/epmd.proc" >/dev/null && ! compgen -G "$cstate/node-*/wrapper.proc" >/dev/null; then
        echo "nothing to stop"
        return 0
      fi
      cluster_end
      echo stopped
      ;;
    urls) for i in 1 2 3; do echo "amqp://guest:guest@127.0.0.1:$((cport + i - 1))/"; done ;;
    kill) cluster_kill "${2:-}" ;;
    revive) cluster_revive "${2:-}" ;;
    ctl) cluster_node "${2:-}"; shift 2; ctl "$@" ;;
    *) fail "usage: $0 cluster start|stop|urls|kill N|revive N|ctl N ARGS" ;;
  esac
}

main() {
  case "${1:-}" in
    start) start ;;
    stop) stop ;;
    ctl) shift; single_node; ctl "$@" ;;
    cluster) shift; cluster "$@" ;;
    *) fail "usage: $0 start|stop|ctl ARGS|cluster ..." ;;
  esac
}

# Sourced (by its test), the script only defines its functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
