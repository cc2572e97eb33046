"""Labs that outlive a command: `netpolicy lab up` / `lab exec` / `lab down`.

A lab's pod servers are worker processes of the process that built the lab (they die with
it). So `lab up` forks a small daemon that builds the lab, loads the ruleset, records the
lab in a state file and then only waits; `lab down` sends it SIGTERM, and the daemon tears
its lab down as any lab does. If the daemon was killed (SIGKILL, a reboot of the container),
`lab down` removes the namespaces itself (`lab_down`: the processes inside are killed).

State: one JSON file per lab in `$NETPOLICY_LAB_STATE_DIR`, default `/run/netpolicy/labs`
(tmpfs: it goes with a reboot, as the namespaces do). The daemon writes its log beside it.
Only prefixes recorded there are ever taken down by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn

from netpolicy.lab.errors import LabError
from netpolicy.lab.preflight import require_prerequisites
from netpolicy.lab.ruleset import apply_ruleset
from netpolicy.lab.topology import (
    Lab,
    LabSpec,
    Progress,
    build_lab,
    lab_down,
    lab_namespaces,
    signals_raise,
)

DEFAULT_STATE_DIR = "/run/netpolicy/labs"


def state_dir() -> Path:
    return Path(os.environ.get("NETPOLICY_LAB_STATE_DIR") or DEFAULT_STATE_DIR)


@dataclass(frozen=True, slots=True)
class RunningPod:
    name: str
    netns: str
    ip: str
    ports: list[str]


@dataclass(frozen=True, slots=True)
class RunningLab:
    """What `lab up` records about a lab it keeps running."""

    prefix: str
    pid: int
    """The process that holds the lab (the daemon, or `lab up --foreground` itself)."""
    pid_start: str
    """Its start time (/proc/PID/stat field 22): a pid alone may be reused."""
    started: float
    description: str
    router_netns: str
    pods: list[RunningPod]
    log: str = ""

    @property
    def path(self) -> Path:
        return state_file(self.prefix)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(self.path)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> RunningLab:
        pods = [RunningPod(**p) for p in doc.pop("pods", [])]
        return cls(pods=pods, **doc)

    def is_alive(self) -> bool:
        """Whether the process holding the lab still runs (and is the one recorded)."""
        return _process_start(self.pid) == self.pid_start

    def pod(self, name: str) -> RunningPod:
        """The pod called `name`: `ns/name`, `ns/name[Kind]`, or a unique `name`."""
        exact = [p for p in self.pods if name in (p.name, p.name.split("[", 1)[0])]
        if not exact and "/" not in name:
            exact = [p for p in self.pods if p.name.split("/", 1)[1].split("[", 1)[0] == name]
        if len(exact) == 1:
            return exact[0]
        if not exact:
            known = ", ".join(p.name for p in self.pods[:8])
            raise LabError(f"lab {self.prefix} has no pod {name!r} (it has {known})")
        raise LabError(
            f"{name!r} names several pods of lab {self.prefix}: "
            + ", ".join(p.name for p in exact)
            + " (give ns/name)"
        )


def state_file(prefix: str) -> Path:
    return state_dir() / f"{prefix}.json"


def _process_start(pid: int) -> str:
    """The start time of a live, non-zombie process; '' when there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return ""
    return fields[19]


def running_labs() -> list[RunningLab]:
    """Every lab recorded by `lab up` (alive or not), oldest first."""
    labs = []
    folder = state_dir()
    if not folder.is_dir():
        return []
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            labs.append(RunningLab.from_dict(json.loads(path.read_text())))
    return sorted(labs, key=lambda lab: lab.started)


def find_lab(prefix: str | None) -> RunningLab:
    """The recorded lab `prefix` (with or without its trailing '-'), or the only one."""
    labs = running_labs()
    if prefix is None:
        if len(labs) == 1:
            return labs[0]
        if not labs:
            raise LabError("no lab is running (start one with: netpolicy lab up)")
        raise LabError(
            "several labs are running; choose one with --name: "
            + ", ".join(lab.prefix for lab in labs)
        )
    for lab in labs:
        if prefix in (lab.prefix, lab.prefix.rstrip("-")):
            return lab
    known = ", ".join(lab.prefix for lab in labs) or "none"
    raise LabError(
        f"no lab {prefix!r} was started by `netpolicy lab up` (running: {known}); "
        "only labs recorded there are taken down by name"
    )


def normalize_prefix(name: str) -> str:
    """`--name demo` -> `demo-`: the namespaces become `demo-router`, `demo-pod0`, ..."""
    return name if name.endswith("-") else name + "-"


def _record(lab: Lab, description: str, log: str) -> RunningLab:
    pid = os.getpid()
    pods = [
        RunningPod(
            pod.key, lab.netns(pod.key), pod.ip, [f"{port}/{proto}" for port, proto in pod.ports]
        )
        for pod in lab.spec.pods
    ]
    state = RunningLab(
        lab.prefix,
        pid,
        _process_start(pid),
        time.time(),
        description,
        lab.router_netns,
        pods,
        log,
    )
    state.save()
    return state


def _check_free(prefix: str) -> None:
    if state_file(prefix).exists():
        raise LabError(
            f"a lab named {prefix} is already recorded (netpolicy lab down --name {prefix})"
        )
    if lab_namespaces(prefix):
        raise LabError(
            f"namespaces named {prefix}... already exist; choose another --name "
            f"(or remove them: netpolicy lab down --name {prefix})"
        )


