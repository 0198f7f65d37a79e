"""Requests against one repository of a registry: auth (challenges, tokens, credentials), pacing, retries,
and the distribution API (tags, manifests, blobs, uploads) with typed errors."""

from __future__ import annotations

import logging
import re
import threading
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING

import httpx

from kargo_actions.github.output import mask_secret
from kargo_actions.oci import manifests
from kargo_actions.oci.auth import (
    Challenge,
    Credentials,
    CredentialsError,
    TokenKey,
    credentials_for,
    parse_challenge,
)
from kargo_actions.oci.cache import AuthHint
from kargo_actions.oci.errors import (
    AuthenticationError,
    ForbiddenError,
    MalformedResponseError,
    ManifestNotFoundError,
    RateLimitedError,
    RegistryError,
    RegistryServerError,
    RegistryUnreachableError,
    RepositoryNotFoundError,
    classify_connect_error,
    error_codes,
    timed_out_cause,
)
from kargo_actions.oci.manifests import (
    MANIFEST_ACCEPT,
    ConfigInfo,
    FetchedManifest,
    ManifestHead,
    ManifestInfo,
    digest_of,
)
from kargo_actions.oci.ratelimit import parse_hub_quota, parse_retry_after
from kargo_actions.oci.references import ImageRepository
from kargo_actions.struct import struct

if TYPE_CHECKING:
    from kargo_actions.oci.session import RegistrySession

log = logging.getLogger(__name__)


@struct
class TagList:
    """Every tag listed (or as many as the page cap allowed) and how many pages it took."""

    tags: tuple[str, ...]
    pages: int
    truncated: bool


def _next_link(header: str) -> str | None:
    """The target of `Link: <...>; rel="next"` (distribution and ghcr.io send it relative)."""
    for part in header.split(","):
        m = re.match(r"\s*<([^>]*)>\s*;(.*)", part)
        if m and re.search(r'rel\s*=\s*"?next"?', m[2]):
            return m[1]
    return None


