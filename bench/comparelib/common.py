"""Shared by every part of bench/compare: constants, printing, child processes
stopped by PID, and small HTTP and polling helpers."""

from __future__ import annotations

import atexit
import base64
import ctypes
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from typing import Callable

# bench/comparelib/common.py → the repository root.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, "docs", "benchmarks")
SWIFT_BIN = "/opt/swift/usr/bin"
TABLE_KEY = "compare-table-key-0123456789"
STORE_KEY = "compare-store-key-0123456789"
LAST_RESULTS = os.path.join(tempfile.gettempdir(), "teabag-compare-last.json")
ANALYSIS_START, ANALYSIS_END = "<!-- analysis:start -->", "<!-- analysis:end -->"
# One op's content, about the size of a TeaBag counter op, for Redis and etcd values.
OP_LIKE = '{"date":1795800000000,"sha":"0123456789abcdef-000001","payload":1}'


def kept_analysis(path: str, placeholder: str = "") -> str:
    """The hand-written section between ANALYSIS_START and ANALYSIS_END of a
    report about to be rewritten (markers included), else `placeholder`."""
    if not os.path.exists(path):
        return placeholder
    text = open(path).read()
    start, end = text.find(ANALYSIS_START), text.find(ANALYSIS_END)
    return text[start:end + len(ANALYSIS_END)] if 0 <= start < end else placeholder


def say(line: str = "") -> None:
    print(line, flush=True)


class RunError(Exception):
    """A run that failed (not a slow one): the one line to print."""


# Processes: every child is registered, stopped by its PID, and dies with us.

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: SIGTERM when this script dies


class Children:
    """The processes this script started, and nothing else."""

    def __init__(self) -> None:
        self.live: list[subprocess.Popen] = []

    def start(self, argv: list[str], log: str | None = None, env: dict | None = None, cwd: str = ROOT) -> subprocess.Popen:
        out = open(log, "ab") if log else subprocess.DEVNULL
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env={**os.environ, **(env or {})}, start_new_session=True, preexec_fn=_die_with_parent)
        if log:
            out.close()
        self.live.append(proc)
        return proc

    def run(self, argv: list[str], timeout: float, cwd: str = ROOT) -> str:
        """Runs a load generator to its end; its stdout and stderr."""
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent)
        self.live.append(proc)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise RunError(f"{os.path.basename(argv[0])} did not finish within {timeout:.0f} s")
        self.live.remove(proc)
        return out.decode(errors="replace")

    def stop(self, proc: subprocess.Popen, grace: float = 10) -> None:
        """SIGTERM by PID, SIGKILL after `grace` seconds."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                say(f"pid {proc.pid} still running {grace:.0f} s after SIGTERM: SIGKILL")
                proc.kill()
                proc.wait()
        if proc in self.live:
            self.live.remove(proc)

    def stop_all(self) -> None:
        for proc in reversed(list(self.live)):
            self.stop(proc)


CHILDREN = Children()
atexit.register(CHILDREN.stop_all)


def cpu_seconds(pid: int) -> float:
    """utime + stime so far of a process and its children (nginx's worker)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return own + sum(cpu_seconds(int(child)) for child in f.read().split())
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_line(log: str, prefix: str, proc: subprocess.Popen, timeout: float = 60) -> str:
    """The rest of the first line of `log` starting with `prefix`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(log, errors="replace") as f:
            for line in f:
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
        if proc.poll() is not None:
            raise RunError(f"{proc.args[0]} {proc.args[1]} exited {proc.returncode} before printing '{prefix}' (log: {log})")
        time.sleep(0.05)
    raise RunError(f"no '{prefix}' from pid {proc.pid} within {timeout:.0f} s (log: {log})")


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RunError(f"{what} not ready within {timeout:.0f} s")


def http_json(method: str, url: str, body=None, basic: tuple[str, str] | None = None) -> dict:
    """A setup request (not what is measured)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if basic:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise RunError(f"{method} {url.split('?')[0]}: {error.code} {error.read()[:200]!r}")
