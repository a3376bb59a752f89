"""Allow ``python -m dkluq_cli``."""

from __future__ import annotations

from dkluq_cli.cli.app import main

if __name__ == "__main__":
    main()
