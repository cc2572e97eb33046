"""A Kubernetes API server for tests: the real list paths over HTTPS on 127.0.0.1.

It serves a snapshot (a list of objects) as the API server does: typed Lists whose items
carry no `kind`/`apiVersion`, pages by `limit` with an opaque `metadata.continue` token and
`remainingItemCount`, `Status` objects for 401 (a bearer token is required), 403 (kinds it
is told to forbid), 404 and 410 (a `continue` token it is told to expire). The certificate
comes from a CA made for the run; the kubeconfig it writes holds that CA in
`certificate-authority-data`.

    python tests/live/apiserver.py SNAPSHOT.json --kubeconfig OUT   (serves until killed)
"""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# kind → (API group/version prefix, plural, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("/api/v1", "namespaces", False),
    "Pod": ("/api/v1", "pods", True),
    "ReplicationController": ("/api/v1", "replicationcontrollers", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
    "ReplicaSet": ("/apis/apps/v1", "replicasets", True),
    "Job": ("/apis/batch/v1", "jobs", True),
    "CronJob": ("/apis/batch/v1", "cronjobs", True),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
}
TOKEN = "netpolicy-test-token"
RESOURCE_VERSION = "4242"


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict:
    """A `Status` object exactly as the API server writes one."""
    doc: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        doc["details"] = details
    doc["code"] = code
    return doc


EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


@dataclass
class Behaviour:
    """What the server does besides serving: forbidden plurals, expiring tokens, a cap."""

    forbidden: set[str] = field(default_factory=set)
    forbidden_lists: set[str] = field(default_factory=set)
    """Plurals whose list is forbidden while `get` of one object is allowed."""
    expire_once: set[str] = field(default_factory=set)
    expire_always: set[str] = field(default_factory=set)
    max_page: int | None = None
    token: str = TOKEN
    user: str = "system:serviceaccount:netpolicy:netpolicy-reader"


def make_tls(directory: Path) -> tuple[bytes, Path, Path]:
    """A CA (its PEM) and a server certificate for 127.0.0.1 signed by it (files)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "netpolicy-test-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file = directory / "apiserver.crt"
    key_file = directory / "apiserver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file


class _Store:
    """The served objects per (prefix, plural), each pre-encoded as the API sends it."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.items: dict[str, list[tuple[str, bytes]]] = {
            f"{prefix}/{plural}": [] for prefix, plural, _ in KINDS.values()
        }
        for obj in objects:
            kind = obj.get("kind")
            if kind not in KINDS:
                continue
            prefix, plural, _ = KINDS[kind]
            item = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}
            namespace = item.get("metadata", {}).get("namespace", "")
            self.items[f"{prefix}/{plural}"].append(
                (namespace, json.dumps(item, separators=(",", ":")).encode())
            )
        for found in self.items.values():  # etcd order: by namespace, then name
            found.sort(key=lambda pair: pair[0])


def _route(path: str) -> tuple[str, str | None, str | None] | None:
    """(collection key, namespace, name) of a list or get path; None when not served."""
    for prefix, plural, namespaced in KINDS.values():
        if not path.startswith(prefix + "/"):
            continue
        rest = path[len(prefix) + 1 :].split("/")
        if rest == [plural]:
            return f"{prefix}/{plural}", None, None
        if namespaced and len(rest) == 3 and rest[0] == "namespaces" and rest[2] == plural:
            return f"{prefix}/{plural}", rest[1], None
        if not namespaced and len(rest) == 2 and rest[0] == plural:
            return f"{prefix}/{plural}", None, rest[1]
    return None


