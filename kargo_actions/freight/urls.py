"""Kargo's repository URL normalisation (pkg/urls): git, image and chart URLs compared as Kargo compares them.

Kargo parses with Go's net/url and go-containerregistry's name package; the small ports below keep exactly
the parts those rules depend on, so that a URL Go refuses is returned unchanged here too.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from kargo_actions.redact import MASK, redact_userinfo
from kargo_actions.struct import struct

# Kargo v1.10 deprecated SSH URLs (ssh:// and scp-style git@host:path); v1.13 removes them.
SSH_DEPRECATION = (
    "SSH URLs (ssh:// and scp-style git@host:path) are deprecated since Kargo v1.10.0 "
    "and will be removed in v1.13.0"
)

_SCP = re.compile(r"^((?:[\w-]+@)?[\w-]+(?:\.[\w-]+)*)(?::(.*))?$", re.ASCII)
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_HOST_OK = _ALNUM | frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_OK = _ALNUM | frozenset("-._:~!$&'()*+,;=%@")
_PATH_KEEP = _ALNUM | frozenset("-_.~$&+,/:;=@")
_USER_KEEP = _ALNUM | frozenset("-_.~$&+,;=")
_FRAGMENT_KEEP = _ALNUM | frozenset("-_.~$&+,/:;=?@!()*")
_VALID_ENCODED = _ALNUM | frozenset("-_.~!$&'()*+,;=:@/%[]")
_HEX = frozenset("0123456789abcdefABCDEF")
_TAG_CHARS = _ALNUM | frozenset("_-.")
_REPOSITORY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-./")
_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_DOCKER_HUB = ("index.docker.io", "registry-1.docker.io")


def sanitize_url(url: str) -> str:
    """Kargo's SanitizeURL: drop every non-printable character (BOMs, zero-width spaces, tabs), then trim."""
    return "".join(c for c in url if c.isprintable()).strip()


class _Refused(ValueError):
    """Go's url.Parse (or name.ParseReference) would refuse this text."""


def _escape(text: str, keep: frozenset[str]) -> str:
    return "".join(c if c in keep else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def _unescape(text: str) -> str:
    out = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise _Refused("invalid URL escape")
            out.append(int(pair, 16))
            i += 3
        else:
            out += text[i].encode()
            i += 1
    return out.decode(errors="surrogateescape")


@struct(frozen=False)
class _GoURL:
    """The fields of Go's url.URL that Kargo's rules read and write."""

    scheme: str = ""
    opaque: str = ""
    userinfo: tuple[str, str | None] | None = None
    host: str = ""
    omit_host: bool = False
    path: str = ""
    raw_path: str = ""
    raw_query: str = ""
    force_query: bool = False
    fragment: str = ""

    def escaped_path(self) -> str:
        if self.raw_path and set(self.raw_path) <= _VALID_ENCODED:
            try:
                if _unescape(self.raw_path) == self.path:
                    return self.raw_path
            except _Refused:
                pass
        return _escape(self.path, _PATH_KEEP)

    def string(self) -> str:
        """Go's URL.String()."""
        out = f"{self.scheme}:" if self.scheme else ""
        if self.opaque:
            out += self.opaque
        else:
            if (
                (self.scheme or self.host or self.userinfo is not None)
                and not (self.omit_host and not self.host and self.userinfo is None)
                and (self.host or self.path or self.userinfo is not None)
            ):
                out += "//"
                if self.userinfo is not None:
                    user, password = self.userinfo
                    out += _escape(user, _USER_KEEP)
                    if password is not None:
                        out += ":" + _escape(password, _USER_KEEP)
                    out += "@"
                out += self.host
            path = self.escaped_path()
            if path and not path.startswith("/") and self.host:
                out += "/"
            if not out and ":" in path.partition("/")[0]:
                out += "./"
            out += path
        if self.force_query or self.raw_query:
            out += "?" + self.raw_query
        if self.fragment:
            out += "#" + _escape(self.fragment, _FRAGMENT_KEEP)
        return out


def _scheme(raw: str) -> tuple[str, str]:
    for i, c in enumerate(raw):
        if c.isascii() and c.isalpha():
            continue
        if c.isascii() and (c.isdigit() or c in "+-."):
            if i == 0:
                return "", raw
            continue
        if c == ":":
            if i == 0:
                raise _Refused("missing protocol scheme")
            return raw[:i], raw[i + 1 :]
        return "", raw
    return "", raw


def _host(text: str) -> str:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise _Refused("missing ']' in host")
        port = text[end + 1 :]
        if port and not re.fullmatch(r":\d*", port):
            raise _Refused("invalid port")
    elif ":" in text and not re.fullmatch(r":\d*", text[text.rindex(":") :]):
        raise _Refused("invalid port")
    for i, c in enumerate(text):
        if c == "%":
            if text[i : i + 3] != "%25":
                raise _Refused("invalid host escape")
        elif c.isascii() and c not in _HOST_OK:
            raise _Refused(f"invalid character {c!r} in host name")
    return text


def parse_go_url(raw: str) -> _GoURL:
    """Go's url.Parse, for what Kargo's normalisation reads; _Refused where Go returns an error."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _Refused("invalid control character in URL")
    raw, _, fragment = raw.partition("#")
    url = _GoURL()
    url.scheme, rest = _scheme(raw)
    url.scheme = url.scheme.lower()
    if rest.endswith("?") and rest.count("?") == 1:
        url.force_query, rest = True, rest[:-1]
    else:
        rest, _, url.raw_query = rest.partition("?")
    if not rest.startswith("/"):
        if url.scheme:
            url.opaque = rest
            url.fragment = _unescape(fragment)
            return url
        if ":" in rest.partition("/")[0]:
            raise _Refused("first path segment in URL cannot contain colon")
    if rest.startswith("//") and (url.scheme or not rest.startswith("///")):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        at = authority.rfind("@")
        url.host = _host(authority[at + 1 :])
        if at >= 0:
            info = authority[:at]
            if not set(info) <= _USERINFO_OK:
                raise _Refused("invalid userinfo")
            user, colon, password = info.partition(":")
            url.userinfo = (_unescape(user), _unescape(password) if colon else None)
    elif url.scheme and rest.startswith("/"):
        url.omit_host = True
    url.path = _unescape(rest)
    url.raw_path = "" if _escape(url.path, _PATH_KEEP) == rest else rest
    url.fragment = _unescape(fragment)
    return url


def _query_present(url: _GoURL) -> bool:
    return bool(parse_qs(url.raw_query, keep_blank_values=True))


def _trim_repo_path(url: _GoURL) -> None:
    url.path = url.path.removesuffix("/").removesuffix(".git")


def normalize_git_url(url: str) -> str:
    """Kargo's NormalizeGit: sanitized and lowercased; http(s) without user info; ssh:// and scp-style
    `user@host:path` as `ssh://user@host/path`; no trailing `/` or `.git`. Anything else is returned as is.

    One difference: a URL's password (or an http(s) token alone) is `***` where Kargo keeps it (ssh://, or
    a URL returned as is), so a recorded URL, whose password is redacted, matches its subscription and gives
    the same Freight ID."""
    repo = sanitize_url(url.lower())
    try:
        if repo.startswith(("http://", "https://", "ssh://")):
            parsed = parse_go_url(repo)
            if _query_present(parsed):
                return redact_userinfo(url)
            if not repo.startswith("ssh://"):
                parsed.userinfo = None
            elif parsed.userinfo is not None and parsed.userinfo[1] is not None:
                # a password is never an ID's input or compared: recorded URLs carry it redacted
                parsed.userinfo = (parsed.userinfo[0], MASK)
            _trim_repo_path(parsed)
            return parsed.string()
        match = _SCP.match(repo)
        if match is None:
            return redact_userinfo(url)
        user_host, path = match[1], match[2] or ""
        parsed = parse_go_url(path)
    except _Refused:
        return redact_userinfo(url)
    _trim_repo_path(parsed)
    if not parsed.path:
        return f"ssh://{user_host}"
    return f"ssh://{user_host}/{parsed.string()}"


def is_ssh_git_url(url: str) -> bool:
    """True for the URL forms Kargo deprecated in v1.10: ssh:// and scp-style `[user@]host:path`."""
    repo = sanitize_url(url.lower())
    return repo.startswith("ssh://") or ("://" not in repo and ":" in repo and _SCP.match(repo) is not None)


