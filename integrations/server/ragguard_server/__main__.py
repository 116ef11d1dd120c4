"""``python -m ragguard_server``: serve with settings from ``RAGGUARD_*`` and the TOML files."""

from __future__ import annotations

import sys

from pydantic import ValidationError
from ragguard import RagguardError

from ragguard_server.server import serve
from ragguard_server.settings import ServerSettings

EXIT_ERROR = 3


def main() -> None:
    """Serve, or print one line naming the problem and exit 3."""
    try:
        serve(ServerSettings())
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first.get("loc", ()))
        print(f"error: invalid setting {loc}: {first.get('msg')}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    except RagguardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
