"""A live cluster → the same loader as files: paginated list calls, their raw JSON.

The official `kubernetes` client gives configuration (kubeconfig, contexts, in-cluster),
authentication (tokens, client certificates, exec plugins) and transport; the lists are read
as raw JSON pages (`limit`/`continue`), never as the client's model objects, which cost
milliseconds per pod. Each kind is read to its end before any of it is loaded: a list that
restarts (410 Gone on an expired `continue` token) never loads an object twice.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from netpolicy.model import Diagnostic, SourceRef

from .cluster import ClusterBuilder
from .fields import Document, Report
from .manifests import LoadResult, gc_paused, say_what_is_missing
from .positions import FieldPath

PAGE_SIZE = 500
"""Objects per list call, as kubectl's `--chunk-size` default."""
RESTARTS = 3
"""How often one list starts again after its `continue` token expired (410 Gone)."""
RETRIES = 3
"""How often one page is asked for again after 429 Too Many Requests or a 5xx answer."""
TIMEOUT = (10.0, 120.0)
"""Seconds to connect, and to wait for one page."""


@dataclass(frozen=True, slots=True)
class Resource:
    """One kind read from the API: where it is listed and what the analysis lacks without it."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool
    lacking: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        """`/api/v1/pods`, `/apis/apps/v1/namespaces/shop/deployments/web`, ..."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        where = f"/namespaces/{namespace}" if namespace and self.namespaced else ""
        return f"{base}{where}/{self.plural}" + (f"/{name}" if name else "")


_TEMPLATE_STAND_IN = "workloads without live pods of this kind are not analyzed"
RESOURCES = (
    Resource(
        "Namespace",
        "",
        "v1",
        "namespaces",
        False,
        "namespace labels are unknown: a namespaceSelector matches a namespace only by its "
        "kubernetes.io/metadata.name label",
    ),
    Resource(
        "Pod",
        "",
        "v1",
        "pods",
        True,
        "live pods are unknown: workloads stand for them (labels and ports from their "
        "templates, no pod IPs, so ipBlocks match no pod)",
    ),
    Resource("Deployment", "apps", "v1", "deployments", True, _TEMPLATE_STAND_IN),
    Resource("StatefulSet", "apps", "v1", "statefulsets", True, _TEMPLATE_STAND_IN),
    Resource("DaemonSet", "apps", "v1", "daemonsets", True, _TEMPLATE_STAND_IN),
    Resource("ReplicaSet", "apps", "v1", "replicasets", True, _TEMPLATE_STAND_IN),
    Resource("ReplicationController", "", "v1", "replicationcontrollers", True, _TEMPLATE_STAND_IN),
    Resource("Job", "batch", "v1", "jobs", True, _TEMPLATE_STAND_IN),
    Resource("CronJob", "batch", "v1", "cronjobs", True, _TEMPLATE_STAND_IN),
    Resource(
        "NetworkPolicy",
        "networking.k8s.io",
        "v1",
        "networkpolicies",
        True,
        "no NetworkPolicy is known: every pod looks open, so the result says nothing about "
        "isolation",
    ),
)
"""Every kind the analysis reads, in the order they are listed."""


class LiveError(Exception):
    """The cluster could not be read at all: no kubeconfig, unreachable, credentials refused."""


