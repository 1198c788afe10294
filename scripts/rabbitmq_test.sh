#!/usr/bin/env bash
# shellcheck source=scripts/rabbitmq.sh # (this test sources the script for its functions)
# Tests scripts/rabbitmq.sh on real nodes, with another broker running beside it that this test starts
# itself (127.0.0.1:5690, with the epmd RabbitMQ spawns for it on 127.0.0.1:4690), and `ss -ltnp` taken
# before, during and after. It checks that everything the script starts listens on loopback only, that
# its stop leaves no listener and no process of its own, that the other broker and its epmd still answer,
# and that the package install's own processes are ended while others are not (a simulated install).
# RABBITMQ_CLUSTER_TEST=1 also tests `cluster`: start, a quorum queue with all three nodes as members,
# SIGKILL of a node and its rejoining, stop; and says how long each took.
# Needs rabbitmq-server installed (scripts/rabbitmq.sh start installs it as root).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
script=scripts/rabbitmq.sh
tmp=.tmp
if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  echo "== SKIPPED: scripts/rabbitmq_test.sh (rabbitmq-server is not installed)"
  exit 0
fi

failures=0
ok() { echo "ok   - $*"; }
not_ok() { echo "FAIL - $*"; failures=$((failures + 1)); }
# check DESCRIPTION COMMAND...: runs the command and reports it.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
listeners() { ss -ltnpH; }
# on_ports LISTENERS PORT...: the listeners on those local ports.
on_ports() {
  local lines=$1 port
  shift
  for port; do awk -v p="$port" '{ n = split($4, a, ":"); if (a[n] == p) print }' <<<"$lines"; done
}
# of_pids LISTENERS PID...: the listeners owned by those processes.
of_pids() {
  local lines=$1 pid
  shift
  for pid; do grep -F "pid=$pid," <<<"$lines" || true; done
}
# non_loopback LISTENERS: the listeners whose local address is not a loopback address.
non_loopback() { awk '$4 !~ /^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$/' <<<"$1"; }
none() { [ -z "$(tr -d '[:space:]' <<<"$1")" ]; }
# alive_of PROCS: the processes of PROCS ("PID START" lines, from the script's `tree`) that still run.
alive_of() { (source "$script" && still "$1"); }
# procs_single PORT STATE: the processes of the script's single node (wrapper, VM, helpers) and its epmd.
procs_single() {
  (export RABBITMQ_PORT=$1 RABBITMQ_STATE_DIR=$2 && source "$script" && single_node &&
    tree "$state/wrapper.proc" && tree "$state/epmd.proc")
}
procs_cluster() {
  (export RABBITMQ_CLUSTER_PORT=$1 RABBITMQ_CLUSTER_STATE_DIR=$2 && source "$script" &&
    for i in 1 2 3; do cluster_node "$i" && tree "$n_dir/wrapper.proc"; done && tree "$cstate/epmd.proc")
}
pids_of() { awk '{ print $1 }' <<<"$1"; }
# loopback_only WHAT LISTENERS PORT...: each port has a listener, and every listener is on loopback.
loopback_only() {
  local what=$1 lines=$2 port
  shift 2
  for port; do
    if none "$(on_ports "$lines" "$port")"; then not_ok "$what: something listens on port $port"; return; fi
  done
  if none "$(non_loopback "$lines")"; then
    ok "$what: $(wc -l <<<"$lines") listeners, all on loopback (ports $*)"
  else
    not_ok "$what: listens beyond loopback:"
    non_loopback "$lines" | sed 's/^/       /'
  fi
}
# gone WHAT PROCS LISTENERS PORT...: none of the processes runs, nothing listens on the ports or by them.
gone() {
  local what=$1 list=$2 lines=$3
  shift 3
  local left
  # shellcheck disable=SC2046
  left="$(on_ports "$lines" "$@")$(of_pids "$lines" $(pids_of "$list"))"
  if none "$left"; then ok "$what: no listener left on ports $*"; else not_ok "$what: listeners left: $left"; fi
  left=$(alive_of "$list")
  if none "$left"; then
    ok "$what: none of its $(wc -l <<<"$list") processes is left"
  else
    not_ok "$what: processes left: $(tr '\n' ' ' <<<"$left")"
  fi
}

# ---- the other broker, started by this test beside the script's ----

side_port=5690 side_epmd=4690 side_dir=$tmp/rabbitmq-side-5690 side_started=0
# side COMMAND...: runs one of the script's functions on the other broker's node.
side_vars() {
  n_dir=$PWD/$side_dir n_port=$side_port n_name=rabbit-side-$side_port@localhost n_home=$PWD/$side_dir/home
  epmd_dir=$PWD/$side_dir epmd_port=$side_epmd
}
side() { (source "$script" && side_vars && "$@"); }
# side_ctl ARGS: rabbitmqctl against the other broker (the script's ctl serves only nodes with its own epmd).
side_ctl() { (source "$script" && side_vars && node_env && exec timeout 60 "$bin/rabbitmqctl" -n "$n_name" "$@"); }
side_await() {
  for _ in $(seq 120); do
    if answers "$side_port" && side_ctl -q await_startup --timeout 10 >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "the other broker did not start: $(tail -n 20 "$side_dir/log/stdout.log")"
  return 1
}
side_answers() {
  answers "$side_port" &&
    epmd -port "$side_epmd" -names 2>/dev/null | grep -q "^name rabbit-side-$side_port at port" &&
    side_ctl -q status >/dev/null 2>&1
}
side_stop() {
  side node_end
  # RabbitMQ started that epmd (`epmd -daemon`) for the side broker; -kill ends it once no node is left.
  epmd -port "$side_epmd" -kill >/dev/null 2>&1 || true
}

