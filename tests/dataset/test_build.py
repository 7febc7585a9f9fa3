"""The whole stage: Dataset columns, JSONL round trip, stats, errors, windows with a real tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
from transformers.utils.chat_template_utils import render_jinja_template

from dndtune.dataset.build import build_dataset
from dndtune.dataset.chat import scenario_to_messages, tools
from dndtune.dataset.config import DatasetConfig
from dndtune.dataset.records import COLUMNS
from dndtune.dataset.windows import rounds, split_windows, token_counter
from dndtune.errors import DndtuneError
from dndtune.events import ListSink, NullSink
from dndtune.scenario.models import Scenario
from tests.dataset.conftest import QWEN_TEMPLATE, SMALL, TRAINING_DATA


def _config(tmp_path: Path, **kwargs: object) -> DatasetConfig:
    return DatasetConfig(scenarios_dir=kwargs.pop("scenarios_dir", TRAINING_DATA),  # type: ignore[arg-type]
                         output_dir=tmp_path / "out", **kwargs)  # type: ignore[arg-type]


def _word_tokenizer() -> PreTrainedTokenizerFast:
    """A real (offline) tokenizer: one token per word or punctuation mark, with the Qwen tool template."""
    backend = Tokenizer(models.WordLevel(vocab={"[UNK]": 0}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", chat_template=QWEN_TEMPLATE)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("built")
    return build_dataset(_config(out), ListSink())


def test_dataset_columns_and_counts(built) -> None:  # type: ignore[no-untyped-def]
    assert all(list(row) == list(COLUMNS) for row in [*built.train, *built.eval])
    stats = built.stats
    shipped = len(list(TRAINING_DATA.glob("*/*.md")))
    held = round(shipped * 0.15)  # eval_fraction, whole scenarios
    assert stats.scenarios == shipped and stats.eval_scenarios == held and stats.train_scenarios == shipped - held
    assert stats.augment_invalid == 0 and stats.augment_duplicates == 0
    # Two augmented copies per training scenario (the default), none for held-out ones.
    assert len(built.train) == stats.train_examples == 3 * stats.train_scenarios
    assert len(built.eval) == stats.eval_examples == held
    assert sum(row["augmented"] for row in built.train) == stats.augmented_examples == 2 * stats.train_scenarios
    assert {row["category"] for row in built.train} == set(stats.scenarios_per_category)


def test_no_held_out_scenario_reaches_training(built) -> None:  # type: ignore[no-untyped-def]
    held = {row["scenario"] for row in built.eval}
    assert held and held.isdisjoint(row["scenario"] for row in built.train)
    assert not any(row["augmented"] for row in built.eval)


def test_jsonl_round_trip(built) -> None:  # type: ignore[no-untyped-def]
    for split, dataset in (("train", built.train), ("eval", built.eval)):
        lines = built.jsonl_paths[split].read_text(encoding="utf-8").splitlines()
        assert len(lines) == len(dataset)
        for line, row in zip(lines, dataset, strict=True):
            record = json.loads(line)
            assert list(record) == ["messages", "tools"]
            # What training reads equals what the JSONL holds: no keys lost or invented.
            assert record["messages"] == row["messages"]
            assert record["tools"] == row["tools"] == tools()
    saved = json.loads(built.stats_path.read_text(encoding="utf-8"))
    assert saved == built.stats.model_dump(mode="json")


def test_dataset_rows_render_through_the_template(built) -> None:  # type: ignore[no-untyped-def]
    rows = built.train[:5]
    rendered, _ = render_jinja_template([row["messages"] for row in rows], tools=rows[0]["tools"],
                                        chat_template=QWEN_TEMPLATE)
    assert all("<tool_call>\n{\"name\": \"roll\", \"arguments\": {\"skill\": " in text for text in rendered)


def test_build_is_reproducible(tmp_path: Path, built) -> None:  # type: ignore[no-untyped-def]
    again = build_dataset(_config(tmp_path), NullSink())
    assert again.jsonl_paths["train"].read_bytes() == built.jsonl_paths["train"].read_bytes()
    other = build_dataset(_config(tmp_path, augment_seed=1), NullSink())
    assert other.jsonl_paths["train"].read_bytes() != built.jsonl_paths["train"].read_bytes()


def test_no_augment_and_caps(tmp_path: Path) -> None:
    result = build_dataset(_config(tmp_path, augment_enabled=False, max_per_category=2,
                                   categories={"rest": 0.0}), NullSink())
    per_category = result.stats.train_examples_per_category
    assert "rest" not in per_category and max(per_category.values()) == 2
    assert not any(row["augmented"] for row in result.train)


def _corpus(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_scenario_errors_stop_the_build(tmp_path: Path) -> None:
    broken = SMALL.replace("= 17+1 = 18", "= 17+1 = 19")
    data = _corpus(tmp_path / "data", {"combat/a.md": SMALL, "combat/b.md": broken, "social/c.md": broken})
    events = ListSink()
    with pytest.raises(DndtuneError) as caught:
        build_dataset(_config(tmp_path, scenarios_dir=data), events)
    assert str(caught.value) == f"2 scenario files have errors (run `dndtune validate {data}`)"
    errors = [e for e in events.events if e.kind == "scenario.diagnostic" and e.level == "error"]
    assert len(errors) == 2 and "wrong total" in errors[0].message
    assert not (tmp_path / "out").exists()


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DndtuneError, match="scenarios folder not found"):
        build_dataset(_config(tmp_path, scenarios_dir=tmp_path / "nope"), NullSink())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DndtuneError, match="no scenario files found"):
        build_dataset(_config(tmp_path, scenarios_dir=tmp_path / "empty"), NullSink())


def test_single_scenario_has_empty_eval(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "data", {"combat/a.md": SMALL})
    result = build_dataset(_config(tmp_path, scenarios_dir=data, augment_copies=1), NullSink())
    assert result.eval == []
    assert len(result.train) == 2
    assert result.jsonl_paths["eval"].read_text() == ""


def test_windows_split_at_turn_boundaries(small: Scenario) -> None:
    messages = scenario_to_messages(small)
    count = token_counter(_word_tokenizer(), tools())
    full = count(messages)
    limit = full - 40
    windows = split_windows(messages, count, limit)
    assert len(windows) > 1
    assert [m for w in windows for m in w[1:]] == messages[1:]  # every turn once, in order
    for window in windows:
        assert window[0] == messages[0]  # each carries the system message
        assert window[1]["role"] in ("user", "assistant") and window[1]["role"] != "tool"
        for i, m in enumerate(window):
            calls = len(m["tool_calls"] or ())
            assert [x["role"] for x in window[i + 1:i + 1 + calls]] == ["tool"] * calls
    assert split_windows(messages, count, full) == [messages]
    assert len(rounds(messages)) == 2  # one per User turn


def test_tokenizer_gives_histogram_and_windows(tmp_path: Path) -> None:
    result = build_dataset(_config(tmp_path, augment_enabled=False, max_seq_length=700), NullSink(),
                           tokenizer=_word_tokenizer())
    tokens = result.stats.tokens
    assert tokens is not None
    assert sum(b.count for b in tokens.histogram) == result.stats.train_examples + result.stats.eval_examples
    assert result.stats.windowed_conversations > 0
    assert tokens.min <= tokens.p50 <= tokens.p95 <= tokens.max
    assert tokens.over_length == 0 or tokens.max > 700


def test_template_without_tool_support_is_a_clear_error(small: Scenario) -> None:
    tokenizer = _word_tokenizer()
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m.role not in ['system', 'user', 'assistant'] %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant') }}{% endif %}"
        "{{ m.content }}{% endfor %}")
    with pytest.raises(DndtuneError, match=r"chat template cannot render .* roles must alternate"):
        token_counter(tokenizer, tools())(scenario_to_messages(small))
