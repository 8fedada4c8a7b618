"""Turn user errors into one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys

from probllms_tui.core.errors import ProbLLMsError, one_line


def run_cli(app, *, args: list[str] | None = None, prog_name: str | None = None) -> None:
    """Run a typer app so that every user error is one line.

    Click runs outside its standalone mode, so a usage error (an unknown option, a choice that
    is not on the list, a path that must exist) reaches us instead of being drawn as a
    multi-line box, and is printed like our own errors: ``error: ...`` and exit code 2.
    """
    import typer

    try:
        code = app(args=args, prog_name=prog_name, standalone_mode=False)
    except ProbLLMsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors, as typer ships them
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        print(f"error: {one_line(message.replace('Value error, ', ''), 300)}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    if isinstance(code, int) and code:
        sys.exit(code)
