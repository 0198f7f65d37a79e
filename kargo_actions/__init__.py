"""kargo-actions: Kargo's continuous-promotion model on GitHub Actions, with git as the database."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Looked up on first use, so importing the package reads no version file or metadata.
    if name == "__version__":
        from kargo_actions.version import version

        return version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