@dataclass(frozen=True, slots=True)
class LiveSource:
    """Which cluster to read and how much of it: `namespace` None reads every namespace."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    page_size: int = PAGE_SIZE


Progress = Callable[[Resource, int, int | None, bool], None]
"""Called after each page: the kind, objects read so far, the total when the server said
(`remainingItemCount`), and whether the kind is complete."""


@dataclass(slots=True)
class Snapshot:
    """The objects read from one cluster, per kind (each with its `kind` and `apiVersion`),
    with what could not be read."""

    context: str
    server: str
    namespace: str | None
    lists: list[tuple[Resource, list[dict[str, Any]]]] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)
    missing: list[Resource] = field(default_factory=list)

    @property
    def where(self) -> SourceRef:
        return SourceRef(self.description)

    @property
    def description(self) -> str:
        cluster = f'cluster "{self.context}" ({self.server})' if self.context else self.server
        return f"namespace {self.namespace} of {cluster}" if self.namespace else cluster

    @property
    def is_partial(self) -> bool:
        return bool(self.missing)

    def objects(self) -> Iterator[dict[str, Any]]:
        """Every object, `apiVersion` and `kind` first (as a manifest writes them)."""
        for _, items in self.lists:
            yield from items


class _NoLines:
    """Objects read from the API have no line; their location is their API path."""

    __slots__ = ()

    def line(self, path: FieldPath) -> int:
        return 0


_NO_LINES = _NoLines()


def load_live(source: LiveSource, progress: Progress | None = None) -> tuple[LoadResult, Snapshot]:
    """Read the cluster and load it as files are loaded. Raises `LiveError` when nothing can
    be read; a kind the server forbids is a problem of the snapshot (`Snapshot.missing`)."""
    snapshot = read_snapshot(source, progress)
    return load_snapshot(snapshot), snapshot


def load_snapshot(snapshot: Snapshot) -> LoadResult:
    """The snapshot through the file loader; each object is located by its API path."""
    report = Report()
    report.items.extend(snapshot.problems)
    builder = ClusterBuilder(report)
    prefix = f"{snapshot.context}:" if snapshot.context else snapshot.server
    with gc_paused():
        for resource, items in snapshot.lists:
            for item in items:
                meta = item.get("metadata")
                name = meta.get("name") if isinstance(meta, dict) else None
                ns = meta.get("namespace") if isinstance(meta, dict) else None
                path = resource.path(
                    ns if isinstance(ns, str) else None, name if isinstance(name, str) else None
                )
                builder.add(Document(item, prefix + path, 0, _NO_LINES))
        cluster = builder.build(snapshot.context)
        say_what_is_missing(cluster, report, snapshot.where)
        return LoadResult(cluster, tuple(report.items))


def read_snapshot(source: LiveSource, progress: Progress | None = None) -> Snapshot:
    """Every kind of `RESOURCES`, list by list. Raises `LiveError` when nothing can be read."""
    if source.page_size < 1:
        raise LiveError(f"the page size must be at least 1, not {source.page_size}")
    client, context = _client(source)
    try:
        snapshot = Snapshot(context, client.configuration.host, source.namespace)
        reader = _Reader(client, snapshot, source, progress)
        # pages make millions of acyclic objects: GC passes would cost more than the parsing
        with gc_paused():
            for resource in RESOURCES:
                items = reader.read(resource)
                if items is not None:
                    snapshot.lists.append((resource, items))
        if len(snapshot.missing) == len(RESOURCES):
            raise LiveError(
                f"{snapshot.description}: every list was forbidden; "
                "the credentials need get and list on the resources of deploy/rbac.yaml"
            )
        if source.namespace is not None:
            snapshot.problems.append(
                Diagnostic(
                    "warning",
                    f"only namespace {source.namespace} was read (-n): pods, workloads and "
                    "policies of other namespaces are unknown, so connections with them are "
                    "not shown (--all-namespaces reads everything)",
                    snapshot.where,
                    "namespace-only",
                )
            )
        return snapshot
    finally:
        client.close()


def _client(source: LiveSource) -> tuple[Any, str]:
    """The kubernetes ApiClient for the source, and the name of its context."""
    from kubernetes import config
    from kubernetes.client import ApiClient, Configuration

    path = source.kubeconfig
    # read now, not when the client was imported: KUBECONFIG may name several files
    default = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    in_pod = "KUBERNETES_SERVICE_HOST" in os.environ
    if path is None and source.context is None and in_pod and not _any_exists(default):
        # inside a pod (say, with the ServiceAccount of deploy/rbac.yaml) and no kubeconfig
        configuration = Configuration()
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException as e:
            raise LiveError(f"cannot use the in-cluster configuration: {e}") from None
        return ApiClient(configuration), "in-cluster"
    shown = path or default
    if path is not None and not os.path.exists(path):
        raise LiveError(f"kubeconfig {path}: does not exist")
    if path is None and not _any_exists(default):
        raise LiveError(f"no kubeconfig found ({shown}); give --kubeconfig PATH, or set KUBECONFIG")
    path = path or default
    try:
        contexts, current = config.list_kube_config_contexts(path)
        name = source.context or (current or {}).get("name", "")
        if source.context is not None and source.context not in {
            c.get("name") for c in contexts or []
        }:
            known = ", ".join(sorted(str(c.get("name")) for c in contexts or [])) or "none"
            raise LiveError(f"kubeconfig {shown}: no context {source.context!r} (known: {known})")
        client = config.new_client_from_config(
            config_file=path, context=source.context, persist_config=False
        )
    except LiveError:
        raise
    except Exception as e:  # the config loader raises many kinds (ConfigException, YAML, OS)
        raise LiveError(f"cannot use kubeconfig {shown}: {_reason(e)}") from None
    return client, str(name)


def _any_exists(paths: str) -> bool:
    """KUBECONFIG may name several files, separated as PATH is."""
    return any(os.path.exists(p) for p in paths.split(os.pathsep) if p)


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0] if len(text) > 300 else text


class _Reader:
    """Lists one kind after another; problems are noted on the snapshot."""

    def __init__(
        self, client: Any, snapshot: Snapshot, source: LiveSource, progress: Progress | None
    ) -> None:
        self.client = client
        self.snapshot = snapshot
        self.source = source
        self.progress = progress

    def read(self, resource: Resource) -> list[dict[str, Any]] | None:
        """Every object of one kind, or None when the server forbids or lacks the kind."""
        namespace = self.source.namespace if resource.namespaced else None
        path = resource.path(namespace)
        for _attempt in range(RESTARTS + 1):
            items: list[dict[str, Any]] = []
            token = ""
            while True:
                query: list[tuple[str, Any]] = [("limit", self.source.page_size)]
                if token:
                    query.append(("continue", token))
                status, body = self._get(path, query)
                if status == 410 and token:
                    break  # the continue token expired: the list starts again
                if status != 200:
                    return self._refused(resource, path, status, body, namespace)
                page = _page(body, self._url(path))
                items.extend(_typed(page["items"], resource))
                meta = page.get("metadata")
                token = meta.get("continue", "") if isinstance(meta, dict) else ""
                remaining = meta.get("remainingItemCount") if isinstance(meta, dict) else None
                total = len(items) + remaining if isinstance(remaining, int) else None
                if not token:
                    if self.progress:
                        self.progress(resource, len(items), len(items), True)
                    return items
                if self.progress:
                    self.progress(resource, len(items), total, False)
            if self.progress:
                self.progress(resource, 0, None, False)
        self._problem(
            "warning",
            f"the list of {resource.plural} kept expiring (410 Gone on its continue token "
            f"{RESTARTS + 1} times) while it was read; {resource.plural} are left out: "
            f"{resource.lacking}",
            "list-expired",
        )
        self.snapshot.missing.append(resource)
        return None

    def _refused(
        self, resource: Resource, path: str, status: int, body: bytes, namespace: str | None
    ) -> list[dict[str, Any]] | None:
        message = _status_message(body)
        if status == 401:
            said = f": {message}" if message and message != "Unauthorized" else ""
            raise LiveError(
                f"{self.snapshot.description}: the API server refused the credentials "
                f"(401 Unauthorized{said}): the token is expired or invalid; "
                "log in again or refresh the kubeconfig"
            )
        if status == 403:
            scope = f'in namespace "{namespace}"' if namespace else "in all namespaces"
            if not resource.namespaced:
                scope = "(cluster-scoped)"
            if resource.kind == "Namespace" and self.source.namespace:
                found = self._get_namespace(resource, self.source.namespace)
                if found is not None:
                    return found
            group = resource.group or '"" (core)'
            self._problem(
                "warning",
                f"forbidden: cannot list {resource.plural} {scope} (403: {message}); "
                f'grant the verb "list" on the resource "{resource.plural}" of API group '
                f"{group} (deploy/rbac.yaml); left out of this analysis: {resource.lacking}",
                "forbidden",
            )
            self.snapshot.missing.append(resource)
            return None
        if status == 404:
            self._problem(
                "info",
                f"the API server does not serve {resource.api_version} {resource.plural} "
                f"(404): none are read",
                "not-served",
            )
            return []
        raise LiveError(
            f"{self.snapshot.description}: GET {path} failed with {status}"
            + (f": {message}" if message else "")
        )

    def _get_namespace(self, resource: Resource, name: str) -> list[dict[str, Any]] | None:
        """With -n and no right to list namespaces: the one namespace, if it may be read."""
        status, body = self._get(resource.path(name=name), [])
        if status != 200:
            return None
        try:
            value = json.loads(body)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        self._problem(
            "info",
            f"cannot list namespaces: read namespace {name} alone; the labels of other "
            "namespaces are unknown",
            "forbidden",
        )
        return list(_typed([value], resource))

    def _problem(self, severity: str, message: str, code: str) -> None:
        self.snapshot.problems.append(
            Diagnostic(severity, message, self.snapshot.where, code)  # type: ignore[arg-type]
        )

    def _url(self, path: str) -> str:
        return f"{self.snapshot.server}{path}"

    def _get(self, path: str, query: list[tuple[str, Any]]) -> tuple[int, bytes]:
        """One GET: the status and the body. Transport failures are a `LiveError`."""
        import urllib3
        from kubernetes.client.exceptions import ApiException

        for attempt in range(RETRIES + 1):
            try:
                method, url, headers, _, _ = self.client.param_serialize(
                    method="GET",
                    resource_path=path,
                    query_params=query,
                    header_params={"Accept": "application/json"},
                    auth_settings=["BearerToken"],
                )
                response = self.client.call_api(
                    method, url, header_params=headers, _request_timeout=TIMEOUT
                )
                body = response.read()
            except ApiException as e:  # the client's wrapper of TLS failures
                raise LiveError(self._unreachable(_reason(e))) from None
            except urllib3.exceptions.MaxRetryError as e:
                raise LiveError(self._unreachable(_reason(e.reason or e))) from None
            except (urllib3.exceptions.HTTPError, OSError) as e:
                raise LiveError(self._unreachable(_reason(e))) from None
            except Exception as e:  # exec credential plugins, token refresh hooks
                raise LiveError(
                    f"{self.snapshot.description}: cannot authenticate: {_reason(e)}"
                ) from None
            status = int(response.status)
            if status in (429, 500, 502, 503, 504) and attempt < RETRIES:
                time.sleep(_retry_after(response.getheader("Retry-After"), attempt))
                continue
            return status, body
        raise AssertionError("unreachable")  # pragma: no cover

    def _unreachable(self, reason: str) -> str:
        return (
            f"cannot reach the API server of {self.snapshot.description}: {reason}; "
            "is the cluster running, and is this the right context (--context)?"
        )


def _retry_after(header: str | None, attempt: int) -> float:
    try:
        return min(max(float(header or ""), 0.0), 5.0)
    except ValueError:
        return 0.2 * (2**attempt)


def _page(body: bytes, url: str) -> dict[str, Any]:
    """One page of a list; anything else is a `LiveError` that says what came instead."""
    try:
        value = json.loads(body)
    except ValueError:
        start = body[:80].decode(errors="replace")
        raise LiveError(f"GET {url}: the answer is not JSON ({start!r})") from None
    if not isinstance(value, dict) or not isinstance(value.get("items"), list):
        kind = value.get("kind") if isinstance(value, dict) else None
        raise LiveError(f"GET {url}: expected a list, got {kind or type(value).__name__}")
    return value


def _typed(items: list[Any], resource: Resource) -> Iterator[dict[str, Any]]:
    """Items of a list as manifests write them: the API server leaves out their kind and
    apiVersion (they are the list's)."""
    head = {"apiVersion": resource.api_version, "kind": resource.kind}
    for item in items:
        if isinstance(item, dict):
            yield {**head, **item} if "kind" not in item else item


def _status_message(body: bytes) -> str:
    """The message of a `Status` answer, else the start of the body."""
    try:
        value = json.loads(body)
    except ValueError:
        return body[:200].decode(errors="replace").strip()
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        return value["message"]
    return ""
