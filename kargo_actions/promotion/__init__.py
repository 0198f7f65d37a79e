"""Promotion: the engine that runs a Stage's steps, the gates that allow Freight, and the steps."""
