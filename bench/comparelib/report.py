"""The report: docs/benchmarks/compare.md, three plots, the short form's lines,
and what the report says about the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from typing import Callable

from .common import ANALYSIS_END, ANALYSIS_START, ROOT, kept_analysis, say
from .loads import Sample
from .runs import Results, describe

# Report: docs/benchmarks/compare.md and three plots.

def stat(results: Results, key: str, metric: str) -> tuple[float, float, float] | None:
    """(median, min, max) of one metric of one row, or None."""
    values = [s[metric] if metric in s else s.get("extra", {}).get(metric) for s in results.rows.get(key, [])]
    values = [v for v in values if v is not None]
    return (statistics.median(values), min(values), max(values)) if values else None


def med(results: Results, key: str, metric: str) -> float | None:
    s = stat(results, key, metric)
    return s[0] if s else None


def fmt_rate(x: float) -> str:
    return f"{x:,.0f}" if x < 1000 else f"{round(x, -int(len(str(int(x)))) + 3):,.0f}"


def fmt_ms(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def cell(results: Results, key: str, metric: str, unit: str = "") -> str:
    s = stat(results, key, metric)
    if not s:
        return "—"
    f = fmt_rate if metric == "rate" else fmt_ms if metric in ("p50", "p99", "ack_p50", "push_call_p50") else (lambda x: f"{x:,.0f}")
    if len(results.rows[key]) == 1:
        return f"{f(s[0])}{unit}"
    return f"{f(s[0])}{unit} [{f(s[1])}–{f(s[2])}]"


def cpu_cell(results: Results, key: str) -> str:
    """Server cores busy, and the server's CPU µs per op."""
    cpu, rate = med(results, key, "cpu"), med(results, key, "rate")
    return f"{cpu:.2f} | {cpu / rate * 1e6:,.0f}" if cpu is not None and rate else "— | —"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}×" if a is not None and b else "—"


SYSTEMS = {  # row suffix → label
    "nginx": "nginx `return 204` (ceiling)",
    "teabag-normal": "TeaBag store, durability normal",
    "teabag-full": "TeaBag store, durability full",
    "etcd": "etcd 3.4, gateway",
    "redis-everysec": "Redis 7 XADD, appendfsync everysec",
    "redis-always": "Redis 7 XADD, appendfsync always",
}
REDIS_TWIN = {"teabag-normal": "redis-everysec", "teabag-full": "redis-always"}


def goals(results: Results) -> list[tuple[str, str, bool | None]]:
    """Issue 13's goals, each a ratio to a peer measured in the same run (or a bound)."""
    rows = []

    def at_least(name: str, a: float | None, b: float | None, bound: float) -> None:
        rows.append((name, ratio(a, b), a / b >= bound if a and b else None))

    def at_most(name: str, value: float | None, bound: float, unit: str) -> None:
        rows.append((name, f"{value:,.1f} {unit}" if value is not None else "—", value <= bound if value is not None else None))

    for c in (16, 64):
        tb, nginx = med(results, f"single/{c}/teabag-normal", "rate"), med(results, f"single/{c}/nginx", "rate")
        at_least(f"single-op push (normal), {c} conn. ≥ 0.35× nginx `return 204`", tb, nginx, 0.35)
    tb, nginx = med(results, "single/16/teabag-full", "rate"), med(results, "single/16/nginx", "rate")
    at_least("single-op push (full), 16 conn. ≥ 0.25× nginx", tb, nginx, 0.25)
    at_most("single-op p99 (normal), 16 conn. ≤ 5 ms", med(results, "single/16/teabag-normal", "p99"), 5, "ms")

    def cpu_per_op(key: str) -> float | None:
        cpu, rate = med(results, key, "cpu"), med(results, key, "rate")
        return cpu / rate * 1e6 if cpu is not None and rate else None
    at_most("store CPU per single op (normal, 16 conn.) ≤ 35 µs", cpu_per_op("single/16/teabag-normal"), 35, "µs")
    at_most("store CPU per op in batches of 100 (normal) ≤ 5 µs", cpu_per_op("batch/teabag-normal"), 5, "µs")
    tb_full, redis_always = med(results, "batch/teabag-full", "rate"), med(results, "batch/redis-always", "rate")
    at_least("batch of 100 (full) ≥ 0.5× Redis `XADD -P 100` (appendfsync always)", tb_full, redis_always, 0.5)
    at_least("batch of 100 (full) ≥ 2× etcd txn", tb_full, med(results, "batch/etcd", "rate"), 2)
    for n, bound in ((1, 3), (100, 1)):
        tb, redis = med(results, f"delivery/{n}/teabag", "p99"), med(results, f"delivery/{n}/redis", "p99")
        rows.append((f"delivery p99, {n} listener(s) ≤ {bound}× Redis XREAD BLOCK", ratio(tb, redis), tb / redis <= bound if tb and redis else None))
    sizes = sorted(int(k.split("/")[1]) for k in results.rows if k.startswith("growth/"))
    if sizes:
        small, big = med(results, f"growth/{sizes[0]}", "rate"), med(results, f"growth/{sizes[-1]}", "rate")
        at_least(f"push at {sizes[-1]:,} ops per path ≥ 0.9× push at {sizes[0]:,}", big, small, 0.9)
    disk = med(results, "memory/teabag", "disk_mib")
    if disk is not None and results.meta.get("memory_ops"):
        at_most("disk per held op ≤ 100 bytes", disk * 1048576 / results.meta["memory_ops"], 100, "bytes")
    return rows


