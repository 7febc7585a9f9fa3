"""The whole export on a tiny run folder: ladder, verification, manifest, atomicity, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dndtune.cli.main import main
from dndtune.errors import DndtuneError
from dndtune.events import Event, ListSink
from dndtune.export.predict import predict, read_model_info
from dndtune.export.quants import Rung
from dndtune.export.run import export_run
from dndtune.export.targets import default_target
from dndtune.export.toolchain import LLAMA_CPP_PYTHON_VERSION, Toolchain
from dndtune.gguf.file import read_gguf
from dndtune.hashing import sha256_file
from tests.export.conftest import make_run


class FailOn(ListSink):
    """An event sink that interrupts the export when a given event arrives (as Ctrl-C would)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def emit(self, event: Event) -> None:
        super().emit(event)
        if event.kind == self.kind:
            raise KeyboardInterrupt


@pytest.fixture(scope="module")
def exported(memorized_hf: Path, gemma_f16: Path, toolchain: Toolchain,
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ListSink, int]:
    run = make_run(tmp_path_factory.mktemp("run"), memorized_hf)
    info = read_model_info(gemma_f16)
    # A limit between the Q6_K and Q8_0 sizes: Q8_0 is skipped by prediction, Q6_K is chosen.
    limit = (predict(info, Rung("Q8_0")).bytes + predict(info, Rung("Q6_K")).bytes) // 2
    events = ListSink()
    export_run(run, "mobile", events, size_limit=limit, strict=True)
    return run, events, limit


def test_export_chooses_first_fitting_rung_and_writes_manifest(exported: tuple[Path, ListSink, int]) -> None:
    run, events, limit = exported
    manifest = json.loads((run / "export" / "model.json").read_text())
    gguf = run / "export" / manifest["file"]
    assert manifest["quant"] == "Q6_K"
    assert manifest["bytes"] == gguf.stat().st_size <= limit
    assert manifest["sha256"] == sha256_file(gguf)
    assert manifest["llama_cpp"]["llama_cpp_python"] == LLAMA_CPP_PYTHON_VERSION
    assert len(manifest["llama_cpp"]["llama_cpp_commit"]) == 40
    assert manifest["context_length"] == 4096
    assert manifest["chat_template"] == read_gguf(gguf).chat_template
    assert [t["outcome"] for t in manifest["ladder"]] == ["skipped", "chosen"]
    assert manifest["scores"]["perplexity"] > 1
    assert manifest["perf"]["gen_tps"] > 0 and manifest["perf"]["peak_rss_bytes"] > 0
    assert {c["name"] for c in manifest["verify"] if c["passed"]} >= {
        "loads", "chat_template_embedded", "chat_template_renders", "tokenizer_parity", "end_of_turn_is_eog",
        "logit_parity", "stops_at_end_of_turn", "tool_call_parseable"}
    kinds = events.kinds()
    assert kinds.count("export.quant_try") == 2 and kinds[-1] == "export.done"
    assert sorted(p.name for p in (run / "export-work").iterdir()) == ["model-f16.gguf", "model-f16.json"]


def test_interrupted_export_leaves_previous_export_and_no_temp_files(exported: tuple[Path, ListSink, int]) -> None:
    run, _, _ = exported
    before = {p.name: p.read_bytes() for p in (run / "export").iterdir()}
    for kind in ("export.quant_try", "export.verify", "export.bench"):
        with pytest.raises(KeyboardInterrupt):
            export_run(run, "mobile", FailOn(kind), quant="Q4_0")
        assert {p.name: p.read_bytes() for p in (run / "export").iterdir()} == before
        assert sorted(p.name for p in run.iterdir()) == ["dataset", "export", "export-work", "merged"]
        assert sorted(p.name for p in (run / "export-work").iterdir()) == ["model-f16.gguf", "model-f16.json"]


def test_impossible_limit_fails_clearly_and_keeps_previous_export(
        exported: tuple[Path, ListSink, int], capsys: pytest.CaptureFixture[str]) -> None:
    run, _, _ = exported
    before = sorted(p.name for p in (run / "export").iterdir())
    assert main(["export", str(run), "--size-limit", "100kB", "--no-bench"]) == 1
    err = capsys.readouterr().err
    assert "nothing fits target.size_limit 100.00 kB" in err and "target.prune.allowed" in err
    assert sorted(p.name for p in (run / "export").iterdir()) == before


def test_bench_command_reprofiles_and_detects_corruption(
        exported: tuple[Path, ListSink, int], capsys: pytest.CaptureFixture[str]) -> None:
    run, _, _ = exported
    assert main(["bench", str(run), "--ctx", "256"]) == 0
    manifest = json.loads((run / "export" / "model.json").read_text())
    assert manifest["perf"]["n_ctx"] == 256
    assert "tok/s" in capsys.readouterr().out
    gguf = run / "export" / manifest["file"]
    data = bytearray(gguf.read_bytes())
    data[-64] ^= 0xFF
    gguf.write_bytes(bytes(data))
    try:
        assert main(["bench", str(run)]) == 1
        assert "does not match its manifest" in capsys.readouterr().err
    finally:
        data[-64] ^= 0xFF
        gguf.write_bytes(bytes(data))


def test_forced_quant_with_lowered_embedding(memorized_hf: Path, toolchain: Toolchain, tmp_path: Path) -> None:
    run = make_run(tmp_path, memorized_hf, eval_data=False)
    result = export_run(run, default_target("mobile"), ListSink(), quant="Q4_0+emb=Q4_0", bench=False)
    assert result.manifest.quant == "Q4_0+emb=Q4_0"
    assert result.manifest.token_embedding_type == "Q4_0"
    assert result.manifest.scores["perplexity"] is None  # no held-out data in this run
    assert all(c["passed"] for c in result.manifest.verify if c["required"])


def test_missing_merged_model_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    with pytest.raises(DndtuneError, match="merged model folder not found"):
        export_run(tmp_path / "run", "mobile", ListSink())


def test_the_pipeline_stage_input_is_accepted(memorized_hf: Path, toolchain: Toolchain, tmp_path: Path) -> None:
    """What the pipeline's export stage passes: the run layout, the recipe's target, its sink, the merged folder."""
    from dndtune.export.targets import target_from_recipe
    from dndtune.recipe.schema import TargetSection
    from dndtune.runs import RunLayout

    run = make_run(tmp_path, memorized_hf)
    events = ListSink()
    target = target_from_recipe(TargetSection(size_limit="5MB", quant_ladder=["Q5_0"]))
    result = export_run(RunLayout(run), target, events, merged=run / "merged", bench=False)
    assert result.manifest.quant == "Q5_0" and result.manifest.size_limit == 5_000_000
    assert result.as_dict()["quant"] == "Q5_0"
    assert events.kinds()[-1] == "export.done"
