"""Image discovery: Kargo's selection strategies (SemVer, Lexical, NewestBuild, Digest) over the registry client."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from kargo_actions import deadline
from kargo_actions.errors import ExitCode
from kargo_actions.model.freight import Image
from kargo_actions.model.warehouse import ImageSubscription
from kargo_actions.oci.cache import TagEntry
from kargo_actions.oci.client import RepositoryClient
from kargo_actions.oci.errors import ManifestNotFoundError, RegistryError
from kargo_actions.oci.manifests import ChildManifest, ConfigInfo, ManifestInfo, Platform
from kargo_actions.oci.session import RegistrySession
from kargo_actions.regex import GoRegex, compile_go_regex, tag_allowed
from kargo_actions.semver import newest_first, parse_constraint, parse_kargo_version
from kargo_actions.struct import struct

OCI_CREATED = "org.opencontainers.image.created"
LABEL_SCHEMA_BUILD_DATE = "org.label-schema.build-date"
STRATEGIES = ("SemVer", "Lexical", "NewestBuild", "Digest")
DEFAULT_DISCOVERY_LIMIT = 20
_EPOCH = datetime.min.replace(tzinfo=UTC)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class ImageDiscoveryError(RegistryError):
    """The registry answered, but the subscription finds nothing to take in it, or is itself wrong.

    Worded as the registry's errors (`image REPOURL: cause (hint)`): callers catch RegistryError for both.
    """


class NoTagsError(ImageDiscoveryError):
    """The repository lists no tags at all."""


class NoMatchingTagError(ImageDiscoveryError):
    """Tags exist but none passes the subscription's filters, constraint and platform."""


class InvalidImageSubscriptionError(ImageDiscoveryError):
    """The subscription itself is wrong (bad regex, constraint or platform): nothing was asked of the registry."""

    exit_code = ExitCode.INVALID


@struct
class DiscoveredImage:
    """One discovered image revision, as Kargo's DiscoveredImageReference (plus the repoURL)."""

    repo_url: str
    tag: str
    digest: str
    created: datetime | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def annotation(self, key: str) -> str | None:
        return next((v for k, v in self.annotations if k == key), None)

    def to_freight_image(self, subscription_name: str | None = None) -> Image:
        """The Freight's images[] entry for this revision (Kargo: repoURL, tag, digest, annotations)."""
        return Image(
            repo_url=self.repo_url,
            tag=self.tag,
            digest=self.digest,
            annotations=dict(self.annotations) or None,
            subscription_name=subscription_name,
        )


@struct
class ImageDiscoveryResult:
    """What one subscription found: images newest first (at most discoveryLimit), and any warnings."""

    repo_url: str
    strategy: str
    images: tuple[DiscoveredImage, ...]
    tags_listed: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def newest(self) -> DiscoveredImage:
        return self.images[0]


@struct
class PlatformConstraint:
    """`os/arch[/variant]`; the variant only counts when given."""

    os: str
    architecture: str
    variant: str = ""

    def matches(self, p: Platform | None) -> bool:
        if p is None:
            return False
        if (p.os, p.architecture) != (self.os, self.architecture):
            return False
        return not self.variant or p.variant == self.variant

    def __str__(self) -> str:
        return "/".join(x for x in (self.os, self.architecture, self.variant) if x)


def parse_platform(text: str) -> PlatformConstraint | None:
    """Kargo's parsePlatformConstraint: split on `/` at most twice, so a variant may hold more `/`."""
    parts = text.split("/", 2)
    if len(parts) < 2:
        return None
    return PlatformConstraint(*parts)


def parse_time(text: str | None) -> datetime | None:
    """RFC 3339, as Go's time.Parse reads it (fractional seconds allowed); None when not a date."""
    if not text or not _RFC3339.match(text.strip()):
        return None  # Go's RFC 3339 layout needs the time and the zone: "2024-01-02" is no date there
    try:
        return datetime.fromisoformat(text.strip().upper())
    except ValueError:
        return None


def _date_from(source: tuple[tuple[str, str], ...]) -> datetime | None:
    """Kargo's creationTimeFromMetadata: the OCI created key, then label-schema's build-date."""
    found = dict(source)
    for key in (OCI_CREATED, LABEL_SCHEMA_BUILD_DATE):
        when = parse_time(found.get(key))
        if when is not None:
            return when
    return None


