"""Namespaces, Pods and the pieces they share with workloads (metadata, container ports)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from netpolicy.model import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    Labels,
    Namespace,
    OwnerRef,
    Pod,
    labels_of,
)

from . import validate
from .fields import ObjectContext, Raw, type_name
from .positions import FieldPath

DEFAULT_NAMESPACE = "default"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Meta:
    """The identity of an object: namespace (defaulted), name and labels."""

    namespace: str
    name: str
    labels: Labels


class SharedParts:
    """What the pods of one controller share, converted once for all of them.

    The pods of a ReplicaSet repeat the same labels, containers and owner reference
    thousands of times. A pod whose raw part equals (a comparison made in C) that of the
    last pod with the same namespace and owner takes over its converted value, which also
    lets the pods share one copy. Only parts that converted without any diagnostic are
    taken over, so every problem is still reported at each pod's own location. Python's
    `==` holds between 1, 1.0 and True: where the conversion tells those apart, `exact`
    checks the types of the new part before its equal twin is trusted.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, str, str], tuple[object, Any]] = {}

    @staticmethod
    def scope(obj: Raw) -> tuple[str, str] | None:
        """(namespace, controller name) as written, when both are plain strings."""
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            return None
        refs = meta.get("ownerReferences")
        if not isinstance(refs, list) or not refs or not isinstance(refs[0], dict):
            return None
        namespace, owner = meta.get("namespace", ""), refs[0].get("name")
        if not isinstance(namespace, str) or not isinstance(owner, str):
            return None
        return namespace, owner

    def convert(
        self,
        ctx: ObjectContext,
        part: str,
        scope: tuple[str, str] | None,
        raw: object,
        convert: Callable[[], T],
        exact: Callable[[Any], bool] | None = None,
    ) -> T:
        if scope is None:
            return convert()
        key = (part, *scope)
        last = self._last.get(key)
        if last is not None and last[0] == raw and (exact is None or exact(raw)):
            return last[1]  # type: ignore[no-any-return]
        diagnostics = len(ctx.report.items)
        value = convert()
        if len(ctx.report.items) == diagnostics:
            self._last[key] = (raw, value)
        return value


def read_meta(
    ctx: ObjectContext,
    obj: Raw,
    *,
    namespaced: bool = True,
    shared: SharedParts | None = None,
    scope: tuple[str, str] | None = None,
) -> Meta | None:
    """`metadata` of an object; None (with an error) when the name is missing or invalid."""
    path: FieldPath = ("metadata",)
    meta = ctx.mapping(obj.get("metadata"), path) or {}
    name = ctx.string(meta.get("name"), (*path, "name"))
    if not name:
        name = ctx.string(meta.get("generateName"), (*path, "generateName"))
    if not name:
        ctx.error((*path, "name"), validate.required("name or generateName is required"))
        return None
    namespace = DEFAULT_NAMESPACE
    if namespaced:
        namespace = ctx.string(meta.get("namespace"), (*path, "namespace")) or DEFAULT_NAMESPACE
        for message in validate.dns1123_label_errors(namespace):
            ctx.error((*path, "namespace"), validate.invalid(namespace, message))
    raw_labels = meta.get("labels")

    def convert_labels() -> Labels:
        return labels_of(read_labels(ctx, raw_labels, (*path, "labels")))

    if shared is None:
        return Meta(namespace, name, convert_labels())
    return Meta(namespace, name, shared.convert(ctx, "labels", scope, raw_labels, convert_labels))


def read_labels(ctx: ObjectContext, value: object, path: FieldPath) -> dict[str, str]:
    """An object's label map; syntax the API server would reject is only warned about.

    Such a label can never equal a (validated) selector value, so keeping it is harmless,
    while dropping the object would change what its policies select.
    """
    labels = ctx.string_map(value, path) or {}
    for sub, message in validate.labels_errors(labels):
        ctx.warning((*path, *sub), message, "invalid-label")
    return labels


def read_owner(ctx: ObjectContext, obj: Raw) -> OwnerRef | None:
    """The controller owner reference (`controller: true`), ignoring Nodes (static pods)."""
    path: FieldPath = ("metadata", "ownerReferences")
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None
    refs = ctx.sequence(meta.get("ownerReferences"), path) or []
    for i, raw in enumerate(refs):
        ref = ctx.mapping(raw, (*path, i))
        if ref is None or ref.get("controller") is not True:
            continue
        kind = ctx.string(ref.get("kind"), (*path, i, "kind"))
        name = ctx.string(ref.get("name"), (*path, i, "name"))
        if name and not kind:
            # the API requires a kind; keep grouping the pods under their owner's name
            ctx.warning((*path, i, "kind"), "controller ownerReference has no kind", "invalid")
            return OwnerRef("", name)
        if kind and name and kind != "Node":
            return OwnerRef(kind, name)
    return None


def read_container_ports(
    ctx: ObjectContext, pod_spec: Raw | None, path: FieldPath
) -> tuple[ContainerPort, ...]:
    """The ports of `containers` (not initContainers); bad ports are dropped with a warning."""
    if pod_spec is None:
        return ()
    ports: list[ContainerPort] = []
    containers = ctx.sequence(pod_spec.get("containers"), (*path, "containers")) or []
    for c, raw_container in enumerate(containers):
        container_path = (*path, "containers", c)
        container = ctx.mapping(raw_container, container_path) or {}
        raw_ports = ctx.sequence(container.get("ports"), (*container_path, "ports")) or []
        for p, raw_port in enumerate(raw_ports):
            port = _container_port(ctx, raw_port, (*container_path, "ports", p))
            if port is not None:
                ports.append(port)
    return tuple(ports)


