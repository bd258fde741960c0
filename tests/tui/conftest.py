"""Shared helpers: run a Pilot scenario without pytest-asyncio, a synthetic log, a fresh app."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from textual.pilot import Pilot

from nndoctor.adapters.run import Run, Series
from nndoctor.engine.inference import Engine
from nndoctor.engine.session import Session
from nndoctor.knowledge.loader import load_knowledge_base
from nndoctor.tui.app import NNDoctorApp

SIZE = (80, 24)
Scenario = Callable[[Pilot[None]], Awaitable[None]]


def drive(app: NNDoctorApp, scenario: Scenario, size: tuple[int, int] = SIZE) -> None:
    """Run ``scenario`` against ``app`` in a headless terminal of ``size``."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await wait_ready(pilot)
            await scenario(pilot)

    asyncio.run(main())


async def wait_ready(pilot: Pilot[None], timeout: float = 20.0) -> None:
    """Wait until the session is built and the first question is shown."""
    app = pilot.app
    assert isinstance(app, NNDoctorApp)
    waited = 0.0
    while not app.ready:
        await pilot.pause(0.02)
        waited += 0.02
        assert waited < timeout, "the session never became ready"
    await pilot.pause()


async def settle(pilot: Pilot[None]) -> None:
    """Let workers finish and the screen catch up."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def overfitting_run(name: str = "synthetic-overfit") -> Run:
    """A run whose val_loss turns up at step 800 while train_loss keeps falling."""
    steps = np.arange(0, 2000, 10)
    train = 2.3 * np.exp(-steps / 400) + 0.05
    val = 2.3 * np.exp(-steps / 400) + 0.3 + np.where(steps > 800, (steps - 800) / 1000, 0)
    series = {
        "train_loss": Series.from_pairs(steps, train),
        "val_loss": Series.from_pairs(steps, val),
        "lr": Series.from_pairs(steps, np.full(steps.size, 1e-3)),
    }
    return Run(name, Path("synthetic/metrics.csv"), "synthetic", series, {"num_classes": 10})


KB = Path(__file__).parent / "kb"


@functools.cache
def mini_engine() -> Engine:
    """An engine on the tiny frozen knowledge base of tests/tui/kb."""
    return Engine(load_knowledge_base(KB))


@pytest.fixture
def app() -> NNDoctorApp:
    """An app on a fresh session of the built-in knowledge base, without a log."""
    return NNDoctorApp(Session())


def text_of(pilot: Pilot[None], selector: str) -> str:
    """The plain text of a Static on the current screen."""
    from textual.content import Content
    from textual.widgets import Static

    content = pilot.app.screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Content) else str(content)