def image_date(annotations: tuple[tuple[str, str], ...], config: ConfigInfo) -> datetime | None:
    """Kargo's getCreationTime: a manifest annotation as is; else the config's `created` or its date label,
    whichever is later (a label may be inherited from the base image, so it only ever moves the date on)."""
    when = _date_from(annotations)
    if when is not None:
        return when
    created, label = parse_time(config.created), _date_from(config.labels)
    if created is None or label is None:
        return created or label
    return max(created, label)


def platform_entries(info: ManifestInfo) -> list[ChildManifest]:
    """The entries of an index that are images: attestations and `unknown/unknown` entries are not."""
    return [
        c
        for c in info.children
        if c.platform is not None
        and c.platform.os not in ("", "unknown")
        and c.platform.architecture not in ("", "unknown")
    ]


@struct
class _Resolved:
    tag: str
    digest: str
    created: datetime | None
    annotations: tuple[tuple[str, str], ...]


class _Resolver:
    """Tag -> digest -> metadata, with the disk cache in front of every manifest and blob GET."""

    def __init__(self, client: RepositoryClient, sub: _Settings) -> None:
        self.client = client
        self.cache = client.session.cache
        self.sub = sub
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.warnings: list[str] = []

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def manifest(self, digest: str) -> ManifestInfo:
        with self._lock("m" + digest):  # tags sharing a digest fetch it once
            info = self.cache.manifest(digest)
            if info is None:
                info = self.client.parse_manifest(self.client.get_manifest(digest))
                self.cache.put_manifest(info)
            return info

    def config(self, digest: str) -> ConfigInfo:
        with self._lock("c" + digest):
            info = self.cache.config(digest)
            if info is None:
                info = self.client.parse_config(digest, self.client.get_blob(digest))
                self.cache.put_config(info)
            return info

    def digest_of(self, tag: str) -> str:
        repo_url = self.client.repo.repo_url
        if self.sub.cache_by_tag:
            entry = self.cache.tag(repo_url, tag)
            if entry is not None:
                return entry.digest
        digest = self.client.head_manifest(tag).digest
        if self.sub.cache_by_tag:
            self.cache.put_tag(TagEntry(repo_url=repo_url, tag=tag, digest=digest))
        return digest

    def _image_date(self, info: ManifestInfo) -> datetime | None:
        when = _date_from(info.annotations)
        if when is not None:
            return when  # no config GET
        return image_date(info.annotations, self.config(info.config_digest))

    def _entry_date(self, entry: ChildManifest) -> datetime | None:
        """An index entry's date: its own annotation (written with the index), else its image's date."""
        return _date_from(entry.annotations) or self._image_date(self.manifest(entry.digest))

    def resolve(self, tag: str, *, need_date: bool) -> _Resolved | None:
        """The image behind a tag, or None when it offers no image for the subscription's platform."""
        digest = self.digest_of(tag)
        info = self.manifest(digest)
        platform = self.sub.platform
        created = _date_from(info.annotations)
        if info.is_index:
            entries = platform_entries(info)
            if not entries:
                raise ImageDiscoveryError(
                    self.sub.repo_url,
                    f"tag {tag!r} is an empty manifest list or OCI index (no entry names a platform),"
                    " which is not supported",
                    "push an image or an index of platform images to that tag, or ignore it with"
                    " ignoreTagsRegexes",
                )
            if platform is not None and not any(platform.matches(c.platform) for c in entries):
                return None
            if created is None and need_date:
                # As Kargo: the index is no older than the newest image it lists, whatever the platform.
                dates = [self._entry_date(c) for c in entries]
                created = max((d for d in dates if d is not None), default=None)
        else:
            if platform is not None and not platform.matches(self.config(info.config_digest).platform):
                return None
            if created is None and need_date:
                created = self._image_date(info)
            elif created is None:
                cached = self.cache.config(info.config_digest)  # free when already known
                if cached is not None:
                    created = image_date(info.annotations, cached)
        return _Resolved(tag=tag, digest=digest, created=created, annotations=info.annotations)


