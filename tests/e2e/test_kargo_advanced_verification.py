"""kargo-advanced end to end: its pokemon-xp AnalysisTemplate (web, jsonPath, {{args.pokemon}}, count 5,
interval 5s, failureLimit 3) against a local server; ab-test-a verified, so the control-flow prod passes
the Freight on and prod-west's gate opens. The template's interval is shortened to 0.05s in the copy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import shared_path
from tests.discovery.registry_server import Registry
from tests.e2e.pipeline import build_pipeline
from tests.support.git_http_server import GitHttpServer
from tests.verification.servers import Answer, Script, serve

SKIP = ("--skip-step", "argocd-update", "-q")


def test_kargo_advanced_verification(
    tmp_path: Path, git_server: GitHttpServer, registry: tuple[Registry, dict[str, str]]
) -> None:
    script = Script(
        answers={
            "/api/v2/pokemon/pikachu": [Answer(body={"name": "pikachu", "base_experience": 112})],
            "/api/v2/pokemon/charizard": [Answer(body={"name": "charizard", "base_experience": 267})],
        }
    )
    with serve(script) as url:
        example = tmp_path / "example"
        shutil.copytree(shared_path("kargo-examples/kargo-advanced"), example)
        analysis = example / "kargo" / "analysis.yaml"
        text = analysis.read_text()
        assert "https://pokeapi.co/api/v2/pokemon/{{args.pokemon}}" in text
        analysis.write_text(text.replace("https://pokeapi.co", url).replace("interval: 5s", "interval: 50ms"))
        reg, digests = registry
        p = build_pipeline(
            example,
            tmp_path,
            git_server,
            reg,
            digests,
            name="kargo-advanced",
            repo_urls=("https://github.com/akuity/kargo-advanced.git",),
            image="ghcr.io/akuity/guestbook",
        )
        v3 = p.record_discovered("v0.0.3", "2026-01-01T00:00:03Z", commit=True)
        for stage in ("dev", "staging", "ab-test-a", "ab-test-b"):
            code, out, err = p.run("promote", "--stage", stage, "--freight", "v0-0-3", "--no-verify", *SKIP)
            assert code == 0, (stage, err, out)
        # not verified yet: prod (control flow) holds nothing, prod-west refuses
        code, _, err = p.run("promote", "--stage", "prod-west", "--freight", "v0-0-3", *SKIP)
        assert code == 3
        assert "not verified in prod" in err

        code, out, err = p.run("-o", "json", "verify", "--stage", "ab-test-b")
        assert code == 1, err  # charizard's 267 >= 200: 4 failures > failureLimit 3
        run = json.loads(out)
        assert run["phase"] == "Failed"
        metric = run["metrics"][0]
        assert (metric["name"], metric["failed"], metric["count"]) == ("pokemon-xp", 4, 4)
        assert metric["measurements"][-1]["value"] == "267"
        assert "failed (4) > failureLimit (3)" in run["message"]

        code, out, err = p.run("-o", "json", "verify", "--stage", "ab-test-a")
        assert code == 0, err
        run = json.loads(out)
        assert run["phase"] == "Successful"
        assert [m["value"] for m in run["metrics"][0]["measurements"]] == ["112"] * 5
        assert all(path == "/api/v2/pokemon/pikachu" for _, path, _, _ in script.seen[-5:])

        state = json.loads(p.remote_file("kargo/ledger", "stages/ab-test-a.json"))
        assert v3 in state["verified"]
        prod = json.loads(p.remote_file("kargo/ledger", "stages/prod.json"))
        assert v3 in prod["verified"]  # the control-flow Stage settled in the same ledger commit
        records = p.remote_log("kargo/ledger")
        assert any("verification: ab-test-a" in r and "Successful" in r for r in records)
        status = {row["stage"]: row for row in p.json("status")}
        assert status["ab-test-a"]["verified"] is True
        assert status["ab-test-b"]["verified"] is False

        code, _, err = p.run("promote", "--stage", "prod-west", "--freight", "v0-0-3", *SKIP)
        assert code == 0, err
        assert (
            json.loads(p.remote_file("kargo/ledger", "stages/prod-west.json"))["currentFreight"][0]["name"]
            == v3
        )
