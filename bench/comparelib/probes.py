"""Delivery probes: one asyncio load generator on raw sockets for the three
systems (POST → SSE, XADD → XREAD BLOCK, put → /v3/watch), and agent to agent
through `teabag dev` and a second `teabag agent`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time
from typing import Callable

from .common import CHILDREN, ROOT, RunError, wait_for_line, wait_until
from .servers import Redis, Store, b64, resp
from .loads import Sample

# Delivery probe: one asyncio load generator for the three systems.

class Conn(asyncio.Protocol):
    """A raw socket: bytes in a buffer, each arrival timestamped, a hook per arrival."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.transport = None
        self.on_data: Callable[[Conn, int], None] = lambda conn, now: None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        self.buf += data
        self.on_data(self, now)

    def connection_lost(self, exc) -> None:
        if not self.closed.done():
            self.closed.set_result(exc)

    def send(self, data: bytes) -> None:
        self.transport.write(data)


async def connect(address) -> Conn:
    loop = asyncio.get_running_loop()
    if isinstance(address, str):
        _, conn = await loop.create_unix_connection(Conn, address)
    else:
        _, conn = await loop.create_connection(Conn, *address)
    return conn


def http_response_end(buf: bytearray) -> int:
    """Length of the first complete HTTP response in `buf`, or -1."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return -1
    head = bytes(buf[:end]).lower()
    length = re.search(rb"content-length:\s*(\d+)", head)
    if length:
        total = end + 4 + int(length.group(1))
        return total if len(buf) >= total else -1
    last = buf.find(b"0\r\n\r\n", end + 4)
    return last + 5 if last >= 0 else -1


def resp_reply_end(buf: bytearray) -> int:
    """Length of the first complete RESP reply of XADD (bulk string or status/error line), or -1."""
    line = buf.find(b"\r\n")
    if line < 0:
        return -1
    if buf[:1] == b"$":
        n = int(buf[1:line])
        total = line + 2 + (n + 2 if n >= 0 else 0)
        return total if len(buf) >= total else -1
    return line + 2


def http_request(method: str, host: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


class DeliveryTarget:
    """How one system opens a listener, writes an event, and names it in the stream."""
    name = ""

    async def listener(self) -> Conn: ...
    def write(self, i: int) -> bytes: ...
    def marker(self, i: int) -> bytes: ...
    def response_end(self, buf: bytearray) -> int: return http_response_end(buf)
    def response_ok(self, reply: bytes) -> bool: return reply.startswith(b"HTTP/1.1 200")
    def rearm(self, conn: Conn, i: int) -> None: pass


class TeaBagSSE(DeliveryTarget):
    name = "TeaBag POST → SSE"

    def __init__(self, store: Store, run: str) -> None:
        self.store, self.run = store, run
        self.host = store.url.split("/")[2]
        self.address = (self.host.split(":")[0], int(self.host.split(":")[1]))

    async def listener(self) -> Conn:
        conn = await connect(self.address)
        conn.send(f"GET /user/1/oplog/stream?store_token={self.store.token} HTTP/1.1\r\nHost: {self.host}\r\n"
                  "Accept: text/event-stream\r\n\r\n".encode())
        await wait_for(lambda: b"\r\n\r\n" in conn.buf, "SSE headers")
        if not conn.buf.startswith(b"HTTP/1.1 200"):
            raise RunError(f"SSE refused: {bytes(conn.buf[:200])!r}")
        return conn

    def marker(self, i: int) -> bytes:
        return f"{self.run}-{i:07d}".encode()

    def write(self, i: int) -> bytes:
        body = json.dumps({"date": int(time.time() * 1000), "sha": self.marker(i).decode(), "payload": 1}).encode()
        return http_request("POST", self.host, f"/user/1/oplog?type=counter&path=/delivery&store_token={self.store.token}", body)


class RedisXread(DeliveryTarget):
    name = "Redis XADD → XREAD BLOCK"

    def __init__(self, redis: Redis, run: str) -> None:
        self.address, self.key = ("127.0.0.1", redis.port), f"dl:{run}"
        self.run = run

    async def listener(self) -> Conn:
        conn = await connect(self.address)
        conn.send(resp("PING"))
        await wait_for(lambda: b"+PONG\r\n" in conn.buf, "redis PING")
        del conn.buf[:]
        conn.send(resp("XREAD", "BLOCK", "0", "STREAMS", self.key, "$"))
        return conn

    def marker(self, i: int) -> bytes:
        return f"{self.run}-{i:07d}".encode()

    def write(self, i: int) -> bytes:  # explicit ids, so that each listener knows where to read on from
        return resp("XADD", self.key, f"1-{i + 1}", "op", self.marker(i))

    def rearm(self, conn: Conn, i: int) -> None:
        conn.send(resp("XREAD", "BLOCK", "0", "STREAMS", self.key, f"1-{i + 1}"))

    def response_end(self, buf: bytearray) -> int:
        return resp_reply_end(buf)

    def response_ok(self, reply: bytes) -> bool:
        return reply.startswith(b"$")


class EtcdWatch(DeliveryTarget):
    name = "etcd put → watch"

    def __init__(self, url: str, run: str) -> None:
        self.host = url.split("/")[2]
        self.address = (self.host.split(":")[0], int(self.host.split(":")[1]))
        self.key, self.run = b64(f"dl/{run}"), run

    async def listener(self) -> Conn:
        conn = await connect(self.address)
        conn.send(http_request("POST", self.host, "/v3/watch", json.dumps({"create_request": {"key": self.key}}).encode()))
        await wait_for(lambda: b'"created":true' in conn.buf, "etcd watch")
        return conn

    def marker(self, i: int) -> bytes:
        return b64(f"{self.run}-{i:08d}").encode()  # 3n characters: its base64 is found whole in the event

    def write(self, i: int) -> bytes:
        body = json.dumps({"key": self.key, "value": self.marker(i).decode()}).encode()
        return http_request("POST", self.host, "/v3/kv/put", body)


async def wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RunError(f"{what}: nothing within {timeout:.0f} s")
        await asyncio.sleep(0.002)


async def delivery(target: DeliveryTarget, listeners: int, events: int, warmup: int = 50) -> Sample:
    """Closed loop: write event i, wait for its acknowledgement and its arrival at
    every listener, then write i + 1. Latency = arrival − the start of the write."""
    conns = [await target.listener() for _ in range(listeners)]
    for conn in conns:
        del conn.buf[:]
    await asyncio.sleep(0.3)
    writer = await connect(target.address)
    state = {"marker": b"", "i": -1, "left": 0, "done": None, "arrivals": []}

    def on_listener_data(conn: Conn, now: int) -> None:
        at = conn.buf.find(state["marker"]) if state["marker"] else -1
        if at < 0:
            if len(conn.buf) > 1 << 20:
                del conn.buf[:-4096]
            return
        del conn.buf[:at + len(state["marker"])]
        state["arrivals"].append(now)
        target.rearm(conn, state["i"])
        state["left"] -= 1
        if state["left"] == 0 and not state["done"].done():
            state["done"].set_result(None)

    def on_writer_data(conn: Conn, now: int) -> None:
        end = target.response_end(conn.buf)
        if end >= 0 and not state["ack"].done():
            reply = bytes(conn.buf[:end])
            del conn.buf[:end]
            state["ack"].set_result((now, reply))

    for conn in conns:
        conn.on_data = on_listener_data
    writer.on_data = on_writer_data
    loop = asyncio.get_running_loop()
    latencies, acks = [], []
    try:
        for i in range(warmup + events):
            state.update(marker=target.marker(i), i=i, left=listeners, arrivals=[], done=loop.create_future(), ack=loop.create_future())
            request = target.write(i)
            start = time.perf_counter_ns()
            writer.send(request)
            try:
                await asyncio.wait_for(asyncio.gather(state["done"], state["ack"]), 10)
            except asyncio.TimeoutError:
                raise RunError(f"{target.name}: event {i} reached {listeners - state['left']} of {listeners} listeners "
                               f"within 10 s (acknowledged: {state['ack'].done()})")
            acked, reply = state["ack"].result()
            if not target.response_ok(reply):
                raise RunError(f"{target.name}: write refused: {reply[:200]!r}")
            if i >= warmup:
                latencies += [(t - start) / 1e6 for t in state["arrivals"]]
                acks.append((acked - start) / 1e6)
    finally:
        for conn in conns + [writer]:
            conn.transport.close()
    latencies.sort()
    acks.sort()
    return Sample(p50=quantile(latencies, 0.5), p99=quantile(latencies, 0.99),
                  extra={"ack_p50": quantile(acks, 0.5), "max": latencies[-1], "events": len(latencies)})


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


# ---------------------------------------------------------------------------
# End to end: `teabag dev` (table, two stores, agent A) and a second `teabag agent` (B).

class Agents:
    def __init__(self, binary: str, tmp: str) -> None:
        dev_log, b_log = os.path.join(tmp, "dev.log"), os.path.join(tmp, "agent-b.log")
        self.dev = CHILDREN.start([binary, "dev", "--data", os.path.join(tmp, "dev"), "--port", "0",
                                   "--plugins", os.path.join(ROOT, "Plugins")], log=dev_log)
        self.socket_a = wait_for_line(dev_log, "teabag agent listening on unix:", self.dev, timeout=120)
        table = wait_for_line(dev_log, "teabag table listening on ", self.dev).rstrip("/") + "/"
        with open(os.path.join(tmp, "dev", "dev.json")) as f:
            master = json.load(f)["master"]
        os.makedirs(os.path.join(tmp, "conf-b"), exist_ok=True)
        self.b = CHILDREN.start([binary, "agent", "--config", os.path.join(tmp, "conf-b"), "--table-url", table,
                                 "--user", "1", "--master", master, "--data", os.path.join(tmp, "b"),
                                 "--plugins", os.path.join(ROOT, "Plugins")], log=b_log)
        self.socket_b = wait_for_line(b_log, "teabag agent listening on unix:", self.b, timeout=120)
        for socket_path in (self.socket_a, self.socket_b):
            wait_until(lambda: self.streams_connected(socket_path), f"the streams of the agent on {socket_path}", timeout=120)

    @staticmethod
    def streams_connected(socket_path: str) -> bool:
        """True once the agent's `GET /v1/channels` shows every store of every channel connected."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(socket_path)
            s.sendall(b"GET /v1/channels HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := s.recv(65536):
                reply += chunk
        head, _, body = reply.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            return False
        stores = [store for channel in json.loads(body).values() for store in channel.get("stores", [])]
        return bool(stores) and all(store.get("connected") for store in stores)

    def stop(self) -> None:
        CHILDREN.stop(self.b)
        CHILDREN.stop(self.dev)


async def end_to_end(agents: Agents, path: str, pushes: int, warmup: int = 20) -> Sample:
    """Push +1 on A, wait for B's watch to show that value; the next push only then."""
    watch = await connect(agents.socket_b)
    watch.send(f"GET /v1/watch?channel=main&type=counter&path={path} HTTP/1.1\r\nHost: agent\r\n"
               "Accept: text/event-stream\r\n\r\n".encode())
    await wait_for(lambda: b"\r\n\r\n" in watch.buf, "B's watch")
    writer = await connect(agents.socket_a)
    loop = asyncio.get_running_loop()
    state = {"want": 0, "seen": None, "ack": None}

    def on_watch(conn: Conn, now: int) -> None:
        while (end := conn.buf.find(b"\n")) >= 0:
            line = bytes(conn.buf[:end]).strip()
            del conn.buf[:end + 1]
            if line.startswith(b"data:"):
                try:
                    value = json.loads(line[5:]).get("value") or 0
                except ValueError:
                    continue
                if value >= state["want"] and not state["seen"].done():
                    state["seen"].set_result(now)

    def on_push(conn: Conn, now: int) -> None:
        end = http_response_end(conn.buf)
        if end >= 0 and not state["ack"].done():
            state["ack"].set_result((now, bytes(conn.buf[:end])))
            del conn.buf[:end]

    watch.on_data, writer.on_data = on_watch, on_push
    latencies, calls = [], []
    try:
        for i in range(warmup + pushes):
            state.update(want=i + 1, seen=loop.create_future(), ack=loop.create_future())
            start = time.perf_counter_ns()
            writer.send(f"POST /v1/push/main/counter{path} HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\n"
                        "Content-Length: 1\r\n\r\n1".encode())
            try:
                await asyncio.wait_for(asyncio.gather(state["seen"], state["ack"]), 30)
            except asyncio.TimeoutError:
                raise RunError(f"push {i} on agent A did not reach agent B's watch within 30 s")
            acked, reply = state["ack"].result()
            if not reply.startswith(b"HTTP/1.1 200"):
                raise RunError(f"push on agent A refused: {reply[:200]!r}")
            if i >= warmup:
                latencies.append((state["seen"].result() - start) / 1e6)
                calls.append((acked - start) / 1e6)
    finally:
        watch.transport.close()
        writer.transport.close()
    latencies.sort()
    calls.sort()
    return Sample(p50=quantile(latencies, 0.5), p99=quantile(latencies, 0.99),
                  extra={"push_call_p50": quantile(calls, 0.5), "max": latencies[-1]})
