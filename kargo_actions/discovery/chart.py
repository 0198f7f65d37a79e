"""Helm chart subscriptions: versions of one chart from a classic index.yaml repository or an oci:// one.

The run is here (the OCI tag listing, version selection and the errors of each subscription); the index
is fetched and cached by chartcache.py and read by chartindex.py; chartwatch.py holds the types."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from kargo_actions import deadline
from kargo_actions.discovery.chartcache import ChartIndexCache as ChartIndexCache
from kargo_actions.discovery.chartcache import repo_key
from kargo_actions.discovery.chartindex import chart_versions_in_index as chart_versions_in_index
from kargo_actions.discovery.chartwatch import DEFAULT_MAX_INDEX_BYTES as DEFAULT_MAX_INDEX_BYTES
from kargo_actions.discovery.chartwatch import HTTP_TIMEOUT as HTTP_TIMEOUT
from kargo_actions.discovery.chartwatch import ChartAuthenticationError as ChartAuthenticationError
from kargo_actions.discovery.chartwatch import ChartDiscoveryError as ChartDiscoveryError
from kargo_actions.discovery.chartwatch import ChartDiscoveryResult as ChartDiscoveryResult
from kargo_actions.discovery.chartwatch import ChartIndexMalformedError as ChartIndexMalformedError
from kargo_actions.discovery.chartwatch import ChartIndexTooLargeError as ChartIndexTooLargeError
from kargo_actions.discovery.chartwatch import ChartNoMatchingVersionError as ChartNoMatchingVersionError
from kargo_actions.discovery.chartwatch import ChartNotFoundError as ChartNotFoundError
from kargo_actions.discovery.chartwatch import ChartRepositoryNotFoundError as ChartRepositoryNotFoundError
from kargo_actions.discovery.chartwatch import (
    ChartRepositoryUnreachableError as ChartRepositoryUnreachableError,
)
from kargo_actions.discovery.chartwatch import ChartWatch as ChartWatch
from kargo_actions.discovery.chartwatch import DiscoveredChart as DiscoveredChart
from kargo_actions.discovery.gitcache import redact
from kargo_actions.discovery.helmconfig import repository_credentials
from kargo_actions.errors import InvalidInputError, Problem
from kargo_actions.oci.auth import CredentialsError
from kargo_actions.semver import (
    Constraint,
    newest_first,
    parse_constraint,
    parse_strict_version,
    parse_version,
)


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
    key = f"{repo_key(watch.repo_url)} insecure={watch.insecure_skip_tls_verify}"
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