test_node_port=5691 test_node_state=$PWD/$tmp/rabbitmq-test-5691
cluster_port=5701 cluster_state=$PWD/$tmp/rabbitmq-test-cluster-5701
single() { RABBITMQ_PORT=$test_node_port RABBITMQ_STATE_DIR=$test_node_state "$script" "$@"; }
cluster() { RABBITMQ_CLUSTER_PORT=$cluster_port RABBITMQ_CLUSTER_STATE_DIR=$cluster_state "$script" cluster "$@"; }
cleanup() {
  single stop >/dev/null 2>&1 || true
  cluster stop >/dev/null 2>&1 || true
  if [ "$side_started" = 1 ]; then side_stop; fi
}
trap cleanup EXIT

ports="$side_port $((side_port + 20000)) $side_epmd $test_node_port $((test_node_port + 20000)) $((test_node_port - 1000)) 4692"
if [ "${RABBITMQ_CLUSTER_TEST:-}" = 1 ]; then
  for i in 0 1 2; do ports="$ports $((cluster_port + i)) $((cluster_port + i + 20000))"; done
  ports="$ports $((cluster_port - 1000))"
fi
before=$(listeners)
# shellcheck disable=SC2086
taken=$(on_ports "$before" $ports)
if ! none "$taken"; then
  echo "FAIL - ports this test needs are taken (an earlier run's broker?):"
  echo "$taken"
  exit 1
fi

echo "-- the other broker on 127.0.0.1:$side_port"
mkdir -p "$side_dir"
side node_launch
side_started=1
side_await
check "the other broker answers (AMQP, its epmd, rabbitmqctl)" side_answers

echo "-- the package install's processes (simulated: the install leaves an epmd of the rabbitmq user)"
if [ "$(id -u)" = 0 ] && getent passwd rabbitmq >/dev/null; then
  service_before=$(source "$script" && service_procs)
  if out=$(
    source "$script"
    # shellcheck disable=SC2317 # called by install_broker
    installed() { return 1; }
    # shellcheck disable=SC2317
    install_package() {
      runuser -u rabbitmq -- env ERL_EPMD_PORT=4692 ERL_EPMD_ADDRESS=127.0.0.1 epmd -daemon
      for _ in $(seq 50); do epmd -port 4692 -names >/dev/null 2>&1 && return 0; sleep 0.1; done
      echo "the simulated install's epmd did not start" >&2
      return 1
    }
    install_broker 2>&1
  ); then ok "install_broker: $out"; else not_ok "install_broker failed: $out"; fi
  check "the install's epmd is ended" none "$(on_ports "$(listeners)" 4692)"
  check "the rabbitmq user's processes from before the install still run" \
    [ "$(alive_of "$service_before" | sort)" = "$(pids_of "$service_before" | sort)" ]
  check "the other broker still answers" side_answers
else
  echo "     skipped: needs root and the rabbitmq user"
fi

echo "-- rabbitmq.sh start / stop on 127.0.0.1:$test_node_port"
check "start prints started" [ "$(single start)" = started ]
during=$(listeners)
node_procs=$(procs_single "$test_node_port" "$test_node_state")
# shellcheck disable=SC2046
mine="$(on_ports "$during" $test_node_port $((test_node_port + 20000)) $((test_node_port - 1000)))
$(of_pids "$during" $(pids_of "$node_procs"))"
mine=$(sort -u <<<"$mine" | sed '/^$/d')
loopback_only "the node (AMQP, distribution, epmd)" "$mine" $test_node_port $((test_node_port + 20000)) $((test_node_port - 1000))
ctl_status() { single ctl -q status >/dev/null; }
check "ctl reaches the node" ctl_status
# The CLI runs an Erlang node of its own while it works: its distribution listener is on loopback too.
single ctl -q eval 'timer:sleep(4000).' >/dev/null &
cli=$!
cli_lines=
for _ in $(seq 30); do
  cli_procs=$(source "$script" && echo "$cli $(proc_stat "$cli" | cut -d' ' -f2)" >"$tmp/cli.proc" && tree "$tmp/cli.proc")
  # shellcheck disable=SC2046
  cli_lines=$(of_pids "$(listeners)" $(pids_of "$cli_procs"))
  if ! none "$cli_lines"; then break; fi
  sleep 0.1
done
wait "$cli" || true
rm -f "$tmp/cli.proc"
if none "$cli_lines"; then not_ok "saw no listener of rabbitmqctl while it ran"; else loopback_only "rabbitmqctl" "$cli_lines"; fi

