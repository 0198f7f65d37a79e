"""Allow `python -m kargo_actions`."""

from __future__ import annotations

from kargo_actions.cli.main import main

if __name__ == "__main__":
    main()
