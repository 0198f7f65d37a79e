"""A Helm chart subscription as discovery reads it, what discovering it yields, and its errors."""

from __future__ import annotations

from kargo_actions.errors import FailedError, RetryableError
from kargo_actions.model.freight import Chart
from kargo_actions.model.warehouse import ChartSubscription
from kargo_actions.struct import struct

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


@struct
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


@struct
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


@struct
class ChartDiscoveryResult:
    watch: ChartWatch
    charts: tuple[DiscoveredChart, ...] = ()
    error: ChartDiscoveryError | None = None

    @property
    def versions(self) -> list[str]:
        return [c.version for c in self.charts]
