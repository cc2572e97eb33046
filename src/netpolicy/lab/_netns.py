"""Entering a named network namespace from a forked child, and small per-namespace chores.

Python 3.11 has no `os.setns`; libc's `setns(2)` through ctypes does the same. Only ever
called in a forked child, never in the lab's own process.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import socket
import struct
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from netpolicy.lab.errors import LabError

NETNS_RUN_DIR = "/run/netns"
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)

T = TypeVar("T")


def netns_path(name: str) -> str:
    """The file `ip netns add NAME` binds the namespace to."""
    return os.path.join(NETNS_RUN_DIR, name)


def existing_namespaces() -> set[str]:
    """Names of the namespaces `ip netns` knows (files under /run/netns)."""
    try:
        return set(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return set()


def enter_netns(name: str) -> None:
    """Move the calling (single-threaded, forked) process into namespace `name`."""
    fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def die_with_parent() -> None:
    """Have the kernel SIGKILL this child if the lab process dies without tearing down.

    The kernel means the parent *thread*: build a lab from a thread that outlives it (the
    main thread, typically), or its workers die with the thread that forked them.
    """
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def write_sysctls(values: Mapping[str, str]) -> list[str]:
    """Write `net.x.y`-style sysctls of the current namespace; return the ones that failed."""
    failed: list[str] = []
    for key, value in values.items():
        try:
            with open("/proc/sys/" + key.replace(".", "/"), "w") as handle:
                handle.write(value)
        except OSError:
            failed.append(key)
    return failed


def run_in_netns(name: str, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(*args)` in a forked child inside namespace `name`; return its (pickled) result."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(read_fd)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                enter_netns(name)
                reply: tuple[bool, Any] = (True, fn(*args))
            except Exception as exc:
                reply = (False, f"{type(exc).__name__}: {exc}")
            with os.fdopen(write_fd, "wb") as out:
                out.write(pickle.dumps(reply))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    if not data:
        raise LabError(f"a helper process in namespace {name} died")
    ok, value = pickle.loads(data)
    if not ok:
        raise LabError(f"in namespace {name}: {value}")
    return value  # type: ignore[no-any-return]


# ctnetlink: the message `conntrack -F` sends, without needing the conntrack tool.
_NETLINK_NETFILTER = 12
_CT_DELETE = (1 << 8) | 2  # NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE
_NLM_F_REQUEST_ACK = 0x1 | 0x4
_NLMSG_ERROR = 2


def flush_conntrack_here() -> None:
    """Delete every conntrack entry of the current namespace (all address families)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_NETFILTER) as nl:
        nl.bind((0, 0))
        nfgen = struct.pack("!BBH", socket.AF_UNSPEC, 0, 0)
        header = struct.pack("=IHHII", 16 + len(nfgen), _CT_DELETE, _NLM_F_REQUEST_ACK, 1, 0)
        nl.sendall(header + nfgen)
        nl.settimeout(2.0)
        reply = nl.recv(65536)
        if len(reply) >= 20:
            _, kind, _, _, _ = struct.unpack_from("=IHHII", reply)
            (error,) = struct.unpack_from("=i", reply, 16)
            if kind == _NLMSG_ERROR and error not in (0, -2):  # -ENOENT: table empty
                raise OSError(-error, f"conntrack flush: {os.strerror(-error)}")
