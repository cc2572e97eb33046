"""The intent file: who may talk to whom, on which ports, in the namespaces it governs.

Two spellings are read into the same `Intents` value:

- netpolicy's own (`apiVersion: netpolicy/v1`, `kind: Intents`): `namespaces` (the governed
  namespaces), `dns` (default true) and `intents`, each `{from, to, ports}`. An endpoint is a
  workload or pod `ns/name`, every pod of a namespace `ns/*`, a selector
  `{namespace: ns, selector: {matchLabels: ...}}` or an outside CIDR; a port is `N/PROTO`,
  `N-M/PROTO`, a port name (`name` or `name/PROTO`), a bare protocol (every port of it); no
  `ports` means every port of every protocol.
- Otterize `ClientIntents` (k8s.otterize.com v1alpha2/v1alpha3: `spec.service` and `calls`;
  v1/v2alpha1/v2beta1/v2: `spec.workload` and `targets`): every call of a client to a
  Kubernetes workload or service (`name`, `name.namespace`, or `namespace:`), with `ports`
  where given, and `internet` calls (`ips`, `ports`). The governed namespaces are those of the
  clients and their targets.

Every mistake is a located `Diagnostic` (file, line, field path); nothing here raises on input.
This module reads YAML itself (with line numbers): `generate` sits beside `load`, not above it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from netpolicy.model import PROTOCOLS, Diagnostic, LabelSelector, Protocol, SourceRef, labels_of

API_VERSION = "netpolicy/v1"
KIND = "Intents"
OTTERIZE_GROUP = "k8s.otterize.com/"
OTTERIZE_V1 = ("v1alpha2", "v1alpha3")
OTTERIZE_V2 = ("v1", "v2alpha1", "v2beta1", "v2")
INTENT_KEYS = frozenset({"from", "to", "ports", "flows", "name", "description"})
"""Keys an intent may carry: the three of the contract, and notes (`flows`: how many observed
flows support it, `name`, `description`) that change nothing generated."""

EndpointKind = Literal["workload", "namespace", "selector", "cidr"]
Path_ = tuple[str | int, ...]

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_PORT_NAME = re.compile(r"(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


_ALL_PODS = LabelSelector()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One end of an intent: a workload or pod, a namespace, a selector, or outside addresses."""

    kind: EndpointKind
    namespace: str = ""
    name: str = ""
    """The workload or pod name (kind `workload`; may carry `[Kind]`)."""
    selector: LabelSelector = _ALL_PODS
    """The pods selected in `namespace` (kind `selector`)."""
    cidr: str = ""
    """The network, normalized (kind `cidr`)."""

    @property
    def is_outside(self) -> bool:
        return self.kind == "cidr"

    def __str__(self) -> str:
        if self.kind == "workload":
            return f"{self.namespace}/{self.name}"
        if self.kind == "namespace":
            return f"{self.namespace}/*"
        if self.kind == "selector":
            return f"{self.namespace}/{{{self.selector}}}"
        return self.cidr


@dataclass(frozen=True, slots=True)
class IntentPort:
    """One declared port: a number or range, a name, or (port None) every port of `protocol`."""

    protocol: Protocol = "TCP"
    port: int | str | None = None
    end_port: int | None = None
    protocol_given: bool = field(default=True, compare=False)
    """False for a bare port name: it means the port of that name on whichever protocol the
    destination declares it (TCP when none does)."""

    @property
    def is_named(self) -> bool:
        return isinstance(self.port, str)

    def __str__(self) -> str:
        if self.port is None:
            return self.protocol
        if isinstance(self.port, str):
            return self.port if self.protocol == "TCP" else f"{self.port}/{self.protocol}"
        if self.end_port is not None and self.end_port != self.port:
            return f"{self.port}-{self.end_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"

    def sort_key(self) -> tuple[int, int, int, str]:
        proto = PROTOCOLS.index(self.protocol)
        if self.port is None:
            return (0, proto, 0, "")
        if isinstance(self.port, str):
            return (2, proto, 0, self.port)
        return (1, proto, self.port, str(self.end_port or 0))