class APIServer:
    """The server, on a free port of 127.0.0.1, in a thread; `requests` logs what was asked."""

    def __init__(
        self, objects: list[dict[str, Any]], directory: Path, behaviour: Behaviour | None = None
    ) -> None:
        self.store = _Store(objects)
        self.behaviour = behaviour or Behaviour()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._expired: set[str] = set()
        self._lock = threading.Lock()
        self.directory = directory
        self.ca_pem, cert_file, key_file = make_tls(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> APIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=10)

    def kubeconfig(
        self, path: Path | None = None, *, token: str | None = None, context: str = "test"
    ) -> Path:
        """A kubeconfig for this server: its CA inline, a bearer token, one context."""
        path = path or self.directory / "kubeconfig"
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": "reader", "user": {"token": token or self.behaviour.token}}],
            "contexts": [{"name": context, "context": {"cluster": "local", "user": "reader"}}],
            "current-context": context,
        }
        path.write_text(json.dumps(doc, indent=2))
        return path

    def answer(self, path: str, query: dict[str, str], auth: str | None) -> tuple[int, bytes]:
        """The status and JSON body for one GET."""
        with self._lock:
            self.requests.append((path, query))
        b = self.behaviour
        if auth != f"Bearer {b.token}":
            return 401, _json(status(401, "Unauthorized", "Unauthorized"))
        route = _route(path)
        if route is None:
            return 404, _json(
                status(404, "NotFound", "the server could not find the requested resource")
            )
        key, namespace, name = route
        plural = key.rsplit("/", 1)[1]
        group = key.split("/")[2] if key.startswith("/apis/") else ""
        if plural in b.forbidden or (plural in b.forbidden_lists and name is None):
            verb = "get" if name else "list"
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            message = (
                f'{plural} is forbidden: User "{b.user}" cannot {verb} resource "{plural}" '
                f'in API group "{group}" {scope}'
            )
            return 403, _json(status(403, "Forbidden", message, {"kind": plural}))
        items = self.store.items[key]
        if name is not None:
            for _, raw in items:
                obj = json.loads(raw)
                if obj.get("metadata", {}).get("name") == name:
                    kind = next(k for k, v in KINDS.items() if v[1] == plural)
                    return 200, _json({"kind": kind, "apiVersion": "v1", **obj})
            message = f'{plural} "{name}" not found'
            return 404, _json(status(404, "NotFound", message, {"name": name, "kind": plural}))
        if namespace is not None:
            items = [pair for pair in items if pair[0] == namespace]
        start = 0
        token = query.get("continue")
        if token:
            with self._lock:
                expire = plural in b.expire_once and plural not in self._expired
                self._expired.add(plural)
            if expire or plural in b.expire_always:
                return 410, _json(status(410, "Expired", EXPIRED))
            try:
                start = json.loads(base64.b64decode(token))["start"]
            except (ValueError, KeyError, TypeError):
                return 400, _json(status(400, "BadRequest", "invalid continue token"))
        limit = int(query.get("limit", "0") or 0)
        if b.max_page is not None:
            limit = min(limit, b.max_page) if limit else b.max_page
        end = min(start + limit, len(items)) if limit else len(items)
        metadata: dict[str, Any] = {"resourceVersion": RESOURCE_VERSION}
        if end < len(items):
            metadata["continue"] = base64.b64encode(
                json.dumps({"v": "meta.k8s.io/v1", "rv": 4242, "start": end}).encode()
            ).decode()
            metadata["remainingItemCount"] = len(items) - end
        kind = next(k for k, v in KINDS.items() if v[1] == plural)
        prefix = key.rsplit("/", 1)[0]
        api_version = prefix.removeprefix("/apis/") if prefix.startswith("/apis/") else "v1"
        head = json.dumps(
            {"kind": f"{kind}List", "apiVersion": api_version, "metadata": metadata},
            separators=(",", ":"),
        ).encode()
        body = head[:-1] + b',"items":[' + b",".join(raw for _, raw in items[start:end]) + b"]}"
        return 200, body


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def _handler(server: APIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            code, body = server.answer(url.path, query, self.headers.get("Authorization"))
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def objects_of(path: Path) -> list[dict[str, Any]]:
    """The objects of a manifest file (a JSON List, or YAML documents and Lists)."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        docs: list[Any] = [json.loads(text)]
    else:
        import yaml

        docs = list(yaml.safe_load_all(text))
    found: list[dict[str, Any]] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List") and "items" in doc:
            found += doc["items"]
        elif isinstance(doc, dict):
            found.append(doc)
    return found


def main(argv: list[str]) -> int:
    """Serve a snapshot until killed; print the kubeconfig path when ready."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = APIServer(objects_of(args.snapshot), Path(tmp))
        server.kubeconfig(args.kubeconfig)
        print(f"ready {server.url}", flush=True)
        server.httpd.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
