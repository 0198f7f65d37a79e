"""Secrets never leave the process: URL passwords and registered secret values become `***` in any text.

One function (`redact`) for every boundary where text is printed or recorded: ledger records, Freight tag
messages, the CLI's stdout and stderr, $GITHUB_OUTPUT, job summaries, pull request bodies, Deployment
payloads. Two rules:
- the password of a URL's userinfo (`https://user:PASSWORD@host`), and a token standing alone as the
  userinfo of an http(s) URL (`https://TOKEN@host`), wherever a URL appears in the text; the password is
  registered as it is found, so a later bare copy of it (in a git error message, say) is caught too;
- every registered secret value (URL passwords, registry and Argo CD tokens, secrets expressions read),
  as written and percent-encoded. Values shorter than MIN_SECRET_LENGTH are only masked in Actions logs:
  replacing every `1` or `true` would garble records and prove nothing.

In GitHub Actions (`GITHUB_ACTIONS=true`) every secret registered is also masked in the log
(`::add-mask::`), once per process.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any, TextIO
from urllib.parse import quote, unquote

MASK = "***"
MIN_SECRET_LENGTH = 6
MASK_COMMAND = "::add-mask::"

# scheme://USERINFO@ : the userinfo ends at the last `@` before the authority ends (Go's url.Parse reads
# it so; a raw `@` in a password would otherwise leak its tail). `"` and `\` end it: JSON text stays valid.
_AUTHORITY = re.compile(r"://(?P<info>[^\s/?#\"\\<>`]*)@")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")
_TOKEN_ALONE_SCHEMES = frozenset({"http://", "https://"})

_secrets: set[str] = set()
_masked: set[str] = set()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None
_long_secrets: tuple[str, ...] = ()  # checked with `in` first: far faster than the pattern on long text


def add_secret(value: str) -> None:
    """Redact `value` (as written, percent-encoded and decoded) from everything written from now on."""
    if not value or value == MASK:
        return
    global _pattern, _long_secrets
    forms = {value, quote(value, safe=""), unquote(value)}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        long = sorted((s for s in _secrets if len(s) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in long)) if long else None
        _long_secrets = tuple(long)


def register_secret(value: str, env: Mapping[str, str] | None = None) -> None:
    """`add_secret`, and in GitHub Actions mask `value` in the log too (each line once per process)."""
    add_secret(value)
    if (os.environ if env is None else env).get("GITHUB_ACTIONS") != "true":
        return
    with _lock:
        lines = [line for line in value.splitlines() if line.strip() and line not in _masked]
        _masked.update(lines)
    if lines:
        # past the redacting wrapper, at a line start: it would hide the very value being masked
        out = sys.stderr.inner if isinstance(sys.stderr, RedactingStream) else sys.stderr
        out.write("".join(f"{MASK_COMMAND}{line}\n" for line in lines))
        out.flush()


def mask(value: str, stream: TextIO | None = None) -> None:
    """Tell the runner to hide `value` (each line of it: masks match per line) in every later log line.

    On stderr by default: the runner reads workflow commands on both streams, and the actions keep a
    command's stdout (its `--output json` result) in a file until it ends, which would delay the mask and
    spoil the result.
    """
    add_secret(value)
    out: TextIO = stream or sys.stderr
    if isinstance(out, RedactingStream):  # past the CLI's redacting wrapper, which would hide the value
        out = out.inner
    for line in value.splitlines():
        if line.strip():
            add_secret(line)
            out.write(f"{MASK_COMMAND}{line}\n")
    out.flush()


def _redact_userinfo(scheme: str, info: str) -> str:
    user, colon, password = info.partition(":")
    if colon:
        if not password or password == MASK:
            return info
        register_secret(password)
        return f"{user}:{MASK}"
    if scheme.lower() in _TOKEN_ALONE_SCHEMES and user and user != MASK:
        register_secret(user)
        return MASK
    return info


def _userinfos(text: str) -> Iterator[tuple[str, int, int]]:
    """(scheme with `://`, start, end) of the userinfo of each URL in text."""
    for match in _AUTHORITY.finditer(text):
        scheme = _SCHEME.search(text, max(0, match.start() - 32), match.start())
        yield (scheme[0] if scheme else "") + "://", match.start("info"), match.end("info")


def redact_userinfo(text: str) -> str:
    """`text` with URL passwords (and http(s) userinfo tokens) replaced by `***`; nothing else changes."""
    if "@" not in text or "://" not in text:
        return text
    parts: list[str] = []
    done = 0
    for scheme, start, end in _userinfos(text):
        parts += [text[done:start], _redact_userinfo(scheme, text[start:end])]
        done = end
    return "".join(parts) + text[done:] if parts else text


def redact(text: str) -> str:
    """`text` with URL passwords (and http(s) userinfo tokens) and registered secrets replaced by `***`."""
    text = redact_userinfo(text)
    pattern, secrets = _pattern, _long_secrets
    if pattern is not None and any(secret in text for secret in secrets):
        text = pattern.sub(MASK, text)
    return text


def redact_url(url: str) -> str:
    """A repository URL as it may be printed or recorded (the same rule as `redact`)."""
    return redact(url)


def redact_data(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings) with every string redacted; keys too. Other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v) for v in value]
    return value


def url_password(url: str) -> str:
    """The secret of a URL's userinfo (the password, or an http(s) token standing alone); "" if none."""
    for scheme, start, end in _userinfos(url):
        user, colon, password = url[start:end].partition(":")
        if colon:
            return password if password != MASK else ""
        return user if scheme.lower() in _TOKEN_ALONE_SCHEMES and user != MASK else ""
    return ""


class RedactingStream(io.TextIOBase):
    """A text stream that redacts each line before passing it on (stdout and stderr of the CLI).

    Text is held until a newline (or flush) so that a URL written in pieces is still seen whole; lines of
    the `::add-mask::` workflow command pass unchanged, as the runner must read the value they carry.
    """

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        cut = self._pending.rfind("\n")
        if cut >= 0:
            ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1 :]
            self.inner.write(_redact_lines(ready))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            ready, self._pending = self._pending, ""
            self.inner.write(_redact_lines(ready))
        self.inner.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.inner, "errors", None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _redact_lines(text: str) -> str:
    if MASK_COMMAND not in text:
        return redact(text)
    return "".join(
        line if line.startswith(MASK_COMMAND) else redact(line) for line in text.splitlines(keepends=True)
    )


def redact_standard_streams() -> None:
    """Wrap sys.stdout and sys.stderr (once) so nothing the process prints carries a secret."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
