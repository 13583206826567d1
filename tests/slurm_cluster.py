"""A live one-node SLURM cluster on localhost, for the scheduler tests (tests/test_sweep_slurm.py).

:func:`start` writes ``munge``, ``slurm.conf`` and ``slurmdbd.conf`` files into a folder,
starts ``munged`` (its own key and socket), ``mariadbd`` (its own data folder, TCP on
127.0.0.1), ``slurmdbd`` (job accounting, so that ``sacct`` reports states),
``slurmctld`` and ``slurmd`` in the foreground as children of this process, and returns once
``sinfo`` shows the node idle. Everything runs as root without cgroups
(``proctrack/linuxproc``, ``task/none``). :meth:`LocalSlurm.stop` cancels what is left and
stops the daemons. Nothing is read from or written to ``/etc``: client commands find the
cluster through ``$SLURM_CONF``.

Debian packages: ``slurmctld slurmd slurm-client slurmdbd munge mariadb-server``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

DAEMONS = ("munged", "mungekey", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "sinfo", "squeue", "sacct", "scancel", "scontrol", "srun")
PACKAGES = "slurmctld slurmd slurm-client slurmdbd munge mariadb-server"
T = TypeVar("T")


def missing() -> str | None:
    """Why a cluster cannot start here (programs not found, not root), or None."""
    absent = [p for p in (*DAEMONS, *CLIENTS) if shutil.which(p) is None and not Path("/usr/sbin", p).is_file()]
    if absent:
        return f"SLURM is not installed ({', '.join(absent)} not found): apt-get install {PACKAGES}"
    if os.geteuid() != 0:
        return "the one-node SLURM cluster runs its daemons as root"
    return None


def poll(check: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Call ``check`` until it returns something true, and return that; raise after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _program(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@dataclass
class LocalSlurm:
    """A running one-node cluster: its folder, ``env`` (``SLURM_CONF``) and daemons."""

    root: Path
    node: str
    env: dict[str, str]
    daemons: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def cli(self, *args: str, check: bool = True) -> str:
        """Run a SLURM client command against this cluster; its standard output."""
        out = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        if check and out.returncode:
            raise RuntimeError(f"{' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out.stdout

    def sacct(self, *jobs: str, duplicates: bool = False) -> dict[str, str]:
        """``{job id: state}`` from the accounting database (array tasks as ``123_4``; no steps)."""
        args = ["sacct", "-n", "-X", "-P", "-o", "JobID,State", *(("-D",) if duplicates else ())]
        for job in jobs:
            args += ["-j", job]
        rows = (line.split("|") for line in self.cli(*args).splitlines() if line)
        states: dict[str, str] = {}
        for job, state in rows:
            states[job] = f"{states[job]},{state.split()[0]}" if duplicates and job in states else state.split()[0]
        return states

    def squeue(self) -> dict[str, str]:
        """``{job id: state}`` of the jobs the controller holds (pending, running)."""
        out = self.cli("squeue", "-h", "-r", "-o", "%i|%T")
        return dict(line.split("|") for line in out.splitlines() if line)

    def log(self, name: str) -> str:
        """The end of a daemon's log (for failure messages)."""
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.is_file() else f"(no {path})"

    def _spawn(self, name: str, *args: str) -> None:
        out = (self.root / f"{name}.out").open("wb")
        proc = subprocess.Popen([_program(name), *args], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.daemons.append((name, proc))

    def _running(self, name: str) -> bool:
        proc = dict(self.daemons)[name]
        if proc.poll() is not None:
            out = (self.root / f"{name}.out").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{out}\n{self.log(name)}")
        return True

    def node_state(self) -> str:
        """The node's state as ``sinfo`` reports it (``idle``, ``mixed``, ``down*``...)."""
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=self.env, capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else ""

    def stop(self) -> None:
        """Cancel every job, wait for the node to empty, then stop the daemons (last started first)."""
        if any(name == "slurmd" for name, _ in self.daemons):
            with contextlib.suppress(Exception):
                subprocess.run(["scancel", "--full", "-u", "root"], env=self.env, timeout=30, check=False)
                poll(lambda: not self.squeue(), 60, "the cancelled jobs to end")
        for _, proc in reversed(self.daemons):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.daemons.clear()


def _conf(path: Path, text: str) -> None:
    path.write_text(text.strip() + "\n")
    path.chmod(0o600)  # slurmdbd refuses a configuration others can read


def start(root: Path, timeout: float = 90.0) -> LocalSlurm:
    """Start munged, mariadbd, slurmdbd, slurmctld and slurmd in ``root``; return once the node is idle."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)  # munged checks that no one else can write beside its key and socket
    node = socket.gethostname().split(".")[0]
    cpus = len(os.sched_getaffinity(0))
    memory_mb = int(next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")) / 1024)
    ports = {name: _free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadb")}
    munge_socket = root / "munge.socket"
    env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}
    for var in [v for v in env if v.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SQUEUE_", "SACCT_"))]:
        if var != "SLURM_CONF":  # a test run inside a SLURM job would otherwise talk to that cluster
            del env[var]
    cluster = LocalSlurm(root, node, env)
    for sub in ("state", "spool", "mariadb"):
        (root / sub).mkdir(exist_ok=True)
    _conf(
        root / "slurm.conf",
        f"""
ClusterName=c2ftest
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ports["slurmctld"]}
SlurmdPort={ports["slurmd"]}
AuthType=auth/munge
AuthInfo=socket={munge_socket}
CredType=cred/munge
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "slurmctld.pid"}
SlurmdPidFile={root / "slurmd.pid"}
SlurmctldLogFile={root / "slurmctld.log"}
SlurmdLogFile={root / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
ReturnToService=2
JobRequeue=1
KillWait=1
MessageTimeout=10
MailProg=/bin/true
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports["slurmdbd"]}
AccountingStoragePass={munge_socket}
JobCompType=jobcomp/none
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb * 9 // 10} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""",
    )
    _conf(
        root / "slurmdbd.conf",
        f"""
AuthType=auth/munge
AuthInfo=socket={munge_socket}
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports["slurmdbd"]}
SlurmUser=root
PidFile={root / "slurmdbd.pid"}
LogFile={root / "slurmdbd.log"}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports["mariadb"]}
StorageUser=root
StorageLoc=slurm_acct_db
""",
    )
    try:
        subprocess.run([_program("mungekey"), "--create", f"--keyfile={root / 'munge.key'}"], check=True, env=env)
        cluster._spawn(
            "munged",
            "--foreground",
            "--force",
            f"--socket={munge_socket}",
            f"--key-file={root / 'munge.key'}",
            f"--pid-file={root / 'munged.pid'}",
            f"--seed-file={root / 'munged.seed'}",
            f"--log-file={root / 'munged.log'}",
        )
        datadir = root / "mariadb"
        subprocess.run(
            [_program("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", "--user=root", "--skip-test-db"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        cluster._spawn(
            "mariadbd",
            "--no-defaults",
            f"--datadir={datadir}",
            "--user=root",
            f"--socket={root / 'mariadb.socket'}",
            f"--pid-file={root / 'mariadb.pid'}",
            f"--log-error={root / 'mariadbd.log'}",
            "--bind-address=127.0.0.1",
            f"--port={ports['mariadb']}",
            "--skip-grant-tables",  # a throw-away database reachable only from this machine
            "--innodb-buffer-pool-size=16M",
        )
        poll(lambda: cluster._running("munged") and munge_socket.exists(), timeout, "munged's socket")
        poll(lambda: cluster._running("mariadbd") and _listening(ports["mariadb"]), timeout, "mariadbd")
        cluster._spawn("slurmdbd", "-D")
        poll(lambda: cluster._running("slurmdbd") and _listening(ports["slurmdbd"]), timeout, "slurmdbd")
        cluster._spawn("slurmctld", "-D", "-i", "-f", env["SLURM_CONF"])
        cluster._spawn("slurmd", "-D", "-f", env["SLURM_CONF"], "-N", node)

        def idle() -> bool:
            cluster._running("slurmctld")
            cluster._running("slurmd")
            return cluster.node_state() == "idle"

        poll(idle, timeout, f"sinfo to show node {node} idle")
    except Exception as exc:
        logs = "\n".join(f"--- {n}.log\n{cluster.log(n)}" for n in ("slurmdbd", "slurmctld", "slurmd"))
        cluster.stop()
        raise RuntimeError(f"the one-node SLURM cluster did not start in {root}: {exc}\n{logs}") from exc
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
