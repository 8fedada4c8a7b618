"""Typed access to the app from its screens and widgets.

Textual types ``node.app`` as a plain App, so ``self.app.models`` is unchecked. Screens and
widgets call ``probllms_app(self)`` instead: the same object, typed as ProbLLMsApp. The import
is for type checkers only, since app.py imports the screens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.dom import DOMNode

if TYPE_CHECKING:
    from probllms_tui.app.app import ProbLLMsApp


def probllms_app(node: DOMNode) -> ProbLLMsApp:
    """The ProbLLMsApp that ``node`` is mounted in."""
    return cast("ProbLLMsApp", node.app)
