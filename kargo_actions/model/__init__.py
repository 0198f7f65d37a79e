"""Pydantic models of Kargo's kinds and of this project's records."""
