from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from dndtune.deploy import BUNDLE_MANIFEST, DeployOptions, deploy, run_suite
from dndtune.deploy.cactus_convert import cactus_cli, convert
from dndtune.deploy.cactus_engine import CactusRunner, engine_library
from dndtune.deploy.install import install_bundle
from dndtune.errors import DndtuneError
from dndtune.hashing import sha256_file
from dndtune.models.grammar import GRAMMAR_FILE, roll_grammar
from dndtune.models.llama_grammar import check_grammar
from dndtune.models.profiles import get_profile
from dndtune.runs import RunFolder
from tests.evaluate.models import TinyModels, make_run


@pytest.fixture
def run(tiny: TinyModels, tmp_path: Path) -> RunFolder:
    return RunFolder(make_run(tmp_path / "out", tiny, "shipme"))


def test_gguf_bundle_is_verified_described_and_tested(run: RunFolder, tmp_path: Path) -> None:
    assets = tmp_path / "app" / "assets"
    result = deploy(run, assets)
    folder = assets / "shipme"
    assert result.installed == folder
    assert sorted(p.name for p in folder.iterdir()) == [BUNDLE_MANIFEST, GRAMMAR_FILE, "shipme-F16.gguf"]
    manifest = json.loads((folder / BUNDLE_MANIFEST).read_text())
    assert manifest["sha256"] == sha256_file(folder / "shipme-F16.gguf") == run.manifest["sha256"]
    assert manifest["runtime"] == "llama.cpp" and manifest["quant"] == "F16" and manifest["context_length"]
    assert manifest["chat_format"]["tool_call_open"] == "<tool_call>\n"
    assert "<tool_call>" in manifest["chat_format"]["template"]
    assert manifest["tool_schema"][0]["function"]["name"] == "roll"
    checks = {c["name"]: c for c in manifest["integration"]["runtimes"][0]["checks"]}
    assert checks["load"]["passed"] and checks["chat_template"]["passed"]
    # A random tiny model does not call the tool: the suite says so instead of passing.
    assert not checks["roll_tool_call"]["passed"] and manifest["integration"]["passed"] is False
    assert manifest["integration"]["skipped"][0].startswith("cactus-engine")
    # The grammar the suite decoded under ships beside the model, and parses in llama.cpp.
    assert manifest["integration"]["runtimes"][0]["grammar"] == "applied"
    decoding = manifest["decoding"]
    grammar = (folder / GRAMMAR_FILE).read_text(encoding="utf-8")
    assert decoding == {"grammar_file": GRAMMAR_FILE, "grammar_root": "root",
                        "grammar_sha256": hashlib.sha256(grammar.encode()).hexdigest(),
                        "stop": ["<|im_end|>", "<|endoftext|>"]}
    assert grammar == roll_grammar(get_profile("qwen2.5-0.5b"))
    import llama_cpp

    vocab_only = llama_cpp.Llama(model_path=str(folder / "shipme-F16.gguf"), vocab_only=True, verbose=False)
    try:
        check_grammar(llama_cpp.llama_model_get_vocab(vocab_only.model), grammar)
    finally:
        vocab_only.close()