def _container_port(ctx: ObjectContext, raw: object, path: FieldPath) -> ContainerPort | None:
    if not isinstance(raw, dict):
        ctx.warning(path, f"must be a mapping, not {type_name(raw)}; container port dropped")
        return None
    number, protocol, name = raw.get("containerPort"), raw.get("protocol", "TCP"), raw.get("name")
    if (
        type(number) is int
        and 1 <= number <= 65535
        and protocol in validate.PROTOCOLS
        and (name is None or (type(name) is str and not validate.port_name_errors(name)))
    ):
        return ContainerPort(number, protocol, name or "")  # the common case, checked fast
    problems = _container_port_problems(number, protocol, name)
    for field, message in problems:
        ctx.warning((*path, field), f"{message}; container port dropped", "container-port")
    if problems:
        return None
    return ContainerPort(number, protocol, name or "")  # type: ignore[arg-type]


def _container_port_problems(
    number: object, protocol: object, name: object
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(number, int) or isinstance(number, bool):
        problems.append(("containerPort", f"must be an integer, not {type_name(number)}"))
    else:
        problems += [
            ("containerPort", validate.invalid(number, m))
            for m in validate.port_number_errors(number)
        ]
    if not isinstance(protocol, str):
        problems.append(("protocol", f"must be a string, not {type_name(protocol)}"))
    else:
        problems += [("protocol", m) for m in validate.protocol_errors(protocol)]
    if name is not None and not isinstance(name, str):
        problems.append(("name", f"must be a string, not {type_name(name)}"))
    elif name:
        problems += [("name", validate.invalid(name, m)) for m in validate.port_name_errors(name)]
    return problems


def convert_namespace(ctx: ObjectContext, obj: Raw) -> Namespace | None:
    """A Namespace object; its automatic `kubernetes.io/metadata.name` label is added."""
    start = ctx.errors
    meta = read_meta(ctx, obj, namespaced=False)
    if meta is None:
        return None
    for message in validate.dns1123_label_errors(meta.name):
        ctx.error(("metadata", "name"), validate.invalid(meta.name, message))
    if ctx.errors > start:
        return None
    labels = dict(meta.labels)
    labels[NAMESPACE_NAME_LABEL] = meta.name
    return Namespace(meta.name, labels_of(labels), ctx.ref(), declared=True)


def convert_pod(ctx: ObjectContext, obj: Raw, shared: SharedParts | None = None) -> Pod | None:
    """A live Pod; None for finished pods and invalid ones (each with a diagnostic)."""
    start = ctx.errors
    shared = shared or SharedParts()
    scope = shared.scope(obj)
    meta = read_meta(ctx, obj, shared=shared, scope=scope)
    if meta is None:
        return None
    spec = ctx.mapping(obj.get("spec"), ("spec",)) or {}
    status = ctx.mapping(obj.get("status"), ("status",)) or {}
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        ctx.info(
            ("status", "phase"),
            f"ignoring pod {meta.namespace}/{meta.name}: phase {phase}, it has no network",
            "finished-pod",
        )
        return None
    host_network = ctx.boolean(spec.get("hostNetwork"), ("spec", "hostNetwork")) or False
    ports = shared.convert(
        ctx,
        "ports",
        scope,
        spec.get("containers"),
        lambda: read_container_ports(ctx, spec, ("spec",)),
        _port_numbers_are_integers,
    )
    owner = shared.convert(
        ctx,
        "owner",
        scope,
        obj["metadata"].get("ownerReferences") if scope else None,
        lambda: read_owner(ctx, obj),
        _controller_flags_are_booleans,
    )
    ip = _pod_ip(ctx, status)
    if ctx.errors > start:
        return None
    if host_network:
        ctx.info(
            ("spec", "hostNetwork"),
            f"pod {meta.namespace}/{meta.name} uses the host network: not subject to NetworkPolicy",
            "host-network",
        )
    return Pod(
        meta.namespace,
        meta.name,
        meta.labels,
        ip=ip,
        ports=ports,
        owner=owner,
        host_network=host_network,
        source=ctx.ref(),
    )


def _port_numbers_are_integers(containers: list[Raw] | None) -> bool:
    return all(
        type(port.get("containerPort")) is int
        for container in containers or ()
        for port in container.get("ports") or ()
    )


def _controller_flags_are_booleans(refs: list[Raw] | None) -> bool:
    return all(type(ref.get("controller")) in (bool, type(None)) for ref in refs or ())


def _pod_ip(ctx: ObjectContext, status: Raw) -> str | None:
    """`status.podIP`, else the first of `status.podIPs`; a malformed address is dropped."""
    path: FieldPath = ("status", "podIP")
    ip = status.get("podIP")
    if not ip:
        ips = status.get("podIPs")
        if isinstance(ips, list) and ips and isinstance(ips[0], dict):
            ip, path = ips[0].get("ip"), ("status", "podIPs", 0, "ip")
    if not ip:
        return None
    address = normalize_ip(ip) if isinstance(ip, str) else None
    if address is None:
        ctx.warning(path, validate.invalid(str(ip), "must be a valid IP address; ignored"))
    return address


def normalize_ip(text: str) -> str | None:
    """An IP address in canonical form (IPv6 compressed), None when malformed."""
    # inet_pton is an order of magnitude faster than ipaddress, and pods are many.
    try:
        socket.inet_pton(socket.AF_INET, text)
    except OSError:
        pass
    else:
        return text
    try:
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
    except OSError:
        return None
