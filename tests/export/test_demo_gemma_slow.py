"""The demo base model (real Gemma 3 270M, shipped on PyPI) exported for the phone, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.export.run import export_run
from dndtune.export.toolchain import Toolchain
from tests.export.conftest import eval_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import json

    from dndtune.models.resolve import resolve_model
    from dndtune.recipe.schema import BaseModelSection

    # A private cache: the test converts the PyPI GGUF itself rather than trust an older conversion.
    resolved = resolve_model(BaseModelSection(profile="gemma-3-270m"), offline=True,
                             cache_root=tmp_path_factory.mktemp("cache"))
    run = tmp_path_factory.mktemp("demo") / "runs" / "demo"
    run.mkdir(parents=True)
    # The base stands in for a merged fine-tune: same architecture, tokenizer and template.
    (run / "merged").symlink_to(resolved.path, target_is_directory=True)
    (run / "dataset").mkdir()
    (run / "dataset" / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in eval_rows()), encoding="utf-8")
    return run


def test_demo_gemma_q8_0_exports_verified_under_the_phone_limit(demo_run: Path, toolchain: Toolchain) -> None:
    result = export_run(demo_run, "mobile", ListSink(), quant="Q8_0")
    manifest = result.manifest
    assert manifest.quant == "Q8_0"
    assert result.gguf.stat().st_size == manifest.bytes < 2 * 10**9
    assert manifest.architecture == "gemma3"
    assert all(c["passed"] for c in manifest.verify if c["required"]), manifest.verify
    assert manifest.scores["parity"]["mean_kl"] < 0.03
    assert manifest.samples["dm_reply"].strip(), "the model answered nothing"
    assert manifest.perf is not None and manifest.perf.gen_tps > 0
    assert manifest.scores["perplexity"] is not None


def test_demo_gemma_q4_0_drift_is_caught_and_can_be_accepted(demo_run: Path, toolchain: Toolchain) -> None:
    # Measured: Q4_0 of this model (itself dequantized from Q4_K_M) drifts about 1 nat of KL from
    # the HF model (Q8_0: 0.005, Q4_K_M: 0.01), so verification refuses it unless told otherwise.
    def published() -> list[str]:
        folder = demo_run / "export"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    previous = published()
    with pytest.raises(DndtuneError, match="logit_parity"):
        export_run(demo_run, "mobile", ListSink(), quant="Q4_0", bench=False)
    assert published() == previous
    result = export_run(demo_run, "mobile", ListSink(), quant="Q4_0", allow_drift=True)
    manifest = result.manifest
    assert result.gguf.stat().st_size == manifest.bytes < 2 * 10**9
    assert all(c["passed"] for c in manifest.verify if c["required"])
    assert any(c["name"] == "logit_parity" and not c["required"] for c in manifest.verify)
    assert manifest.samples["dm_reply"].strip(), "the model answered nothing"
