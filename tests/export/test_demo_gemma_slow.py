"""The demo base model (real Gemma 3 270M, shipped on PyPI) exported for the phone, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.mark.parametrize("quant", ["Q8_0", "Q4_0"])
def test_demo_gemma_exports_under_the_phone_limit(demo_run: Path, toolchain: Toolchain, quant: str) -> None:
    result = export_run(demo_run, "mobile", ListSink(), quant=quant)
    manifest = result.manifest
    assert manifest.quant == quant
    assert result.gguf.stat().st_size == manifest.bytes < 2 * 10**9
    assert manifest.architecture == "gemma3"
    required = {c["name"]: c["passed"] for c in manifest.verify if c["required"]}
    assert all(required.values()), required
    assert manifest.samples["dm_reply"].strip(), "the model answered nothing"
    assert manifest.perf is not None and manifest.perf.gen_tps > 0
    assert manifest.scores["perplexity"] is not None
