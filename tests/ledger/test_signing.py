"""Signed Freight tags with real SSH keys (ssh-keygen) and GPG keys (temporary GNUPGHOME), and verification."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kargo_actions.errors import InvalidInputError, RefusedError
from kargo_actions.ledger import (
    Finding,
    Ledger,
    LedgerConfig,
    SigningPolicy,
    read_for_promotion,
    verify_freight,
)
from kargo_actions.ledger.verify import refuse_failures
from tests.ledger.helpers import clone, git, make_freight, make_repo

AUTO = LedgerConfig(signing=SigningPolicy.AUTO)
REQUIRED = LedgerConfig(signing=SigningPolicy.REQUIRED)


def ssh_key(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", str(path)], check=True)
    return path


def use_ssh_signing(repo: Path, key: Path, allowed: list[Path]) -> None:
    signers = repo.parent / f"{repo.name}-allowed-signers"
    signers.write_text(
        "".join(
            f'committer@example.com namespaces="git" {k.with_suffix(".pub").read_text()}' for k in allowed
        )
    )
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingkey", str(key.with_suffix(".pub")))
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(signers))


@pytest.fixture
def ssh_repo(tmp_path: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp_path / "repo")
    key = ssh_key(tmp_path / "key")
    use_ssh_signing(repo, key, [key])
    return repo, key


def tamper(repo: Path, tag: str, old: str, new: str) -> None:
    """Rewrite a tag object's message keeping its signature, and point the tag at the forgery."""
    body = git(repo, "cat-file", "tag", tag) + "\n"
    assert old in body
    forged = git(repo, "mktag", input=body.replace(old, new, 1))
    git(repo, "update-ref", f"refs/tags/{tag}", forged)


def test_ssh_signed_tags_verify(ssh_repo: tuple[Path, Path]) -> None:
    repo, _ = ssh_repo
    with Ledger(repo, AUTO) as ledger:
        result = ledger.record_freight(make_freight(1))
        assert result.signed
        (check,) = verify_freight(ledger)
    assert check.ok, check.line()
    assert check.signer == "committer@example.com"
    assert "-----BEGIN SSH SIGNATURE-----" in git(repo, "cat-file", "tag", result.tag)
    assert git(repo, "verify-tag", result.tag, check=True) == ""  # git itself agrees