@struct
class _Settings:
    repo_url: str
    strategy: str
    constraint: str
    allow: tuple[GoRegex, ...]
    ignore: tuple[GoRegex, ...]
    strict_semvers: bool
    platform: PlatformConstraint | None
    limit: int
    insecure_skip_tls_verify: bool
    cache_by_tag: bool

    def tag_allowed(self, tag: str) -> bool:
        return tag_allowed(tag, self.allow, self.ignore)


def _settings(sub: ImageSubscription) -> _Settings:
    repo_url = sub.repo_url

    def bad(cause: str, hint: str = "") -> InvalidImageSubscriptionError:
        return InvalidImageSubscriptionError(repo_url, cause, hint)

    strategy = sub.image_selection_strategy or "SemVer"
    if strategy not in STRATEGIES:
        raise bad(f"imageSelectionStrategy {strategy!r} is unknown", "one of " + ", ".join(STRATEGIES))

    def compile_all(field: str, patterns: Sequence[str] | None) -> tuple[GoRegex, ...]:
        out = []
        for i, p in enumerate(patterns or ()):
            try:
                out.append(compile_go_regex(p))  # RE2, Kargo's engine
            except ValueError as err:
                raise bad(f"{field}[{i}] {err}") from err
        return tuple(out)

    constraint = (sub.constraint or "").strip()
    if strategy == "SemVer" and constraint and parse_constraint(constraint) is None:
        raise bad(
            f"constraint {constraint!r} is not a semver range", "e.g. ^1.2.0, ~1.2, >=1.0.0 <2.0.0, 1.x"
        )
    if strategy == "Digest" and not constraint:
        raise bad(
            "imageSelectionStrategy Digest needs the mutable tag to follow in constraint", "e.g. latest"
        )
    platform = None
    if sub.platform:
        platform = parse_platform(sub.platform)
        if platform is None:
            raise bad(
                f"platform {sub.platform!r} is not os/arch[/variant]", "e.g. linux/amd64 or linux/arm64/v8"
            )
    limit = sub.discovery_limit if sub.discovery_limit is not None else DEFAULT_DISCOVERY_LIMIT
    if not 1 <= limit <= 100:
        raise bad(f"discoveryLimit {limit} is outside 1-100")
    return _Settings(
        repo_url=repo_url,
        strategy=strategy,
        constraint=constraint,
        allow=compile_all("allowTagsRegexes", sub.allow_tags_regexes),
        ignore=compile_all("ignoreTagsRegexes", sub.ignore_tags_regexes),
        strict_semvers=sub.strict_semvers is not False,
        platform=platform,
        limit=limit,
        insecure_skip_tls_verify=bool(sub.insecure_skip_tls_verify),
        # Digest follows a mutable tag: trusting a cached tag would never see it move.
        cache_by_tag=bool(sub.cache_by_tag) and strategy != "Digest",
    )


def discover_images(sub: ImageSubscription, session: RegistrySession | None = None) -> ImageDiscoveryResult:
    """Run one image subscription: list tags, filter, order by its strategy, resolve up to discoveryLimit.

    Pass one RegistrySession for every subscription of a run: they then share connections, tokens,
    per-registry pacing and the metadata cache. Raises RegistryError (naming the repoURL) on failure.
    """
    settings = _settings(sub)
    if session is None:
        with RegistrySession() as own:
            return _discover(settings, own)
    return _discover(settings, session)


