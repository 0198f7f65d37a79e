"""Freight identity, aliases and assembly."""