def test_unknown_key_unsigned_tampered_and_missing_are_each_named(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    repo = make_repo(tmp_path / "repo", remote)
    trusted, stranger = ssh_key(tmp_path / "trusted"), ssh_key(tmp_path / "stranger")
    use_ssh_signing(repo, trusted, [trusted])
    with Ledger(repo, AUTO) as ledger:
        good = ledger.record_freight(make_freight(1)).freight
        forged_sig = ledger.record_freight(make_freight(2)).freight
        forged_json = ledger.record_freight(make_freight(3)).freight
        no_tag = ledger.record_freight(make_freight(4)).freight
    git(repo, "config", "user.signingkey", str(stranger.with_suffix(".pub")))
    with Ledger(repo, AUTO) as ledger:
        unknown = ledger.record_freight(make_freight(5)).freight
    with Ledger(repo, LedgerConfig(signing=SigningPolicy.NEVER)) as ledger:
        unsigned = ledger.record_freight(make_freight(6)).freight

    tag = "kargo/freight/app/{}".format
    tamper(repo, tag(forged_sig.name), '"tag":"1.0.2"', '"tag":"6.6.6"')
    # A forgery without signature whose JSON names other artifacts: ID and ledger record disagree.
    body = git(repo, "cat-file", "tag", tag(forged_json.name))
    unsigned_body = body.split("-----BEGIN SSH SIGNATURE-----")[0].replace('"tag":"1.0.3"', '"tag":"9.9.9"')
    git(repo, "update-ref", f"refs/tags/{tag(forged_json.name)}", git(repo, "mktag", input=unsigned_body))
    git(repo, "tag", "-d", tag(no_tag.name))
    git(remote, "tag", "-d", tag(no_tag.name))  # gone everywhere
    git(repo, "tag", "-d", tag(good.name))  # gone only here: verification fetches it back
    orphan = make_freight(7)
    git(repo, "tag", "-a", "-m", "{}", tag(orphan.name), "HEAD")

    with Ledger(repo, AUTO) as ledger:
        checks = {c.id: c for c in verify_freight(ledger)}
        expected = {
            good.name: (),
            forged_sig.name: (Finding.BAD_SIGNATURE, Finding.TAMPERED),
            forged_json.name: (Finding.UNSIGNED, Finding.TAMPERED),
            no_tag.name: (Finding.MISSING_TAG,),
            unknown.name: (Finding.UNKNOWN_KEY,),
            unsigned.name: (Finding.UNSIGNED,),
            orphan.name: (Finding.MISSING_RECORD, Finding.UNSIGNED, Finding.TAMPERED),
        }
        assert {k: c.findings for k, c in checks.items()} == expected
        assert git(repo, "tag", "--list", tag(good.name)) == tag(good.name)
        # The alias is mutable, so a changed alias alone is not tampering; artifacts are compared.
        assert "tag and ledger record disagree" in " ".join(checks[forged_sig.name].details)
        assert "tag message is not a Freight (metadata: required field is missing (and 1 more problem))" in (
            checks[orphan.name].details
        )
        with pytest.raises(RefusedError) as err:
            refuse_failures(checks.values(), SigningPolicy.AUTO)
        for name in (forged_sig.name, no_tag.name, unknown.name, unsigned.name, orphan.name):
            assert name in str(err.value)
        assert good.name not in str(err.value)

        assert read_for_promotion(ledger, good.name).name == good.name
        assert read_for_promotion(ledger, unsigned.name).name == unsigned.name  # auto tolerates unsigned
        with pytest.raises(RefusedError, match="bad-signature"):
            read_for_promotion(ledger, forged_sig.name)
        with pytest.raises(RefusedError, match="missing-tag"):
            read_for_promotion(ledger, no_tag.name)
    with Ledger(repo, REQUIRED) as ledger:
        with pytest.raises(RefusedError, match="unknown-key"):
            read_for_promotion(ledger, unknown.name)
        with pytest.raises(RefusedError, match="unsigned"):
            read_for_promotion(ledger, unsigned.name)
        assert read_for_promotion(ledger, good.name).name == good.name


def test_required_policy_without_a_key_refuses_to_record(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    with (
        Ledger(repo, REQUIRED) as ledger,
        pytest.raises(InvalidInputError, match="no signing key configured"),
    ):
        ledger.record_freight(make_freight(1))
    assert git(repo, "for-each-ref", "refs/heads/kargo", "refs/tags") == ""


def test_signed_tags_travel_with_the_ledger_to_a_fresh_clone(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    repo = make_repo(tmp_path / "repo", remote)
    key = ssh_key(tmp_path / "key")
    use_ssh_signing(repo, key, [key])
    with Ledger(repo, AUTO) as ledger:
        ledger.record_freight(make_freight(1))
    fresh = clone(remote, tmp_path / "fresh")
    use_ssh_signing(fresh, key, [key])
    git(fresh, "tag", "-d", *git(fresh, "tag", "--list", "kargo/*").splitlines())  # like a depth-1 checkout
    with Ledger(fresh, AUTO) as ledger:
        ledger.sync()
        (check,) = verify_freight(ledger)
    assert check.ok, check.line()


@pytest.fixture
def gnupg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    subprocess.run(
        ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key",
         "Test Committer <committer@example.com>", "ed25519", "sign", "1d"],
        check=True, capture_output=True,
    )  # fmt: skip
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def _fingerprint() -> str:
    out = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"], check=True, capture_output=True, text=True
    ).stdout
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def test_gpg_signed_tags_verify_and_unknown_gpg_key_is_named(tmp_path: Path, gnupg_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "config", "user.signingkey", _fingerprint())
    with Ledger(repo, REQUIRED) as ledger:
        result = ledger.record_freight(make_freight(1))
        assert result.signed
        (check,) = verify_freight(ledger)
        assert check.ok, check.line()
        assert check.signer is not None
        assert "Test Committer" in check.signer
    assert "-----BEGIN PGP SIGNATURE-----" in git(repo, "cat-file", "tag", result.tag)

    other = tmp_path / "other-gnupg"
    other.mkdir(mode=0o700)
    os.environ["GNUPGHOME"] = str(other)  # a verifier whose keyring lacks the signer's key
    try:
        with Ledger(repo, REQUIRED) as ledger:
            (check,) = verify_freight(ledger)
            assert check.findings == (Finding.UNKNOWN_KEY,)
            with pytest.raises(RefusedError, match="unknown-key"):
                read_for_promotion(ledger, result.freight.name)
    finally:
        os.environ["GNUPGHOME"] = str(gnupg_home)
        subprocess.run(["gpgconf", "--homedir", str(other), "--kill", "gpg-agent"], check=False)

    tamper(repo, result.tag, '"tag":"1.0.1"', '"tag":"1.0.9"')
    with Ledger(repo, REQUIRED) as ledger:
        (check,) = verify_freight(ledger)
    assert Finding.BAD_SIGNATURE in check.findings
    assert Finding.TAMPERED in check.findings
