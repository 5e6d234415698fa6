"""--profile: where a TeaBag store's CPU goes, with perf; printed only."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

from .common import CHILDREN, RunError, SWIFT_BIN, say
from .servers import Store, TeaBag
from .loads import lua_file, lua_teabag_batch, lua_teabag_single, prefill, wrk
from .runs import describe

# Profile (--profile): where a TeaBag store's CPU goes, with perf; printed only.

def profile(binary: str, tmp: str, seconds: float) -> None:
    if not shutil.which("perf"):
        raise RunError("perf is not installed: apt-get install -y linux-perf")
    tb = TeaBag(binary, tmp)
    store = tb.store("profile", "normal")
    prefill(store, 100_000, lambda i: "/long", "long")
    runs = [("single-op pushes, 16 connections", lua_teabag_single(store.token), 1),
            ("batches of 100 ops, 16 connections", lua_teabag_batch(store.token), 100),
            ("single-op pushes onto a path holding 100,000+ ops", lua_teabag_single(store.token, path="/long"), 1)]
    for i, (name, script, per_request) in enumerate(runs):
        data = os.path.join(tmp, f"perf-{i}.data")
        recorder = CHILDREN.start(["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(store.proc.pid)],
                                  log=os.path.join(tmp, "perf.log"))
        time.sleep(1)
        switches, commits, threads = context_switches(store.proc.pid), commit_metrics(store), thread_times(store.proc.pid)
        started = time.monotonic()
        sample = wrk(store.url, 16, seconds, lua_file(tmp, f"profile-{i}", script), store.proc.pid, per_request)
        wall = time.monotonic() - started
        switches = context_switches(store.proc.pid) - switches
        commits = {k: v - commits.get(k, 0) for k, v in commit_metrics(store).items()}
        threads = {t: (name, run - threads.get(t, ("", 0, 0))[1], wait - threads.get(t, ("", 0, 0))[2])
                   for t, (name, run, wait) in thread_times(store.proc.pid).items()}
        recorder.send_signal(signal.SIGINT)
        recorder.wait(60)
        CHILDREN.stop(recorder)
        ops = sample.rate * seconds
        count = max(1, commits.get("teabag_store_commit_seconds_count", 0))
        say(f"\n== {name}: {describe(sample)}; store CPU per op {sample.cpu / sample.rate * 1e6:.0f} µs, "
            f"context switches per op {switches / ops:.2f} (per request {switches / ops * per_request:.2f})")
        say(f"-- writer: in a commit {commits.get('teabag_store_commit_seconds_sum', 0) / wall:.0%} of the time, "
            f"{1000 * commits.get('teabag_store_commit_seconds_sum', 0) / count:.2f} ms per commit, "
            f"{commits.get('teabag_store_commit_requests_sum', 0) / count:.1f} requests per commit")
        busiest = sorted(threads.values(), key=lambda t: -t[1])[:6]
        say("-- busiest threads, share of the run on a CPU / runnable but waiting for one: "
            + "; ".join(f"{name} {run / wall:.2f} / {wait / wall:.2f}" for name, run, wait in busiest))
        say("-- self time by library:")
        say(perf_report(data, "dso", "2"))
        say("-- self time by function:")
        say(perf_report(data, "sym", "0.8"))
        say("-- time including callees (frame-pointer call chains), the store's own and GRDB's frames:")
        say(perf_report(data, "sym", "1", children=True, only=r"OplogWriter|StoreService|StoreRoutes|StreamHub|JSON\.|Op\.init|"
                        r"inTransaction|RouterResponder|HTTPDecoder|writeToSocket|readFromSocket|fdatasync|pwrite|pread"))
    CHILDREN.stop(store.proc)
    CHILDREN.stop(tb.table)


def commit_metrics(store: Store) -> dict[str, float]:
    """The store's group-commit histograms (sum and count) from /metrics."""
    with urllib.request.urlopen(store.url + "metrics", timeout=30) as response:
        text = response.read().decode()
    return {k: float(v) for k, v in re.findall(
        r"^(teabag_store_commit_(?:seconds|requests)_(?:sum|count))\S*\s+(\S+)", text, re.M)}


def thread_times(pid: int) -> dict[str, tuple[str, float, float]]:
    """Per thread: its name, seconds on a CPU and seconds runnable but waiting (schedstat)."""
    out = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                run, wait, _ = map(int, f.read().split())
            out[task] = (name, run / 1e9, wait / 1e9)
        except OSError:
            pass
    return out


def context_switches(pid: int) -> int:
    """Voluntary and involuntary context switches of every thread of a process so far."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                total += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except OSError:
            pass
    return total


def perf_report(data: str, sort: str, limit: str, children: bool = False, only: str | None = None) -> str:
    """perf's profile (self time, or with callees), Swift names demangled and shortened."""
    out = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children" if children else "--no-children",
                          "-g", "none", "--sort", sort, "--percent-limit", limit], capture_output=True, text=True).stdout
    demangler = os.path.join(SWIFT_BIN, "swift-demangle")
    if sort == "sym" and os.path.exists(demangler):
        out = subprocess.run([demangler, "--simplified"], input=out, capture_output=True, text=True).stdout
    lines = [line[:160] for line in out.splitlines() if line.strip() and not line.startswith("#")
             and (only is None or re.search(only, line))]
    return "\n".join(lines)
