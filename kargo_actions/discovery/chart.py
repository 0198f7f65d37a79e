"""Helm chart subscriptions: versions of one chart from a classic index.yaml repository or an oci:// one."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import mmap
import os
import re
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kargo_actions import deadline
from kargo_actions.cache_home import cache_or_scratch_dir
from kargo_actions.discovery.gitcache import redact
from kargo_actions.discovery.helmconfig import repository_credentials
from kargo_actions.errors import FailedError, InvalidInputError, Problem, RetryableError
from kargo_actions.freight.identity import normalize_chart_url
from kargo_actions.model.freight import Chart
from kargo_actions.model.warehouse import ChartSubscription
from kargo_actions.oci.auth import Credentials, CredentialsError
from kargo_actions.semver import (
    Constraint,
    newest_first,
    parse_constraint,
    parse_strict_version,
    parse_version,
)

DEFAULT_MAX_INDEX_BYTES = 256 * 1024 * 1024  # after decompression; the largest public indexes are ~100 MB
HTTP_TIMEOUT = 60.0


class ChartDiscoveryError(FailedError):
    """Discovery of one chart subscription failed; the message names the subscription and the cause."""

    def __init__(self, subject: str, cause: str, hint: str = "") -> None:
        self.subject = subject
        self.cause = cause
        self.hint = hint
        super().__init__(f"{subject}: {cause}" + (f" ({hint})" if hint else ""))

    def for_subject(self, subject: str) -> ChartDiscoveryError:
        return type(self)(subject, self.cause, self.hint)


class ChartRepositoryUnreachableError(ChartDiscoveryError, RetryableError):
    """DNS, connection, TLS or timeout: the repository could not be talked to."""


class ChartAuthenticationError(ChartDiscoveryError):
    """The repository answered 401 or 403."""


class ChartRepositoryNotFoundError(ChartDiscoveryError):
    """The repository (its index.yaml, or the OCI repository) does not exist."""


class ChartIndexMalformedError(ChartDiscoveryError):
    """index.yaml is not a Helm repository index."""


class ChartIndexTooLargeError(ChartDiscoveryError):
    """index.yaml is larger than the size cap."""


class ChartNotFoundError(ChartDiscoveryError):
    """The index lists no chart of that name."""


class ChartNoMatchingVersionError(ChartDiscoveryError):
    """The chart has versions, but none is a semver that satisfies semverConstraint."""


@dataclass(frozen=True)
class ChartWatch:
    """The fields of a Warehouse chart subscription that discovery uses."""

    repo_url: str
    name: str = ""
    semver_constraint: str = ""
    discovery_limit: int = 20
    insecure_skip_tls_verify: bool = False
    subscription_name: str = ""

    @classmethod
    def from_subscription(cls, sub: ChartSubscription, name: str | None = None) -> ChartWatch:
        return cls(
            repo_url=sub.repo_url,
            name=sub.name or "",
            semver_constraint=sub.semver_constraint or "",
            discovery_limit=sub.discovery_limit,
            insecure_skip_tls_verify=sub.insecure_skip_tls_verify,
            subscription_name=name or "",
        )

    @property
    def is_oci(self) -> bool:
        return self.repo_url.startswith("oci://")

    @property
    def subject(self) -> str:
        label = f"chart subscription {self.repo_url}"
        if self.name:
            label += f" chart {self.name}"
        if self.subscription_name:
            label += f" (name {self.subscription_name})"
        return label


@dataclass(frozen=True)
class DiscoveredChart:
    repo_url: str
    name: str
    version: str

    def to_freight_chart(self, subscription_name: str | None = None) -> Chart:
        return Chart.model_validate(
            {
                "repoURL": self.repo_url,
                "name": self.name,
                "version": self.version,
                "subscriptionName": subscription_name,
            }
        )


@dataclass(frozen=True)
class ChartDiscoveryResult:
    watch: ChartWatch
    charts: tuple[DiscoveredChart, ...] = ()
    error: ChartDiscoveryError | None = None

    @property
    def versions(self) -> list[str]:
        return [c.version for c in self.charts]


# ---- reading one chart out of index.yaml without loading the index ----


def _unquote(value: bytes) -> str:
    text = value.decode(errors="replace").strip()
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = text.rfind(quote)
        inner = text[1:end] if end > 0 else text[1:]
        return inner.replace("''", "'") if quote == "'" else inner.replace('\\"', '"')
    return text.split(" #", 1)[0].strip()


def _yaml_block_versions(block: bytes, indent: int) -> list[str]:
    """Fallback for unusual layouts: parse only the chart's block with a YAML parser."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    text = "chart:\n" + block.decode(errors="replace")
    try:
        loaded = YAML(typ="safe", pure=True).load(text)
    except YAMLError as err:
        raise ValueError(f"the chart's entries are not valid YAML: {err}") from err
    items = loaded.get("chart") if isinstance(loaded, dict) else None
    if not isinstance(items, list):
        raise ValueError("the chart's entry is not a list of chart versions")
    return [str(item.get("version", "")) for item in items if isinstance(item, dict)]