check "stop prints stopped" [ "$(single stop)" = stopped ]
gone "after stop" "$node_procs" "$(listeners)" $test_node_port $((test_node_port + 20000)) $((test_node_port - 1000))
check "the other broker and its epmd still answer" side_answers
check "a second stop has nothing to stop" [ "$(single stop)" = "nothing to stop" ]

if [ "${RABBITMQ_CLUSTER_TEST:-}" = 1 ]; then
  echo "-- rabbitmq.sh cluster on 127.0.0.1:$cluster_port-$((cluster_port + 2))"
  names=$(for i in 0 1 2; do echo "rabbit-cluster-$((cluster_port + i))@localhost"; done | sort)
  # members N: the node names node N reports running, sorted.
  members() {
    cluster ctl "$1" -q cluster_status --formatter json |
      sed -n 's/.*"running_nodes":\[\([^]]*\)\].*/\1/p' | tr ',' '\n' | tr -d '"' | sort
  }
  # queue_online QUEUE: the members of the quorum queue that node 1 reports online, sorted.
  queue_online() {
    cluster ctl 1 -q list_queues --no-table-headers name online | awk -v q="$1" '$1 == q' |
      sed 's/^[^[]*\[//; s/\]$//' | tr -d ' ' | tr ',' '\n' | sort
  }
  # eventually WANT COMMAND...: the command prints WANT within 60 s.
  eventually() {
    local want=$1
    shift
    for _ in $(seq 60); do
      if [ "$("$@" 2>/dev/null)" = "$want" ]; then return 0; fi
      sleep 1
    done
    return 1
  }
  t0=$(now_ms)
  check "cluster start prints started" [ "$(cluster start)" = started ]
  t_start=$(($(now_ms) - t0))
  check "node 1 reports all three nodes running" [ "$(members 1)" = "$names" ]
  cprocs=$(procs_cluster "$cluster_port" "$cluster_state")
  cports="$cluster_port $((cluster_port + 1)) $((cluster_port + 2)) $((cluster_port + 20000)) $((cluster_port + 20001)) $((cluster_port + 20002)) $((cluster_port - 1000))"
  during=$(listeners)
  # shellcheck disable=SC2046,SC2086
  mine=$({ on_ports "$during" $cports; of_pids "$during" $(pids_of "$cprocs"); } | sort -u)
  # shellcheck disable=SC2086
  loopback_only "the cluster (AMQP, distribution, epmd)" "$mine" $cports
  mapfile -t urls < <(cluster urls)
  urls_answer() {
    [ "${#urls[@]}" = 3 ] || return 1
    for i in 0 1 2; do [ "${urls[$i]}" = "amqp://guest:guest@127.0.0.1:$((cluster_port + i))/" ] || return 1; done
    for i in 0 1 2; do answers $((cluster_port + i)) || return 1; done
  }
  check "cluster urls prints the three nodes' URLs, and they answer" urls_answer
  check "a quorum queue declared through node 1 gives its message back through node 3" \
    go run ./scripts/quorumcheck -queue rabbitmq-test-qq "${urls[0]}" "${urls[2]}"
  check "the quorum queue's members are online on all three nodes" eventually "$names" queue_online rabbitmq-test-qq

  t0=$(now_ms)
  check "cluster kill 2 kills its Erlang VM" cluster kill 2
  check "node 1 then reports nodes 1 and 3 running" eventually "$(grep -v "^rabbit-cluster-$((cluster_port + 1))@" <<<"$names")" members 1
  check "cluster revive 2 waits until it has rejoined" cluster revive 2
  t_revive=$(($(now_ms) - t0))
  check "node 1 reports all three nodes running again" [ "$(members 1)" = "$names" ]
  check "the quorum queue's members are all online again" eventually "$names" queue_online rabbitmq-test-qq
  cprocs=$( (echo "$cprocs"; procs_cluster "$cluster_port" "$cluster_state") | sort -u)

  t0=$(now_ms)
  check "cluster stop prints stopped" [ "$(cluster stop)" = stopped ]
  t_stop=$(($(now_ms) - t0))
  # shellcheck disable=SC2086
  gone "after cluster stop" "$cprocs" "$(listeners)" $cports
  check "the other broker and its epmd still answer" side_answers
  echo "     cluster: start $((t_start / 1000)).$((t_start % 1000 / 100)) s," \
    "kill + revive of one node $((t_revive / 1000)).$((t_revive % 1000 / 100)) s, stop $((t_stop / 1000)).$((t_stop % 1000 / 100)) s"
fi

echo "-- the other broker stopped by this test"
side_procs=$(side tree "$PWD/$side_dir/wrapper.proc")
side_stop
side_started=0
# shellcheck disable=SC2086
check "no listener is left on the test's ports, as before it ran" none "$(on_ports "$(listeners)" $ports)"
check "none of the other broker's processes is left" none "$(alive_of "$side_procs")"

if [ "$failures" != 0 ]; then
  echo "rabbitmq_test.sh: $failures checks failed"
  exit 1
fi
echo "== rabbitmq.sh: all checks passed"
