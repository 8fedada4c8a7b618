"""The ask editor: a TextArea that refuses pastes too large to be a question.

A 1 MB paste takes a TextArea seconds to lay out; the parser would reject it anyway, so the
editor keeps its text and says why at once instead of freezing the screen first.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from probllms_tui.core.paste import MAX_PASTE_CHARS


class PasteArea(TextArea):
    @dataclass
    class Refused(Message):
        reason: str

    async def _on_paste(self, event: events.Paste) -> None:
        # Textual runs TextArea's own _on_paste after this one (handlers run down the MRO)
        # unless the default is prevented: calling super() here as well pasted everything twice.
        if len(event.text) > MAX_PASTE_CHARS:
            event.prevent_default()
            self.post_message(self.Refused(
                f"pasted {len(event.text):,} characters; a question is at most {MAX_PASTE_CHARS:,} "
                "(nothing was inserted)"))