def markdown(results: Results, analysis: str) -> str:
    m = results.meta
    out = ["# TeaBag beside Redis Streams, etcd and the loopback ceiling",
           "",
           f"`bench/compare` on {m['machine']}, {m['date']} ({m['minutes']:.0f} min in all). "
           f"TeaBag `{m['teabag']}` ({m['build']}, {m['teabag_built']}; repository at {m['git']}); {m['versions']}. Load average (1 min) before the run "
           f"{m['load_before']}, after {m['load_after']}; the highest seen at the end of a measurement: {m['load_max']:.1f}. "
           f"Everything — servers and load generators — shares the machine's {m['cores']} cores"
           f"{', with other work running' if m['load_max'] > 2.5 else ''}.",
           "",
           f"Each figure is the median of {m['reps']} run{'s' if m['reps'] > 1 else ''} made in interleaved order (A B C A B C A B C, so drift hits all "
           f"systems alike), with [min–max]. wrk (2 threads) runs {m['seconds']:.0f} s per run, redis-benchmark "
           "(2 threads) about as long; latencies are the load generator's per request. *Server cores*: the "
           "server's CPU time (all its processes) per second of the run; *server CPU µs/op*: that CPU time per op "
           "(per request for nginx).",
           "",
           "## Single-op durable appends (and the loopback ceiling)",
           "",
           "TeaBag: `POST /user/1/oplog?type=counter&path=/p<i % 1000>` with a new `counter` op (unique sha, dated now), "
           "validated by the C plugin, committed (group commit) and streamed. etcd: `POST /v3/kv/put` of an op-sized value "
           "on one of 1,000 keys, through etcd's HTTP gateway (etcd fsyncs its WAL at every commit). Redis: "
           "`redis-benchmark XADD s:<rand 0–999> * op <op-sized value>` (RESP, no HTTP). nginx: `return 204` with one "
           "worker, the most this machine's loopback HTTP does with wrk.",
           "",
           "| system | conn. | ops/s | p50 ms | p99 ms | server cores | server CPU µs/op | ÷ etcd | ÷ Redis (same fsync) | ÷ nginx |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in (16, 64):
        nginx, etcd = med(results, f"single/{c}/nginx", "rate"), med(results, f"single/{c}/etcd", "rate")
        for system, label in SYSTEMS.items():
            key = f"single/{c}/{system}"
            if key not in results.rows:
                continue
            rate = med(results, key, "rate")
            twin = med(results, f"single/{c}/{REDIS_TWIN[system]}", "rate") if system in REDIS_TWIN else None
            tb = system.startswith("teabag")
            out.append(f"| {label} | {c} | {cell(results, key, 'rate')} | {cell(results, key, 'p50')} | {cell(results, key, 'p99')} "
                       f"| {cpu_cell(results, key)} | {ratio(rate, etcd) if tb else ''} | {ratio(rate, twin) if tb else ''} "
                       f"| {ratio(rate, nginx) if system != 'nginx' else ''} |")
    out += errors_note(results, "single/")
    out += ["",
            "## Batch appends (100 ops a request, 16 connections)",
            "",
            "TeaBag: `POST /user/1/oplog/batch` with 100 `counter` ops over 1,000 paths, one transaction. etcd: "
            "`POST /v3/kv/txn` with 100 puts on distinct keys. Redis: `redis-benchmark -P 100` XADD (100 commands "
            "pipelined per connection). Rates are ops/s; latencies are per request of 100 ops (Redis: per command, "
            "which waits for its pipeline).",
            "",
            "| system | ops/s | p50 ms | p99 ms | server cores | server CPU µs/op | ÷ etcd | ÷ Redis (same fsync) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    etcd = med(results, "batch/etcd", "rate")
    for system, label in SYSTEMS.items():
        key = f"batch/{system}"
        if key not in results.rows:
            continue
        rate, tb = med(results, key, "rate"), system.startswith("teabag")
        twin = med(results, f"batch/{REDIS_TWIN[system]}", "rate") if system in REDIS_TWIN else None
        out.append(f"| {label} | {cell(results, key, 'rate')} | {cell(results, key, 'p50')} | {cell(results, key, 'p99')} "
                   f"| {cpu_cell(results, key)} | {ratio(rate, etcd) if tb else ''} | {ratio(rate, twin) if tb else ''} |")
    out += errors_note(results, "batch/")
    out += ["",
            "## Delivery latency: a write → its event at every listener",
            "",
            f"One Python asyncio probe on raw sockets drives all three (same generator overhead for each). Closed loop: it "
            f"writes event *i*, waits for the write's answer and for the event at every listener, then writes *i + 1*; "
            f"{m['events']:,} timed events after 50 untimed, latency = arrival at a listener − start of the write, over every "
            "event at every listener. TeaBag: `POST /oplog` → the store's SSE stream (durability normal). Redis: `XADD` → "
            "`XREAD BLOCK 0` (appendfsync everysec; each listener re-issues XREAD from the id it got). etcd: "
            "`/v3/kv/put` → a `/v3/watch` stream of the gateway (etcd fsyncs every put).",
            "",
            "| system | listeners | p50 ms | p99 ms | write answered, p50 ms | ÷ Redis (p99) | ÷ etcd (p99) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n in (1, 100):
        redis, etcd = med(results, f"delivery/{n}/redis", "p99"), med(results, f"delivery/{n}/etcd", "p99")
        for system, label in (("teabag", "TeaBag POST → SSE"), ("redis", "Redis XADD → XREAD BLOCK"), ("etcd", "etcd put → watch")):
            key = f"delivery/{n}/{system}"
            if key in results.rows:
                p99 = med(results, key, "p99")
                tb = system == "teabag"
                out.append(f"| {label} | {n} | {cell(results, key, 'p50')} | {cell(results, key, 'p99')} | {cell(results, key, 'ack_p50')} "
                           f"| {ratio(p99, redis) if tb else ''} | {ratio(p99, etcd) if tb else ''} |")
    sizes = sorted(int(k.split("/")[1]) for k in results.rows if k.startswith("growth/"))
    out += ["",
            "## Growth: pushes onto a long oplog",
            "",
            "Single-op pushes (16 connections, durability normal) onto **one** path that already holds *n* ops, prefilled "
            "through the batch route (a fresh path for every run). The path keeps growing during the run (by the run's "
            "rate × its seconds).",
            "",
            "| ops on the path before | ops/s | p50 ms | p99 ms | server cores | server CPU µs/op | ÷ the first row |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    first = med(results, f"growth/{sizes[0]}", "rate") if sizes else None
    for n in sizes:
        key = f"growth/{n}"
        out.append(f"| {n:,} | {cell(results, key, 'rate')} | {cell(results, key, 'p50')} | {cell(results, key, 'p99')} "
                   f"| {cpu_cell(results, key)} | {ratio(med(results, key, 'rate'), first)} |")
    disk = med(results, "memory/teabag", "disk_mib") is not None
    out += ["",
            f"**Memory**: a fresh store process (durability normal) after {m['memory_ops']:,} `counter` ops over "
            f"{m['memory_paths']:,} paths pushed through the batch route (1,000 ops a request). The store keeps oplogs "
            "in SQLite (on disk, in the OS page cache), Redis keeps streams in memory (and its AOF on disk):",
            "",
            "| system | RSS at start, MiB | RSS after, MiB | RSS bytes per op |" + (" data on disk, MiB |" if disk else ""),
            "| --- | ---: | ---: | ---: |" + (" ---: |" if disk else "")]
    for system, label in (("teabag", "TeaBag store"), ("redis", f"Redis (same count of XADD over {m['memory_paths']:,} streams)")):
        key = f"memory/{system}"
        if key in results.rows:
            start, after = med(results, key, "rss_start_mib"), med(results, key, "rss_mib")
            out.append(f"| {label} | {cell(results, key, 'rss_start_mib')} | {cell(results, key, 'rss_mib')} "
                       f"| {(after - start) * 1048576 / m['memory_ops']:,.0f} |" + (f" {cell(results, key, 'disk_mib')} |" if disk else ""))
    out += ["",
            "## End to end: push on agent A → watch event on agent B",
            "",
            "Real processes: `teabag dev` (a table, two stores at durability normal, agent A) and a second `teabag agent` "
            f"(B, user 1's other device). The probe pushes `+1` on A's Unix socket (`POST /v1/push/main/counter/<path>`) and "
            f"waits until B's `GET /v1/watch` shows the value; {m['pushes']} timed pushes after 20 untimed, per run.",
            "",
            "| | p50 ms | p99 ms | the push call alone, p50 ms |",
            "| --- | ---: | ---: | ---: |",
            f"| push on A → B's watch | {cell(results, 'e2e', 'p50')} | {cell(results, 'e2e', 'p99')} | {cell(results, 'e2e', 'push_call_p50')} |",
            "",
            "## Goals (ratios measured in this run)",
            "",
            "| goal | measured | |",
            "| --- | ---: | --- |"]
    for name, value, met in goals(results):
        out.append(f"| {name} | {value} | {'met' if met else 'missed' if met is not None else 'not measured'} |")
    out += ["", "## Plots", "",
            "![throughput](compare-throughput.png)", "", "![latency](compare-latency.png)", "", "![growth](compare-growth.png)",
            "", analysis.strip(), ""]
    return "\n".join(out)


def errors_note(results: Results, prefix: str) -> list[str]:
    notes = [f"- `{k}`: {s['errors']}" for k, samples in results.rows.items() if k.startswith(prefix)
             for s in samples if s.get("errors")]
    return ["", "Errors reported by the load generator:", ""] + sorted(set(notes)) if notes else []


def existing_analysis(path: str) -> str:
    return kept_analysis(path, f"{ANALYSIS_START}\n## Where the time goes\n\n(No analysis written yet: profile the missed goals and "
                               f"write it here; bench/compare keeps this section.)\n{ANALYSIS_END}")


def plots(results: Results, directory: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"nginx": "#999999", "teabag-normal": "#1b9e77", "teabag-full": "#66c2a5", "etcd": "#7570b3",
              "redis-everysec": "#d95f02", "redis-always": "#fc8d62", "teabag": "#1b9e77", "redis": "#d95f02"}
    labels = {"nginx": "nginx return 204 (ceiling)", "teabag-normal": "TeaBag, durability normal",
              "teabag-full": "TeaBag, durability full", "etcd": "etcd (HTTP gateway)",
              "redis-everysec": "Redis XADD, fsync everysec", "redis-always": "Redis XADD, fsync always",
              "teabag": "TeaBag POST → SSE", "redis": "Redis XADD → XREAD BLOCK"}

    def bars(ax, groups: list[str], systems: list[str], key: Callable[[str, str], str], metric: str) -> None:
        width = 0.8 / len(systems)
        for j, system in enumerate(systems):
            xs, ys, lo, hi = [], [], [], []
            for i, group in enumerate(groups):
                s = stat(results, key(group, system), metric)
                if s:
                    xs.append(i + (j - (len(systems) - 1) / 2) * width)
                    ys.append(s[0]); lo.append(s[0] - s[1]); hi.append(s[2] - s[0])
            if xs:
                ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, color=colors[system], label=labels[system])
                for x, y, h in zip(xs, ys, hi):
                    ax.text(x, y + h, f"{y / 1000:.1f}k", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(groups)))
        ax.grid(axis="y", alpha=0.3)

    # Throughput.
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    systems = [s for s in SYSTEMS if any(k.endswith("/" + s) for k in results.rows if k.startswith("single/"))]
    bars(left, ["16", "64"], systems, lambda g, s: f"single/{g}/{s}", "rate")
    left.set_xticklabels(["16 connections", "64 connections"])
    left.set_ylabel("requests per second (1 op each)")
    left.set_title("Single-op appends (nginx: the loopback HTTP ceiling)")
    left.legend(fontsize=8)
    batch = [s for s in SYSTEMS if f"batch/{s}" in results.rows]
    for i, s in enumerate(batch):
        st = stat(results, f"batch/{s}", "rate")
        right.bar(i, st[0], yerr=[[st[0] - st[1]], [st[2] - st[0]]], capsize=3, color=colors[s])
        right.text(i, st[2] * 1.03, f"{st[0] / 1000:,.1f}k" if st[0] < 100_000 else f"{st[0] / 1000:,.0f}k", ha="center", va="bottom", fontsize=8)
    right.set_xticks(range(len(batch)))
    right.set_xticklabels([labels[s].replace(", ", ",\n") for s in batch], fontsize=8)
    right.set_yscale("log")
    right.set_ylabel("ops per second (log scale)")
    right.set_title("Batch appends: 100 ops a request, 16 connections")
    right.grid(axis="y", alpha=0.3)
    fig.suptitle("Throughput — median of the runs, bars show min–max (higher is better)")
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "compare-throughput.png"), dpi=110)
    plt.close(fig)

    # Latency.
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5))
    for ax, connections in zip(axes[:2], (16, 64)):
        keys = [s for s in systems if s != "nginx"]
        width = 0.8 / max(1, len(keys))
        for j, s in enumerate(keys):
            for i, metric in enumerate(("p50", "p99")):
                st = stat(results, f"single/{connections}/{s}", metric)
                if st:
                    ax.bar(i + (j - (len(keys) - 1) / 2) * width, st[0], width, yerr=[[st[0] - st[1]], [st[2] - st[0]]],
                           capsize=3, color=colors[s], label=labels[s] if i == 0 else None)
        ax.set_xticks([0, 1]); ax.set_xticklabels(["p50", "p99"])
        ax.set_yscale("log"); ax.set_ylabel("ms per request (log scale)")
        ax.set_title(f"Single-op append latency, {connections} connections")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    ax = axes[2]
    delivery = [s for s in ("teabag", "redis", "etcd") if any(k.endswith("/" + s) for k in results.rows if k.startswith("delivery/"))]
    groups = [(n, q) for n in (1, 100) for q in ("p50", "p99")]
    width = 0.8 / max(1, len(delivery))
    for j, s in enumerate(delivery):
        for i, (n, q) in enumerate(groups):
            st = stat(results, f"delivery/{n}/{s}", q)
            if st:
                ax.bar(i + (j - (len(delivery) - 1) / 2) * width, st[0], width, yerr=[[st[0] - st[1]], [st[2] - st[0]]],
                       capsize=3, color=colors[s], label=(labels[s] if s != "etcd" else "etcd put → watch") if i == 0 else None)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"{q}\n{n} listener{'s' if n > 1 else ''}" for n, q in groups])
    ax.set_yscale("log"); ax.set_ylabel("ms from write to event (log scale)")
    ax.set_title("Delivery latency: write → event at every listener")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    fig.suptitle("Latency — median of the runs, bars show min–max (lower is better)")
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "compare-latency.png"), dpi=110)
    plt.close(fig)

    # Growth.
    sizes = sorted(int(k.split("/")[1]) for k in results.rows if k.startswith("growth/"))
    fig, ax = plt.subplots(figsize=(8, 5))
    st = [stat(results, f"growth/{n}", "rate") for n in sizes]
    ax.errorbar(sizes, [s[0] for s in st], yerr=[[s[0] - s[1] for s in st], [s[2] - s[0] for s in st]],
                marker="o", capsize=4, color=colors["teabag-normal"], label="TeaBag single-op pushes, 16 connections")
    if st:
        ax.axhline(0.8 * st[0][0], color="#d95f02", linestyle="--", label=f"goal: 80% of the rate at {sizes[0]:,} ops")
    ax.set_xscale("log")
    ax.set_xticks(sizes); ax.set_xticklabels([f"{n:,}" for n in sizes])
    ax.set_ylim(bottom=0)
    ax.set_xlabel("ops already on the path (log scale)")
    ax.set_ylabel("pushes per second")
    ax.set_title("Push throughput against oplog length (median, min–max)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "compare-growth.png"), dpi=110)
    plt.close(fig)


def write_report(results: Results, directory: str) -> None:
    path = os.path.join(directory, "compare.md")
    text = markdown(results, existing_analysis(path))
    with open(path, "w") as f:
        f.write(text)
    plots(results, directory)
    say(f"written: {path} and compare-throughput.png, compare-latency.png, compare-growth.png")


def print_short(results: Results) -> None:
    say("")
    say("TeaBag figures (short run, once each; not a benchmark result):")
    for key, samples in results.rows.items():
        s = samples[0]
        say(f"  {key:28} " + describe(Sample(s.get("rate"), s.get("p50"), s.get("p99"), s.get("cpu"), s.get("errors"), s.get("extra", {}))))


# ---------------------------------------------------------------------------

def machine() -> str:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, {cpu}, Linux {platform.release()}"


def git_state() -> str:
    def git(*words: str) -> str:
        return subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--", "Sources")
    return head + (", with uncommitted changes under Sources/" if dirty else "")


def versions() -> str:
    def first(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return "; ".join([first(["/usr/sbin/nginx", "-v"]), first(["/usr/bin/redis-server", "--version"]).split(" sha=")[0],
                      first(["/usr/bin/etcd", "--version"]), first(["/usr/bin/wrk", "-v"]).split(" Copyright")[0]])
