"""Top-level flags of the headless run."""

from __future__ import annotations

from dndtune.cli.main import build_parser


def test_resume_flags() -> None:
    parser = build_parser()
    assert parser.parse_args(["--recipe", "demo-cpu"]).resume is None
    assert parser.parse_args(["--recipe", "demo-cpu", "--resume"]).resume is True
    assert parser.parse_args(["--recipe", "demo-cpu", "--no-resume"]).resume is False
    args = parser.parse_args(["--recipe", "demo-cpu", "--set", "train.lr=1e-4", "--set", "lora.r=4", "--dry-run"])
    assert args.overrides == ["train.lr=1e-4", "lora.r=4"] and args.dry_run
