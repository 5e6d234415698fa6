#!/usr/bin/env bash
# Two devices syncing one value through TeaBag, in about a minute.
#
#   make plugins && swift build      # once
#   examples/two-devices.sh [DIR]    # from the repository root
#
# Device 1 is `teabag dev` (a table, two stores and an agent in one process);
# device 2 is a second `teabag agent` of the same user, with its own data
# directory, as on another machine. A value pushed on one shows up on the
# other. DIR (default: a fresh temporary directory, removed afterwards) holds
# both devices' data. TEABAG names the binary (default .build/debug/teabag).
# Exit status 0 once both devices agree, 1 if they do not within ~10 s.
set -euo pipefail

TEABAG=${TEABAG:-.build/debug/teabag}
if [[ ! -f Package.swift || ! -d Plugins ]]; then
    echo "run me from the repository root: examples/two-devices.sh" >&2
    exit 2
fi
if [[ ! -x $TEABAG || ! -e Plugins/counter.so ]]; then
    echo "build first: make plugins && swift build   (or set TEABAG=/path/to/teabag)" >&2
    exit 2
fi

if [[ $# -ge 1 ]]; then
    DIR=$1
    mkdir -p "$DIR"
    KEEP=1
else
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/teabag-2dev.XXXXXX")
    KEEP=0
fi
DEVICE1=$DIR/agent/agent.sock      # the agent `teabag dev` runs
DEVICE2=$DIR/device2/agent.sock    # the second agent, started below

PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $status -ne 0 ]]; then
        echo "stopped before the end; the logs are in $DIR (dev.log, device2.log)" >&2
    elif [[ $KEEP -eq 0 ]]; then
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM    # Ctrl-C or kill: still stop both devices

# Waits (up to 15 s) until LOG has a line starting with "teabag agent listening on".
wait_for_agent() {
    local log=$1 pid=$2
    for _ in $(seq 150); do
        if grep -q '^teabag agent listening on unix:' "$log" 2>/dev/null; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "it exited before it was ready:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "not ready after 15 s:" >&2
    cat "$log" >&2
    return 1
}

# Asks SOCKET for main/counter/hits until it answers EXPECTED (about 10 s).
# Sync is asynchronous: a push returns once device 1 holds the op on disk,
# and reaches the other device a moment later through the stores.
converge() {
    local socket=$1 expected=$2 got=
    for _ in $(seq 50); do
        got=$("$TEABAG" get --agent "$socket" main counter /hits)
        if [[ $got == "$expected" ]]; then
            echo "$got"
            return 0
        fi
        sleep 0.2
    done
    echo "still $got, expected $expected: the devices did not converge within 10 s" >&2
    return 1
}

echo "==> 1. Device 1: teabag dev (table, two stores, agent) in $DIR"
"$TEABAG" dev --data "$DIR" --port 0 >"$DIR/dev.log" 2>&1 &
PIDS+=($!)
wait_for_agent "$DIR/dev.log" "$!"
grep '^teabag .* listening on ' "$DIR/dev.log" | sed 's/^/    /'

# dev.json keeps the ports and secrets of this `teabag dev` (mode 0600).
TABLE_PORT=$(sed -n 's/.*"table_port":\([0-9]*\).*/\1/p' "$DIR/dev.json")
MASTER=$(sed -n 's/.*"master":"\([^"]*\)".*/\1/p' "$DIR/dev.json")
TABLE_URL=http://127.0.0.1:$TABLE_PORT/

echo "==> 2. Device 2: a second agent of user 1 (table $TABLE_URL, master from $DIR/dev.json)"
echo "    teabag agent --table-url $TABLE_URL --user 1 --master … --data $DIR/device2 --socket $DEVICE2 --plugins Plugins"
"$TEABAG" agent --table-url "$TABLE_URL" --user 1 --master "$MASTER" \
    --data "$DIR/device2" --socket "$DEVICE2" --plugins Plugins >"$DIR/device2.log" 2>&1 &
PIDS+=($!)
wait_for_agent "$DIR/device2.log" "$!"
sed -n 's/^teabag agent listening on /    device 2 listening on /p' "$DIR/device2.log"

echo "==> 3. Device 1 pushes 1 onto the counter main/counter/hits"
echo "    teabag push --agent $DEVICE1 main counter /hits 1"
FIRST=$("$TEABAG" push --agent "$DEVICE1" main counter /hits 1)
echo "    device 1 now reads $FIRST"

echo "==> 4. It arrives on device 2"
echo "    teabag get --agent $DEVICE2 main counter /hits"
ON2=$(converge "$DEVICE2" "$FIRST")
echo "    device 2 reads $ON2"

echo "==> 5. Device 2 pushes 41 onto the same counter"
echo "    teabag push --agent $DEVICE2 main counter /hits 41"
SECOND=$("$TEABAG" push --agent "$DEVICE2" main counter /hits 41)
echo "    device 2 now reads $SECOND"

echo "==> 6. It arrives on device 1"
echo "    teabag get --agent $DEVICE1 main counter /hits"
ON1=$(converge "$DEVICE1" "$SECOND")
echo "    device 1 reads $ON1"

echo "==> 7. Device 2's agent: its stores, whether it is connected to each, what waits in its outbox"
"$TEABAG" status --agent "$DEVICE2"

echo "Try next: teabag watch --agent $DEVICE2 main, and push from device 1 — or examples/reducer-c/try.sh."
echo "converged: both devices read main counter /hits = $SECOND"
