"""The one machine probe, and the precision rule the doctor and the engine choice share."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from dndtune.env.checks import check_recipe
from dndtune.machine import pick_dtype, probe_machine
from dndtune.recipe.schema import Recipe
from dndtune.train.engine import EngineFacts, select_engine
from tests.env.fakes import fake_env


def test_probe_describes_this_machine_without_importing_engines(tmp_path: Path) -> None:
    already = "unsloth" in sys.modules
    machine = probe_machine(tmp_path / "not" / "yet")
    assert machine.disk_path == tmp_path.resolve() and machine.disk_free > 0
    assert machine.backend in ("cpu", "cuda", "mps") and machine.device_name
    assert set(machine.modules) >= {"unsloth", "bitsandbytes", "llama_cpp"}
    assert machine.cpu_cores >= 1 and machine.available_memory > 0
    assert ("unsloth" in sys.modules) == already
    assert probe_machine().disk_path == Path.cwd().resolve()


def test_pick_dtype() -> None:
    assert pick_dtype("auto", "cuda", True) == "bfloat16"
    assert pick_dtype("auto", "cuda", False) == "float16"
    assert pick_dtype("auto", "cpu", True) == "bfloat16"
    assert pick_dtype("auto", "cpu", False) == "float32"
    assert pick_dtype("auto", "mps", True) == "float32"
    assert pick_dtype("float16", "cpu", False) == "float16"


def test_engine_facts_keep_the_run_record_keys() -> None:
    facts = EngineFacts.from_machine(fake_env("cuda", modules={"unsloth": True}))
    assert asdict(facts) == {"backend": "cuda", "device_name": "NVIDIA Test", "unsloth_installed": True,
                             "bitsandbytes_installed": False, "bf16_supported": True}
    assert EngineFacts.from_machine(fake_env("mps")).device_name == "Apple MPS"
    assert EngineFacts.from_machine(fake_env("cpu", cpu_bf16=False)).bf16_supported is False


@pytest.mark.parametrize(("backend", "capability", "cpu_bf16"), [
    ("cuda", 8, True), ("cuda", 7, True), ("cpu", 8, True), ("cpu", 8, False), ("mps", 8, True),
])
def test_doctor_and_engine_agree_on_precision(backend: str, capability: int, cpu_bf16: bool) -> None:
    env = fake_env(backend, capability=capability, cpu_bf16=cpu_bf16)
    recipe = Recipe.model_validate({"base_model": {"profile": "gemma-3-270m"}})
    precision = next(c for c in check_recipe(recipe, env) if c.name == "precision")
    choice = select_engine("trl", load_in_4bit=False, dtype="auto", facts=EngineFacts.from_machine(env))
    assert precision.message == f"weights and activations in {choice.dtype}"
