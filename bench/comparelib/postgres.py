"""bench/postgres — the store and the table on SQLite beside PostgreSQL, one and
two instances, in one run (issue 17): single-op and batch pushes and the table's
`check`, with the same wrk loads as bench/compare.

A private PostgreSQL cluster is started for the run (initdb/pg_ctl in a
temporary directory, as the `postgres` user when run as root, on a free port
on 127.0.0.1, default settings: fsync and synchronous_commit on) and removed
afterwards. "Two instances" is two `teabag store` (or `teabag table`)
processes over one database, each taking half of the connections: what a
balancer in front of them would do, without the balancer's own cost."""

from __future__ import annotations

import concurrent.futures
import glob
import os
import platform
import pwd
import shutil
import subprocess
import tempfile
import time

from .common import CHILDREN, ROOT, free_port, kept_analysis, say
from .loads import lua_file, lua_teabag_batch, lua_teabag_single, wrk
from .servers import TeaBag, create_user, enroll, start_store, start_table


class Cluster:
    def __init__(self, tmp: str) -> None:
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not versions:
            raise SystemExit("bench/postgres: PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = os.path.dirname(versions[-1])
        self.dir = os.path.join(tmp, "pg")
        os.makedirs(self.dir)
        os.chmod(tmp, 0o755)  # mkdtemp's 0700 would keep the postgres user out
        self.as_owner = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self.as_owner = ["/usr/sbin/runuser", "-u", "postgres", "--"]
        self.port = free_port()
        data = os.path.join(self.dir, "data")
        subprocess.run(self.as_owner + [self.bin + "/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"],
                       check=True, capture_output=True)
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} -c max_connections=200"
        subprocess.run(self.as_owner + [self.bin + "/pg_ctl", "-D", data, "-l", os.path.join(self.dir, "log"), "-w", "-o", options, "start"],
                       check=True, capture_output=True)
        self.data = data

    def database(self, name: str) -> str:
        subprocess.run([self.bin + "/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name], check=True, capture_output=True)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(self.as_owner + [self.bin + "/pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"], capture_output=True)


def split(urls: list[str], procs: list[subprocess.Popen], script: str, connections: int, seconds: float, per_request: int = 1):
    """wrk against each URL at once, the connections split evenly; summed rate, worst p50/p99, summed cores."""
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        samples = list(pool.map(lambda pair: wrk(pair[0], connections // len(urls), seconds, script, pair[1].pid, per_request), zip(urls, procs)))
    rate = sum(s.rate for s in samples)
    return rate, max(s.p50 for s in samples), max(s.p99 for s in samples), sum(s.cpu for s in samples), "; ".join(s.errors for s in samples if s.errors)


def main(binary: str, seconds: float, out: str) -> None:
    tmp = tempfile.mkdtemp(prefix="teabag-postgres-")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cluster = Cluster(tmp)
    rows = []
    try:
        say(f"PostgreSQL {os.path.basename(os.path.dirname(cluster.bin))} on 127.0.0.1:{cluster.port}")
        tb = TeaBag(binary, tmp)  # the table the stores enroll with (SQLite)
        sqlite_url, sqlite_proc = start_store(binary, tmp, tb.conf, "sqlite")
        sqlite_token = tb.enroll(sqlite_url)
        store_db = cluster.database("bench_store")
        a_url, a_proc = start_store(binary, tmp, tb.conf, "pg-a", database=store_db)
        b_url, b_proc = start_store(binary, tmp, tb.conf, "pg-b", database=store_db)
        pg_token = tb.enroll(a_url)  # B serves the same store: the same users, tokens and oplogs

        single = lambda token: lua_file(tmp, f"single-{token[-6:]}", lua_teabag_single(token))
        batch = lambda token: lua_file(tmp, f"batch-{token[-6:]}", lua_teabag_batch(token))
        for label, run in [
            ("single-op push, 16 connections", lambda urls, procs, token: split([u + "user/1/oplog" for u in urls], procs, single(token), 16, seconds)),
            ("batch of 100 ops, 4 connections (ops/s)", lambda urls, procs, token: split([u + "user/1/oplog/batch" for u in urls], procs, batch(token), 4, seconds, 100)),
        ]:
            for name, urls, procs, token in [("SQLite", [sqlite_url], [sqlite_proc], sqlite_token),
                                             ("PostgreSQL, 1 instance", [a_url], [a_proc], pg_token),
                                             ("PostgreSQL, 2 instances", [a_url, b_url], [a_proc, b_proc], pg_token)]:
                rate, p50, p99, cores, errors = run(urls, procs, token)
                say(f"  {label} / {name}: {rate:,.0f}/s p50 {p50:.2f} ms p99 {p99:.2f} ms, store cores {cores:.2f}{' ' + errors if errors else ''}")
                rows.append((label, name, rate, p50, p99, cores, errors))

        # The table's check on its own database: SQLite (tb.table) beside two tables over PostgreSQL.
        table_db = cluster.database("bench_table")
        t1_url, t1_proc = start_table(binary, tmp, tb.conf, "table-pg-1", table_db)
        t2_url, t2_proc = start_table(binary, tmp, tb.conf, "table-pg-2", table_db)
        create_user(t1_url)
        pg_check_token = enroll(t1_url, sqlite_url)  # t2 serves the same table: the same sessions and tokens
        for name, urls, procs, token in [("SQLite", [tb.table_url], [tb.table], sqlite_token),
                                         ("PostgreSQL, 1 instance", [t1_url], [t1_proc], pg_check_token),
                                         ("PostgreSQL, 2 instances", [t1_url, t2_url], [t1_proc, t2_proc], pg_check_token)]:
            rate, p50, p99, cores, errors = split([u + f"user/1/table/check/{token}" for u in urls], procs, None, 16, seconds)
            say(f"  table check, 16 connections / {name}: {rate:,.0f}/s p50 {p50:.2f} ms p99 {p99:.2f} ms, table cores {cores:.2f}{' ' + errors if errors else ''}")
            rows.append(("table `check`, 16 connections", name, rate, p50, p99, cores, errors))
    finally:
        CHILDREN.stop_all()
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    write(out, rows, started, binary, seconds)


def write(out: str, rows, started: str, binary: str, seconds: float) -> None:
    kept = kept_analysis(out)
    cpus = os.cpu_count()
    lines = [
        "# PostgreSQL beside SQLite (issue 17)", "",
        f"`bench/postgres` on {cpus} cores, {platform.machine()}, Linux {platform.release()}, {started}; `{os.path.relpath(binary, ROOT)}` "
        f"(release build). Each row is one wrk run of {seconds:.0f} s (2 threads), with the same Lua loads as `bench/compare` "
        "(a new `counter` op a request, unique sha; batches of 100). The stores run `durability: normal` (SQLite); on PostgreSQL "
        "`durability` has no effect and the cluster's defaults decide (`fsync` and `synchronous_commit` on: every commit is flushed). "
        "PostgreSQL runs on the same 2 cores as the stores and wrk. *Cores* are the TeaBag processes' CPU only (not PostgreSQL's). "
        "*2 instances*: two processes over one database, each taking half of the connections.", "",
        "| measurement | backend | ops/s | p50 ms | p99 ms | TeaBag cores | ÷ SQLite |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = {}
    for label, name, rate, p50, p99, cores, errors in rows:
        if name == "SQLite":
            base[label] = rate
        ratio = rate / base[label] if base.get(label) else None
        note = f" ({errors})" if errors else ""
        lines.append(f"| {label} | {name} | {rate:,.0f}{note} | {p50:.2f} | {p99:.2f} | {cores:.2f} | {ratio:.2f}× |" if ratio else
                     f"| {label} | {name} | {rate:,.0f}{note} | {p50:.2f} | {p99:.2f} | {cores:.2f} | |")
    lines += ["", "Run it: `bench/postgres` (a release `teabag` at `.build-release/release/teabag`, or `--teabag PATH`).", ""]
    if kept:
        lines += [kept, ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))
    say(f"wrote {out}")
