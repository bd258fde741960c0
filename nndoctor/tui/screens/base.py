"""What every screen of the app shares: access to the interview and a refresh hook."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.screen import Screen

from nndoctor.tui.state import Interview

if TYPE_CHECKING:
    from nndoctor.tui.app import NNDoctorApp


class AppScreen(Screen[None]):
    """A full screen that renders from the app's :class:`Interview`."""

    KEYS_TITLE: ClassVar[str] = "This screen"  # the heading of its keys in the help (?)

    @property
    def nnd(self) -> NNDoctorApp:
        return cast("NNDoctorApp", self.app)

    @property
    def interview(self) -> Interview:
        interview = self.nnd.interview
        if interview is None:
            raise RuntimeError("the session is still loading")
        return interview

    def refresh_view(self) -> None:
        """Re-render from the interview after it changed."""

    def on_screen_resume(self) -> None:
        if self.nnd.interview is not None:
            self.refresh_view()
