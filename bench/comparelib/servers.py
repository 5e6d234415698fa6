"""The systems under test: the packages and teabag binary a run needs, and
TeaBag (table and stores), nginx, Redis and etcd as child processes."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from dataclasses import dataclass

from .common import CHILDREN, ROOT, RunError, STORE_KEY, SWIFT_BIN, TABLE_KEY, free_port, http_json, say, wait_for_line, wait_until

# What the run needs: packages, the teabag binary, the plugins.

PACKAGES = {  # executable → Debian package
    "/usr/bin/wrk": "wrk",
    "/usr/sbin/nginx": "nginx-light",
    "/usr/bin/redis-server": "redis-server",
    "/usr/bin/redis-benchmark": "redis-tools",
    "/usr/bin/etcd": "etcd-server",
}


def ensure_packages(short: bool) -> None:
    wanted = {"/usr/bin/wrk": "wrk"} if short else PACKAGES
    missing = sorted({pkg for exe, pkg in wanted.items() if not os.path.exists(exe)})
    if missing:
        say(f"installing {' '.join(missing)} (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", *missing], env=env, stdout=subprocess.DEVNULL).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL)
            if "nginx-light" in missing and subprocess.run(["apt-cache", "show", "nginx-light"], capture_output=True).returncode != 0:
                missing[missing.index("nginx-light")] = "nginx"
            if subprocess.run(["apt-get", "install", "-y", *missing], env=env, stdout=subprocess.DEVNULL).returncode != 0:
                raise RunError(f"apt-get install -y {' '.join(missing)} failed")
    if short:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        say("installing matplotlib (pip)")
        if subprocess.run([sys.executable, "-m", "pip", "install", "-q", "matplotlib"]).returncode != 0:
            raise RunError("pip install matplotlib failed")


def teabag_binary(args) -> str:
    if args.teabag:
        return os.path.abspath(args.teabag)
    env = {**os.environ, "PATH": SWIFT_BIN + ":" + os.environ.get("PATH", "")}
    debug = os.path.join(ROOT, ".build", "debug", "teabag")
    if args.short and os.path.exists(debug):
        return debug
    command = ["swift", "build", "--product", "teabag"] if args.short else ["swift", "build", "-c", "release", "--product", "teabag"]
    say("building: " + " ".join(command))
    if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
        raise RunError(" ".join(command) + " failed")
    return debug if args.short else os.path.join(ROOT, ".build", "release", "teabag")


def ensure_plugins() -> None:
    if not os.path.exists(os.path.join(ROOT, "Plugins", "counter.so")):
        say("building the C reducer plugins: make -s -C Plugins")
        if subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "Plugins")]).returncode != 0:
            raise RunError("make -C Plugins failed")


# ---------------------------------------------------------------------------
# Servers.

@dataclass
class Store:
    name: str
    url: str  # http://127.0.0.1:PORT/
    token: str
    proc: subprocess.Popen


def start_table(binary: str, tmp: str, conf: str, name: str = "table", database: str | None = None) -> tuple[str, subprocess.Popen]:
    """`teabag table` on a free port (on `database`, a PostgreSQL URL, when given): its URL and process."""
    log = os.path.join(tmp, f"{name}.log")
    proc = CHILDREN.start([binary, "table", "--config", conf, "--host", "127.0.0.1", "--port", "0",
                           "--data", os.path.join(tmp, name), "--key", TABLE_KEY], log=log,
                          env={"TEABAG_TABLE_DATABASE": database} if database else None)
    return wait_for_line(log, "teabag table listening on ", proc).rstrip("/") + "/", proc


def start_store(binary: str, tmp: str, conf: str, name: str, durability: str = "normal",
                database: str | None = None) -> tuple[str, subprocess.Popen]:
    """`teabag store` on a free port (on `database` when given): its URL and process."""
    log = os.path.join(tmp, f"store-{name}.log")
    env = {"TEABAG_STORE_DURABILITY": durability}
    if database:
        env["TEABAG_STORE_DATABASE"] = database
    proc = CHILDREN.start([binary, "store", "--config", conf, "--host", "127.0.0.1", "--port", "0",
                           "--data", os.path.join(tmp, f"store-{name}"), "--key", STORE_KEY,
                           "--plugins", os.path.join(ROOT, "Plugins")], log=log, env=env)
    return wait_for_line(log, "teabag store listening on ", proc).rstrip("/") + "/", proc


def enroll(table_url: str, store_url: str) -> str:
    """docs/protocol.md#enrollment for user 1 (master `secret`): the store token of `store_url`."""
    admin = ("admin", STORE_KEY)
    http_json("PUT", store_url + "admin/user/1", basic=admin)
    code = http_json("GET", store_url + "admin/user/1/code", basic=admin)["code"]
    http_json("POST", table_url + "user/1/table/main/store?master=secret",
              body={"store_url": store_url + "user/1/", "code": code})
    session = http_json("GET", table_url + "user/1/session/new?master=secret&timeout=86400000")["session_token"]
    mount = http_json("GET", table_url + f"user/1/table?session_token={session}")
    for entry in mount["main"].values():
        if entry["url"] == store_url + "user/1/":
            return entry["store_token"]
    raise RunError(f"no store token for {store_url} in the mount table of {table_url}")


