"""The dashboard in a real browser: Debian's chromium, headless, loads the pages from file:// (no server).
The DOM after the scripts ran (--dump-dom) has the Stage cards and the graph, the site's own script ran,
the console stayed silent (a CSP violation or a script error would print there), and the screenshot shows
the stylesheet applied."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.report.test_dashboard import Page, Pipeline, pipeline, site  # noqa: F401 - fixtures

TIMEOUT_S = 60


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "chromium is not installed (apt-get install chromium; scripts/test.sh installs it as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def browse(url: str, tmp: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """One headless chromium run on a fresh profile, its console messages logged to stderr."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [
            _chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def console(stderr: str) -> list[str]:
    """The page's console messages (chromium logs them as `INFO:CONSOLE:<line>] "..."`)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def dom(url: str, tmp: Path) -> tuple[Page, list[str]]:
    done = browse(url, tmp, "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    page = Page()
    page.feed(done.stdout)
    page.close()
    return page, console(done.stderr)


def pixels(png: bytes, rows: int) -> list[list[tuple[int, int, int]]]:
    """The first `rows` rows of an 8-bit RGB or RGBA PNG (what chromium writes), as RGB triples."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, data, width, channels = 8, b"", 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, body = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, _, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8
            assert color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            data += body
        pos += 12 + length
    raw = zlib.decompress(data)
    stride = width * channels
    previous = bytearray(stride)
    out: list[list[tuple[int, int, int]]] = []
    for y in range(rows):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, row = line[0], bytearray(line[1:])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                row[i] = (row[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
        out.append([tuple(row[x * channels : x * channels + 3]) for x in range(width)])  # type: ignore[misc]
        previous = row
    return out


def near(color: tuple[int, int, int], expected: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 6 for a, b in zip(color, expected, strict=True))


def test_index_renders_with_cards_graph_and_no_console_messages(
    site: tuple[Path, dict[str, Any]],  # noqa: F811
    tmp_path: Path,
) -> None:
    out = site[0]
    page, messages = dom((out / "index.html").as_uri(), tmp_path)
    assert messages == []
    (root,) = page.find("html")
    assert root.attrs.get("data-ready") == "1"  # the site's script loaded and ran under the CSP
    assert [e.attrs["data-stage"] for e in page.find("article")] == ["broken", "dev", "staging", "prod"]
    assert len([e for e in page.find("g") if "data-node" in e.attrs]) == 5
    assert len([e for e in page.find("path") if "edge" in e.attrs.get("class", "")]) == 4
    times = [e for e in page.find("time") if "data-relative" in e.attrs]
    assert times
    assert all(e.text.endswith("ago") and e.attrs.get("title", "").endswith("UTC") for e in times)


def test_screenshot_shows_the_stylesheet_applied(
    site: tuple[Path, dict[str, Any]],  # noqa: F811
    tmp_path: Path,
) -> None:
    shot = tmp_path / "index.png"
    done = browse(
        (site[0] / "index.html").as_uri(), tmp_path, f"--screenshot={shot}", "--window-size=1280,1400"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert console(done.stderr) == []
    rows = pixels(shot.read_bytes(), 80)
    assert near(rows[20][4], (0x14, 0x21, 0x3D))  # the navy top bar
    assert near(rows[70][4], (0xF4, 0xF6, 0xFA))  # the page background under it


@pytest.mark.parametrize("kind", ["stage", "warehouse", "freight"])
def test_other_pages_render_without_console_messages(
    site: tuple[Path, dict[str, Any]],  # noqa: F811
    pipeline: Pipeline,  # noqa: F811
    tmp_path: Path,
    kind: str,
) -> None:
    out = site[0]
    fid = pipeline.ids["shop-2"]  # the Freight with a hostile tag and commit message
    url = {
        "stage": (out / "stages" / "dev.html").as_uri(),
        "warehouse": (out / "warehouses" / "shop.html").as_uri(),
        "freight": (out / "freight" / f"{fid[:2]}.html").as_uri() + f"#{fid}",
    }[kind]
    page, messages = dom(url, tmp_path)
    assert messages == []
    (root,) = page.find("html")
    assert root.attrs.get("data-ready") == "1"
    assert [s.attrs.get("src", "").rsplit("/", 1)[-1] for s in page.find("script")] == ["dashboard.js"]
    if kind == "freight":
        assert page.find("section", id=fid)


def test_the_console_check_sees_a_blocked_inline_script(tmp_path: Path) -> None:
    """The harness would notice: an inline script under the pages' CSP is refused, and that is logged."""
    from kargo_actions.report.dashboard_html import CSP

    bad = tmp_path / "bad.html"
    bad.write_text(
        f'<!doctype html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}">'
        "<script>document.title = 'ran'</script></head><body>x</body></html>"
    )
    page, messages = dom(bad.as_uri(), tmp_path)
    assert any("Content Security Policy" in m for m in messages), messages
    assert all(t.text != "ran" for t in page.find("title"))