@dataclass(frozen=True, slots=True)
class Intent:
    """`src` may open connections to `dst` on `ports` (empty: every port of every protocol)."""

    src: Endpoint
    dst: Endpoint
    ports: tuple[IntentPort, ...] = ()
    index: int = 0
    """1-based position in the file (0 for the implicit DNS intents)."""
    source: SourceRef = field(default_factory=SourceRef, compare=False)
    flows: int | None = None
    dns: bool = False
    """An implicit intent: DNS (UDP and TCP 53 to kube-dns), not written in the file."""

    @property
    def label(self) -> str:
        """How comments and messages name it: `intent #2` or `DNS`."""
        return "DNS" if self.dns else f"intent #{self.index}"

    def describe(self) -> str:
        ports = ", ".join(str(p) for p in self.ports) if self.ports else "all ports"
        return f"{self.src} -> {self.dst} : {ports}"


@dataclass(frozen=True, slots=True)
class Intents:
    """A whole intent file: the governed namespaces, DNS on or off, the intents in order."""

    namespaces: tuple[str, ...] = ()
    intents: tuple[Intent, ...] = ()
    dns: bool = True
    source: SourceRef = field(default_factory=SourceRef, compare=False)
    kind: str = KIND
    """`Intents`, or `ClientIntents` when read from Otterize resources."""


class _Reader:
    """Values of one document with the line of every field, collecting diagnostics."""

    def __init__(self, file: str, lines: Mapping[Path_, int], doc: int = 0) -> None:
        self.file = file
        self.lines = lines
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    def where(self, path: Path_) -> SourceRef:
        line = 0
        for cut in range(len(path), -1, -1):
            line = self.lines.get(path[:cut], 0)
            if line:
                break
        return SourceRef(self.file, line, self.doc, _format_path(path))

    def error(self, path: Path_, message: str) -> None:
        self.diagnostics.append(Diagnostic("error", message, self.where(path), "intents"))

    def warning(self, path: Path_, message: str) -> None:
        self.diagnostics.append(Diagnostic("warning", message, self.where(path), "intents"))

    def info(self, path: Path_, message: str) -> None:
        self.diagnostics.append(Diagnostic("info", message, self.where(path), "intents"))


def _format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


# ---------------------------------------------------------------- YAML with lines


