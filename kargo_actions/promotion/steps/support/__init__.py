"""Helpers shared by promotion steps (not steps themselves)."""
