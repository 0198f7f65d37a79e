"""Benchmark (d): one chart's versions from a 70 MB index.yaml with 60,000 entries in < 1 s and < 200 MB RSS.

Generates the index, serves it over HTTP (stdlib server, ETag/304), and measures in fresh subprocesses
(peak RSS = resource.getrusage(RUSAGE_CHILDREN).ru_maxrss of that child alone):
  1. discovery with a cold cache: download (gzip) + scan,
  2. discovery with a warm cache: revalidation answered 304 + scan,
  3. the scan alone on the cached file,
  4. the plain script a user would write: parse the whole file with a YAML library (ruamel.yaml, the one this
     project ships) and read entries[chart]; it runs on a --baseline-fraction slice unless --full-baseline,
     since a pure-Python YAML parse of 70 MB takes minutes and gigabytes.
Exit 1 when (2) or (3) misses 1 s or 200 MB.

    .venv/bin/python benchmarks/bench_chart_discovery.py [--entries 60000] [--full-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import resource  # noqa: F401 - used by the child code
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.chart_repo_server import serve_charts  # noqa: E402

TARGET_SECONDS = 1.0
TARGET_RSS_MB = 200.0
WANTED = "chart-01234"


def generate_index(entries: int, per_chart: int = 20) -> bytes:
    """A helm-style index: entries/per_chart charts with per_chart versions, ~1.2 kB per entry like real ones."""
    lines = ["apiVersion: v1", "entries:"]
    charts = entries // per_chart
    filler = "lorem ipsum dolor sit amet " * 15
    for c in range(charts):
        name = f"chart-{c:05d}"
        lines.append(f"  {name}:")
        for v in range(per_chart):
            version = f"{v // 10}.{v % 10}.{c % 7}"
            lines += [
                "  - annotations:",
                f"      category: Category{c % 13}",
                "      licenses: Apache-2.0",
                "    apiVersion: v2",
                f"    appVersion: {version}",
                f'    created: "2024-{1 + v % 12:02d}-01T00:00:00.{c:06d}Z"',
                "    dependencies:",
                "    - name: common",
                "      repository: oci://registry.example.com/charts",
                "      tags:",
                "      - bitnami-common",
                "      version: 2.x.x",
                f"    description: {name} {filler}",
                f"    digest: {c:032x}{v:032x}",
                "    home: https://example.com/charts",
                "    icon: https://example.com/icon.svg",
                "    keywords:",
                "    - benchmark",
                f"    - {name}",
                "    maintainers:",
                "    - name: Maintainers",
                "      url: https://example.com/team",
                f"    name: {name}",
                "    sources:",
                f"    - https://example.com/src/{name}",
                "    urls:",
                f"    - https://charts.example.com/{name}-{version}.tgz",
                f"    version: {version}",
            ]
    lines.append('generated: "2024-10-01T00:00:00Z"')
    return ("\n".join(lines) + "\n").encode()


_PEAK = """
    import resource
    with open("/proc/self/status") as status:
        hwm = [int(line.split()[1]) for line in status if line.startswith("VmHWM:")]
    print(json.dumps({"peak_kb": hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run_child(code: str, env: dict[str, str]) -> tuple[dict[str, object], float]:
    """Run code in a fresh interpreter; returns its JSON output and that child's own peak RSS in MB.

    The peak is the child's VmHWM (high-water mark of its own address space after exec): getrusage's
    RUSAGE_CHILDREN would report the maximum over all children, and Linux carries the forking parent's
    high-water mark (which holds the generated index) into it.
    """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + textwrap.dedent(_PEAK)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-2]), json.loads(lines[-1])["peak_kb"] / 1024


DISCOVER = """
    import json, time
    from kargo_actions.discovery.chart import ChartIndexCache, ChartWatch, discover_charts
    cache = ChartIndexCache()
    t = time.perf_counter()
    (result,) = discover_charts([ChartWatch("{url}", "{chart}")], cache=cache)
    elapsed = time.perf_counter() - t
    assert result.error is None, result.error
    print(json.dumps({{"seconds": elapsed, "versions": result.versions, "downloads": cache.downloads,
                       "revalidations": cache.revalidations}}))
"""

SCAN = """
    import json, time
    from pathlib import Path
    from kargo_actions.discovery.chart import chart_versions_in_index
    t = time.perf_counter()
    versions = chart_versions_in_index(Path("{path}"), "{chart}")
    print(json.dumps({{"seconds": time.perf_counter() - t, "versions": versions}}))
"""

FULL_YAML = """
    import json, time
    from ruamel.yaml import YAML
    t = time.perf_counter()
    with open("{path}") as handle:
        index = YAML(typ="safe").load(handle)
    versions = [e["version"] for e in index["entries"]["{chart}"]]
    print(json.dumps({{"seconds": time.perf_counter() - t, "versions": versions}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=60_000)
    parser.add_argument(
        "--full-baseline", action="store_true", help="parse the whole 70 MB file with YAML too"
    )
    parser.add_argument("--baseline-fraction", type=float, default=0.05)
    args = parser.parse_args()

    body = generate_index(args.entries)
    with tempfile.TemporaryDirectory(prefix="bench-chart-") as tmp_dir:
        tmp = Path(tmp_dir)
        env = {**os.environ, "KARGO_ACTIONS_CACHE": str(tmp / "cache"), "PYTHONPATH": str(ROOT)}
        with serve_charts({"/repo/index.yaml": body}) as server:
            url = f"{server.url}/repo"
            cold, cold_rss = run_child(DISCOVER.format(url=url, chart=WANTED), env)
            warm, warm_rss = run_child(DISCOVER.format(url=url, chart=WANTED), env)
            statuses = [status for _, status in server.requests]
        cached = next((tmp / "cache" / "charts").glob("*/index.yaml"))
        scan, scan_rss = run_child(SCAN.format(path=cached, chart=WANTED), env)

        fraction = 1.0 if args.full_baseline else args.baseline_fraction
        sample_entries = int(args.entries * fraction)
        sample = tmp / "sample.yaml"
        sample.write_bytes(generate_index(sample_entries) if fraction < 1 else body)
        sample_chart = WANTED if fraction >= 1 else f"chart-{sample_entries // 20 - 1:05d}"
        full, full_rss = run_child(FULL_YAML.format(path=sample, chart=sample_chart), env)

    mb = len(body) / 1e6
    print(
        f"index.yaml: {mb:.1f} MB, {args.entries} entries; chart {WANTED}: {len(scan['versions'])} versions"
    )  # type: ignore[arg-type]
    print(f"server answers: {statuses} (cold 200 gzip, warm 304)")
    print(
        f"discover, cold cache (download + scan): {cold['seconds']:.3f} s, child peak RSS {cold_rss:.0f} MB"
    )
    print(
        f"discover, warm cache (304 + scan):      {warm['seconds']:.3f} s, child peak RSS {warm_rss:.0f} MB"
    )
    print(
        f"scan of the cached file alone:          {scan['seconds']:.3f} s, child peak RSS {scan_rss:.0f} MB"
    )
    label = (
        "whole file"
        if fraction >= 1
        else f"{fraction:.0%} slice = {sample_entries} entries, {mb * fraction:.1f} MB"
    )
    print(
        f"plain script, ruamel.yaml parse of the {label}: {full['seconds']:.3f} s, peak RSS {full_rss:.0f} MB"
    )
    if fraction < 1:
        print(
            f"  (linear estimate for the whole file: ~{full['seconds'] / fraction:.0f} s; run --full-baseline to measure)"
        )
    # discovery sorts newest first (and keeps discoveryLimit = 20 = all versions here); the scan keeps index order
    same = sorted(warm["versions"]) == sorted(scan["versions"]) and (  # type: ignore[type-var]
        fraction < 1 or full["versions"] == scan["versions"]
    )
    ok = (
        same
        and warm["revalidations"] == 1
        and warm["seconds"] < TARGET_SECONDS  # type: ignore[operator]
        and scan["seconds"] < TARGET_SECONDS  # type: ignore[operator]
        and max(warm_rss, scan_rss) < TARGET_RSS_MB
    )
    checks = {
        "same versions": same,
        "304 revalidation": warm["revalidations"] == 1,
        "warm < 1 s": warm["seconds"] < TARGET_SECONDS,  # type: ignore[operator]
        "scan < 1 s": scan["seconds"] < TARGET_SECONDS,  # type: ignore[operator]
        "RSS < 200 MB": max(warm_rss, scan_rss) < TARGET_RSS_MB,
    }
    print("checks: " + ", ".join(f"{k}={v}" for k, v in checks.items()))
    print("PASS" if ok else f"FAIL: targets < {TARGET_SECONDS} s and < {TARGET_RSS_MB:.0f} MB, same versions")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