def chart_versions_in_index(path: Path, chart: str) -> list[str] | None:
    """The version strings of `chart` in a Helm index file, or None when the index has no such chart.

    A block-style index (what helm writes) is scanned, not parsed: one regular-expression search finds the
    chart's key at the indentation of `entries:` children and only that block is read, so memory and time
    do not grow with the other charts. A JSON index is parsed whole. Raises ValueError when malformed.
    """
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise ValueError("the index is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            first = re.search(rb"\S", data)
            if first is None:
                raise ValueError("the index is empty")
            if data[first.start() : first.start() + 1] == b"{":
                return _json_index_versions(path, chart)
            return _scan_block_index(data, chart)


def _json_index_versions(path: Path, chart: str) -> list[str] | None:
    try:
        index = json.loads(path.read_bytes())
    except ValueError as err:
        raise ValueError(f"the index is neither YAML nor JSON: {err}") from err
    entries = index.get("entries") if isinstance(index, dict) else None
    if not isinstance(entries, dict):
        raise ValueError("the index has no entries map")
    items = entries.get(chart)
    if items is None:
        return None
    return [str(i.get("version", "")) for i in items if isinstance(i, dict)]


_ENTRIES = re.compile(rb"(?m)^entries:[ \t]*(?:#.*)?\r?$")
_EMPTY_ENTRIES = re.compile(rb"(?m)^entries:[ \t]*(?:\{\}|null|~)?[ \t]*\r?$")
_CONTENT_LINE = re.compile(rb"(?m)^([ ]*)[^ \t\r\n#]")
# A leading literal newline lets the regex engine jump between lines instead of trying every byte.
_TOP_LEVEL = re.compile(rb"\n[^ \t\r\n#]")


def _find_key(data: mmap.mmap, start: int, indent: int, chart: str) -> re.Match[bytes] | None:
    """The line `<indent spaces><chart>:` (name plain or quoted) after `start`, found with fast find()."""
    name = chart.encode()
    line_end = re.compile(rb"[ \t]*(\[\])?[ \t]*(?:#.*)?\r?$", re.MULTILINE)
    best: re.Match[bytes] | None = None
    for spelled in (name, b"'" + name + b"'", b'"' + name + b'"'):
        needle = b"\n" + b" " * indent + spelled + b":"
        pos = data.find(needle, start - 1)
        while pos != -1:
            tail = line_end.match(data, pos + len(needle))
            if tail is not None:
                if best is None or tail.start() < best.start():
                    best = tail
                break
            pos = data.find(needle, pos + 1)
    return best


def _scan_block_index(data: mmap.mmap, chart: str) -> list[str] | None:
    entries = _ENTRIES.search(data)
    if entries is None:
        if _EMPTY_ENTRIES.search(data):
            return None
        raise ValueError("the index has no entries: map (is this a Helm repository index.yaml?)")
    start = entries.end()
    child = _CONTENT_LINE.search(data, start)
    if child is None or len(child.group(1)) == 0:
        return None  # `entries:` with nothing under it
    indent = len(child.group(1))
    found = _find_key(data, start, indent, chart)
    if found is None:
        return None
    if _TOP_LEVEL.search(data, start, found.start()):
        return None  # the key belongs to a later top-level section, not to entries
    if found.group(1):
        return []
    block_start = found.end() + 1
    ending = re.compile(rb"(?m)^(?! {%d}-(?:[ \t]|\r?$)| {%d,}|[ \t]*(?:#|\r?$))" % (indent, indent + 1))
    end = ending.search(data, block_start)
    block = data[block_start : end.start() if end else len(data)]
    first_item = re.search(rb"(?m)^( *)-(?:[ \t]|\r?$)", block)
    if first_item is None:
        raise ValueError(f"the entry of chart {chart!r} is not a list of chart versions")
    dash = len(first_item.group(1))
    items = len(re.findall(rb"(?m)^ {%d}-(?:[ \t]|\r?$)" % dash, block))
    versions = re.findall(rb"(?m)^(?: {%d}- | {%d})version:[ \t]*(.*?)[ \t]*\r?$" % (dash, dash + 2), block)
    if len(versions) == items:
        return [_unquote(v) for v in versions]
    return _yaml_block_versions(block, indent)  # an unusual layout: let a YAML parser read this one block


# ---- fetching index.yaml with a disk cache ----


def _repo_key(repo_url: str) -> str:
    """One repository, however its URL is spelled (case, oci://, a trailing slash)."""
    return normalize_chart_url(repo_url).rstrip("/")


@dataclass(frozen=True)
class _CachedIndex:
    path: Path
    etag: str
    last_modified: str


@dataclass
class ChartIndexCache:
    """index.yaml copies under <cache>/charts/<sha256(url)>/, revalidated with ETag / Last-Modified."""

    root: Path = field(default_factory=lambda: cache_or_scratch_dir("charts"))
    max_bytes: int = DEFAULT_MAX_INDEX_BYTES
    fetched: dict[str, Path] = field(default_factory=dict)  # one request per repository per run
    downloads: int = 0
    revalidations: int = 0

    def dir_for(self, repo_url: str) -> Path:
        return self.root / hashlib.sha256(_repo_key(repo_url).encode()).hexdigest()

    def _cached(self, repo_url: str) -> _CachedIndex | None:
        directory = self.dir_for(repo_url)
        try:
            meta = json.loads((directory / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        index = directory / "index.yaml"
        if not index.exists():
            return None
        return _CachedIndex(index, str(meta.get("etag", "")), str(meta.get("lastModified", "")))

    def index(self, watch: ChartWatch, client: httpx.Client, credentials: Credentials | None = None) -> Path:
        """A local copy of the repository's index, fetched at most once per run.

        `credentials` go (as Basic auth) to the repository's own host only: httpx drops them on a redirect
        to another host.
        """
        key = _repo_key(watch.repo_url)
        if key in self.fetched:
            return self.fetched[key]
        url = watch.repo_url.rstrip("/") + "/index.yaml"
        cached = self._cached(watch.repo_url)
        headers = {"Accept-Encoding": "gzip"}
        if cached and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        if credentials is not None:
            headers["Authorization"] = credentials.basic()
        shown = redact(url)
        try:
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304 and cached is not None:
                    self.revalidations += 1
                    self.fetched[key] = cached.path
                    return cached.path
                _raise_for_status(watch, response, shown)
                path = self._store(watch, response, shown)
        except httpx.TransportError as err:
            raise _transport_error(watch, shown, err) from err
        self.fetched[key] = path
        return path

    def _store(self, watch: ChartWatch, response: httpx.Response, shown: str) -> Path:
        directory = self.dir_for(watch.repo_url)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".index-", dir=directory)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                written = 0
                for chunk in _maybe_gunzip(response.iter_bytes()):
                    written += len(chunk)
                    if written > self.max_bytes:
                        raise ChartIndexTooLargeError(
                            watch.subject,
                            f"{shown} is larger than {self.max_bytes // (1024 * 1024)} MiB",
                            "raise the index size cap if this repository is really that large",
                        )
                    out.write(chunk)
            tmp.replace(directory / "index.yaml")
        finally:
            tmp.unlink(missing_ok=True)
        meta = {
            "url": redact(str(response.url)),
            "etag": response.headers.get("ETag", ""),
            "lastModified": response.headers.get("Last-Modified", ""),
        }
        (directory / "meta.json").write_text(json.dumps(meta))
        self.downloads += 1
        return directory / "index.yaml"


def _maybe_gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Some servers send index.yaml gzipped without saying so; decompress those as they stream."""
    decompressor: Any = None
    for chunk in chunks:
        if decompressor is None:
            if not chunk:
                continue
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if chunk[:2] == b"\x1f\x8b" else False
        if decompressor is False:
            yield chunk
        else:
            yield decompressor.decompress(chunk, 1 << 20)
            while decompressor.unconsumed_tail:
                yield decompressor.decompress(decompressor.unconsumed_tail, 1 << 20)
    if decompressor not in (None, False):
        yield decompressor.flush()


def _raise_for_status(watch: ChartWatch, response: httpx.Response, shown: str) -> None:
    status = response.status_code
    if status == 200:
        return
    if status in (401, 403):
        raise ChartAuthenticationError(
            watch.subject,
            f"{shown} answered {status}",
            "give it credentials as for helm: `helm repo add NAME URL --username U --password P` writes "
            "them to helm's repositories.yaml, where discovery reads them",
        )
    if status == 404:
        raise ChartRepositoryNotFoundError(watch.subject, f"{shown} answered 404", "check repoURL")
    if status >= 500 or status == 429:
        raise ChartRepositoryUnreachableError(watch.subject, f"{shown} answered {status}", "retry later")
    raise ChartDiscoveryError(watch.subject, f"{shown} answered {status}")


def _transport_error(watch: ChartWatch, shown: str, err: httpx.TransportError) -> ChartDiscoveryError:
    text = str(err) or type(err).__name__
    hint = "check the URL and the network"
    if "certificate" in text.lower() or "ssl" in text.lower():
        hint = "the TLS certificate was refused; insecureSkipTLSVerify skips the check (with care)"
    return ChartRepositoryUnreachableError(watch.subject, f"cannot reach {shown}: {redact(text)}", hint)


# ---- OCI ----


def _oci_tags(watch: ChartWatch, env: Mapping[str, str] | None) -> list[str]:
    """Every tag of an oci:// chart repository, through the project's registry client."""
    from kargo_actions.discovery.helmconfig import registry_config_path
    from kargo_actions.oci.errors import RegistryError
    from kargo_actions.oci.session import RegistryOptions, RegistrySession

    reference = watch.repo_url.removeprefix("oci://")
    try:
        options = RegistryOptions.from_env(os.environ if env is None else env)
        options = dataclasses.replace(options, more_auth_configs=(registry_config_path(env),))
        with RegistrySession(options, env=env) as session:
            repo = session.repository(reference, insecure_skip_tls_verify=watch.insecure_skip_tls_verify)
            return list(repo.list_tags().tags)
    except RegistryError as err:
        name = type(err).__name__
        kind: type[ChartDiscoveryError] = ChartDiscoveryError
        if "Authentication" in name or "Forbidden" in name:
            kind = ChartAuthenticationError
        elif "NotFound" in name:
            kind = ChartRepositoryNotFoundError
        elif "Unreachable" in name or "Dns" in name or "Tls" in name:
            kind = ChartRepositoryUnreachableError
        raise kind(watch.subject, str(err)) from err


# ---- selection ----


def _select(watch: ChartWatch, raw: Sequence[str], constraint: Constraint | None) -> list[DiscoveredChart]:
    parsed = []
    for text in raw:
        if watch.is_oci:
            # Helm writes `+` of build metadata as `_` in OCI tags, and its OCI tags are strict semver.
            version = parse_strict_version(text.replace("_", "+"))
            if version is None:
                continue
        else:
            version = parse_version(text)
            if version is None:
                continue
        if constraint is None or constraint.check(version):
            parsed.append(version)
    return [DiscoveredChart(watch.repo_url, watch.name, v.original) for v in newest_first(parsed)][
        : watch.discovery_limit
    ]


def _check(watches: Sequence[ChartWatch]) -> list[Constraint | None]:
    problems: list[Problem] = []
    constraints: list[Constraint | None] = []
    for i, watch in enumerate(watches):
        where = f"subscriptions[{i}].chart"
        constraint = None
        if watch.semver_constraint:
            constraint = parse_constraint(watch.semver_constraint)
            if constraint is None:
                problems.append(
                    Problem(
                        path=f"{where}.semverConstraint",
                        message=f"{watch.semver_constraint!r} is not a semver constraint",
                    )
                )
        if not watch.repo_url.startswith(("http://", "https://", "oci://")):
            problems.append(
                Problem(path=f"{where}.repoURL", message="must start with https://, http:// or oci://")
            )
        elif not watch.is_oci and not watch.name:
            problems.append(
                Problem(path=f"{where}.name", message="is required for an https chart repository")
            )
        if not 1 <= watch.discovery_limit <= 100:
            problems.append(Problem(path=f"{where}.discoveryLimit", message="must be between 1 and 100"))
        constraints.append(constraint)
    if problems:
        raise InvalidInputError(problems)
    return constraints


def discover_charts(
    watches: Sequence[ChartWatch],
    *,
    cache: ChartIndexCache | None = None,
    client: httpx.Client | None = None,
    env: Mapping[str, str] | None = None,
) -> list[ChartDiscoveryResult]:
    """Discover every chart subscription; one index request per repository; errors stay per subscription."""
    constraints = _check(watches)
    cache = cache or ChartIndexCache()
    results: list[ChartDiscoveryResult] = []
    with contextlib.ExitStack() as stack:
        clients: dict[bool, httpx.Client] = {}

        def http(insecure: bool) -> httpx.Client:
            if client is not None:
                return client
            if insecure not in clients:
                clients[insecure] = stack.enter_context(
                    httpx.Client(
                        transport=deadline.http_transport(verify=not insecure),
                        timeout=HTTP_TIMEOUT,
                        follow_redirects=True,
                    )
                )
            return clients[insecure]

        failures: dict[str, ChartDiscoveryError] = {}
        for watch, constraint in zip(watches, constraints, strict=True):
            try:
                results.append(
                    ChartDiscoveryResult(
                        watch, tuple(_discover_one(watch, constraint, cache, http, env, failures))
                    )
                )
            except ChartDiscoveryError as err:
                results.append(ChartDiscoveryResult(watch, error=err.for_subject(watch.subject)))
    return results


def _discover_one(
    watch: ChartWatch,
    constraint: Constraint | None,
    cache: ChartIndexCache,
    http: Any,
    env: Mapping[str, str] | None,
    failures: dict[str, ChartDiscoveryError],
) -> list[DiscoveredChart]:
    key = f"{_repo_key(watch.repo_url)} insecure={watch.insecure_skip_tls_verify}"
    if key in failures:
        raise failures[key]  # the repository already failed in this run: do not ask again
    try:
        if watch.is_oci:
            raw = _oci_tags(watch, env)
            what = f"{watch.repo_url} has no tags"
        else:
            try:
                credentials = repository_credentials(watch.repo_url, env)
            except CredentialsError as err:
                raise ChartAuthenticationError(watch.subject, str(err), "fix or remove that entry") from err
            path = cache.index(watch, http(watch.insecure_skip_tls_verify), credentials)
            try:
                found = chart_versions_in_index(path, watch.name)
            except ValueError as err:
                raise ChartIndexMalformedError(
                    watch.subject, f"index.yaml of {redact(watch.repo_url)} is malformed: {err}"
                ) from err
            if found is None:
                raise ChartNotFoundError(
                    watch.subject, f"the repository lists no chart named {watch.name!r}", "check name"
                )
            raw = found
            what = f"chart {watch.name!r} has no versions"
    except (ChartRepositoryUnreachableError, ChartAuthenticationError, ChartRepositoryNotFoundError) as err:
        failures[key] = err
        raise
    if not raw:
        raise ChartNoMatchingVersionError(watch.subject, what)
    charts = _select(watch, raw, constraint)
    if not charts:
        wanted = f"semverConstraint {watch.semver_constraint!r}" if watch.semver_constraint else "semver"
        raise ChartNoMatchingVersionError(
            watch.subject,
            f"none of the {len(raw)} versions matches {wanted}",
            f"newest listed: {', '.join(sorted(raw, reverse=True)[:5])}",
        )
    return charts
