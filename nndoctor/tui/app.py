"""The `nndoctor ask` app: owns the Interview, the file actions and the screen stack."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from nndoctor.adapters.run import Run
from nndoctor.engine.session import Session
from nndoctor.sanitize import clean
from nndoctor.tui.files import read_saved, restore, saved_log, session_json, write_file
from nndoctor.tui.screens.answers import AnswersScreen
from nndoctor.tui.screens.ask import AskScreen
from nndoctor.tui.screens.base import AppScreen
from nndoctor.tui.screens.cause import CauseScreen
from nndoctor.tui.screens.causes import CausesScreen
from nndoctor.tui.screens.curves import CurvesScreen
from nndoctor.tui.screens.dialogs import ConfirmDialog, PathDialog
from nndoctor.tui.screens.help import HelpScreen, key_rows
from nndoctor.tui.state import Interview

SessionSource = Session | Callable[[], Session]
LogLoader = Callable[[Path], list[Run]]
DARK, LIGHT = "textual-dark", "textual-light"
NEEDS_SESSION = {"open_log", "export", "save", "load_session", "start_over"}


def load_log(path: Path) -> list[Run]:
    """The default log loader: every run the readers find at ``path``."""
    from nndoctor.pipeline import load_runs

    return load_runs([path])


def one_line(exc: BaseException) -> str:
    from nndoctor.commands.errors import one_line as line

    return line(exc)


class NNDoctorApp(App[None]):
    """The interview. ``session`` is a Session, or a factory run in a thread so the first
    screen shows at once while the knowledge base loads."""

    CSS_PATH = "app.tcss"
    TITLE = "nndoctor"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("o", "open_log", "Open"),
        Binding("e", "export", "Export"),
        Binding("s", "save", "Save"),
        Binding("t", "toggle_theme", "Theme", show=False),
        Binding("n", "start_over", "Start over", show=False),
        Binding("l", "load_session", "Load session", show=False),
        Binding("q", "quit", "Quit", show=False),
    ]

    def __init__(
        self,
        session: SessionSource,
        run: Run | None = None,
        *,
        log_loader: LogLoader | None = None,
        notices: Sequence[str] = (),
        theme: str = DARK,
        use_plotext: bool | None = None,
    ) -> None:
        super().__init__()
        self._source = session
        self._initial_run = run
        self._notices = tuple(notices)
        self.log_loader: LogLoader = log_loader or load_log
        self.use_plotext = use_plotext
        self.interview: Interview | None = None
        self.error: str | None = None  # set when the session could not be built
        self.session_path = Path("nndoctor-session.json")
        self.report_path = Path("nndoctor-report.md")
        self.theme = theme

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notifications carry run and file names from logs: shown as plain text (no markup,
        control characters escaped) unless a caller asks for markup."""
        super().notify(clean(message), title=clean(title), severity=severity, timeout=timeout,
                       markup=markup)

    # ------------------------------------------------------------------ start-up
    async def on_mount(self) -> None:
        await self.push_screen(AskScreen())
        if isinstance(self._source, Session):
            self._interview_ready(Interview(self._source, self._initial_run))
        else:
            self._build(self._source)

    @work(thread=True, exit_on_error=False)
    def _build(self, factory: Callable[[], Session]) -> None:
        try:
            interview = Interview(factory(), self._initial_run)
        except Exception as exc:  # shown as one line by `nndoctor ask`, never a traceback
            self.call_from_thread(self._fail, exc)
        else:
            self.call_from_thread(self._interview_ready, interview)

    def _fail(self, exc: BaseException) -> None:
        self.error = one_line(exc)
        self.exit(return_code=2)

    def _interview_ready(self, interview: Interview) -> None:
        self.interview = interview
        for notice in self._notices:
            self.notify(notice, severity="warning")
        self.refresh_screens()

    @property
    def ready(self) -> bool:
        return self.interview is not None

    def refresh_screens(self) -> None:
        """Re-render every interview screen on the stack after the facts changed."""
        for screen in self.screen_stack:
            if isinstance(screen, AppScreen) and screen.is_mounted:
                screen.refresh_view()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.interview is not None or action not in NEEDS_SESSION

    # ------------------------------------------------------------------ navigation
    def show_cause(self, cause_id: str) -> None:
        self.push_screen(CauseScreen(cause_id))

    def show_answers(self) -> None:
        self.push_screen(AnswersScreen())

    def show_all_causes(self) -> None:
        self.push_screen(CausesScreen())

    def show_curves(self) -> None:
        self.push_screen(CurvesScreen(self.use_plotext))

    def action_help(self) -> None:
        """The keys of the current screen and the app's, hidden ones included."""
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        own, everywhere = key_rows(self.screen, self)
        self.push_screen(HelpScreen(own, everywhere, getattr(self.screen, "KEYS_TITLE",
                                                             "This screen")))

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.current_theme.dark else DARK

    # ------------------------------------------------------------------ log
    def action_open_log(self) -> None:
        self.push_screen(PathDialog("Open a training log (file or directory)", browse=True),
                         self._open_log)

    def _open_log(self, path: Path | None) -> None:
        if path is not None:
            self.load_log(path)

    @work(thread=True, exclusive=True, group="log", exit_on_error=False)
    def load_log(self, path: Path) -> None:
        """Read the log in a thread, then pre-fill its facts."""
        try:
            runs = self.log_loader(path)
            if not runs:
                raise ValueError(f"{path}: no training log found")
        except Exception as exc:
            self.call_from_thread(self.notify, one_line(exc), severity="error")
        else:
            self.call_from_thread(self._log_loaded, runs)

    def _log_loaded(self, runs: list[Run]) -> None:
        if self.interview is None:
            return
        run = runs[0]
        self.interview.open_log(run)
        more = f" ({len(runs)} runs found; showing the first)" if len(runs) > 1 else ""
        self.notify(f"{run.name}: {len(self.interview.log_facts)} facts from the log{more}")
        self.refresh_screens()

    # ------------------------------------------------------------------ files
    def action_export(self) -> None:
        self.push_screen(PathDialog("Export the report as Markdown", str(self.report_path)),
                         self.export_markdown)

    def export_markdown(self, path: Path | None) -> None:
        if path is None or self.interview is None:
            return
        run = self.interview.run
        try:
            write_file(path, self.interview.markdown(), run.path if run else None)
        except (OSError, ValueError) as exc:
            self.notify(one_line(exc), severity="error")
            return
        self.report_path = path
        self.notify(f"Report written to {path}")

    def action_save(self) -> None:
        self.push_screen(PathDialog("Save the session (resume: nndoctor ask --resume FILE)",
                                    str(self.session_path)), self.save_session)

    def save_session(self, path: Path | None) -> None:
        if path is None or self.interview is None:
            return
        run = self.interview.run
        try:
            write_file(path, session_json(self.interview), run.path if run else None)
        except (OSError, ValueError) as exc:
            self.notify(one_line(exc), severity="error")
            return
        self.session_path = path
        self.notify(f"Session saved to {path}")

    def action_load_session(self) -> None:
        self.push_screen(PathDialog("Load a saved session", str(self.session_path), browse=True),
                         self.load_session)

    def load_session(self, path: Path | None) -> None:
        if path is None or self.interview is None:
            return
        try:
            data = read_saved(path)
            session = restore(data, self.interview.session)
        except Exception as exc:
            self.notify(one_line(exc), severity="error")
            return
        run = None
        if data.get("log"):
            try:
                log = saved_log(data)  # a system folder is never scanned on the file's word
                run = next(iter(self.log_loader(log)), None) if log is not None else None
            except Exception as exc:
                self.notify(f"curves unavailable: {one_line(exc)}", severity="warning")
        self.interview = Interview(session, run)
        self.session_path = path
        self.notify(f"Session restored from {path}")
        self.refresh_screens()

    def action_start_over(self) -> None:
        if self.interview is None:
            return
        kept = " Facts from the log are kept." if self.interview.log_facts else ""
        question = f"Forget all {len(self.interview.history)} answers and start over?{kept}"
        self.push_screen(ConfirmDialog(question), self._start_over)

    def _start_over(self, yes: bool | None) -> None:
        if yes and self.interview is not None:
            self.interview.start_over()
            self.refresh_screens()

    # ------------------------------------------------------------------ command palette
    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.interview is None:
            return
        yield SystemCommand("Open a log", "Read a training log and pre-fill facts",
                            self.action_open_log)
        yield SystemCommand("Export Markdown", "Write the report as Markdown",
                            self.action_export)
        yield SystemCommand("Save session", "Save answers to a JSON file", self.action_save)
        yield SystemCommand("Load session", "Resume a saved session", self.action_load_session)
        yield SystemCommand("Start over", "Forget every answer", self.action_start_over)
        yield SystemCommand("Answers", "Change or forget an answer (what-if)", self.show_answers)
        yield SystemCommand("All causes", "Every cause, with WHY NOT", self.show_all_causes)
        yield SystemCommand("Curves", "Plot the log's curves", self.show_curves)
        yield SystemCommand("Toggle light/dark", "Switch theme", self.action_toggle_theme)
        yield SystemCommand("Keys", "Every key of this screen and the app (?)",
                            self.action_help)
