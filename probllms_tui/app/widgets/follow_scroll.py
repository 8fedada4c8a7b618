"""A vertical scroll that follows content growing at its bottom, as chat apps do.

Textual's own ``anchor()`` does this, but with content shorter than the view it scrolls to a
negative offset (Textual 8.2: the compositor sets ``scroll_y`` to content bottom minus view
height, unclamped), which shows blank rows above the question until the screen is rebuilt.
Here the follow goes through ``scroll_end``, which clamps, and only while the view was at the
bottom before the content grew: a student who scrolled up to reread stays where they are.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.geometry import Size


class FollowScroll(VerticalScroll):
    following = False

    def follow(self, on: bool = True) -> None:
        """Follow the bottom from now on (and go there), or stop following."""
        self.following = on
        if on:
            self.scroll_end(animate=False, immediate=True)

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        # The one place Textual reports a change of content height (no event is sent for it,
        # and the reactive is often set without its watcher): extended, not replaced.
        old = self.virtual_size.height
        at_bottom = self.scroll_y >= max(0, old - self.scrollable_content_region.height) - 1
        changed = super()._size_updated(size, virtual_size, container_size, layout)
        if self.following and virtual_size.height > old and at_bottom:
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)
        return changed
