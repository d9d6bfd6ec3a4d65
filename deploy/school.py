"""Serve a school: N replicas of the app on one run store, nginx in front (sticky sessions, websockets),
and optionally a Ray cluster for training (a head here, worker nodes given by their addresses).

    python deploy/school.py start --state /srv/lx --replicas 4 --listen 0.0.0.0:80 --runs /srv/lx/runs \\
        --ray-head --ray-workers 10.0.0.21,10.0.0.22      # training on two lab machines
    python deploy/school.py status --state /srv/lx
    python deploy/school.py stop --state /srv/lx           # stops exactly what start started

Everything it starts is recorded in <state>/deployment.json (each process's PID and start time, so a
PID the system reused is never signalled), with each process's log beside it: replica-<i>.log (the
app's log, one line per script run: bench/bench_classroom.py reads them), nginx-error.log, ray-*.log.
The replicas share one run store (--runs) and one cookie secret (a session's XSRF cookie works on any
replica). With Ray, every replica runs its jobs as named, detached actors in the namespace
"latent-explorer" (vae_core/runs/ray_executor.py): a run outlives the replica that started it, and
any replica takes it over. The cluster uses token authentication: <state>/ray-token, copied to each
worker machine. A worker address of 127.0.0.1 (or localhost) starts a node on this machine (a trial,
or the tests); any other address is reached by ssh (key-based, as the same user) and needs this
project and its venv at the same path there.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NGINX = os.environ.get("VAE_CORE_NGINX", "/usr/sbin/nginx")
STATE_FILE = "deployment.json"
LOCAL = ("127.0.0.1", "localhost")


class DeployError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _started_at(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), or None if there is no such process (or
    only its zombie: reaped here when it is our child)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return None
    return fields[19]


def _children(pid: int) -> list[int]:
    """The descendants of `pid` (from /proc), deepest last."""
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            kids.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


class Proc:
    """A process this deployment started: its PID, start time, command and log."""

    def __init__(self, pid: int, started: str, log: str, what: str, **extra):
        self.pid, self.started, self.log, self.what, self.extra = pid, started, log, what, extra

    @classmethod
    def spawn(cls, cmd: list[str], log: Path, what: str, env: dict | None = None, **extra) -> "Proc":
        with open(log, "ab") as out:
            p = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env={**os.environ, **(env or {})}, start_new_session=True)
        return cls(p.pid, _started_at(p.pid) or "", str(log), what, **extra)

    def to_json(self) -> dict:
        return {"pid": self.pid, "started": self.started, "log": self.log, "what": self.what, **self.extra}

    @classmethod
    def from_json(cls, d: dict) -> "Proc":
        d = dict(d)
        return cls(d.pop("pid"), d.pop("started"), d.pop("log"), d.pop("what"), **d)

    @property
    def alive(self) -> bool:
        return _started_at(self.pid) == self.started  # the same process, not a reused PID

    def send(self, sig: int) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def wait_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.alive:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)  # (polling; the timeout bounds a hang)
        return True

    def stop(self, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
        self.send(sig)
        if not self.wait_gone(timeout):
            self.kill()

    def kill(self) -> None:
        """SIGKILL it and every process it started (a crash, not a shutdown)."""
        kids = _children(self.pid) if self.alive else []
        self.send(signal.SIGKILL)
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.wait_gone(10)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(Path(self.log).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _wait(condition, timeout: float, what: str, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and not proc.alive:
            raise DeployError(f"{what}: the process exited; its log ({proc.log}) ends:\n{proc.tail()}")
        if time.monotonic() > deadline:
            raise DeployError(f"{what}: not within {timeout:.0f} s" + (f"; its log ({proc.log}) ends:\n{proc.tail()}"
                                                                       if proc else ""))
        time.sleep(0.3)  # (polling; the timeout bounds a hang)


def _healthy(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=3).read() == b"ok"
    except OSError:
        return False


class Deployment:
    """What `start` made, kept in <state>/deployment.json; each method saves it again."""

    def __init__(self, state: str | Path):
        self.state = Path(state).resolve()
        self.file = self.state / STATE_FILE
        self.d: dict = json.loads(self.file.read_text()) if self.file.exists() else {}

    def save(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.d, indent=1))
        tmp.replace(self.file)

    # --- what is running ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self.d["listen"].rsplit(":", 1)
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"

    def replicas(self) -> list[Proc]:
        return [Proc.from_json(r) for r in self.d.get("replicas", [])]

    def replica_logs(self) -> list[Path]:
        return [Path(r.log) for r in self.replicas()]

    def nginx(self) -> Proc | None:
        return Proc.from_json(self.d["nginx"]) if self.d.get("nginx") else None

    def ray_nodes(self) -> list[Proc]:
        return [Proc.from_json(n) for n in self.d.get("ray_nodes", [])]

    def status(self) -> dict:
        procs = [*self.replicas(), *([self.nginx()] if self.nginx() else []), *self.ray_nodes()]
        return {"url": self.url if self.d.get("listen") else None, "ray": self.d.get("ray_address"),
                "processes": [{"what": p.what, "pid": p.pid, "alive": p.alive, "log": p.log} for p in procs],
                "remote_ray_workers": self.d.get("remote_workers", [])}

    # --- starting -------------------------------------------------------------------------------

    def start(self, replicas: int = 2, listen: str = "127.0.0.1:8080", runs: str | None = None,
              ray_head: bool = False, ray_address: str | None = None, ray_workers: list[str] = (),
              head_cpus: int | None = None, worker_cpus: int | None = None, env: dict | None = None,
              timeout: float = 180.0) -> "Deployment":
        """Ray first (the replicas connect to it), then the replicas, then nginx. A failure stops what
        was started and raises DeployError with the failing process's log."""
        if self.d.get("replicas"):
            raise DeployError(f"{self.state} already holds a deployment: stop it first")
        self.state.mkdir(parents=True, exist_ok=True)
        self.d = {"listen": listen, "runs": str(Path(runs or self.state / "runs").resolve()),
                  "cookie_secret": secrets.token_urlsafe(32), "env": dict(env or {}), "replicas": [], "ray_nodes": []}
        self.save()
        try:
            if ray_head or ray_address:
                self._start_ray(ray_head, ray_address, list(ray_workers), head_cpus, worker_cpus, timeout)
            for i in range(replicas):
                self.start_replica(i, timeout)
            self.start_nginx()
        except BaseException:
            self.stop()
            raise
        return self

    def _ray_env(self) -> dict:
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.state / "ray-token"),
                "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT)}  # workers import vae_core from here

    def _ray(self) -> str:
        return str(Path(sys.executable).with_name("ray"))

    def _start_ray(self, head: bool, address: str | None, workers: list[str], head_cpus, worker_cpus,
                   timeout: float) -> None:
        token = self.state / "ray-token"
        if not token.exists():
            token.write_text(secrets.token_hex(32))
            token.chmod(0o600)
        if head:
            port = free_port()
            temp = tempfile.mkdtemp(prefix="lx-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
            cmd = [self._ray(), "start", "--head", "--block", "--port", str(port), "--temp-dir", temp,
                   "--include-dashboard", "false", "--disable-usage-stats",
                   "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port())]
            if head_cpus is not None:
                cmd += ["--num-cpus", str(head_cpus)]
            log = self.state / "ray-head.log"
            node = Proc.spawn(cmd, log, "ray head", self._ray_env(), temp=temp)
            self.d["ray_nodes"].append(node.to_json())
            self.d["ray_address"] = address = f"127.0.0.1:{port}"
            self.save()
            _wait(lambda: "Ray runtime started" in Path(log).read_text(errors="replace"), timeout, "the Ray head", node)
        self.d["ray_address"] = address
        self.save()
        for host in workers:
            self.add_ray_worker(host, worker_cpus, timeout)

    def add_ray_worker(self, host: str = "127.0.0.1", cpus: int | None = None, timeout: float = 180.0) -> Proc | None:
        """A Ray worker node: on this machine (host 127.0.0.1 / localhost), or on `host` by ssh."""
        address = self.d["ray_address"]
        args = ["start", "--address", address, "--disable-usage-stats",
                "--dashboard-agent-listen-port", str(free_port())] + (["--num-cpus", str(cpus)] if cpus is not None else [])
        if host not in LOCAL:
            head_host = socket.gethostbyname(socket.gethostname())
            address = address.replace("127.0.0.1", head_host)
            args[2] = address
            remote_token = f"{self.state}/ray-token"
            env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self._ray_env().items())
            subprocess.run(["ssh", host, "mkdir", "-p", str(self.state)], check=True, timeout=60)
            subprocess.run(["scp", "-q", str(self.state / "ray-token"), f"{host}:{remote_token}"], check=True, timeout=60)
            subprocess.run(["ssh", host, f"{env} {shlex.quote(self._ray())} {shlex.join(args)}"], check=True,
                           timeout=timeout)
            self.d.setdefault("remote_workers", []).append(host)
            self.save()
            return None
        n = len(self.ray_nodes())
        log = self.state / f"ray-worker-{n}.log"
        node = Proc.spawn([self._ray(), *args[:1], "--block", *args[1:]], log, f"ray worker {n}", self._ray_env())
        self.d["ray_nodes"].append(node.to_json())
        self.save()
        _wait(lambda: "Ray runtime started" in Path(log).read_text(errors="replace"), timeout, f"Ray worker {n}", node)
        return node

    def start_replica(self, i: int, timeout: float = 180.0, tries: int = 5) -> Proc:
        """Replica `i` (again, if it was stopped or killed) on a free port of 127.0.0.1."""
        env = {"VAE_CORE_RUNS": self.d["runs"], **self.d["env"]}
        if self.d.get("ray_address"):
            env.update(self._ray_env(), VAE_CORE_EXECUTOR="ray", RAY_ADDRESS=self.d["ray_address"])
        for _ in range(tries):
            port = free_port()
            log = self.state / f"replica-{i}.log"
            cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
                   "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none"]
            proc = Proc.spawn(cmd, log, f"replica {i}", {**env, "STREAMLIT_SERVER_COOKIE_SECRET": self.d["cookie_secret"]},
                              port=port)
            try:
                _wait(lambda: _healthy(f"http://127.0.0.1:{port}/_stcore/health")
                      and f"127.0.0.1:{port}" in Path(log).read_text(errors="replace"), timeout, f"replica {i}", proc)
                break
            except DeployError:
                proc.kill()
                if f"Port {port} is not available" not in Path(log).read_text(errors="replace"):
                    raise
        else:
            raise DeployError(f"replica {i}: no free port after {tries} tries")
        reps = self.d["replicas"]
        if i < len(reps):
            reps[i] = proc.to_json()
        else:
            reps.append(proc.to_json())
        self.save()
        return proc

    def _nginx_conf(self) -> Path:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            folder = self.state / "nginx-tmp" / sub
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o1777)  # nginx's workers may run as another user
        servers = "\n".join(f"        server 127.0.0.1:{r.extra['port']} max_fails=1 fail_timeout=10s;"
                            for r in self.replicas())
        text = (ROOT / "deploy" / "nginx.conf").read_text()
        for name, value in (("STATE", str(self.state)), ("LISTEN", self.d["listen"]), ("SERVERS", servers)):
            text = text.replace(f"@{name}@", value)
        conf = self.state / "nginx.conf"
        conf.write_text(text)
        return conf

    def start_nginx(self, timeout: float = 60.0) -> Proc:
        """nginx in the foreground (its own process group), on --listen, before the replicas' ports."""
        conf = self._nginx_conf()
        where = ["-c", str(conf), "-p", str(self.state), "-e", str(self.state / "nginx-error.log")]
        check = subprocess.run([NGINX, "-t", *where], capture_output=True, text=True)
        if check.returncode:
            raise DeployError(f"nginx refuses {conf}:\n{check.stderr}")
        proc = Proc.spawn([NGINX, *where, "-g", "daemon off;"],
                          self.state / "nginx.log", "nginx")
        self.d["nginx"] = proc.to_json()
        self.save()
        _wait(lambda: _healthy(f"{self.url}/_stcore/health"), timeout, "nginx", proc)
        return proc

    # --- faults and stopping ---------------------------------------------------------------------

    def kill_replica(self, i: int) -> None:
        """SIGKILL replica `i` (a crash: its sessions reconnect to another replica)."""
        self.replicas()[i].kill()

    def restart_replica(self, i: int) -> Proc:
        """Replica `i` started again (on a new port: nginx is told, without dropping a connection)."""
        self.replicas()[i].stop()
        proc = self.start_replica(i)
        self.reload_nginx()
        return proc

    def kill_ray_node(self, i: int) -> None:
        """SIGKILL Ray node `i` (0: the head, when started here) with its raylet and workers: a machine lost."""
        self.ray_nodes()[i].kill()

    def reload_nginx(self) -> None:
        """nginx reads its configuration again (the replicas' ports) with no connection dropped."""
        self._nginx_conf()
        self.nginx().send(signal.SIGHUP)

    def restart_nginx(self) -> Proc:
        """nginx stopped and started again: every session's connection drops, and its page reconnects."""
        self.nginx().stop()
        return self.start_nginx()

    def stop(self) -> None:
        """Stop what start started: nginx, the replicas, the Ray nodes (the head last), by their PIDs."""
        if self.nginx():
            self.nginx().stop(sig=signal.SIGQUIT)  # graceful: open connections finish
        for r in self.replicas():
            r.stop()
        for host in self.d.get("remote_workers", []):
            subprocess.run(["ssh", host, f"{shlex.quote(self._ray())} stop"], timeout=120)
        for node in reversed(self.ray_nodes()):
            node.stop(timeout=60)
            if node.extra.get("temp"):
                subprocess.run(["rm", "-rf", node.extra["temp"]])
        self.d = {**self.d, "replicas": [], "nginx": None, "ray_nodes": [], "remote_workers": []}
        self.save()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the replicas, nginx and (optionally) Ray")
    start.add_argument("--state", required=True, help="a folder for this deployment's record, logs and configs")
    start.add_argument("--replicas", type=int, default=2, help="app processes (one per core: see the README)")
    start.add_argument("--listen", default="127.0.0.1:8080", help="nginx's address:port (0.0.0.0:80 to serve a LAN)")
    start.add_argument("--runs", help="the shared run store (default <state>/runs)")
    start.add_argument("--ray-head", action="store_true", help="start a Ray head here; jobs run on Ray")
    start.add_argument("--ray-address", help="use an existing Ray cluster (HOST:PORT) instead")
    start.add_argument("--ray-workers", default="", help="worker nodes: addresses, comma-separated (127.0.0.1: here)")
    start.add_argument("--head-cpus", type=int, help="CPUs the head offers to jobs (0: train only on workers)")
    start.add_argument("--worker-cpus", type=int, help="CPUs each worker node offers (default: its cores)")
    start.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="an environment variable for the replicas, e.g. VAE_CORE_MAX_JOBS=1 (repeatable)")
    for name in ("stop", "status"):
        sub.add_parser(name).add_argument("--state", required=True)
    args = ap.parse_args()
    dep = Deployment(args.state)
    if args.command == "start":
        env = dict(kv.split("=", 1) for kv in args.set)
        dep.start(args.replicas, args.listen, args.runs, args.ray_head, args.ray_address,
                  [w for w in args.ray_workers.split(",") if w], args.head_cpus, args.worker_cpus, env)
        print(json.dumps(dep.status(), indent=1))
        print(f"serving at {dep.url}; stop with: python deploy/school.py stop --state {dep.state}")
    elif args.command == "stop":
        dep.stop()
        print("stopped")
    else:
        print(json.dumps(dep.status(), indent=1))


if __name__ == "__main__":
    main()
