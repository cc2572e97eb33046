"""The API server's validation rules for NetworkPolicy and its parts, as pure functions.

Each check returns `(relative field path, message)` pairs worded as kubectl prints them
(kubernetes pkg/apis/networking/validation and apimachinery's validation helpers).
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from collections.abc import Sequence

from .positions import FieldPath

Problem = tuple[FieldPath, str]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PROTOCOLS = ("TCP", "UDP", "SCTP")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
POLICY_TYPES = ("Ingress", "Egress")

_LABEL_VALUE_RE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_QUALIFIED_NAME_RE = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_DNS1123_LABEL_RE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_RE = rf"{_DNS1123_LABEL_RE}(\.{_DNS1123_LABEL_RE})*"

_LABEL_VALUE = re.compile(_LABEL_VALUE_RE)
_QUALIFIED_NAME = re.compile(_QUALIFIED_NAME_RE)
_DNS1123_LABEL = re.compile(_DNS1123_LABEL_RE)
_DNS1123_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_RE)
_PORT_NAME_CHARS = re.compile(r"[-a-z0-9]+")
_HAS_LETTER = re.compile(r"[a-z]")
_PREFIX_LENGTH = re.compile(r"[0-9]+")

CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def show(value: object) -> str:
    """A value as Go's field errors print it: strings quoted, numbers bare."""
    return json.dumps(value) if isinstance(value, str) else str(value)


def invalid(value: object, message: str) -> str:
    return f"Invalid value: {show(value)}: {message}"


def unsupported(value: object, supported: Sequence[str]) -> str:
    choices = ", ".join(show(s) for s in supported)
    return f"Unsupported value: {show(value)}: supported values: {choices}"


def required(message: str = "") -> str:
    return f"Required value: {message}" if message else "Required value"


# --- names and labels ---------------------------------------------------------------------


def dns1123_label_errors(name: str) -> list[str]:
    """IsDNS1123Label: namespace names."""
    errors = []
    if len(name) > 63:
        errors.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.fullmatch(name):
        errors.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
            "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
            f"'123-abc', regex used for validation is '{_DNS1123_LABEL_RE}')"
        )
    return errors


def dns1123_subdomain_errors(name: str) -> list[str]:
    """IsDNS1123Subdomain: object names such as a NetworkPolicy's."""
    errors = []
    if len(name) > 253:
        errors.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.fullmatch(name):
        errors.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
            "'-' or '.', and must start and end with an alphanumeric character (e.g. "
            f"'example.com', regex used for validation is '{_DNS1123_SUBDOMAIN_RE}')"
        )
    return errors


def qualified_name_errors(key: str) -> list[str]:
    """IsQualifiedName: label keys, an optional DNS subdomain prefix and '/' then a name."""
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
        errors: list[str] = []
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors = ["prefix part must be non-empty"]
        else:
            errors = [f"prefix part {m}" for m in dns1123_subdomain_errors(prefix)]
    else:
        return [_qualified_name_message()]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME.fullmatch(name):
        errors.append("name part " + _qualified_name_message())
    return errors


def _qualified_name_message() -> str:
    return (
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
        "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
        f"validation is '{_QUALIFIED_NAME_RE}') with an optional DNS subdomain prefix and '/' "
        "(e.g. 'example.com/MyName')"
    )


def label_value_errors(value: str) -> list[str]:
    """IsValidLabelValue: at most 63 characters, alphanumeric at both ends, or empty."""
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(value):
        errors.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  "
            f"or 'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE_RE}')"
        )
    return errors


def labels_errors(labels: dict[str, str]) -> list[Problem]:
    """ValidateLabels: every key a qualified name, every value a valid label value."""
    problems: list[Problem] = []
    for key, value in labels.items():
        problems += _label_errors(key, value)
    return problems


@functools.lru_cache(maxsize=4096)
def _label_errors(key: str, value: str) -> tuple[Problem, ...]:
    # Cached: the same few labels repeat on thousands of pods.
    return tuple(
        [((key,), invalid(key, m)) for m in qualified_name_errors(key)]
        + [((key,), invalid(value, m)) for m in label_value_errors(value)]
    )


