"""Turn user errors into one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from probllms_tui.core.errors import ProbLLMsError


def run_cli(app: Callable[[], object]) -> None:
    try:
        app()
    except ProbLLMsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
