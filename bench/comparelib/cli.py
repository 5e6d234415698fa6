"""The command line of bench/compare and its one run."""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import sys
import tempfile
import time

from .common import CHILDREN, DOCS, LAST_RESULTS, ROOT, RunError, say
from .servers import ensure_packages, ensure_plugins, teabag_binary
from .runs import FULL, Results, SHORT, run_all
from .profiling import profile
from .report import git_state, machine, print_short, versions, write_report


def parse_args(description: str):
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="CI form: TeaBag only, each measurement once for ~2 s; writes nothing")
    parser.add_argument("--teabag", help="the teabag binary to run (default: build it)")
    parser.add_argument("--seconds", type=float, help="seconds of each wrk / redis-benchmark run (default 10; short 2)")
    parser.add_argument("--reps", type=int, help="runs of each row (default 3; short 1)")
    parser.add_argument("--events", type=int, help="timed events per delivery run (default 2,000; short 200)")
    parser.add_argument("--memory-ops", type=int, help="ops pushed for the memory figure (default 1,000,000 over 10,000 paths)")
    parser.add_argument("--out", default=DOCS, help="directory of compare.md and the plots (default docs/benchmarks)")
    parser.add_argument("--no-install", action="store_true", help="install nothing (fail when something is missing)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (servers' data and logs)")
    parser.add_argument("--profile", action="store_true",
                        help="instead: perf profiles of a TeaBag store under single-op, batch and long-path pushes (printed)")
    parser.add_argument("--report-only", metavar="RESULTS", help="rewrite compare.md and the plots from saved results")
    return parser.parse_args()


def report(results: Results, directory: str, saved: str) -> int:
    """Writes compare.md and the plots; when that fails, the raw results stay
    (in `saved` and beside the report) and the run says how to redraw them."""
    try:
        write_report(results, directory)
        return 0
    except Exception as error:  # the run's figures are worth more than a traceback
        kept = os.path.join(directory, "compare-results.json")
        try:
            results.save(kept)
        except OSError:
            kept = saved
        say(f"bench/compare: the report failed: {error!r}")
        say(f"raw results kept in {kept}; redraw with: bench/compare --report-only {kept} --out {directory}")
        return 1


def make_out(directory: str) -> bool:
    """Creates the report's directory before a run, so that a bad --out fails
    at once instead of after the run."""
    try:
        os.makedirs(directory, exist_ok=True)
        return True
    except OSError as error:
        say(f"bench/compare: cannot create --out {directory}: {error.strerror}")
        return False


def main(description: str) -> int:
    args = parse_args(description)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.report_only:
        if not make_out(args.out):
            return 1
        return report(Results.load(args.report_only), args.out, args.report_only)
    if not args.short and not args.profile and not make_out(args.out):
        return 1
    plan = SHORT if args.short else FULL
    if args.seconds:
        plan.seconds = args.seconds
    if args.reps:
        plan.reps = args.reps
    if args.events:
        plan.events = args.events
    if args.memory_ops:
        plan.memory_ops, plan.memory_paths = args.memory_ops, max(1, args.memory_ops // 100)
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="teabag-compare-")
    results = Results()
    load_before = os.getloadavg()[0]
    try:
        if not args.no_install:
            ensure_packages(args.short)
        binary = teabag_binary(args)
        ensure_plugins()
        if args.profile:
            profile(binary, tmp, args.seconds or 10)
            return 0
        run_all(binary, plan, tmp, results)
    except RunError as error:
        say(f"bench/compare: failed: {error} (logs in {tmp})")
        args.keep = True
        return 1
    finally:
        CHILDREN.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    results.meta = {
        "machine": machine(), "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": (time.monotonic() - started) / 60, "teabag": os.path.relpath(binary, ROOT),
        "build": "debug build" if "/debug/" in binary else "release build", "versions": versions(),
        "teabag_built": "built " + datetime.datetime.fromtimestamp(os.path.getmtime(binary), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git": git_state(),
        "load_before": f"{load_before:.2f}", "load_after": f"{os.getloadavg()[0]:.2f}",
        "load_max": max(s["load"] for rows in results.rows.values() for s in rows), "cores": os.cpu_count(),
        "reps": plan.reps, "seconds": plan.seconds, "events": plan.events, "pushes": plan.pushes,
        "memory_ops": plan.memory_ops, "memory_paths": plan.memory_paths,
    }
    results.save(LAST_RESULTS)
    if args.short:
        print_short(results)
        say(f"bench/compare --short: every run completed in {results.meta['minutes'] * 60:.0f} s")
        return 0
    say(f"results saved in {LAST_RESULTS}")
    return report(results, args.out, LAST_RESULTS)
