"""Bad recipe files and values get one line naming file:line (issue 12), and ``--dry-run`` gates on the doctor."""

from __future__ import annotations

import time
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import dndtune.pipeline.plan as plan_module
from dndtune.cli.main import main
from dndtune.env.report import Check
from dndtune.errors import DndtuneError
from dndtune.recipe.loader import load_recipe, parse_recipe
from dndtune.recipe.numbers import MAX_STEPS
from dndtune.recipe.schema import Recipe, byte_size
from tests.env.fakes import fake_env

BASE = "base_model:\n  profile: gemma-3-270m\n"


def run_cli(tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    """``dndtune --recipe r.yaml --dry-run`` on ``text``; the exit code and the error line (stderr)."""
    path = tmp_path / "r.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    code = main(["--recipe", str(path), "--dry-run", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") <= 1, err
    return code, err.strip().replace(str(tmp_path) + "/", "")


def error_of(text: str, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(DndtuneError) as info:
        parse_recipe(text, source="r.yaml", overrides=overrides)
    message = str(info.value)
    assert "\n" not in message
    return message


# --- the file itself -------------------------------------------------------------------------------


def test_non_utf8_recipe_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(tmp_path, b"base_model:\n  profile: \xff\xfe\n", capsys)
    assert code == 1
    assert err == "dndtune: error: r.yaml:2: recipe is not UTF-8 text (byte 0xff) (save the file as UTF-8)"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_recipe(str(tmp_path / "r.yaml")).base_model.profile == "gemma-3-270m"


def test_python_tag_is_one_line_and_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    text = f"base_model: !!python/object/apply:os.system ['touch {marker}']\n"
    code, err = run_cli(tmp_path, text, capsys)
    assert code == 1 and not marker.exists()
    assert err == ("dndtune: error: r.yaml:1: YAML tag !!python/object/apply:os.system is not allowed in a recipe "
                   "(a recipe holds plain values: remove the tag)")
    assert error_of(BASE + "train:\n  lr: !!python/name:os.system\n").startswith(
        "r.yaml:4: YAML tag !!python/name:os.system is not allowed")
    assert error_of(BASE, ("train.lr=!!python/name:os.system",)).startswith(
        "--set train.lr=!!python/name:os.system: YAML tag !!python/name:os.system is not allowed")


@pytest.mark.parametrize(("text", "expected"), [
    ("", "r.yaml: recipe is empty (start from recipes/demo-cpu.yaml)"),
    ("# nothing but a comment\n", "r.yaml: recipe is empty (start from recipes/demo-cpu.yaml)"),
    ("- base_model\n- train\n", "r.yaml:1: a recipe must be a mapping of sections (base_model:, data:, train: ...)"),
    (BASE + "train:\n  lr: 1\x00\n", "r.yaml:4: invalid YAML: control character #x0000 is not allowed"),
    (BASE + "? [a, b]\n: 1\n", "r.yaml:3: invalid YAML: found unhashable key"),
    (BASE + "train: &t\n  x: *t\n", "r.yaml:4: invalid YAML: an alias refers to the value that contains it"),
    (BASE + "x: " + "[" * 5000 + "]" * 5000 + "\n", "r.yaml: invalid YAML: nested too deeply"),
])
def test_malformed_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str) -> None:
    code, err = run_cli(tmp_path, text, capsys)
    assert code == 1 and err == f"dndtune: error: {expected}"


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ["a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    started = time.monotonic()
    message = error_of(BASE + "\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    assert "recipe holds more than 10000 values once its aliases are expanded" in message


def test_folder_and_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.yaml").mkdir()
    assert main(["--recipe", str(tmp_path / "r.yaml"), "--dry-run"]) == 1
    assert capsys.readouterr().err.strip() == (f"dndtune: error: {tmp_path / 'r.yaml'}: recipe is a folder, not a file "
                                               "(give the YAML file inside it, e.g. recipes/demo-cpu.yaml)")
    assert main(["--recipe", str(tmp_path / "gone.yaml"), "--dry-run"]) == 1
    assert capsys.readouterr().err.startswith(f"dndtune: error: recipe not found: {tmp_path / 'gone.yaml'} (give a")


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(BASE, encoding="utf-8")
    path.chmod(0)
    try:
        if _can_read(path):
            pytest.skip("running as root: permissions do not stop reads")
        assert main(["--recipe", str(path), "--dry-run"]) == 1
        assert capsys.readouterr().err.strip() == f"dndtune: error: {path}: cannot read recipe: Permission denied"
    finally:
        path.chmod(0o644)


def _can_read(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


# --- values ----------------------------------------------------------------------------------------


def _numeric_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, "int"/"float") for every numeric field of the schema, found by walking it."""
    found: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(_numeric_fields(annotation, f"{prefix}{name}."))
            continue
        kind = _numeric_kind(annotation)
        # Sizes ("2GB" or bytes) have their own parser and message, checked below.
        if kind is not None and not any(getattr(m, "func", None) is byte_size for m in info.metadata):
            found.append((f"{prefix}{name}", kind))
    return found


def _numeric_kind(annotation: Any) -> str | None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _numeric_kind(args[0])
    if origin in (typing.Union, types.UnionType):
        kinds = [_numeric_kind(a) for a in args if a is not type(None)]
        return kinds[0] if len(kinds) == 1 else None
    if origin is dict:  # data.categories: its values are the numbers
        return None
    return {int: "int", float: "float"}.get(annotation)


NUMERIC_FIELDS = [*_numeric_fields(Recipe), ("data.categories.core", "float")]


def test_the_walk_finds_the_fields_the_issue_names() -> None:
    keys = {key for key, _ in NUMERIC_FIELDS}
    assert {"train.max_steps", "train.lr", "train.epochs", "train.batch_size", "train.grad_accum", "lora.r",
            "lora.alpha", "train.save_steps", "train.eval_steps", "data.max_seq_length",
            "data.augment.copies"} <= keys


@pytest.mark.parametrize(("key", "kind"), NUMERIC_FIELDS, ids=[key for key, _ in NUMERIC_FIELDS])
@pytest.mark.parametrize("flag", ["true", "false"])
def test_booleans_are_not_numbers(key: str, kind: str, flag: str) -> None:
    wanted = "an integer" if kind == "int" else "a number"
    expected = f"{key}: must be {wanted}, not true/false (got {flag})"
    # In a file, at the key's line ...
    parents = key.split(".")
    text = BASE + "".join(f"{'  ' * depth}{part}:\n" for depth, part in enumerate(parents[:-1]))
    text += f"{'  ' * (len(parents) - 1)}{parents[-1]}: {flag}\n"
    assert error_of(text) == f"r.yaml:{text.count(chr(10))}: {expected}"
    # ... and through --set, which goes through the same validation.
    assert error_of(BASE, (f"{key}={flag}",)) == f"--set {key}={flag}: {expected}"


def test_a_size_is_not_a_boolean_either() -> None:
    assert error_of(BASE + "target:\n  size_limit: true\n") == \
        "r.yaml:4: target.size_limit: must be a size such as 2GB, 1.5 GiB or a number of bytes"


def test_max_steps_true_no_longer_means_one_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(tmp_path, BASE + "train:\n  max_steps: true\n", capsys)
    assert code == 1
    assert err == "dndtune: error: r.yaml:4: train.max_steps: must be an integer, not true/false (got true)"


def test_absurd_step_counts_name_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(tmp_path, BASE + "train:\n  max_steps: 1000000000000\n", capsys)
    assert code == 1
    assert err == f"dndtune: error: r.yaml:4: train.max_steps: must be <= {MAX_STEPS} (got 1000000000000)"
    assert error_of(BASE, ("train.max_steps=1000000000000",)) == \
        f"--set train.max_steps=1000000000000: train.max_steps: must be <= {MAX_STEPS} (got 1000000000000)"
    assert parse_recipe(BASE + f"train:\n  max_steps: {MAX_STEPS}\n").train.max_steps == MAX_STEPS
    assert error_of(BASE + "train:\n  seed: 4294967296\n") == \
        "r.yaml:4: train.seed: must be <= 4294967295 (got 4294967296)"
    assert error_of(BASE + "train:\n  epochs: 100000\n") == "r.yaml:4: train.epochs: must be <= 1000 (got 100000)"


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_floats(value: str) -> None:
    assert error_of(BASE + f"train:\n  lr: {value}\n") == \
        f"r.yaml:4: train.lr: must be a finite number (got {float(value.replace('.', '')):g})"
    assert "must be a finite number" in error_of(BASE + f"train:\n  epochs: {value}\n")


def test_valid_spellings_keep_their_meaning() -> None:
    recipe = parse_recipe(BASE + 'train:\n  max_steps: "10"\n  epochs: 2\n  lr: 1.0e-4\n  seed: 0\n'
                          "data:\n  categories:\n    core: 1\n")
    assert recipe.train.max_steps == 10 and recipe.train.epochs == 2.0 and recipe.train.lr == 1e-4
    assert recipe.data.categories == {"core": 1.0}
    for name in ("demo-cpu", "mobile", "desktop"):
        load_recipe(name)


# --- --dry-run ---------------------------------------------------------------------------------------


def test_dry_run_exits_1_when_the_verdict_is_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plan_module, "collect_environment", lambda _path: fake_env())
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "s.md").write_text("# s\n", encoding="utf-8")
    path = tmp_path / "r.yaml"
    path.write_text(f"base_model:\n  profile: gemma-3-270m\n  name_or_path: {tmp_path / 'no-model'}\n"
                    f"data:\n  scenarios_dir: {tmp_path / 'scenarios'}\noutput:\n  dir: {tmp_path / 'out'}\n",
                    encoding="utf-8")
    assert main(["--recipe", str(path), "--dry-run"]) == 1
    captured = capsys.readouterr()
    assert "# Plan" in captured.out and "verdict: fail" in captured.out  # the plan is still printed
    assert captured.err == (f"dndtune: error: dry run: the run would fail: model: base model folder not found: "
                            f"{tmp_path / 'no-model'} (fix: set base_model.name_or_path to an existing folder or a "
                            "Hugging Face id)\n")
    assert not (tmp_path / "out").exists()


def test_dry_run_exits_0_on_pass_or_warn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(plan_module, "collect_environment", lambda _path: fake_env())
    monkeypatch.setattr(plan_module, "check_recipe",
                        lambda *_a, **_k: [Check("model", "pass", "ok"), Check("disk", "warn", "tight")])
    path = tmp_path / "r.yaml"
    path.write_text(BASE + f"output:\n  dir: {tmp_path / 'out'}\n", encoding="utf-8")
    assert main(["--recipe", str(path), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert "verdict: warn" in captured.out and captured.err == ""
