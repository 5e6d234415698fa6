#!/usr/bin/env bash
# The C reducer of max.c, end to end, into a TeaBag that is already running:
# build it with one `cc` line into the plugin directory, let the running
# agent and stores pick it up (no restart), then push and read `max` values.
#
#   make dev                       # terminal 1, from the repository root
#   examples/reducer-c/try.sh      # terminal 2, from the repository root
#
# Options (for a `teabag dev --data D --plugins DIR` or any other agent):
#   --plugins DIR    where to build max.so (default Plugins, which `teabag dev` always loads)
#   --agent SOCKET   the agent's socket or URL (default: the `teabag dev` agent, data/agent/agent.sock)
# TEABAG names the binary (default .build/debug/teabag), CC the compiler (default cc).
set -euo pipefail

TEABAG=${TEABAG:-.build/debug/teabag}
CC=${CC:-cc}
PLUGINS=Plugins
AGENT=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --plugins) PLUGINS=$2; shift 2 ;;
        --agent) AGENT=(--agent "$2"); shift 2 ;;
        *) echo "usage: examples/reducer-c/try.sh [--plugins DIR] [--agent SOCKET]" >&2; exit 2 ;;
    esac
done
if [[ ! -f examples/reducer-c/max.c ]]; then
    echo "run me from the repository root: examples/reducer-c/try.sh" >&2
    exit 2
fi
if ! "$TEABAG" status "${AGENT[@]}" >/dev/null; then
    echo "start TeaBag first (make dev, in another terminal), or point --agent at a running agent" >&2
    exit 1
fi

echo "==> 1. Build max.c into $PLUGINS/: the one cc line, to a hidden name first, then a rename (a running host never sees half a file)"
echo "    $CC -shared -fPIC -O2 -I Plugins/include examples/reducer-c/max.c -o $PLUGINS/.max.so.tmp && mv $PLUGINS/.max.so.tmp $PLUGINS/max.so"
"$CC" -shared -fPIC -O2 -I Plugins/include examples/reducer-c/max.c -o "$PLUGINS/.max.so.tmp"
mv "$PLUGINS/.max.so.tmp" "$PLUGINS/max.so"

echo "==> 2. Wait for the hot reload (directories are polled every 500 ms; kill -HUP <pid> reloads at once)"
for i in $(seq 50); do
    STATUS=$("$TEABAG" status "${AGENT[@]}" --json)
    if [[ $STATUS == *'"types":['*'"max"'* ]]; then break; fi
    if [[ $i -eq 50 ]]; then
        echo "the agent did not load max.so within 5 s; is $PLUGINS one of its plugin directories?" >&2
        exit 1
    fi
    sleep 0.1
done
echo "    the agent now serves type \"max\", without a restart"

echo "==> 3. Push 5, then 3, onto main/max/best; the value is the largest number seen"
VALUE=$("$TEABAG" push "${AGENT[@]}" main max /best 5)
echo "    teabag push main max /best 5   -> $VALUE"
VALUE=$("$TEABAG" push "${AGENT[@]}" main max /best 3)
echo "    teabag push main max /best 3   -> $VALUE"

echo "==> 4. A payload that is not a number is refused by max.c's validate (exit status 1)"
if REFUSAL=$("$TEABAG" push "${AGENT[@]}" main max /best '"five"' 2>&1); then
    echo "    unexpected: the push of \"five\" was accepted" >&2
    exit 1
fi
echo "    teabag push main max /best '\"five\"'   -> $REFUSAL"

BEST=$("$TEABAG" get "${AGENT[@]}" main max /best)
echo "==> 5. teabag get main max /best"
echo "best = $BEST"
if [[ $BEST != 5 ]]; then
    echo "expected 5 (an earlier run may have pushed more onto main/max/best)" >&2
    exit 1
fi
