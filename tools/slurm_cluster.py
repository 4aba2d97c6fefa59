#!/usr/bin/env python3
"""A one-node SLURM cluster on this machine, to try ``--executor slurm`` before a real cluster
(and the real-SLURM tests' cluster: ``tests/runs/test_slurm_cluster.py``).

    python3 tools/slurm_cluster.py up [--dir DIR] [--accounting]   # then: export SLURM_CONF=...
    python3 tools/slurm_cluster.py status [--dir DIR]
    python3 tools/slurm_cluster.py down [--dir DIR]
    python3 tools/slurm_cluster.py guard --pid PID [--dir DIR]   # down once PID has exited

(``make slurm-up`` / ``make slurm-down``; the tests' fixture is ``slurm_cluster`` in
``tests/conftest.py``.) Debian or Ubuntu as root, with or without systemd:
``up`` installs what is missing with ``apt-get install --no-install-recommends`` (``slurmctld
slurmd slurm-client munge``, about 35-45 s; ``--accounting`` adds ``slurmdbd mariadb-server``,
about 90 s more), writes a minimal ``slurm.conf`` (one node ``localhost`` with this machine's
CPUs and most of its memory, ``proctrack/linuxproc``, ``task/none``, ``select/cons_tres``
``CR_Core_Memory``, ``SlurmUser=root``), and starts its own munged, (mariadbd and slurmdbd,)
slurmctld and slurmd directly, without systemd. Everything lives under ``DIR``: the key,
sockets, ports (free ones, chosen at start), state, spool, logs and pid files, so a cluster
never touches ``/etc/slurm`` or ``/run/munge`` and several can run side by side (munged wants
every folder above ``DIR`` open to all, so not below pytest's ``tmp_path``). The client
commands find the cluster through ``SLURM_CONF=DIR/etc/slurm.conf``. ``down`` cancels the
cluster's jobs and stops every daemon by the PID in its pid file.

Stdlib only (runs with the system python3).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

BASE_PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
ACCOUNTING_PACKAGES = ("slurmdbd", "mariadb-server")
DEFAULT_DIR = "/tmp/junk-dna-slurm"
NODE = "localhost"
PARTITION = "debug"
DB_USER, DB_PASS, DB_NAME = "slurm", "junk-dna-test", "slurm_acct_db"
# start order; stopped in reverse
DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
Log = Callable[[str], None]


class ClusterUnavailable(RuntimeError):
    """SLURM cannot be installed or started here (the message says why)."""


def _run(cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 60,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    if check and proc.returncode != 0:
        out = (proc.stdout + proc.stderr).strip()[-2000:]
        raise ClusterUnavailable(f"{' '.join(cmd)} exited {proc.returncode}: {out}")
    return proc


def missing_packages(accounting: bool = False) -> list[str]:
    """The Debian packages of a cluster (with accounting) that are not installed."""
    wanted = BASE_PACKAGES + (ACCOUNTING_PACKAGES if accounting else ())
    if shutil.which("dpkg-query") is None:
        return list(wanted)
    missing = []
    for name in wanted:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0 or "install ok installed" not in proc.stdout:
            missing.append(name)
    return missing


def install(accounting: bool = False, log: Log | None = None) -> float:
    """Install the missing packages with apt-get (root); return the seconds it took.

    Raises:
        ClusterUnavailable: not Linux, not root, no apt-get, or apt-get failed.
    """
    missing = missing_packages(accounting)
    if not missing:
        return 0.0
    if not sys.platform.startswith("linux"):
        raise ClusterUnavailable(f"a one-node SLURM needs Linux (this is {sys.platform})")
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable(f"{' '.join(missing)} not installed and no apt-get here "
                                 "(Debian/Ubuntu only)")
    if os.geteuid() != 0:
        raise ClusterUnavailable(f"{' '.join(missing)} not installed and not root (apt-get "
                                 "install needs root)")
    start = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends",
           "-o", "DPkg::Lock::Timeout=300", *missing]
    if log:
        log(f"installing {' '.join(missing)} (apt-get, about {45 + 90 * accounting} s)")
    proc = _run(cmd, env=env, timeout=1200, check=False)
    if proc.returncode != 0:  # e.g. no package lists yet on a fresh machine
        _run(["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"], env=env,
             timeout=600)
        _run(cmd, env=env, timeout=1200)
    still = missing_packages(accounting)
    if still:
        raise ClusterUnavailable(f"apt-get did not install {' '.join(still)}")
    return time.monotonic() - start


def free_port() -> int:
    """A TCP port of 127.0.0.1 free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _mem_mb() -> int:
    with open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 2048  # pragma: no cover


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    try:  # a zombie (our own child not reaped yet) is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str,
          log_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            tail = ""
            if log_file is not None and log_file.exists():
                tail = "; its log ends:\n" + "\n".join(
                    log_file.read_text(errors="replace").splitlines()[-15:])
            raise ClusterUnavailable(f"timed out after {timeout_s:.0f} s waiting for {what}"
                                     f"{tail}")
        time.sleep(0.2)


