"""The doctor: environment facts and the pass / warn / fail checklist for a recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dndtune.env.checks import check_environment, check_recipe, disk_needed
from dndtune.env.doctor import check_run
from dndtune.env.environment import collect_environment
from dndtune.env.memory import estimate_peak_memory
from dndtune.env.memory_fit import WARN_FRACTION, memory_check
from dndtune.env.report import Check, DoctorReport, worst
from dndtune.errors import DndtuneError
from dndtune.events import ListSink
from dndtune.models.profiles import get_profile
from dndtune.recipe.schema import Recipe
from tests.env.fakes import GB, fake_env


def recipe(tmp_path: Path | None = None, **sections: Any) -> Recipe:
    data: dict[str, Any] = {"base_model": {"profile": "gemma-3-270m"}}
    if tmp_path is not None:
        (tmp_path / "scenarios").mkdir(exist_ok=True)
        (tmp_path / "scenarios" / "a.md").write_text("# scenario\n", encoding="utf-8")
        data["data"] = {"scenarios_dir": str(tmp_path / "scenarios")}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return Recipe.model_validate(data)


def by_name(checks: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in checks}


def test_collect_environment_describes_this_machine(tmp_path: Path) -> None:
    env = collect_environment(tmp_path / "not" / "yet")
    assert env.disk_path == tmp_path.resolve() and env.disk_free > 0
    assert env.cpu_cores >= 1 and env.ram_available > 0
    assert env.backend in ("cpu", "cuda", "mps")
    assert set(env.modules) >= {"unsloth", "bitsandbytes", "llama_cpp"}
    assert env.packages["transformers"]
    assert env.available_memory > 0
    data = env.to_dict()
    assert data["disk_path"] == str(env.disk_path)
    assert "unsloth" not in __import__("sys").modules or env.modules["unsloth"]  # looked up, never imported


def test_environment_checks_pass_on_a_fine_machine() -> None:
    checks = by_name(check_environment(fake_env("cuda")))
    assert checks["device"].status == "pass" and "NVIDIA Test (compute 8.0)" in checks["device"].message
    assert {c.status for c in checks.values()} == {"pass"}
    assert check_environment(fake_env(python="3.13.0"))[0].status == "warn"


def test_memory_thresholds(tmp_path: Path) -> None:
    r = recipe(tmp_path)
    profile = get_profile("gemma-3-270m")
    need = estimate_peak_memory(r, profile, backend="cpu", bf16_supported=True).total
    assert memory_check(r, profile, fake_env(ram_available=int(need / 0.5))).status == "pass"
    assert memory_check(r, profile, fake_env(ram_available=int(need / 0.95))).status == "warn"
    failed = memory_check(r, profile, fake_env(ram_available=int(need / 1.5)))
    assert failed.status == "fail" and failed.fix is not None
    # Weights and runtime alone are most of a 270M run: only a shorter context helps, and not enough alone.
    assert failed.fix.startswith("try: ") and "data.max_seq_length: " in failed.fix


def test_memory_suggestions_are_concrete_and_fitting_first(tmp_path: Path) -> None:
    r = recipe(tmp_path, base_model={"profile": "qwen3-1.7b"}, train={"batch_size": 4, "gradient_checkpointing": False})
    profile = get_profile("qwen3-1.7b")
    check = memory_check(r, profile, fake_env("cuda", vram_free=24 * GB))
    assert check.status == "fail"
    assert check.fix is not None and check.fix.startswith("try: ")
    options = check.fix.removeprefix("try: ").split("; ")
    labels = [o.split(" (est.")[0] for o in options]
    assert labels[0] == "train.batch_size: 1 with train.grad_accum: 16"  # costs nothing in quality: first
    for option in options:  # every option listed fits on its own
        assert float(option.split("(est. ")[1].split(" GB")[0]) * GB <= 24 * GB * WARN_FRACTION

    # Nothing fits alone on 8 GB: one combination that does, built in the same order.
    small_gpu = memory_check(r, profile, fake_env("cuda", vram_free=8 * GB))
    assert small_gpu.fix is not None
    assert small_gpu.fix.startswith("try: all of: train.batch_size: 1 with train.grad_accum: 16, "
                                    "train.gradient_checkpointing: true (est. ")


def test_four_bit_needs_cuda_and_bitsandbytes(tmp_path: Path) -> None:
    r = recipe(tmp_path, base_model={"load_in_4bit": True})
    assert by_name(check_recipe(r, fake_env("cpu")))["4bit"].status == "fail"
    assert by_name(check_recipe(r, fake_env("cpu", modules={"bitsandbytes": True})))["4bit"].status == "warn"
    assert by_name(check_recipe(r, fake_env("mps", modules={"bitsandbytes": True})))["4bit"].status == "fail"
    assert by_name(check_recipe(r, fake_env("cuda", modules={"bitsandbytes": True})))["4bit"].status == "pass"


def test_precision_and_engine(tmp_path: Path) -> None:
    old_gpu = by_name(check_recipe(recipe(tmp_path, base_model={"dtype": "bfloat16"}), fake_env("cuda", capability=7)))
    assert old_gpu["precision"].status == "fail" and "float16" in (old_gpu["precision"].fix or "")
    assert by_name(check_recipe(recipe(tmp_path, base_model={"dtype": "float16"}),
                                fake_env()))["precision"].status == "warn"
    assert by_name(check_recipe(recipe(tmp_path, train={"engine": "unsloth"}), fake_env()))["engine"].status == "fail"
    unsloth = by_name(check_recipe(recipe(tmp_path), fake_env("cuda", modules={"unsloth": True})))["engine"]
    assert "Unsloth" in unsloth.message


def test_model_scenarios_and_disk(tmp_path: Path) -> None:
    missing_model = recipe(tmp_path, base_model={"profile": None, "name_or_path": "someone/not-cached"})
    checks = by_name(check_recipe(missing_model, fake_env()))
    assert checks["model"].status in ("fail", "pass")  # pass only where the hub is reachable
    assert checks["memory"].status == "warn"  # no config to estimate from
    no_data = recipe(data={"scenarios_dir": str(tmp_path / "nothing")})
    assert by_name(check_recipe(no_data, fake_env()))["scenarios"].status == "fail"
    r = recipe(tmp_path)
    need = disk_needed(r, get_profile("gemma-3-270m"))
    assert by_name(check_recipe(r, fake_env(disk_free=need // 2)))["disk"].status == "fail"
    assert by_name(check_recipe(r, fake_env(disk_free=need + 1)))["disk"].status == "warn"


def test_unsupported_local_model_fails(tmp_path: Path) -> None:
    folder = tmp_path / "llama"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    check = by_name(check_recipe(recipe(tmp_path, base_model={"profile": None, "name_or_path": str(folder)}),
                                 fake_env()))["model"]
    assert check.status == "fail" and "unsupported architecture 'llama'" in check.message


def test_large_model_on_cpu_warns(tmp_path: Path) -> None:
    checks = by_name(check_recipe(recipe(tmp_path, base_model={"profile": "qwen3-1.7b"}), fake_env()))
    assert checks["speed"].status == "warn"


def test_check_run_reports_and_refuses(tmp_path: Path, tiny_folder: Path) -> None:
    ok = recipe(tmp_path, base_model={"profile": None, "name_or_path": str(tiny_folder)})
    events = ListSink()
    report = check_run(ok, events, env=fake_env())
    assert isinstance(report, DoctorReport) and report.verdict == "pass"
    assert all(k.startswith("doctor.") for k in events.kinds())
    assert report.as_dict()["checks"][0]["name"] == "python"

    too_big = recipe(tmp_path, base_model={"profile": None, "name_or_path": str(tiny_folder)},
                     data={"max_seq_length": 65536}, train={"batch_size": 64})
    with pytest.raises(DndtuneError, match=r"^memory: estimated peak .* \(try: "):
        check_run(too_big, ListSink(), env=fake_env(ram_available=2 * GB))


def test_worst() -> None:
    assert worst([Check("a", "pass", "")]) == "pass"
    assert worst([Check("a", "pass", ""), Check("b", "warn", "")]) == "warn"
    assert worst([Check("a", "fail", ""), Check("b", "warn", "")]) == "fail"


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dndtune.train.tiny import save_tiny_model

    return save_tiny_model("gemma3", tmp_path_factory.mktemp("doctor") / "tiny")
