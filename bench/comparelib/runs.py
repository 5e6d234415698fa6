"""Running rows: interleaved repetitions, results kept by key, and the runs
themselves (the plan, the servers, each measurement)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from dataclasses import dataclass
from typing import Callable

from .common import CHILDREN, LAST_RESULTS, RunError, say
from .servers import Redis, Store, TeaBag, start_etcd, start_nginx
from .loads import RedisXadd, Sample, lua_etcd_put, lua_etcd_txn, lua_file, lua_teabag_batch, lua_teabag_single, prefill, redis_memory, teabag_memory, wrk
from .probes import Agents, DeliveryTarget, EtcdWatch, RedisXread, TeaBagSSE, delivery, end_to_end

# Running rows: interleaved repetitions, results kept by key.

@dataclass
class Case:
    key: str
    run: Callable[[], Sample]
    warmup: Callable[[], None] | None = None


class Results:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {}
        self.meta: dict = {}

    def add(self, key: str, sample: Sample) -> None:
        record = {k: v for k, v in sample.__dict__.items() if v is not None and v != {}}
        record["load"] = os.getloadavg()[0]
        self.rows.setdefault(key, []).append(record)

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"meta": self.meta, "rows": self.rows}, f, indent=1)

    @staticmethod
    def load(path: str) -> "Results":
        results = Results()
        with open(path) as f:
            data = json.load(f)
        results.meta, results.rows = data["meta"], data["rows"]
        return results


def describe(sample: Sample) -> str:
    parts = []
    if sample.rate is not None:
        parts.append(f"{sample.rate:,.0f}/s")
    if sample.p50 is not None:
        parts.append(f"p50 {sample.p50:.2f} ms p99 {sample.p99:.2f} ms")
    if sample.cpu is not None:
        parts.append(f"server {sample.cpu:.2f} cores")
    parts += [f"{k} {v:,.1f}" for k, v in sample.extra.items()]
    if sample.errors:
        parts.append("ERRORS: " + sample.errors)
    return ", ".join(parts)


def interleave(results: Results, cases: list[Case], reps: int, strict: bool) -> None:
    """A B C A B C …: every case once per round, `reps` rounds, after one warm-up each."""
    for case in cases:
        if case.warmup:
            case.warmup()
    for rep in range(reps):
        for case in cases:
            sample = case.run()
            say(f"  [{rep + 1}/{reps}] {case.key}: {describe(sample)}")
            if strict and sample.errors:
                raise RunError(f"{case.key}: {sample.errors}")
            results.add(case.key, sample)
        results.save(LAST_RESULTS)


def wrk_case(key: str, url: str, connections: int, seconds: float, script: str | None, pid: int,
             per_request: int = 1, warmup: float = 2) -> Case:
    def warm() -> None:
        wrk(url, connections, warmup, script, pid, per_request)
    return Case(key, lambda: wrk(url, connections, seconds, script, pid, per_request), warm)


# ---------------------------------------------------------------------------
# The runs.

@dataclass
class Plan:
    reps: int
    seconds: float
    events: int
    growth: tuple[int, ...]
    memory_ops: int
    memory_paths: int
    pushes: int
    compare: bool  # also the other systems


FULL = Plan(reps=3, seconds=10, events=2000, growth=(10, 1_000, 100_000), memory_ops=1_000_000, memory_paths=10_000,
            pushes=500, compare=True)
SHORT = Plan(reps=1, seconds=2, events=200, growth=(10, 1_000, 100_000), memory_ops=20_000, memory_paths=200,
             pushes=50, compare=False)


@dataclass
class Servers:
    """Everything a run measures, started once."""
    tmp: str
    tb: TeaBag
    normal: Store
    full: Store
    nginx_url: str = ""
    nginx: subprocess.Popen | None = None
    redis: Redis | None = None
    etcd_url: str = ""
    etcd: subprocess.Popen | None = None


def start_servers(binary: str, plan: Plan, tmp: str) -> Servers:
    say(f"teabag: {binary}")
    tb = TeaBag(binary, tmp)
    servers = Servers(tmp, tb, tb.store("normal", "normal"), tb.store("full", "full"))
    say(f"table {tb.table_url} (pid {tb.table.pid}); stores: normal {servers.normal.url} (pid {servers.normal.proc.pid}), "
        f"full {servers.full.url} (pid {servers.full.proc.pid})")
    if plan.compare:
        servers.nginx_url, servers.nginx = start_nginx(tmp)
        servers.redis = Redis(tmp)
        servers.etcd_url, servers.etcd = start_etcd(tmp)
        say(f"nginx {servers.nginx_url} (pid {servers.nginx.pid}); redis 127.0.0.1:{servers.redis.port} "
            f"(pid {servers.redis.proc.pid}); etcd {servers.etcd_url} (pid {servers.etcd.pid})")
    return servers


def run_all(binary: str, plan: Plan, tmp: str, results: Results) -> None:
    servers = start_servers(binary, plan, tmp)
    for connections in (16, 64):
        measure_single(servers, plan, results, connections)
    measure_batch(servers, plan, results)
    for listeners in (1, 100):
        measure_delivery(servers, plan, results, listeners)
    measure_growth(servers, plan, results)
    measure_memory(servers, plan, results)
    for proc in [servers.normal.proc, servers.full.proc, servers.nginx, servers.redis and servers.redis.proc, servers.etcd]:
        if proc:
            CHILDREN.stop(proc)
    measure_end_to_end(binary, plan, tmp, results)
    CHILDREN.stop(servers.tb.table)


def measure_single(sv: Servers, plan: Plan, results: Results, connections: int) -> None:
    say(f"(a, b) single-op appends, {connections} connections")
    cases = [wrk_case(f"single/{connections}/teabag-{s.name}", s.url, connections, plan.seconds,
                      lua_file(sv.tmp, f"single-{s.name}", lua_teabag_single(s.token)), s.proc.pid)
             for s in (sv.normal, sv.full)]
    if plan.compare:
        cases = [wrk_case(f"single/{connections}/nginx", sv.nginx_url, connections, plan.seconds, None, sv.nginx.pid)] + cases + [
            wrk_case(f"single/{connections}/etcd", sv.etcd_url, connections, plan.seconds,
                     lua_file(sv.tmp, "etcd-put", lua_etcd_put()), sv.etcd.pid),
            redis_case(f"single/{connections}/redis-everysec", sv.redis, "everysec", connections, plan.seconds),
            redis_case(f"single/{connections}/redis-always", sv.redis, "always", connections, plan.seconds),
        ]
    interleave(results, cases, plan.reps, strict=not plan.compare)


def measure_batch(sv: Servers, plan: Plan, results: Results) -> None:
    say("(c) batch appends, 100 ops a request, 16 connections")
    cases = [wrk_case(f"batch/teabag-{s.name}", s.url, 16, plan.seconds,
                      lua_file(sv.tmp, f"batch-{s.name}", lua_teabag_batch(s.token)), s.proc.pid, per_request=100)
             for s in ((sv.normal, sv.full) if plan.compare else (sv.normal,))]
    if plan.compare:
        cases += [wrk_case("batch/etcd", sv.etcd_url, 16, plan.seconds, lua_file(sv.tmp, "etcd-txn", lua_etcd_txn()),
                           sv.etcd.pid, per_request=100),
                  redis_case("batch/redis-everysec", sv.redis, "everysec", 16, plan.seconds, pipeline=100),
                  redis_case("batch/redis-always", sv.redis, "always", 16, plan.seconds, pipeline=100)]
    interleave(results, cases, plan.reps, strict=not plan.compare)


def measure_delivery(sv: Servers, plan: Plan, results: Results, listeners: int) -> None:
    say(f"(d) delivery latency, {listeners} listener(s), {plan.events} events")
    if sv.redis:
        sv.redis.fsync("everysec")
    runs = iter(range(1_000_000))

    def case(key: str, make: Callable[[str], DeliveryTarget]) -> Case:
        return Case(key, lambda: asyncio.run(delivery(make(f"r{listeners}x{next(runs)}"), listeners, plan.events)))

    cases = [case(f"delivery/{listeners}/teabag", lambda run: TeaBagSSE(sv.normal, run))]
    if plan.compare:
        cases += [case(f"delivery/{listeners}/redis", lambda run: RedisXread(sv.redis, run)),
                  case(f"delivery/{listeners}/etcd", lambda run: EtcdWatch(sv.etcd_url, run))]
    interleave(results, cases, plan.reps, strict=not plan.compare)


def measure_growth(sv: Servers, plan: Plan, results: Results) -> None:
    say(f"(e) growth: pushes onto one path already holding {', '.join(f'{n:,}' for n in plan.growth)} ops, 16 connections")
    rounds = iter(range(1_000_000))

    def case(size: int) -> Case:
        def run() -> Sample:
            path = f"/grow{size}-{next(rounds)}"  # a fresh path each run
            prefill(sv.normal, size, lambda i: path, f"fill{path}")
            script = lua_file(sv.tmp, "grow", lua_teabag_single(sv.normal.token, path=path))
            return wrk(sv.normal.url, 16, plan.seconds, script, sv.normal.proc.pid)
        return Case(f"growth/{size}", run)

    interleave(results, [case(size) for size in plan.growth], plan.reps, strict=not plan.compare)


def measure_memory(sv: Servers, plan: Plan, results: Results) -> None:
    say(f"(e) memory: a fresh store after {plan.memory_ops:,} ops over {plan.memory_paths:,} paths")
    runs = iter(range(1000))
    cases = [Case("memory/teabag", lambda: teabag_memory(sv.tb, plan.memory_ops, plan.memory_paths, next(runs)))]
    if plan.compare:
        cases.append(Case("memory/redis", lambda: redis_memory(sv.tmp, plan.memory_ops, plan.memory_paths, next(runs))))
    interleave(results, cases, plan.reps, strict=not plan.compare)


def measure_end_to_end(binary: str, plan: Plan, tmp: str, results: Results) -> None:
    say(f"(f) end to end: push on agent A → watch on agent B through two stores, {plan.pushes} pushes")
    agents = Agents(binary, tmp)
    try:
        runs = iter(range(1000))
        interleave(results, [Case("e2e", lambda: asyncio.run(end_to_end(agents, f"/e2e{next(runs)}", plan.pushes)))],
                   plan.reps, strict=not plan.compare)
    finally:
        agents.stop()


def redis_case(key: str, redis: Redis, fsync: str, connections: int, seconds: float, pipeline: int = 1) -> Case:
    row = RedisXadd(redis, fsync, connections, seconds, pipeline)
    return Case(key, row, row.warmup)