class OneNodeCluster:
    """A one-node SLURM whose files all live under ``folder``.

    Args:
        folder: its state (created; a running cluster there is stopped first by ``start``).
        accounting: add slurmdbd and a MariaDB, so that ``sacct`` works.
        cpus: CPUs of the node (default: this machine's).
        mem_mb: memory of the node (default: 3/4 of this machine's, at most 64 GB).
    """

    def __init__(self, folder: str | os.PathLike[str] = DEFAULT_DIR, *, accounting: bool = False,
                 cpus: int | None = None, mem_mb: int | None = None) -> None:
        self.folder = Path(folder).resolve()
        self.accounting = accounting
        self.cpus = cpus or os.cpu_count() or 1
        self.mem_mb = mem_mb or min(_mem_mb() * 3 // 4, 65536)
        self.conf = self.folder / "etc" / "slurm.conf"
        self.munge_socket = self.folder / "run" / "munge.socket"
        self.state_file = self.folder / "cluster.json"

    # ------------------------------------------------------------------ files

    @property
    def env(self) -> dict[str, str]:
        """The variables a client (sbatch, squeue, ... and submitit) needs."""
        return {"SLURM_CONF": str(self.conf)}

    def client_env(self) -> dict[str, str]:
        """This process's environment with :attr:`env`."""
        return {**os.environ, **self.env}

    def pid_file(self, daemon: str) -> Path:
        """The pid file of ``daemon`` (one of :data:`DAEMONS`)."""
        return self.folder / "run" / f"{daemon}.pid"

    def log_file(self, daemon: str) -> Path:
        """The log file of ``daemon``."""
        return self.folder / "log" / f"{daemon}.log"

    def _write_configs(self, ports: dict[str, int]) -> None:
        f = self.folder
        closed = [p for p in (f, *f.parents) if p.exists() and not p.stat().st_mode & 0o001]
        if closed[1:]:  # munged refuses a socket below a folder others cannot enter
            raise ClusterUnavailable(f"munged needs every folder above its socket open to all "
                                     f"(o+x); {closed[1]} is not: choose another --dir")
        f.mkdir(parents=True, exist_ok=True)
        os.chmod(f, 0o755)
        for sub in ("etc", "state", "spool", "log", "run", "munge"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(f / "munge", 0o700)  # the key
        os.chmod(f / "run", 0o755)  # munged wants its socket's folder open to all
        key = f / "munge" / "munge.key"
        if not key.exists():
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(1024))
        mem_per_cpu = max(self.mem_mb // self.cpus, 100)
        auth = f"AuthType=auth/munge\nCredType=cred/munge\nAuthInfo=socket={self.munge_socket}\n"
        if self.accounting:
            acct = ("AccountingStorageType=accounting_storage/slurmdbd\n"
                    f"AccountingStorageHost=localhost\nAccountingStoragePort={ports['dbd']}\n"
                    # with munge, the "password" of slurmdbd is the munge socket to use
                    f"AccountingStoragePass={self.munge_socket}\n"
                    "JobAcctGatherType=jobacct_gather/linux\n")
        else:
            acct = ("AccountingStorageType=accounting_storage/none\n"
                    "JobAcctGatherType=jobacct_gather/none\n")
        self.conf.write_text(
            "# a one-node SLURM for junk-dna (tools/slurm_cluster.py); everything under "
            f"{f}\n"
            "ClusterName=junkdna\n"
            f"SlurmctldHost={NODE}\n"
            f"SlurmctldPort={ports['slurmctld']}\nSlurmdPort={ports['slurmd']}\n"
            "SlurmUser=root\nSlurmdUser=root\n"
            f"{auth}"
            f"StateSaveLocation={f / 'state'}\nSlurmdSpoolDir={f / 'spool'}\n"
            f"SlurmctldPidFile={self.pid_file('slurmctld')}\n"
            f"SlurmdPidFile={self.pid_file('slurmd')}\n"
            f"SlurmctldLogFile={self.log_file('slurmctld')}\n"
            f"SlurmdLogFile={self.log_file('slurmd')}\n"
            "SlurmctldDebug=info\nSlurmdDebug=info\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\n"
            f"DefMemPerCPU={mem_per_cpu}\n"
            "SchedulerType=sched/backfill\nMpiDefault=none\nReturnToService=2\n"
            "EnforcePartLimits=ALL\nKillWait=10\n"
            f"{acct}"
            "JobCompType=jobcomp/none\n"
            f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.mem_mb} "
            "State=UNKNOWN\n"
            f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP\n",
            encoding="ascii")
        if self.accounting:
            dbd = self.conf.parent / "slurmdbd.conf"
            dbd.write_text(
                f"{auth.replace('CredType=cred/munge', '').strip()}\n"
                f"DbdHost=localhost\nDbdPort={ports['dbd']}\nSlurmUser=root\n"
                f"LogFile={self.log_file('slurmdbd')}\nPidFile={self.pid_file('slurmdbd')}\n"
                "StorageType=accounting_storage/mysql\n"
                f"StorageHost=127.0.0.1\nStoragePort={ports['mariadb']}\n"
                f"StorageUser={DB_USER}\nStoragePass={DB_PASS}\nStorageLoc={DB_NAME}\n",
                encoding="ascii")
            os.chmod(dbd, 0o600)

    def _save(self, **extra: object) -> None:
        data = {"folder": str(self.folder), "accounting": self.accounting,
                "conf": str(self.conf), **extra}
        self.state_file.write_text(json.dumps(data, indent=2), encoding="utf-8")

    # ------------------------------------------------------------------ start / stop

    def start(self, log: Log | None = None) -> float:
        """Start the daemons (installing nothing); return the seconds it took. On failure
        every daemon started so far is stopped.

        Raises:
            ClusterUnavailable: a daemon did not start (the message has its log's tail).
        """
        missing = missing_packages(self.accounting)
        if missing:
            raise ClusterUnavailable(f"not installed: {' '.join(missing)} (run `install` "
                                     "first, as root)")
        if self.state_file.exists():
            self.stop()
        begin = time.monotonic()
        ports = {"slurmctld": free_port(), "slurmd": free_port()}
        if self.accounting:
            ports.update(dbd=free_port(), mariadb=free_port())
        if len(set(ports.values())) != len(ports):  # pragma: no cover - a race of free ports
            return self.start(log)
        self._write_configs(ports)
        self._save(ports=ports)
        try:
            self._start_munged()
            if self.accounting:
                self._start_mariadb(ports["mariadb"])
                self._start_slurmdbd(ports["dbd"])
            self._start_slurm()
        except BaseException:
            self.stop()
            raise
        seconds = time.monotonic() - begin
        if log:
            log(f"SLURM up in {seconds:.1f} s ({'with' if self.accounting else 'no'} "
                f"accounting): export SLURM_CONF={self.conf}")
        return seconds

    def _start_munged(self) -> None:
        pid = self.pid_file("munged")
        _run(["munged", f"--socket={self.munge_socket}",
              f"--key-file={self.folder / 'munge' / 'munge.key'}", f"--pid-file={pid}",
              f"--log-file={self.log_file('munged')}",
              f"--seed-file={self.folder / 'munge' / 'munged.seed'}"], timeout=30)
        _wait(self.munge_socket.exists, 10, "munged's socket", self.log_file("munged"))

    def _start_mariadb(self, port: int) -> None:
        data = self.folder / "mariadb"
        sock = self.folder / "run" / "mariadb.sock"
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        server = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
        if not (data / "mysql").exists():
            _run([installer or "mariadb-install-db", "--no-defaults", f"--datadir={data}",
                  "--user=root", "--auth-root-authentication-method=socket",
                  "--skip-test-db"], timeout=300)
        log = open(self.log_file("mariadbd"), "ab")  # noqa: SIM115 - the daemon's stdout
        subprocess.Popen([server, "--no-defaults", f"--datadir={data}", f"--socket={sock}",
                          f"--port={port}", "--bind-address=127.0.0.1", "--user=root",
                          f"--pid-file={self.pid_file('mariadbd')}",
                          "--innodb-buffer-pool-size=32M", "--skip-log-bin",
                          "--skip-name-resolve"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True, close_fds=True)
        log.close()
        _wait(lambda: _port_open(port) and self.pid_file("mariadbd").exists(), 120,
              "mariadbd", self.log_file("mariadbd"))
        client = shutil.which("mariadb") or shutil.which("mysql") or "mariadb"
        _run([client, "--no-defaults", f"--socket={sock}", "-u", "root", "-e",
              f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{DB_PASS}'; "
              f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'127.0.0.1';"], timeout=60)

    def _start_slurmdbd(self, port: int) -> None:
        _run(["slurmdbd"], env=self.client_env(), timeout=60)
        _wait(lambda: _port_open(port), 120, "slurmdbd", self.log_file("slurmdbd"))

    def _start_slurm(self) -> None:
        env = self.client_env()
        _run(["slurmctld", "-f", str(self.conf)], env=env, timeout=60)
        _wait(lambda: _run(["scontrol", "ping"], env=env, check=False).returncode == 0
              and "UP" in _run(["scontrol", "ping"], env=env, check=False).stdout,
              60, "slurmctld", self.log_file("slurmctld"))
        _run(["slurmd", "-f", str(self.conf), "-N", NODE], env=env, timeout=60)

        def idle() -> bool:
            out = _run(["sinfo", "-h", "-N", "-o", "%t"], env=env, check=False).stdout
            return out.strip() in ("idle", "mix", "alloc")

        _wait(idle, 60, "the node to be idle", self.log_file("slurmd"))
        if self.accounting:  # the cluster registers itself; wait until sacct answers
            _wait(lambda: _run(["sacct", "-n", "-X"], env=env, check=False).returncode == 0,
                  60, "sacct", self.log_file("slurmdbd"))

    def pids(self) -> dict[str, int]:
        """Daemon -> PID of those whose pid file names a live process."""
        out = {}
        for daemon in DAEMONS:
            try:
                pid = int(self.pid_file(daemon).read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            if _alive(pid):
                out[daemon] = pid
        return out

    def cancel_all_jobs(self, timeout_s: float = 30.0) -> None:
        """Cancel every job of the cluster and wait (a while) until none is left."""
        env = self.client_env()
        if _run(["scontrol", "ping"], env=env, check=False, timeout=20).returncode != 0:
            return
        jobs = _run(["squeue", "-h", "-o", "%A"], env=env, check=False, timeout=20).stdout.split()
        if jobs:
            _run(["scancel", *sorted(set(jobs))], env=env, check=False, timeout=20)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            out = _run(["squeue", "-h", "-o", "%i"], env=env, check=False, timeout=20)
            if out.returncode != 0 or not out.stdout.strip():
                return
            time.sleep(0.5)

    def stop(self, timeout_s: float = 20.0) -> list[str]:
        """Cancel the jobs, then stop every daemon by its PID (TERM, then KILL after
        ``timeout_s``); return the daemons stopped."""
        if "slurmctld" in self.pids():
            with contextlib.suppress(OSError, subprocess.SubprocessError, ClusterUnavailable):
                self.cancel_all_jobs()
        stopped = []
        for daemon in reversed(DAEMONS):
            pid = self.pids().get(daemon)
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + timeout_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
            stopped.append(daemon)
        self.state_file.unlink(missing_ok=True)
        return stopped

    def guard(self, watched_pid: int, poll_s: float = 1.0) -> bool:
        """Stop the cluster once process ``watched_pid`` has exited while the cluster still
        runs (e.g. a test session killed before its teardown); return whether it stopped it.
        Returns at once when the cluster is stopped otherwise."""
        while _alive(watched_pid) and self.state_file.exists():
            time.sleep(poll_s)
        if not self.state_file.exists():
            return False
        self.stop()
        return True

    def status(self) -> str:
        """The running daemons, ``sinfo`` and the ``export SLURM_CONF`` line."""
        pids = self.pids()
        lines = [f"cluster in {self.folder}: " + (", ".join(f"{d} {p}" for d, p in pids.items())
                                                  or "no daemon running")]
        if "slurmctld" in pids:
            env = self.client_env()
            lines.append(_run(["sinfo"], env=env, check=False).stdout.rstrip())
            lines.append(f"export SLURM_CONF={self.conf}")
        return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "status", "install", "guard"))
    parser.add_argument("--dir", default=DEFAULT_DIR, help=f"its folder (default {DEFAULT_DIR})")
    parser.add_argument("--accounting", action="store_true",
                        help="add slurmdbd and MariaDB (sacct works)")
    parser.add_argument("--pid", type=int, help="guard: stop the cluster when this process "
                        "has exited")
    args = parser.parse_args(argv)
    cluster = OneNodeCluster(args.dir, accounting=args.accounting)

    def log(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        if args.command == "install":
            install(args.accounting, log)
        elif args.command == "up":
            install(args.accounting, log)
            cluster.start(log)
            print(f"export SLURM_CONF={cluster.conf}")
        elif args.command == "guard":
            if args.pid is None:
                parser.error("guard needs --pid")
            if cluster.guard(args.pid):
                log(f"process {args.pid} exited: cluster in {cluster.folder} stopped")
        elif args.command == "down":
            stopped = cluster.stop()
            log(f"stopped: {', '.join(stopped) or 'nothing was running'} ({cluster.folder})")
        else:
            print(cluster.status())
    except ClusterUnavailable as err:
        print(f"slurm_cluster: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