def requirement_errors(key: str, operator: str, values: Sequence[str]) -> list[Problem]:
    """ValidateLabelSelectorRequirement for one `matchExpressions` entry."""
    problems: list[Problem] = []
    if operator in ("In", "NotIn"):
        if not values:
            problems.append(
                (("values",), required("must be specified when `operator` is 'In' or 'NotIn'"))
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            problems.append(
                (
                    ("values",),
                    "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    else:
        problems.append((("operator",), unsupported(operator, OPERATORS)))
    problems += [(("key",), invalid(key, m)) for m in qualified_name_errors(key)]
    for i, value in enumerate(values):
        problems += [(("values", i), invalid(value, m)) for m in label_value_errors(value)]
    return problems


# --- ports --------------------------------------------------------------------------------


def port_number_errors(port: int) -> list[str]:
    """IsValidPortNum."""
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


@functools.lru_cache(maxsize=1024)
def port_name_errors(name: str) -> tuple[str, ...]:
    """IsValidPortName: an IANA_SVC_NAME (RFC 6335)."""
    errors: list[str] = []
    if len(name) > 15:
        errors.append("must be no more than 15 characters")
    if not _PORT_NAME_CHARS.fullmatch(name):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errors.append("must not contain consecutive hyphens")
    if not _HAS_LETTER.search(name):
        errors.append("must contain at least one letter (a-z)")
    if name.startswith("-") or name.endswith("-"):
        errors.append("must not begin or end with a hyphen")
    return tuple(errors)


def protocol_errors(protocol: str) -> list[str]:
    return [] if protocol in PROTOCOLS else [unsupported(protocol, PROTOCOLS)]


def policy_port_errors(
    protocol: str | None, port: int | str | None, end_port: int | None
) -> list[Problem]:
    """ValidateNetworkPolicyPort."""
    problems: list[Problem] = [(("protocol",), m) for m in protocol_errors(protocol or "TCP")]
    if port is None:
        if end_port is not None:
            problems.append(
                (
                    ("endPort",),
                    invalid(end_port, "may not be specified when `port` is not specified"),
                )
            )
    elif isinstance(port, int):
        problems += [(("port",), invalid(port, m)) for m in port_number_errors(port)]
        if end_port is not None:
            if end_port < port:
                problems.append(
                    (("endPort",), invalid(end_port, "must be greater than or equal to `port`"))
                )
            problems += [(("endPort",), invalid(end_port, m)) for m in port_number_errors(end_port)]
    else:
        if end_port is not None:
            problems.append(
                (("endPort",), invalid(end_port, "may not be specified when `port` is non-numeric"))
            )
        problems += [(("port",), invalid(port, m)) for m in port_name_errors(port)]
    return problems


# --- peers and ipBlocks -------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 14)  # policies repeat the same few ranges
def parse_cidr(text: str) -> IPNetwork | None:
    """Parse a CIDR as Go's net.ParseCIDR does (host bits allowed, so 10.0.0.1/24 is 10.0.0.0/24).

    Stricter than `ipaddress.ip_network`: the prefix length is required and must be digits,
    no netmask form, no IPv6 zone.
    """
    address, slash, length = text.partition("/")
    if not slash or not _PREFIX_LENGTH.fullmatch(length) or "%" in address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if int(length) > ip.max_prefixlen:
        return None
    return ipaddress.ip_network((ip, int(length)), strict=False)


def ip_block_errors(cidr: str, excepts: Sequence[str]) -> list[Problem]:
    """ValidateIPBlock: a valid cidr, and every except a valid CIDR strictly inside it."""
    if not cidr:
        return [(("cidr",), required())]
    network = parse_cidr(cidr)
    if network is None:
        return [(("cidr",), invalid(cidr, CIDR_MESSAGE))]
    problems: list[Problem] = []
    for i, text in enumerate(excepts):
        inner = parse_cidr(text)
        if inner is None:
            problems.append((("except", i), invalid(text, CIDR_MESSAGE)))
        elif not is_strict_subnet(inner, network):
            problems.append((("except", i), invalid(text, "must be a strict subset of `cidr`")))
    return problems


def is_strict_subnet(inner: IPNetwork, outer: IPNetwork) -> bool:
    """True when `inner` lies in `outer` and has a longer prefix (same family)."""
    if inner.version != outer.version or inner.prefixlen <= outer.prefixlen:
        return False
    return inner.subnet_of(outer)  # type: ignore[arg-type]


def peer_errors(
    has_pod_selector: bool, has_namespace_selector: bool, has_ip_block: bool
) -> list[Problem]:
    """ValidateNetworkPolicyPeer: at least one peer kind, and ipBlock only on its own."""
    count = has_pod_selector + has_namespace_selector + has_ip_block
    if count == 0:
        return [((), required("must specify a peer"))]
    if count > 1 and has_ip_block:
        return [((), "Forbidden: may not specify both ipBlock and another peer")]
    return []


def policy_types_errors(types: Sequence[str]) -> list[Problem]:
    """ValidateNetworkPolicySpec's policyTypes check (duplicates are accepted by the API)."""
    if len(types) > len(POLICY_TYPES):
        return [((), invalid(list(types), "may not specify more than two policyTypes"))]
    return [
        ((i,), unsupported(t, POLICY_TYPES)) for i, t in enumerate(types) if t not in POLICY_TYPES
    ]
