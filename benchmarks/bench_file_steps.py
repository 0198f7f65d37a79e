"""Benchmark: the file steps on sizes a promotion meets, against the shell tools doing the same job.

  json-update: two keys of a 1.2 MB JSON file (target < 1 s); the baseline is `python -c` load-set-dump,
               which rewrites the whole layout.
  toml-update: one key among 2,000 tables (target < 2 s).
  yaml-parse:  a small values file, per run (target < 20 ms).
  tar / untar: 40 MiB of incompressible files, gzipped (targets < 10 s each); the baseline is GNU tar.
Exit 1 when a target is missed.

    .venv/bin/python benchmarks/bench_file_steps.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kargo_actions.promotion.step_api import StepContext  # noqa: E402
from kargo_actions.promotion.steps.json_update import JsonUpdateConfig, JsonUpdateStep  # noqa: E402
from kargo_actions.promotion.steps.tar import Tar, TarConfig  # noqa: E402
from kargo_actions.promotion.steps.toml_update import TomlUpdateConfig, TomlUpdateStep  # noqa: E402
from kargo_actions.promotion.steps.untar import Untar, UntarConfig  # noqa: E402
from kargo_actions.promotion.steps.yaml_parse import YamlParse, YamlParseConfig  # noqa: E402


def timed(action: Callable[[], object], runs: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        action()
    return (time.perf_counter() - start) / runs


def main() -> int:
    missed = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        ctx = StepContext(work_dir=work)

        items = [{"name": f"n{i}", "image": {"tag": "v1", "repo": "x" * 20}} for i in range(10_000)]
        (work / "big.json").write_text(json.dumps({"items": items, "image": {"tag": "v0"}}, indent=2))
        size = (work / "big.json").stat().st_size / 1e6
        updates = [{"key": "image.tag", "value": "v2"}, {"key": "items.9999.image.tag", "value": "v3"}]
        config = JsonUpdateConfig.model_validate({"path": "big.json", "updates": updates})
        ours = timed(lambda: JsonUpdateStep().run(ctx, config))
        script = (
            "import json,sys;d=json.load(open(sys.argv[1]));d['image']['tag']='v2';"
            "d['items'][9999]['image']['tag']='v3';json.dump(d,open(sys.argv[1],'w'),indent=2)"
        )
        baseline = timed(
            lambda: subprocess.run([sys.executable, "-c", script, str(work / "big.json")], check=True)
        )
        print(
            f"json-update, 2 keys, {size:.1f} MB   {ours:6.2f} s  target < 1 s   (python load/dump: {baseline:.2f} s)"
        )
        missed += ["json-update"] if ours >= 1 else []

        (work / "c.toml").write_text("".join(f'[t{i}]\nv = "{i}"  # note\n' for i in range(2000)))
        toml_config = TomlUpdateConfig.model_validate(
            {"path": "c.toml", "updates": [{"key": "t1999.v", "value": "x"}]}
        )
        ours = timed(lambda: TomlUpdateStep().run(ctx, toml_config))
        print(f"toml-update, 1 key, 2,000 tables  {ours:6.2f} s  target < 2 s")
        missed += ["toml-update"] if ours >= 2 else []

        (work / "v.yaml").write_text("image:\n  repository: ghcr.io/example/app\n  tag: v1\nreplicas: 2\n")
        outputs = [
            {"name": "tag", "fromExpression": "image.tag"},
            {"name": "n", "fromExpression": "replicas * 2"},
        ]
        parse_config = YamlParseConfig.model_validate({"path": "v.yaml", "outputs": outputs})
        ours = timed(lambda: YamlParse().run(ctx, parse_config), runs=200)
        print(f"yaml-parse, small file          {ours * 1000:6.2f} ms target < 20 ms")
        missed += ["yaml-parse"] if ours >= 0.02 else []

        (work / "src").mkdir()
        for i in range(40):
            (work / "src" / f"f{i}.bin").write_bytes(os.urandom(1024 * 1024))
        tar_config = TarConfig.model_validate({"inPath": "src", "outPath": "a.tgz", "gzip": True})
        ours = timed(lambda: Tar().run(ctx, tar_config))
        gnu = timed(
            lambda: subprocess.run(
                ["tar", "-czf", str(work / "b.tgz"), "-C", str(work / "src"), "."], check=True
            )
        )
        print(f"tar -z, 40 MiB                  {ours:6.2f} s  target < 10 s  (GNU tar: {gnu:.2f} s)")
        missed += ["tar"] if ours >= 10 else []
        untar_config = UntarConfig.model_validate({"inPath": "a.tgz", "outPath": "out"})
        ours = timed(lambda: Untar().run(ctx, untar_config))
        (work / "gnu").mkdir()
        gnu = timed(
            lambda: subprocess.run(["tar", "-xzf", str(work / "b.tgz"), "-C", str(work / "gnu")], check=True)
        )
        print(f"untar -z, 40 MiB                {ours:6.2f} s  target < 10 s  (GNU tar: {gnu:.2f} s)")
        missed += ["untar"] if ours >= 10 else []
    if missed:
        print("missed:", ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