def _discover(s: _Settings, session: RegistrySession) -> ImageDiscoveryResult:
    client = session.repository(s.repo_url, insecure_skip_tls_verify=s.insecure_skip_tls_verify)
    resolver = _Resolver(client, s)
    warnings_before = len(session.warnings)
    if s.strategy == "Digest":
        try:
            found = resolver.resolve(s.constraint, need_date=False)
        except ManifestNotFoundError as err:
            raise NoMatchingTagError(
                s.repo_url, f"tag {s.constraint!r} (Digest strategy) does not exist"
            ) from err
        if found is None:
            raise NoMatchingTagError(
                s.repo_url, f"tag {s.constraint!r} has no image for platform {s.platform}"
            )
        images = [found]
        listed = 0
    else:
        listing = client.list_tags()
        listed = len(listing.tags)
        if not listing.tags:
            raise NoTagsError(s.repo_url, "the repository has no tags", "push an image or check repoURL")
        candidates = [t for t in listing.tags if s.tag_allowed(t)]
        if s.strategy == "SemVer":
            constraint = parse_constraint(s.constraint) if s.constraint else None
            versions = [parse_kargo_version(t, strict=s.strict_semvers) for t in candidates]
            kept = [v for v in versions if v is not None and (constraint is None or constraint.check(v))]
            candidates = [v.original for v in newest_first(kept)]
        elif s.strategy == "Lexical":
            candidates.sort(reverse=True)
        if not candidates:
            raise NoMatchingTagError(s.repo_url, _why_none(s, listed))
        if s.strategy == "NewestBuild":
            images = _newest_builds(resolver, candidates, session.options.in_flight)
        else:
            images = _first_images(resolver, candidates, s.limit, session.options.in_flight)
        if not images:
            raise NoMatchingTagError(
                s.repo_url, f"{len(candidates)} tags qualify but none has an image for platform {s.platform}"
            )
    discovered = tuple(
        DiscoveredImage(
            repo_url=s.repo_url, tag=r.tag, digest=r.digest, created=r.created, annotations=r.annotations
        )
        for r in images[: s.limit]
    )
    return ImageDiscoveryResult(
        repo_url=s.repo_url,
        strategy=s.strategy,
        images=discovered,
        tags_listed=listed,
        warnings=tuple(session.warnings[warnings_before:]) + tuple(resolver.warnings),
    )


def _why_none(s: _Settings, listed: int) -> str:
    parts = []
    if s.allow or s.ignore:
        parts.append("allowTagsRegexes/ignoreTagsRegexes")
    if s.strategy == "SemVer":
        parts.append(f"constraint {s.constraint!r}" if s.constraint else "semver parsing")
        if s.strict_semvers:
            parts.append("strictSemvers")
    return f"none of {listed} tags passes " + (", ".join(parts) or "the filters")


def _resolve_many(
    resolver: _Resolver, tags: Sequence[str], need_date: bool, workers: int
) -> list[_Resolved | None]:
    def one(tag: str) -> _Resolved | None:
        try:
            return resolver.resolve(tag, need_date=need_date)
        except ManifestNotFoundError as err:
            # Deleted between the listing and the HEAD: skip it rather than fail the subscription.
            resolver.warnings.append(f"{err}; skipped")
            return None

    if len(tags) <= 1:
        return [one(t) for t in tags]
    with ThreadPoolExecutor(max_workers=min(workers, len(tags))) as pool:
        return list(pool.map(deadline.carry(one), tags))  # the workers keep the subscription's deadline


def _first_images(resolver: _Resolver, ordered: list[str], limit: int, workers: int) -> list[_Resolved]:
    """Walk tags in order, a batch at a time, until `limit` images fit the platform (Kargo's order)."""
    found: list[_Resolved] = []
    i = 0
    while len(found) < limit and i < len(ordered):
        batch = ordered[i : i + (limit - len(found))]
        i += len(batch)
        found.extend(r for r in _resolve_many(resolver, batch, False, workers) if r is not None)
    return found


def _newest_builds(resolver: _Resolver, tags: list[str], workers: int) -> list[_Resolved]:
    """Every qualifying tag's build date, newest first; ties by tag, descending (as Kargo sorts)."""
    found = [r for r in _resolve_many(resolver, tags, True, workers) if r is not None]
    found.sort(key=lambda r: r.tag, reverse=True)
    found.sort(key=lambda r: r.created or _EPOCH, reverse=True)
    return found


@struct
class ImageOutcome:
    """One subscription's result, or the error that stopped it (the others still ran)."""

    subscription: ImageSubscription
    result: ImageDiscoveryResult | None = None
    error: RegistryError | None = None


def discover_all_images(subs: Sequence[ImageSubscription], session: RegistrySession) -> list[ImageOutcome]:
    """Every image subscription in order; a failing one is recorded as its error and the rest go on."""
    outcomes = []
    for sub in subs:
        try:
            outcomes.append(ImageOutcome(subscription=sub, result=discover_images(sub, session)))
        except RegistryError as err:
            outcomes.append(ImageOutcome(subscription=sub, error=err))
    return outcomes