def create_user(table_url: str) -> None:
    """User 1 with master `secret`."""
    http_json("PUT", table_url + "admin/user/1/master/secret", basic=("admin", TABLE_KEY))


class TeaBag:
    """`teabag table` and any number of `teabag store` processes, user 1
    enrolled into channel `main` of each through the real admin routes."""

    def __init__(self, binary: str, tmp: str) -> None:
        self.binary, self.tmp = binary, tmp
        self.conf = os.path.join(tmp, "conf.d")
        os.makedirs(self.conf, exist_ok=True)
        with open(os.path.join(self.conf, "10-compare.yaml"), "w") as f:
            f.write("table:\n  master_hash_rounds: 1000\n  log_level: warning\nstore:\n  log_level: warning\n")
        self.table_url, self.table = start_table(binary, tmp, self.conf)
        create_user(self.table_url)

    def store(self, name: str, durability: str) -> Store:
        url, proc = start_store(self.binary, self.tmp, self.conf, name, durability)
        return Store(name, url, self.enroll(url), proc)

    def enroll(self, store_url: str) -> str:
        return enroll(self.table_url, store_url)


def start_nginx(tmp: str) -> tuple[str, subprocess.Popen]:
    directory = os.path.join(tmp, "nginx")
    os.makedirs(os.path.join(directory, "logs"), exist_ok=True)
    port = free_port()
    conf = os.path.join(directory, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {directory}/nginx.pid;
error_log {directory}/logs/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {directory}/body; proxy_temp_path {directory}/proxy;
  fastcgi_temp_path {directory}/fastcgi; uwsgi_temp_path {directory}/uwsgi; scgi_temp_path {directory}/scgi;
  server {{ listen 127.0.0.1:{port}; location / {{ return 204; }} }}
}}
""")
    proc = CHILDREN.start(["/usr/sbin/nginx", "-e", f"{directory}/logs/error.log", "-c", conf, "-p", directory],
                          log=os.path.join(tmp, "nginx.log"))
    wait_until(lambda: _connects(port), "nginx")
    return f"http://127.0.0.1:{port}/", proc


def _connects(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class Redis:
    """redis-server with appendonly yes; appendfsync set per row with CONFIG SET."""

    def __init__(self, tmp: str, name: str = "redis") -> None:
        directory = os.path.join(tmp, name)
        os.makedirs(directory, exist_ok=True)
        self.port = free_port()
        self.proc = CHILDREN.start(["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                    "--dir", directory, "--appendonly", "yes", "--appendfsync", "everysec",
                                    "--save", "", "--daemonize", "no", "--protected-mode", "yes"],
                                   log=os.path.join(tmp, f"{name}.log"))
        wait_until(lambda: self.command("PING") == b"+PONG", "redis-server")

    def command(self, *words: str) -> bytes:
        """One command over a fresh connection; the first line of the reply."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=120) as s:
            s.sendall(resp(*words))
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
            return reply.split(b"\r\n")[0]

    def fsync(self, mode: str) -> None:
        if self.command("CONFIG", "SET", "appendfsync", mode) != b"+OK":
            raise RunError(f"redis CONFIG SET appendfsync {mode} failed")


def resp(*words: str | bytes) -> bytes:
    parts = [b"*%d\r\n" % len(words)]
    for word in words:
        data = word.encode() if isinstance(word, str) else word
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def start_etcd(tmp: str) -> tuple[str, subprocess.Popen]:
    client, peer = free_port(), free_port()
    proc = CHILDREN.start(["/usr/bin/etcd", "--name", "compare", "--data-dir", os.path.join(tmp, "etcd"),
                           "--listen-client-urls", f"http://127.0.0.1:{client}",
                           "--advertise-client-urls", f"http://127.0.0.1:{client}",
                           "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                           "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                           "--initial-cluster", f"compare=http://127.0.0.1:{peer}",
                           "--log-level", "warn", "--quota-backend-bytes", str(8 << 30)],
                          log=os.path.join(tmp, "etcd.log"))
    url = f"http://127.0.0.1:{client}/"
    wait_until(lambda: "header" in http_json("POST", url + "v3/kv/put", body={"key": b64("ready"), "value": b64("1")}), "etcd")
    return url, proc


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