def keep_lab_foreground(
    spec: LabSpec,
    ruleset: str,
    description: str,
    *,
    progress: Progress | None = None,
    on_ready: Any = None,
    log: str = "",
) -> None:
    """Build the lab, load `ruleset`, record it, and hold it until Ctrl-C or SIGTERM."""
    require_prerequisites()
    _check_free(spec.prefix)
    state: RunningLab | None = None
    try:
        with signals_raise(), build_lab(spec, progress) as lab:
            apply_ruleset(lab, ruleset)
            state = _record(lab, description, log)
            if on_ready is not None:
                on_ready(state)
            while True:
                signal.pause()
    finally:
        with contextlib.suppress(OSError):
            state_file(spec.prefix).unlink()


def start_lab_daemon(
    spec: LabSpec, ruleset: str, description: str, *, timeout: float = 300.0
) -> RunningLab:
    """Fork a daemon that builds and holds the lab; return once it is up (`LabError` if not)."""
    require_prerequisites()
    _check_free(spec.prefix)
    folder = state_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LabError(f"cannot create the lab state folder {folder}: {exc}") from exc
    log = str(folder / f"{spec.prefix}.log")
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the forked child
        os.close(read_end)
        _daemonize(spec, ruleset, description, log, write_end)
    os.close(write_end)
    os.waitpid(pid, 0)  # the intermediate child exits at once
    try:
        message = _read_message(read_end, timeout)
    finally:
        os.close(read_end)
    if "error" in message:
        raise LabError(str(message["error"]))
    return RunningLab.from_dict(message["state"])


def _read_message(fd: int, timeout: float) -> dict[str, Any]:
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return {"error": f"the lab daemon did not report within {timeout:.0f} s"}
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        data += chunk
        # One line, not EOF: the pod workers forked by the daemon hold the pipe open too.
        if not chunk or data.endswith(b"\n"):
            break
    if not data.strip():
        return {"error": "the lab daemon exited before the lab was up"}
    parsed: dict[str, Any] = json.loads(data)
    return parsed


class _Report:
    """The daemon's one message to `lab up`: a JSON line, sent once, then the pipe is closed."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd

    def send(self, message: dict[str, Any]) -> None:
        if self.fd is None:
            return
        data = json.dumps(message).encode() + b"\n"
        try:
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError:
            pass
        finally:
            os.close(self.fd)
            self.fd = None


def _daemonize(spec: LabSpec, ruleset: str, description: str, log: str, pipe: int) -> NoReturn:
    """Detach (setsid, second fork, stdio to the log), then hold the lab. Never returns."""
    code = 0
    report = _Report(pipe)
    try:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        os.chdir("/")
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        # Nothing of the caller's may stay open here: a captured stdout pipe held by the
        # daemon would keep `subprocess.run(["netpolicy", "lab", "up"])` waiting forever.
        keep = {0, 1, 2, pipe}
        for fd in _open_fds():
            if fd not in keep:
                with contextlib.suppress(OSError):
                    os.close(fd)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        print(f"netpolicy lab {spec.prefix}: daemon {os.getpid()} starting", flush=True)

        def ready(state: RunningLab) -> None:
            report.send({"state": asdict(state)})
            print(f"netpolicy lab {spec.prefix}: up, {len(state.pods)} pods", flush=True)

        try:
            keep_lab_foreground(spec, ruleset, description, on_ready=ready, log=log)
        except LabError as exc:
            report.send({"error": exc.message})
            print(f"netpolicy lab {spec.prefix}: {exc.message}", flush=True)
            code = 1
        except (SystemExit, KeyboardInterrupt):
            print(f"netpolicy lab {spec.prefix}: stopped, torn down", flush=True)
    except BaseException as exc:
        with contextlib.suppress(BaseException):
            report.send({"error": f"{type(exc).__name__}: {exc}"})
            print(f"netpolicy lab {spec.prefix}: {type(exc).__name__}: {exc}", flush=True)
        code = 1
    finally:
        os._exit(code)


def _open_fds() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 1024))


def stop_lab(prefix: str | None, *, timeout: float = 30.0) -> tuple[RunningLab, list[str]]:
    """Take down a lab recorded by `lab up`; returns it and the namespaces removed by force."""
    require_prerequisites()
    state = find_lab(prefix)
    if state.is_alive() and state.pid != os.getpid():
        with contextlib.suppress(ProcessLookupError):
            os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while state.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if state.is_alive():  # stuck: its lab is removed by force below
            with contextlib.suppress(ProcessLookupError):
                os.kill(state.pid, signal.SIGKILL)
    forced = lab_down(state.prefix) if lab_namespaces(state.prefix) else []
    for path in (state.path, state.path.with_suffix(".log")):
        with contextlib.suppress(OSError):
            path.unlink()
    return state, forced


def exec_argv(state: RunningLab, pod: str, argv: list[str]) -> list[str]:
    """The command line that runs `argv` inside `pod`'s namespace of the lab."""
    if not argv:
        raise LabError("no command to run (netpolicy lab exec POD -- CMD...)")
    target = state.pod(pod)
    if target.netns not in lab_namespaces(state.prefix):
        raise LabError(
            f"the namespace {target.netns} of lab {state.prefix} is gone "
            f"(netpolicy lab down --name {state.prefix} cleans up)"
        )
    return ["ip", "netns", "exec", target.netns, *argv]


__all__ = [
    "RunningLab",
    "RunningPod",
    "exec_argv",
    "find_lab",
    "keep_lab_foreground",
    "normalize_prefix",
    "running_labs",
    "start_lab_daemon",
    "state_dir",
    "stop_lab",
]
