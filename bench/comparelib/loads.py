"""Load generators: wrk (+ Lua) and redis-benchmark, and the prefill and memory
figures pushed through TeaBag's batch route."""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import re
import time
from dataclasses import dataclass, field
from typing import Callable

from .common import CHILDREN, OP_LIKE, RunError, cpu_seconds, rss_mib
from .servers import Redis, Store, TeaBag, b64

# Load generators: wrk (+ Lua) and redis-benchmark.

@dataclass
class Sample:
    """One run of one row."""
    rate: float | None = None  # ops (or requests) per second
    p50: float | None = None  # ms
    p99: float | None = None  # ms
    cpu: float | None = None  # the server's busy cores during the run
    errors: str | None = None
    extra: dict = field(default_factory=dict)


def ms(text: str) -> float:
    """wrk's '850.00us' / '1.96ms' / '1.02s' / '1.50m' → milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise RunError(f"unreadable latency from wrk: {text!r}")
    return float(match.group(1)) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[match.group(2)]


def wrk(url: str, connections: int, seconds: float, script: str | None, server_pid: int, per_request: int = 1) -> Sample:
    argv = ["/usr/bin/wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    if script:
        argv += ["-s", script]
    cpu0, t0 = cpu_seconds(server_pid), time.monotonic()
    out = CHILDREN.run(argv + [url], timeout=seconds + 60)
    cpu = (cpu_seconds(server_pid) - cpu0) / (time.monotonic() - t0)
    rate = re.search(r"Requests/sec:\s*([\d.]+)", out)
    p50, p99 = re.search(r"^\s*50%\s+(\S+)", out, re.M), re.search(r"^\s*99%\s+(\S+)", out, re.M)
    if not (rate and p50 and p99):
        raise RunError(f"wrk failed: {out.strip().splitlines()[-1] if out.strip() else 'no output'}")
    errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
    return Sample(float(rate.group(1)) * per_request, ms(p50.group(1)), ms(p99.group(1)), cpu, "; ".join(errors) or None)


def lua_file(tmp: str, name: str, text: str) -> str:
    path = os.path.join(tmp, name + ".lua")
    with open(path, "w") as f:
        f.write(text)
    return path


LUA_THREADS = """
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
function init(args) counter = 0; last = 0; math.randomseed(os.time() * 7 + tid); prefix = tid .. "-" .. math.random(1, 1000000000) end
"""


def lua_teabag_single(token: str, paths: int = 1000, path: str | None = None) -> str:
    """One new counter op a request, a unique sha per thread and request, dated now
    (never behind this writer's previous op, as the agent dates its ops)."""
    path_expr = f'"{path}"' if path else f'string.format("/p%d", counter % {paths})'
    return LUA_THREADS + f"""
request = function()
  counter = counter + 1
  last = math.max(os.time() * 1000, last + 1)
  local body = string.format('{{"date":%d,"sha":"%s-%d","payload":1}}', last, prefix, counter)
  local url = "/user/1/oplog?type=counter&store_token={token}&path=" .. {path_expr}
  return wrk.format("POST", url, {{["Content-Type"] = "application/json"}}, body)
end
"""


def lua_teabag_batch(token: str, size: int = 100) -> str:
    return LUA_THREADS + f"""
request = function()
  local ops = {{}}
  last = math.max(os.time() * 1000, last + 1)
  for i = 1, {size} do
    counter = counter + 1
    ops[i] = string.format('{{"type":"counter","path":"/b%d","op":{{"date":%d,"sha":"%s-%d","payload":1}}}}', counter % 1000, last, prefix, counter)
  end
  return wrk.format("POST", "/user/1/oplog/batch?store_token={token}", {{["Content-Type"] = "application/json"}}, '{{"ops":[' .. table.concat(ops, ",") .. ']}}')
end
"""


def lua_etcd_put(paths: int = 1000) -> str:
    """/v3/kv/put of an op-sized value on one of `paths` keys (base64, precomputed)."""
    keys = ",".join(f'"{b64(f"bench/p{i}")}"' for i in range(paths))
    return LUA_THREADS + f"""
local keys = {{{keys}}}
local value = "{b64(OP_LIKE)}"
request = function()
  counter = counter + 1
  local body = string.format('{{"key":"%s","value":"%s"}}', keys[counter % {paths} + 1], value)
  return wrk.format("POST", "/v3/kv/put", {{["Content-Type"] = "application/json"}}, body)
end
"""


def lua_etcd_txn(size: int = 100, variants: int = 10) -> str:
    """/v3/kv/txn with `size` puts on distinct keys (etcd refuses two puts of one key in a txn)."""
    bodies = []
    for v in range(variants):
        puts = ",".join(f'{{"request_put":{{"key":"{b64(f"bench/b{v}/{i}")}","value":"{b64(OP_LIKE)}"}}}}' for i in range(size))
        bodies.append(f'[[{{"success":[{puts}]}}]]')
    return LUA_THREADS + f"""
local bodies = {{{",".join(bodies)}}}
request = function()
  counter = counter + 1
  return wrk.format("POST", "/v3/kv/txn", {{["Content-Type"] = "application/json"}}, bodies[counter % {variants} + 1])
end
"""


def redis_benchmark(redis: Redis, connections: int, requests: int, pipeline: int = 1) -> Sample:
    argv = ["/usr/bin/redis-benchmark", "-h", "127.0.0.1", "-p", str(redis.port), "-c", str(connections),
            "-n", str(requests), "-P", str(pipeline), "--threads", "2", "-r", "1000", "--csv",
            "XADD", "s:__rand_int__", "*", "op", OP_LIKE]
    cpu0, t0 = cpu_seconds(redis.proc.pid), time.monotonic()
    out = CHILDREN.run(argv, timeout=600)
    cpu = (cpu_seconds(redis.proc.pid) - cpu0) / (time.monotonic() - t0)
    rows = [line for line in out.splitlines() if line.startswith('"XADD')]
    if not rows:
        raise RunError(f"redis-benchmark failed: {out.strip()[-200:]}")
    numbers = [float(x.strip('"')) for x in rows[-1].rsplit(",", 7)[1:]]
    rps, _avg, _min, p50, _p95, p99, _max = numbers
    return Sample(rps, p50, p99, cpu)


class RedisXadd:
    """A redis-benchmark row sized to last about `seconds` (calibrated in the warm-up)."""

    def __init__(self, redis: Redis, fsync: str, connections: int, seconds: float, pipeline: int = 1) -> None:
        self.redis, self.fsync, self.connections, self.seconds, self.pipeline = redis, fsync, connections, seconds, pipeline
        self.estimate = 0.0

    def _run(self, requests: int) -> Sample:
        self.redis.command("FLUSHALL")
        self.redis.fsync(self.fsync)
        sample = redis_benchmark(self.redis, self.connections, requests, self.pipeline)
        self.estimate = sample.rate
        return sample

    def warmup(self) -> None:
        self._run(2_000 * self.pipeline)
        self._run(max(2_000 * self.pipeline, int(self.estimate * 2)))

    def __call__(self) -> Sample:
        return self._run(max(10_000, int(self.estimate * self.seconds)))


# ---------------------------------------------------------------------------
# Prefill and memory (TeaBag's batch route, 1,000 ops a request).

def prefill(store: Store, ops: int, paths: Callable[[int], str], tag: str, workers: int = 2) -> float:
    """Pushes `ops` counter ops (op i on path paths(i)), dated in the past; ops/s."""
    host, port = store.url.split("/")[2].split(":")
    base = int(time.time() * 1000) - 2_000_000
    chunks = [(start, min(start + 1000, ops)) for start in range(0, ops, 1000)]

    def push(conn: http.client.HTTPConnection, chunk: tuple[int, int]) -> None:
        body = '{"ops":[' + ",".join(
            f'{{"type":"counter","path":"{paths(i)}","op":{{"date":{base + i},"sha":"{tag}-{i}","payload":1}}}}'
            for i in range(*chunk)) + "]}"
        conn.request("POST", f"/user/1/oplog/batch?store_token={store.token}", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200 or b'"error"' in answer:
            raise RunError(f"prefill refused: {response.status} {answer[:200]!r}")

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        for chunk in chunks[index::workers]:
            push(conn, chunk)
        conn.close()

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(worker, w) for w in range(workers)]:
            future.result()
    return ops / (time.monotonic() - start)


def teabag_memory(tb: TeaBag, ops: int, paths: int, run: int) -> Sample:
    store = tb.store(f"rss{run}", "normal")
    try:
        time.sleep(1)
        before = rss_mib(store.proc.pid)
        rate = prefill(store, ops, lambda i: f"/m{i % paths}", f"rss{run}")
        time.sleep(2)
        after = rss_mib(store.proc.pid)
    finally:
        CHILDREN.stop(store.proc)
    disk = directory_mib(os.path.join(tb.tmp, f"store-rss{run}"))
    return Sample(extra={"rss_start_mib": before, "rss_mib": after, "disk_mib": disk, "prefill_rate": rate})


def directory_mib(path: str) -> float:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files) / (1 << 20)


def redis_memory(tmp: str, ops: int, paths: int, run: int) -> Sample:
    redis = Redis(tmp, f"redis-rss{run}")
    try:
        before = rss_mib(redis.proc.pid)
        argv = ["/usr/bin/redis-benchmark", "-h", "127.0.0.1", "-p", str(redis.port), "-c", "16", "-n", str(ops),
                "-P", "100", "-r", str(paths), "--csv", "XADD", "s:__rand_int__", "*", "op", OP_LIKE]
        CHILDREN.run(argv, timeout=600)
        time.sleep(1)
        after = rss_mib(redis.proc.pid)
    finally:
        CHILDREN.stop(redis.proc)
    return Sample(extra={"rss_start_mib": before, "rss_mib": after, "disk_mib": directory_mib(os.path.join(tmp, f"redis-rss{run}"))})
