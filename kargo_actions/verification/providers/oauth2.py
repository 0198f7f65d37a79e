"""OAuth2 client credentials for the web and prometheus providers: a token per run, reused until it expires.

As golang.org/x/oauth2/clientcredentials, which Argo Rollouts uses: `POST tokenUrl` with the form
`grant_type=client_credentials` (and `scope`, the scopes joined by spaces); the client id and secret go
first in HTTP Basic auth (each URL-query-escaped), and when that fails, once more as `client_id` /
`client_secret` form fields - the style that worked is remembered per (tokenUrl, clientId). The answer is
JSON (or a form-encoded body); `expires_in` sets the expiry, and a token counts as expired 10 s before it
(oauth2's expiryDelta); without `expires_in` it never expires. The token goes out as
`Authorization: <token_type> <access_token>` (Bearer by default). One TokenCache lives for one run (it is
in the MeasureContext), so metrics with the same credentials share a token.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs, quote_plus

import httpx

from kargo_actions.struct import struct
from kargo_actions.verification.phases import MeasurementError

EXPIRY_DELTA_SECONDS = 10.0
_MAX_BODY_SHOWN = 300


@struct
class ClientCredentials:
    """One OAuth2 client: where its tokens come from and what it asks for."""

    token_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ()


@struct
class Token:
    access_token: str
    token_type: str
    expiry: float | None  # wall-clock seconds; None: never expires

    @property
    def header(self) -> str:
        """The Authorization header's value (oauth2's Token.Type() normalises the common types)."""
        kind = self.token_type
        kind = {"bearer": "Bearer", "mac": "MAC", "basic": "Basic"}.get(kind.lower(), kind) or "Bearer"
        return f"{kind} {self.access_token}"

    def valid(self, now: float) -> bool:
        return self.expiry is None or self.expiry - EXPIRY_DELTA_SECONDS >= now


class _TokenRequestError(Exception):
    """One token request failed (the message says why, as oauth2's RetrieveError does)."""


@struct(frozen=False)
class TokenCache:
    """Tokens of one run by client; thread-safe (metrics measure concurrently)."""

    now: Callable[[], float] = time.time
    _tokens: dict[ClientCredentials, Token] = field(default_factory=dict)
    _styles: dict[tuple[str, str], str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def header(self, creds: ClientCredentials, client: httpx.Client) -> str:
        """The Authorization value for creds: the cached token while valid, else a new one (MeasurementError)."""
        with self._lock:  # one fetch at a time: concurrent metrics of one client wait for its token
            token = self._tokens.get(creds)
            if token is None or not token.valid(self.now()):
                token = self._fetch(creds, client)
                self._tokens[creds] = token
            return token.header

    def _fetch(self, creds: ClientCredentials, client: httpx.Client) -> Token:
        key = (creds.token_url, creds.client_id)
        known = self._styles.get(key)
        styles = [known] if known else ["header", "params"]
        error: _TokenRequestError | None = None
        for style in styles:
            try:
                token = self._request(creds, client, style)
            except _TokenRequestError as err:
                error = err
                continue
            self._styles[key] = style
            return token
        assert error is not None
        raise MeasurementError(f"fetching an OAuth2 token from {creds.token_url}: {error}")

    def _request(self, creds: ClientCredentials, client: httpx.Client, style: str) -> Token:
        form = {"grant_type": "client_credentials"}
        if creds.scopes:
            form["scope"] = " ".join(creds.scopes)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if style == "params":
            form["client_id"] = creds.client_id
            form["client_secret"] = creds.client_secret
        else:
            pair = f"{quote_plus(creds.client_id)}:{quote_plus(creds.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            response = client.post(creds.token_url, data=form, headers=headers)
        except httpx.HTTPError as err:
            raise _TokenRequestError(f"{type(err).__name__}: {err}") from err
        return self._parse(response)

    def _parse(self, response: httpx.Response) -> Token:
        failed = not 200 <= response.status_code < 300
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        fields: dict[str, Any]
        if kind in ("application/x-www-form-urlencoded", "text/plain"):
            fields = {k: v[0] for k, v in parse_qs(response.text).items()}
        else:
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                if failed:
                    raise _TokenRequestError(self._status(response))
                raise _TokenRequestError("cannot parse the token answer as JSON")
            fields = parsed
        code = str(fields.get("error") or "")
        if code:
            text = f'"{code}"'
            if fields.get("error_description"):
                text += f' "{fields["error_description"]}"'
            raise _TokenRequestError(f"HTTP {response.status_code}, {text}")
        if failed:
            raise _TokenRequestError(self._status(response))
        access = str(fields.get("access_token") or "")
        if not access:
            raise _TokenRequestError("the token answer has no access_token")
        return Token(access, str(fields.get("token_type") or ""), self._expiry(fields.get("expires_in")))

    def _expiry(self, expires_in: Any) -> float | None:
        try:
            seconds = int(float(expires_in)) if expires_in not in (None, "") else 0
        except (TypeError, ValueError):
            seconds = 0
        return self.now() + seconds if seconds else None

    @staticmethod
    def _status(response: httpx.Response) -> str:
        body = " ".join(response.text.split())[:_MAX_BODY_SHOWN]
        return f"cannot fetch token: HTTP {response.status_code}" + (f", answer: {body}" if body else "")
