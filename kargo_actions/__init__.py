"""kargo-actions: Kargo's continuous-promotion model on GitHub Actions, with git as the database."""

from __future__ import annotations

__version__ = "0.1.0"
