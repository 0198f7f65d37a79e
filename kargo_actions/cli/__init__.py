"""Command-line interface: thin click commands that call plain typed functions."""