def _compose(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    """The Python value of a composed node, recording the line of every field (1-based)."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _compose(key_node, (*path, "?"), {})
            key = str(key) if not isinstance(key, (str, int)) else key
            if key in out:
                raise _Duplicate(str(key), key_node.start_mark.line + 1)
            child = (*path, str(key))
            lines[child] = key_node.start_mark.line + 1
            out[key] = _compose(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_compose(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.SafeLoader("").construct_object(node)  # type: ignore[no-untyped-call]


class _Duplicate(Exception):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(key)
        self.key, self.line = key, line


def _documents(text: str, file: str) -> tuple[list[tuple[Any, dict[Path_, int]]], list[Diagnostic]]:
    docs: list[tuple[Any, dict[Path_, int]]] = []
    try:
        for i, node in enumerate(yaml.compose_all(text, Loader=yaml.SafeLoader)):
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            try:
                docs.append((_compose(node, (), lines), lines))
            except _Duplicate as e:
                where = SourceRef(file, e.line, i)
                return docs, [Diagnostic("error", f"duplicate key {e.key!r}", where, "intents")]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(e, "problem", None) or str(e)
        message = f"not valid YAML: {problem}"
        return docs, [Diagnostic("error", message, SourceRef(file, line), "intents")]
    return docs, []


# ---------------------------------------------------------------- entry points


def load_intents(
    text_or_path: str | Path, *, filename: str | None = None
) -> tuple[Intents, list[Diagnostic]]:
    """The intents of a file (a `Path`, or a `str` naming an existing file) or of YAML text.

    Reads netpolicy's `Intents` document or Otterize `ClientIntents` resources (several, as
    a multi-document stream). Returns the intents and every problem, located; with an error
    among them the intents are incomplete and must not be generated from."""
    text: str
    if isinstance(text_or_path, Path) or (
        "\n" not in text_or_path
        and (Path(text_or_path).is_file() or text_or_path.endswith((".yaml", ".yml", ".json")))
    ):
        path = Path(text_or_path)
        name = filename or str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            return Intents(), [
                Diagnostic("error", f"cannot read: {e.strerror or e}", SourceRef(name), "intents")
            ]
        except UnicodeDecodeError:
            return Intents(), [Diagnostic("error", "not UTF-8 text", SourceRef(name), "intents")]
    else:
        text = text_or_path
        name = filename or "<intents>"
    docs, problems = _documents(text, name)
    if problems:
        return Intents(source=SourceRef(name)), problems
    if not docs:
        where = SourceRef(name, 1)
        return Intents(source=where), [
            Diagnostic(
                "error",
                f"no document: expected apiVersion: {API_VERSION}, kind: {KIND}",
                where,
                "intents",
            )
        ]
    first = docs[0][0]
    if isinstance(first, dict) and first.get("kind") == "ClientIntents":
        return _from_otterize(docs, name)
    if len(docs) > 1:
        return _read_document(docs[0][0], name, docs[0][1], extra_documents=len(docs) - 1)
    return _read_document(first, name, docs[0][1])


def intents_from_document(
    doc: Mapping[str, Any], source: str | SourceRef = "<intents>"
) -> tuple[Intents, list[Diagnostic]]:
    """The intents of a document already in memory (the shape of the intent file, as a dict);
    `source` names it in diagnostics (there are no lines to point at)."""
    name = source.file if isinstance(source, SourceRef) else source
    if isinstance(doc, Mapping) and doc.get("kind") == "ClientIntents":
        return _from_otterize([(dict(doc), {})], name)
    return _read_document(doc, name, {})


# ---------------------------------------------------------------- netpolicy/v1 Intents


def _read_document(
    doc: object, file: str, lines: Mapping[Path_, int], *, extra_documents: int = 0
) -> tuple[Intents, list[Diagnostic]]:
    r = _Reader(file, lines)
    top = r.where(())
    if extra_documents:
        r.error((), f"one Intents document expected; {extra_documents} more follow it")
    if not isinstance(doc, Mapping):
        r.error(
            (), f"expected a mapping (apiVersion: {API_VERSION}, kind: {KIND}), not {_type(doc)}"
        )
        return Intents(source=top), r.diagnostics
    if doc.get("apiVersion") != API_VERSION:
        r.error(("apiVersion",), f"apiVersion must be {API_VERSION}, not {doc.get('apiVersion')!r}")
    if doc.get("kind") != KIND:
        r.error(("kind",), f"kind must be {KIND} (or ClientIntents), not {doc.get('kind')!r}")
    for key in doc:
        if key not in ("apiVersion", "kind", "metadata", "namespaces", "dns", "intents"):
            r.error((str(key),), f"unknown field {key!r} (fields: namespaces, dns, intents)")
    namespaces = _namespaces(r, doc.get("namespaces"))
    dns = doc.get("dns", True)
    if not isinstance(dns, bool):
        r.error(("dns",), f"dns must be true or false, not {dns!r}")
        dns = True
    raw = doc.get("intents")
    intents: list[Intent] = []
    if raw is None:
        r.error(("intents",), "intents is required (a list of {from, to, ports})")
    elif not isinstance(raw, list):
        r.error(("intents",), f"intents must be a list of {{from, to, ports}}, not {_type(raw)}")
    else:
        for i, item in enumerate(raw):
            found = _intent(r, item, ("intents", i), i + 1)
            if found is not None:
                intents.append(found)
    return Intents(tuple(namespaces), tuple(intents), dns, top), r.diagnostics


def _namespaces(r: _Reader, raw: object) -> list[str]:
    if raw is None:
        r.error(("namespaces",), "namespaces is required: the namespaces these intents govern")
        return []
    if not isinstance(raw, list) or not raw:
        r.error(("namespaces",), "namespaces must be a non-empty list of namespace names")
        return []
    out: list[str] = []
    for i, ns in enumerate(raw):
        if not isinstance(ns, str) or not _is_name(ns):
            r.error(("namespaces", i), f"{ns!r} is not a namespace name")
        elif ns in out:
            r.warning(("namespaces", i), f"namespace {ns} is listed twice")
        else:
            out.append(ns)
    return out


def _is_name(text: str) -> bool:
    return len(text) <= 63 and bool(_NAME.fullmatch(text))


def _intent(r: _Reader, raw: object, path: Path_, index: int) -> Intent | None:
    if not isinstance(raw, Mapping):
        r.error(path, f"an intent is a mapping {{from, to, ports}}, not {_type(raw)}")
        return None
    ok = True
    for key in raw:
        if key not in INTENT_KEYS:
            hint = " (did you mean ports?)" if key == "port" else ""
            r.error((*path, str(key)), f"unknown field {key!r} in an intent{hint}")
            ok = False
    for key in ("from", "to"):
        if key not in raw:
            r.error(path, f"{key} is required")
            ok = False
    src = _endpoint(r, raw.get("from"), (*path, "from")) if "from" in raw else None
    dst = _endpoint(r, raw.get("to"), (*path, "to")) if "to" in raw else None
    ports = _ports(r, raw.get("ports"), (*path, "ports")) if "ports" in raw else ()
    flows = raw.get("flows")
    if flows is not None and (not isinstance(flows, int) or isinstance(flows, bool) or flows < 0):
        r.error((*path, "flows"), f"flows must be a count (a whole number), not {flows!r}")
        ok = False
    if src is None or dst is None or ports is None or not ok:
        return None
    if src.is_outside and dst.is_outside:
        r.error(path, "both ends are outside addresses: no NetworkPolicy governs that")
        return None
    if dst.is_outside and any(p.is_named for p in ports):
        r.error(
            (*path, "ports"),
            "a named port never matches an outside address: give the number (e.g. 443/TCP)",
        )
        return None
    return Intent(src, dst, ports, index, r.where(path), flows if isinstance(flows, int) else None)


def parse_endpoint(text: str) -> Endpoint:
    """`ns/name`, `ns/*`, or a CIDR (or one address) as an Endpoint; raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("an empty endpoint")
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        if ":" in text or re.fullmatch(r"[\d.]+(/\d*)?", text):
            raise ValueError(f"{text!r} is not an address or CIDR") from None
    else:
        if _has_host_bits(text):
            raise ValueError(f"{text!r} has host bits set: did you mean {loose}?")
        return Endpoint("cidr", cidr=str(loose))
    if text.count("/") != 1:
        raise ValueError(
            f"{text!r}: expected ns/name (a workload or pod), ns/* (every pod of ns), a CIDR, "
            "or {namespace: ns, selector: {matchLabels: ...}}"
        )
    ns, name = text.split("/")
    if not _is_name(ns):
        raise ValueError(f"{text!r}: {ns!r} is not a namespace name")
    if name == "*":
        return Endpoint("namespace", ns)
    base, kind = name, ""
    if name.endswith("]") and "[" in name:
        base, kind = name[:-1].split("[", 1)
        if not kind.isalpha():
            raise ValueError(f"{text!r}: {kind!r} is not a kind (e.g. Deployment)")
    if not (len(base) <= 253 and _SUBDOMAIN.fullmatch(base)):
        raise ValueError(f"{text!r}: {base!r} is not a workload or pod name")
    return Endpoint("workload", ns, name)