def test_strict_deploy_installs_nothing_when_the_suite_fails(run: RunFolder, tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    deploy(run, assets, DeployOptions(test=False))
    before = sha256_file(assets / "shipme" / BUNDLE_MANIFEST)
    with pytest.raises(DndtuneError, match="nothing was installed"):
        deploy(run, assets, DeployOptions(strict=True))
    assert sha256_file(assets / "shipme" / BUNDLE_MANIFEST) == before
    assert sorted(p.name for p in assets.iterdir()) == ["shipme"]


def test_a_gguf_that_no_longer_matches_its_manifest_is_refused(run: RunFolder, tmp_path: Path) -> None:
    gguf = run.gguf
    assert gguf is not None
    with gguf.open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(DndtuneError, match="does not match its export manifest"):
        deploy(run, tmp_path / "assets", DeployOptions(test=False))
    assert not (tmp_path / "assets" / "shipme").exists()


def test_install_replaces_a_bundle_keeping_it_as_the_backup(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "a.txt").write_text("new")
    (bundle / BUNDLE_MANIFEST).write_text("{}")
    assets = tmp_path / "assets"
    (assets / "m").mkdir(parents=True)
    (assets / "m" / "old.txt").write_text("old")
    (assets / "m" / BUNDLE_MANIFEST).write_text("{}")
    install_bundle(bundle, assets, "m")
    assert sorted(p.name for p in (assets / "m").iterdir()) == ["a.txt", BUNDLE_MANIFEST]
    assert (assets / ".m.previous" / "old.txt").read_text() == "old"
    assert sorted(p.name for p in assets.iterdir()) == [".m.previous", "m"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(DndtuneError, match="must be a folder"):
        install_bundle(bundle, tmp_path / "file", "m")


def test_cactus_layout_without_the_converter(run: RunFolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.delenv("CACTUS_LIB_PATH", raising=False)
    adapter = run.root / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    result = deploy(run, tmp_path / "assets", DeployOptions(target="cactus", test=False))
    folder = tmp_path / "assets" / "shipme-cactus"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["adapter", "base", "convert.sh", BUNDLE_MANIFEST, "merged"]
    assert (folder / "merged" / "model.safetensors").is_file() and (folder / "merged" / "tokenizer.json").is_file()
    assert "cactus convert merged weights --bits 4 --weights-only" in (folder / "convert.sh").read_text()
    manifest = json.loads((folder / BUNDLE_MANIFEST).read_text())
    assert manifest["runtime"] == "cactus-engine" and manifest["file"] is None
    assert manifest["files"] == {"merged": "merged", "adapter": "adapter", "base": "base"}
    # The Cactus engine takes no grammar: none ships, the stop strings do.
    assert manifest["decoding"]["grammar_file"] is None and manifest["decoding"]["stop"] == ["<|im_end|>",
                                                                                              "<|endoftext|>"]
    assert any("CACTUS_LIB_PATH" in step for step in result.notes)


@pytest.mark.skipif(cactus_cli() is None, reason="optional cactus-compute converter not installed")
def test_cactus_convert_makes_engine_weights(run: RunFolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    monkeypatch.delenv("CACTUS_LIB_PATH", raising=False)
    result = deploy(run, tmp_path / "assets", DeployOptions(target="cactus", convert=True, test=False,
                                                            with_base=False))
    weights = tmp_path / "assets" / "shipme-cactus" / "weights"
    assert any(weights.glob("*.weights")) and (weights / "tokenizer.json").is_file()
    assert result.manifest.file == "weights" and result.manifest.quant == "CQ4"
    assert result.manifest.size_bytes and any("CACTUS_LIB_PATH" in step for step in result.notes)
    # Without the native engine the suite runs on llama.cpp only and says what it skipped.
    report = run_suite(None, weights, profile=get_profile("qwen2.5-0.5b"))
    assert report.runtimes == () and "CACTUS_LIB_PATH" in report.skipped[0]


@pytest.mark.slow
@pytest.mark.skipif(cactus_cli() is None, reason="optional cactus-compute converter not installed")
def test_cactus_convert_base_plus_lora(tiny: TinyModels, tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny.hf),
                           LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(tmp_path / "adapter")
    out = convert(tiny.hf, tmp_path / "weights", lora=tmp_path / "adapter")
    assert any(out.glob("*.weights"))


def test_cactus_engine_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CACTUS_LIB_PATH", raising=False)
    assert engine_library() is None
    monkeypatch.setenv("CACTUS_LIB_PATH", str(tmp_path / "missing.so"))
    assert engine_library() is None
    fake = tmp_path / "libcactus_engine.so"
    fake.write_text("not a library")
    monkeypatch.setenv("CACTUS_LIB_PATH", str(fake))
    assert engine_library() == fake
    with pytest.raises(DndtuneError, match="cannot load the Cactus engine"):
        CactusRunner(tmp_path, library=fake, profile=get_profile("qwen2.5-0.5b"))


@pytest.mark.skipif(engine_library() is None, reason="CACTUS_LIB_PATH not set (native engine: macOS arm64 builds)")
def test_cactus_engine_runs_the_integration_suite(run: RunFolder, tmp_path: Path) -> None:
    weights = convert(run.merged or run.root, tmp_path / "weights")
    report = run_suite(None, weights, profile=get_profile("qwen2.5-0.5b"), roll_prompts=1)
    checks = {c.name: c for c in report.runtimes[0].checks}
    assert report.runtimes[0].runtime == "cactus-engine" and checks["load"].passed


def test_deploy_refuses_a_run_without_export(run: RunFolder, tmp_path: Path) -> None:
    shutil.rmtree(run.root / "export")
    with pytest.raises(DndtuneError, match="no exported GGUF"):
        deploy(run, tmp_path / "assets")