def _check_element(value: str, allowed: frozenset[str], low: int, high: int) -> None:
    if not low <= len(value) <= high or not set(value) <= allowed:
        raise _Refused(f"{value!r} is not a valid reference element")


def _repository(name: str) -> tuple[str, str]:
    """go-containerregistry's NewRepository (weak validation): (registry, repository)."""
    if not name:
        raise _Refused("a repository name must be specified")
    registry, repo = "", name
    first, slash, remainder = name.partition("/")
    if slash and ("." in first or ":" in first):
        registry, repo = first, remainder
    _check_element(repo, _REPOSITORY_CHARS, 2, 255)
    try:
        parsed = parse_go_url("//" + registry)
    except _Refused as err:
        raise _Refused(f"registry {registry!r} is not a URI authority") from err
    if parsed.host != registry:
        raise _Refused(f"registry {registry!r} is not a URI authority")
    if registry in ("", "docker.io"):
        registry = "index.docker.io"
    return registry, repo


def _tagged(name: str) -> tuple[str, str]:
    """NewTag: the repository of `name[:tag]`."""
    base, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        base, tag = name, ""
    elif not tag:
        raise _Refused("a tag name must follow the colon")
    if tag:
        _check_element(tag, _TAG_CHARS, 1, 128)
    return _repository(base)


def parse_image_reference(name: str) -> tuple[str, str]:
    """go-containerregistry's ParseReference with weak validation: (registry, repository)."""
    try:
        return _tagged(name)
    except _Refused:
        pass
    parts = name.split("@")
    if len(parts) != 2 or not _SHA256.match(parts[1]):
        raise _Refused(f"could not parse reference: {name}")
    base = parts[0]
    try:
        return _tagged(base)
    except _Refused:
        return _repository(base)


def normalize_image_url(url: str) -> str:
    """Kargo's NormalizeImage: Docker Hub's hosts and `library/` dropped, `host/repo` for other registries;
    a tag or digest is dropped. Anything go-containerregistry cannot parse is returned as is."""
    try:
        registry, repo = parse_image_reference(sanitize_url(url.lower()))
    except _Refused:
        return url
    if registry in _DOCKER_HUB:
        return repo.removeprefix("library/")
    return f"{registry}/{repo}"


def normalize_chart_url(url: str) -> str:
    """Kargo's NormalizeChart: sanitized, lowercased, without `oci://`, then read as an image repository."""
    repo = sanitize_url(url)
    try:
        parse_go_url(repo)
    except _Refused:
        return url
    return normalize_image_url(repo.lower().removeprefix("oci://"))