def _has_host_bits(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return True
    return False


def _endpoint(r: _Reader, raw: object, path: Path_) -> Endpoint | None:
    if isinstance(raw, str):
        try:
            return parse_endpoint(raw)
        except ValueError as e:
            r.error(path, str(e))
            return None
    if isinstance(raw, Mapping):
        unknown = [k for k in raw if k not in ("namespace", "selector")]
        for key in unknown:
            r.error(
                (*path, str(key)), f"unknown field {key!r} (an endpoint has namespace, selector)"
            )
        ns = raw.get("namespace")
        if not isinstance(ns, str) or not _is_name(ns):
            r.error((*path, "namespace"), f"namespace must be a namespace name, not {ns!r}")
            return None
        selector = _selector(r, raw.get("selector"), (*path, "selector"))
        if selector is None or unknown:
            return None
        if selector.is_empty:
            return Endpoint("namespace", ns)
        return Endpoint("selector", ns, selector=selector)
    r.error(
        path,
        f"an endpoint is ns/name, ns/*, a CIDR or {{namespace, selector}}, not {_type(raw)}",
    )
    return None


def _selector(r: _Reader, raw: object, path: Path_) -> LabelSelector | None:
    if raw is None:
        return LabelSelector()
    if not isinstance(raw, Mapping):
        r.error(path, f"selector must be a mapping with matchLabels, not {_type(raw)}")
        return None
    for key in raw:
        if key != "matchLabels":
            r.error((*path, str(key)), f"unknown field {key!r} (a selector has matchLabels)")
            return None
    labels = raw.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        r.error((*path, "matchLabels"), f"matchLabels must be a mapping, not {_type(labels)}")
        return None
    ok = True
    for key, value in labels.items():
        where = (*path, "matchLabels", str(key))
        if not isinstance(key, str) or not _label_key_ok(key):
            r.error(where, f"{key!r} is not a label key")
            ok = False
        if not isinstance(value, str) or not _LABEL_VALUE.fullmatch(value) or len(value) > 63:
            r.error(where, f"{value!r} is not a label value (a string; quote numbers and true)")
            ok = False
    return LabelSelector(labels_of({str(k): str(v) for k, v in labels.items()})) if ok else None


def _label_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and not (len(prefix) <= 253 and _SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_LABEL_NAME.fullmatch(name))


def parse_port(text: str) -> IntentPort:
    """`8080/TCP`, `8000-8080/TCP`, `53/UDP`, `8080` (TCP), `postgres`, `dns/UDP`, `UDP`."""
    parts = text.strip().split("/")
    if len(parts) > 2 or not all(parts):
        raise ValueError(f"{text!r}: expected N/PROTO, N-M/PROTO or a port name")
    protocol: str = "TCP"
    if len(parts) == 2:
        protocol = parts[1].upper()
        if protocol not in PROTOCOLS:
            raise ValueError(f"{text!r}: protocol must be TCP, UDP or SCTP, not {parts[1]!r}")
    head = parts[0]
    proto: Protocol = protocol  # type: ignore[assignment]
    if head.upper() in PROTOCOLS and len(parts) == 1:
        return IntentPort(head.upper())  # type: ignore[arg-type]
    if re.fullmatch(r"\d+", head):
        number = int(head)
        _check_number(text, number)
        return IntentPort(proto, number)
    match = re.fullmatch(r"(\d+)-(\d+)", head)
    if match:
        lo, hi = int(match[1]), int(match[2])
        _check_number(text, lo)
        _check_number(text, hi)
        if hi < lo:
            raise ValueError(f"{text!r}: the range ends before it starts")
        return IntentPort(proto, lo, hi if hi != lo else None)
    if len(head) > 15 or not _PORT_NAME.fullmatch(head) or "--" in head:
        raise ValueError(
            f"{text!r}: not a port number, range or port name (a name has at most 15 "
            "lower-case letters, digits and '-', with at least one letter)"
        )
    return IntentPort(proto, head, protocol_given=len(parts) == 2)


def _check_number(text: str, number: int) -> None:
    if not 1 <= number <= 65535:
        raise ValueError(f"{text!r}: port {number} is not in 1..65535")


def _ports(r: _Reader, raw: object, path: Path_) -> tuple[IntentPort, ...] | None:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raw = [raw] if isinstance(raw, (str, int)) and not isinstance(raw, bool) else raw
        if not isinstance(raw, list):
            r.error(path, f"ports must be a list like [8080/TCP, postgres], not {_type(raw)}")
            return None
    out: list[IntentPort] = []
    ok = True
    for i, item in enumerate(raw):
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            r.error((*path, i), f"a port is N/PROTO, N-M/PROTO or a name, not {_type(item)}")
            ok = False
            continue
        try:
            port = parse_port(str(item))
        except ValueError as e:
            r.error((*path, i), str(e))
            ok = False
            continue
        if port not in out:
            out.append(port)
    return tuple(out) if ok else None


# ---------------------------------------------------------------- Otterize ClientIntents


def _from_otterize(
    docs: list[tuple[Any, dict[Path_, int]]], file: str
) -> tuple[Intents, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    intents: list[Intent] = []
    namespaces: list[str] = []
    for d, (doc, lines) in enumerate(docs):
        r = _Reader(file, lines, d)
        for found in _client_intents(r, doc, len(intents)):
            intents.append(found)
            for end in (found.src, found.dst):
                if end.namespace and end.namespace not in namespaces:
                    namespaces.append(end.namespace)
        diagnostics += r.diagnostics
    top = SourceRef(file, docs[0][1].get((), 1) if docs else 0)
    return Intents(tuple(namespaces), tuple(intents), True, top, "ClientIntents"), diagnostics


def _otterize_target(name: object, namespace: object, default_ns: str) -> Endpoint:
    """`svc` (the client's namespace), `svc.ns`, or `svc` with `namespace: ns`."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a target name is required, not {name!r}")
    ns = default_ns
    if isinstance(namespace, str) and namespace:
        ns = namespace
    elif "." in name:
        name, ns = name.split(".", 1)
    if not _is_name(ns):
        raise ValueError(f"{ns!r} is not a namespace name")
    if not _SUBDOMAIN.fullmatch(name):
        raise ValueError(f"{name!r} is not a workload name")
    return Endpoint("workload", ns, name)


def _client_intents(r: _Reader, doc: object, before: int) -> list[Intent]:
    if not isinstance(doc, Mapping) or doc.get("kind") != "ClientIntents":
        r.error((), "every document must be a ClientIntents resource when the first one is")
        return []
    version = str(doc.get("apiVersion", ""))
    group, _, ver = version.rpartition("/")
    if f"{group}/" != OTTERIZE_GROUP or ver not in (*OTTERIZE_V1, *OTTERIZE_V2):
        r.error(
            ("apiVersion",),
            f"unsupported ClientIntents apiVersion {version!r} (k8s.otterize.com/"
            f"{', '.join((*OTTERIZE_V1, *OTTERIZE_V2))})",
        )
        return []
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace", "default") if isinstance(meta, Mapping) else "default"
    if not isinstance(ns, str) or not _is_name(ns):
        r.error(("metadata", "namespace"), f"{ns!r} is not a namespace name")
        return []
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        r.error(("spec",), "spec is required")
        return []
    v1 = ver in OTTERIZE_V1
    client_key, calls_key = ("service", "calls") if v1 else ("workload", "targets")
    client = spec.get(client_key)
    if not isinstance(client, Mapping) or not isinstance(client.get("name"), str):
        r.error(("spec", client_key), f"spec.{client_key}.name is required (the client)")
        return []
    try:
        src = _otterize_target(client["name"], None, ns)
    except ValueError as e:
        r.error(("spec", client_key, "name"), str(e))
        return []
    calls = spec.get(calls_key) or []
    if not isinstance(calls, list):
        r.error(("spec", calls_key), f"spec.{calls_key} must be a list")
        return []
    out: list[Intent] = []
    for i, call in enumerate(calls):
        path: Path_ = ("spec", calls_key, i)
        if not isinstance(call, Mapping):
            r.error(path, f"a call is a mapping, not {_type(call)}")
            continue
        found = _call(r, call, path, src, ns, v1)
        for dst, ports, where in found:
            out.append(Intent(src, dst, ports, before + len(out) + 1, r.where(where)))
    return out


_NETWORK_TYPES = (None, "http", "kubernetes", "service")


def _call(
    r: _Reader, call: Mapping[str, Any], path: Path_, src: Endpoint, ns: str, v1: bool
) -> list[tuple[Endpoint, tuple[IntentPort, ...], Path_]]:
    """The (destination, ports) of one call; calls that are not network connections between
    pods (kafka topics, databases, cloud IAM) are noted and left out."""
    if v1:
        kind = call.get("type")
        if kind == "internet":
            return _internet(r, call.get("internet"), (*path, "internet"))
        if kind not in _NETWORK_TYPES:
            r.info(path, f"a {kind} call grants no network access: left out")
            return []
        target, where = call, path
    else:
        key = next((k for k in ("kubernetes", "service", "internet") if k in call), None)
        if key is None:
            other = next(iter(call), "?")
            r.info(path, f"a {other} target grants no network access between pods: left out")
            return []
        if key == "internet":
            return _internet(r, call.get("internet"), (*path, "internet"))
        found, where = call.get(key), (*path, key)
        if not isinstance(found, Mapping):
            r.error(where, f"{key} must be a mapping with name")
            return []
        target = found
    try:
        dst = _otterize_target(target.get("name"), target.get("namespace"), ns)
    except ValueError as e:
        r.error((*where, "name"), str(e))
        return []
    ports = _ports(r, target.get("ports"), (*where, "ports")) if "ports" in target else ()
    if ports is None:
        return []
    del src
    return [(dst, ports, where)]


def _internet(
    r: _Reader, raw: object, path: Path_
) -> list[tuple[Endpoint, tuple[IntentPort, ...], Path_]]:
    if not isinstance(raw, Mapping):
        r.error(path, "internet must be a mapping with ips (and ports)")
        return []
    ips = raw.get("ips") or []
    if raw.get("domains") and not ips:
        r.warning(path, "internet domains cannot be expressed by a NetworkPolicy: left out")
    ports = _ports(r, raw.get("ports"), (*path, "ports")) if "ports" in raw else ()
    if ports is None or not isinstance(ips, list):
        if not isinstance(ips, list):
            r.error((*path, "ips"), "ips must be a list of addresses or CIDRs")
        return []
    out: list[tuple[Endpoint, tuple[IntentPort, ...], Path_]] = []
    for i, ip in enumerate(ips):
        try:
            end = parse_endpoint(str(ip))
        except ValueError as e:
            r.error((*path, "ips", i), str(e))
            continue
        if not end.is_outside:
            r.error((*path, "ips", i), f"{ip!r} is not an address or CIDR")
            continue
        out.append((end, ports, (*path, "ips", i)))
    return out


__all__ = [
    "API_VERSION",
    "KIND",
    "Endpoint",
    "Intent",
    "IntentPort",
    "Intents",
    "intents_from_document",
    "load_intents",
    "parse_endpoint",
    "parse_port",
]