class RepositoryClient:
    """Requests against one repository of one registry, with auth, pacing, retries and typed errors."""

    def __init__(
        self, session: RegistrySession, repo: ImageRepository, *, verify: bool, push: bool = False
    ) -> None:
        self.session = session
        self.repo = repo
        self.verify = verify
        self.base = f"{session.options.scheme(repo.host)}://{repo.host}"
        self.scope = f"repository:{repo.name}:{'pull,push' if push else 'pull'}"
        self._credentials: Credentials | None = None
        self._credentials_loaded = False
        self._fetched: dict[str, FetchedManifest] = {}
        self._lock = threading.Lock()

    def _fail(self, kind: type[RegistryError], cause: str, hint: str = "") -> RegistryError:
        return kind(self.repo.repo_url, cause, hint)

    @property
    def credentials(self) -> Credentials | None:
        if not self._credentials_loaded:
            host = self.repo.host
            try:
                self._credentials = credentials_for(
                    host, self.session.env, more_configs=self.session.options.more_auth_configs
                )
            except CredentialsError as err:
                raise self._fail(AuthenticationError, str(err), "fix or remove that entry") from err
            self._credentials_loaded = True
        return self._credentials

    def _authorization(self, hint: AuthHint | None) -> str | None:
        if hint is None or hint.scheme == "none":
            return None
        if hint.scheme == "basic":
            creds = self.credentials
            return creds.basic() if creds and not creds.identity_token else None
        if hint.scheme == "bearer":
            return f"Bearer {self._token(hint)}"
        return None

    def _token(self, hint: AuthHint) -> str:
        key = TokenKey(hint.realm, hint.service, self.scope)
        tokens = self.session.tokens
        token = tokens.get(key)
        if token is not None:
            return token
        with tokens.fetch_lock:
            token = tokens.get(key)
            if token is None:
                token, expires_in = self._fetch_token(hint)
                tokens.put(key, token, expires_in)
            return token

    def _fetch_token(self, hint: AuthHint) -> tuple[str, float | None]:
        params = {"scope": self.scope}
        if hint.service:
            params["service"] = hint.service
        headers = {}
        creds = self.credentials
        form: dict[str, str] | None = None
        if creds is not None and creds.identity_token:
            # Docker's token spec (OAuth2): a refresh token is exchanged by POST, never sent as Basic.
            form = {**params, "grant_type": "refresh_token", "refresh_token": creds.password}
            form["client_id"] = "kargo-actions"
        elif creds is not None:
            headers["Authorization"] = creds.basic()
        realm = urllib.parse.urlsplit(hint.realm)
        if realm.scheme not in ("http", "https") or not realm.netloc:
            raise self._fail(MalformedResponseError, f"token realm {hint.realm!r} is not an http(s) URL")
        policy = self.session.options.retry
        for attempt in range(1, policy.attempts + 1):
            self.session.stats.add("token")
            try:
                with self.session.limiter(realm.netloc).slot():
                    client = self.session.http(self.verify)
                    resp = (
                        client.post(hint.realm, data=form)
                        if form is not None
                        else client.get(hint.realm, params=params, headers=headers)
                    )
            except httpx.TimeoutException as err:
                if attempt < policy.attempts:
                    self.session.sleep(policy.delay(attempt, None))
                    continue
                raise self._fail(RegistryUnreachableError, f"token service {hint.realm} timed out") from err
            except httpx.TransportError as err:
                kind, cause = classify_connect_error(err)
                raise self._fail(kind, f"token service {hint.realm}: {cause}") from err
            if (resp.status_code == 429 or resp.status_code >= 500) and attempt < policy.attempts:
                self.session.sleep(policy.delay(attempt, parse_retry_after(resp.headers.get("retry-after"))))
                continue
            break
        if resp.status_code == 429:
            raise self._fail(RateLimitedError, f"token service {hint.realm} answered 429", "try again later")
        if resp.status_code in (401, 403):
            raise self._auth_error(resp.status_code, f"token service {hint.realm} refused")
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"token service {hint.realm} answered {resp.status_code}")
        try:
            data = resp.json()
            token = data.get("token") or data.get("access_token")
            expires = data.get("expires_in")
        except (ValueError, AttributeError) as err:
            raise self._fail(MalformedResponseError, f"token service {hint.realm} sent no JSON") from err
        if not isinstance(token, str) or not token:
            raise self._fail(MalformedResponseError, f"token service {hint.realm} sent no token")
        mask_secret(token, self.session.env)
        return token, float(expires) if isinstance(expires, int | float) else None

    def _auth_error(self, status: int, what: str) -> RegistryError:
        creds = self.credentials
        if status == 403:
            who = f" for {creds.username} ({creds.source})" if creds else ""
            return self._fail(ForbiddenError, f"{what}: 403 forbidden{who}", "grant that user pull access")
        if creds is None:
            return self._fail(
                AuthenticationError,
                f"{what}: 401 unauthorized and no credentials for {self.repo.host}",
                "add the registry to docker config.json (DOCKER_CONFIG)"
                + (" or set GITHUB_TOKEN" if self.repo.host == "ghcr.io" else ""),
            )
        return self._fail(
            AuthenticationError,
            f"{what}: 401 unauthorized: credentials of {creds.username} from {creds.source} were rejected",
            "check the password or token, or that the repository exists",
        )

    def _learn_challenge(self, resp: httpx.Response) -> AuthHint | None:
        challenge: Challenge | None = parse_challenge(resp.headers.get("www-authenticate", ""))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            return None
        hint = AuthHint(
            host=self.repo.host,
            scheme=challenge.scheme,
            realm=challenge.param("realm"),
            service=challenge.param("service"),
        )
        if hint.scheme == "bearer" and not hint.realm:
            raise self._fail(MalformedResponseError, "bearer challenge without a realm")
        return hint

    def _send(
        self,
        method: str,
        url: str,
        accept: str,
        kind: str,
        *,
        content: bytes | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One request with auth, pacing, retries of 429/5xx, and errors mapped to typed ones."""
        session = self.session
        limiter = session.limiter(self.repo.host)
        policy = session.options.retry
        attempt = 0
        authed_after_challenge = False
        while True:
            attempt += 1
            if limiter.quota_exhausted():
                q = limiter.quota
                window = f" for a window of {q.window_seconds}s" if q and q.window_seconds else ""
                raise self._fail(
                    RateLimitedError,
                    f"registry pull quota used up (ratelimit-remaining 0{window})",
                    "wait for the window to pass or log in for a larger quota",
                )
            headers = {"Accept": accept} if accept else {}
            headers.update(extra_headers or {})
            auth = self._authorization(session.auth_hint(self.repo.host))
            if auth:
                headers["Authorization"] = auth
            session.stats.add(kind)
            try:
                with limiter.slot():
                    resp = session.http(self.verify).request(
                        method, url, headers=headers, content=content, follow_redirects=(kind == "blob")
                    )
            except httpx.TimeoutException as err:
                if attempt < policy.attempts:
                    session.sleep(policy.delay(attempt, None))
                    continue
                raise self._fail(RegistryUnreachableError, timed_out_cause("registry", err)) from err
            except httpx.TransportError as err:
                kind_, cause = classify_connect_error(err)
                raise self._fail(kind_, cause) from err
            limiter.note_quota(parse_hub_quota(resp.headers.get("ratelimit-remaining")))
            status = resp.status_code
            if status == 401 and not authed_after_challenge:
                hint = self._learn_challenge(resp)
                known = session.auth_hint(self.repo.host)
                if hint is not None and (hint != known or not auth):
                    if hint.scheme == "basic" and self.credentials is None:
                        raise self._auth_error(401, f"{method} {url}")
                    session.remember_auth(hint)
                    authed_after_challenge = True
                    attempt -= 1  # answering a challenge is not a retry
                    continue
                if hint is not None and known == hint and auth and hint.scheme == "bearer":
                    # A cached token may have been revoked early: drop it and ask once more.
                    session.tokens.drop(TokenKey(hint.realm, hint.service, self.scope))
                    authed_after_challenge = True
                    attempt -= 1
                    continue
            if status == 401 or status == 403:
                raise self._auth_error(status, f"{method} {urllib.parse.urlsplit(url).path}")
            if status == 429 or status >= 500:
                if attempt < policy.attempts:
                    wait = policy.delay(attempt, parse_retry_after(resp.headers.get("retry-after")))
                    log.info("%s answered %s; retry %d in %.1fs", url, status, attempt, wait)
                    session.sleep(wait)
                    continue
                kind_err = RateLimitedError if status == 429 else RegistryServerError
                raise self._fail(
                    kind_err,
                    f"{method} {urllib.parse.urlsplit(url).path} answered {status} after {attempt} attempts",
                    "try again later",
                )
            if status == 200 and session.auth_hint(self.repo.host) is None:
                session.remember_auth(AuthHint(host=self.repo.host, scheme="none"))
            return resp

    def list_tags(self) -> TagList:
        """Every tag: n=page_size, Link rel="next" paging, a `last` fallback, capped at max_pages."""
        opts = self.session.options
        path = f"/v2/{self.repo.name}/tags/list"
        url: str | None = f"{self.base}{path}?n={opts.page_size}"
        tags: list[str] = []
        seen: set[str] = set()
        pages = 0
        truncated = False
        while url is not None:
            if pages >= opts.max_pages:
                truncated = True
                msg = (
                    f"image {self.repo.repo_url}: tag list cut at {pages} pages ({len(tags)} tags); "
                    "newer tags may be missed (narrow the repository or raise the page cap)"
                )
                log.warning(msg)
                self.session.warnings.append(msg)
                break
            resp = self._send("GET", url, "application/json", "tags")
            pages += 1
            if resp.status_code == 404:
                codes = error_codes(resp)
                raise self._fail(
                    RepositoryNotFoundError,
                    f"repository {self.repo.name} not found on {self.repo.host}"
                    + (f" ({codes})" if codes else ""),
                    "check repoURL",
                )
            if resp.status_code != 200:
                raise self._fail(RegistryServerError, f"GET {path} answered {resp.status_code}")
            page = self._tags_of(resp)
            fresh = [t for t in page if t not in seen]
            if pages > 1 and not fresh:
                break  # the server ignored `last` and sent the same page again
            tags.extend(fresh)
            seen.update(fresh)
            link = _next_link(resp.headers.get("link", ""))
            if link is not None:
                url = urllib.parse.urljoin(self.base + path, link)
                if urllib.parse.urlsplit(url).netloc != self.repo.host:
                    # Our Authorization header goes with every request: never follow it to another host.
                    raise self._fail(MalformedResponseError, f"tag list Link points to another host: {url}")
            elif len(page) == opts.page_size and page:
                # A full page and no Link: ask for what follows the last tag (distribution's `last`).
                url = f"{self.base}{path}?" + urllib.parse.urlencode({"n": opts.page_size, "last": page[-1]})
            else:
                url = None
        return TagList(tags=tuple(tags), pages=pages, truncated=truncated)

    def _tags_of(self, resp: httpx.Response) -> list[str]:
        try:
            data = resp.json()
        except ValueError as err:
            raise self._fail(MalformedResponseError, f"tag list is not JSON: {err}") from err
        tags = data.get("tags") if isinstance(data, dict) else None
        if tags is None and isinstance(data, dict) and "tags" in data:
            return []  # distribution sends "tags": null for an empty repository
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise self._fail(MalformedResponseError, "tag list JSON has no `tags` array of strings")
        return tags

    def _manifest_url(self, ref: str) -> str:
        return f"{self.base}/v2/{self.repo.name}/manifests/{urllib.parse.quote(ref, safe=':')}"

    def _not_found(self, resp: httpx.Response, ref: str) -> RegistryError:
        codes = error_codes(resp)
        if "NAME_UNKNOWN" in codes:
            return self._fail(
                RepositoryNotFoundError, f"repository {self.repo.name} not found on {self.repo.host}"
            )
        return self._fail(ManifestNotFoundError, f"no manifest for {ref!r}", "the tag may have been deleted")

    def head_manifest(self, ref: str) -> ManifestHead:
        """Digest of a tag by HEAD (Docker-Content-Digest); falls back to a GET when the header is absent."""
        resp = self._send("HEAD", self._manifest_url(ref), MANIFEST_ACCEPT, "head")
        if resp.status_code == 404:
            raise self._not_found(resp, ref)
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"HEAD manifest {ref!r} answered {resp.status_code}")
        digest = resp.headers.get("docker-content-digest", "")
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if not digest:
            fetched = self.get_manifest(ref)
            with self._lock:
                self._fetched[fetched.digest] = fetched  # the GET by digest that follows needs no request
            return ManifestHead(fetched.digest, fetched.media_type)
        return ManifestHead(digest, media_type)

    def get_manifest(self, ref: str) -> FetchedManifest:
        with self._lock:
            kept = self._fetched.pop(ref, None)
        if kept is not None:
            return kept
        resp = self._send("GET", self._manifest_url(ref), MANIFEST_ACCEPT, "manifest")
        if resp.status_code == 404:
            raise self._not_found(resp, ref)
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"GET manifest {ref!r} answered {resp.status_code}")
        body = resp.content
        computed = digest_of(body)
        if ref.startswith("sha256:") and computed != ref:
            raise self._fail(
                MalformedResponseError, f"manifest {ref} has digest {computed}: content mismatch"
            )
        digest = ref if ref.startswith("sha256:") else resp.headers.get("docker-content-digest") or computed
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        return FetchedManifest(digest=digest, media_type=media_type, body=body)

    def get_blob(self, digest: str) -> bytes:
        resp = self._send("GET", f"{self.base}/v2/{self.repo.name}/blobs/{digest}", "", "blob")
        if resp.status_code == 404:
            raise self._fail(ManifestNotFoundError, f"blob {digest} not found")
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"GET blob {digest} answered {resp.status_code}")
        body = resp.content
        if digest.startswith("sha256:") and digest_of(body) != digest:
            raise self._fail(MalformedResponseError, f"blob {digest}: content does not match its digest")
        return body

    def blob_exists(self, digest: str) -> bool:
        """Whether the repository has the blob already (HEAD), so a copy can skip it."""
        resp = self._send("HEAD", f"{self.base}/v2/{self.repo.name}/blobs/{digest}", "", "blob")
        if resp.status_code == 404:
            return False
        if resp.status_code != 200:
            raise self._fail(RegistryServerError, f"HEAD blob {digest} answered {resp.status_code}")
        return True

    def put_blob(self, data: bytes) -> str:
        """Upload one blob monolithically (POST an upload session, PUT the bytes); returns its digest."""
        digest = digest_of(data)
        start = self._send("POST", f"{self.base}/v2/{self.repo.name}/blobs/uploads/", "", "upload")
        if start.status_code not in (201, 202):
            raise self._upload_error(start, f"starting the upload of blob {digest}")
        location = start.headers.get("location", "")
        if not location:
            raise self._fail(MalformedResponseError, "upload session without a Location header")
        url = urllib.parse.urljoin(self.base + "/", location)
        if urllib.parse.urlsplit(url).netloc != self.repo.host:
            # Our Authorization header goes with every request: never send it to another host.
            raise self._fail(MalformedResponseError, f"upload Location points to another host: {url}")
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        done = self._send(
            "PUT",
            url,
            "",
            "upload",
            content=data,
            extra_headers={"Content-Type": "application/octet-stream"},
        )
        if done.status_code not in (201, 204):
            raise self._upload_error(done, f"uploading blob {digest}")
        return digest

    def put_manifest(self, ref: str, body: bytes, media_type: str) -> str:
        """Store a manifest (or index) under a tag or its digest; returns its digest."""
        resp = self._send(
            "PUT",
            self._manifest_url(ref),
            "",
            "upload",
            content=body,
            extra_headers={"Content-Type": media_type},
        )
        if resp.status_code not in (200, 201):
            raise self._upload_error(resp, f"storing manifest {ref!r}")
        return digest_of(body)

    def _upload_error(self, resp: httpx.Response, what: str) -> RegistryError:
        codes = error_codes(resp)
        detail = f" ({codes})" if codes else ""
        if resp.status_code == 404:
            return self._fail(RepositoryNotFoundError, f"{what}: 404{detail}")
        if resp.status_code in (400, 405):
            return self._fail(
                MalformedResponseError, f"{what}: the registry refused it ({resp.status_code}){detail}"
            )
        return self._fail(RegistryServerError, f"{what}: answered {resp.status_code}{detail}")

    def parse_manifest(self, fetched: FetchedManifest) -> ManifestInfo:
        """What discovery reads from a fetched manifest; a malformed one is this repository's error."""
        return manifests.parse_manifest(fetched, self.repo.repo_url)

    def parse_config(self, digest: str, body: bytes) -> ConfigInfo:
        """What discovery reads from an image config blob; a malformed one is this repository's error."""
        return manifests.parse_config(digest, body, self.repo.repo_url)
