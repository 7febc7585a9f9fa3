"""Issue 12, deploy and registry: nothing escapes ``--to``, nothing promoted changes unnoticed, nothing lost.

Runs on tiny fake GGUFs (one 4x8 tensor, written with gguf-py) so no model is loaded: deploy is
called without the integration suite, and promote/rollback/check only read headers and hash.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dndtune.cli.main import main
from dndtune.deploy import BUNDLE_MANIFEST, DeployOptions, deploy
from dndtune.errors import DndtuneError
from dndtune.hashing import sha256_file
from dndtune.registry import Registry, promote, rollback
from dndtune.runs import RunFolder
from tests.fixtures.gguf_files import fake_gguf


def fake_run(root: Path, name: str, *, seed: float = 0.0, status: str = "completed") -> RunFolder:
    """A run folder as the pipeline leaves it: run.json, export/<name>-F16.gguf and its model.json."""
    run = root / "runs" / name
    gguf = fake_gguf(run / "export" / f"{name}-F16.gguf", seed)
    (run / "run.json").write_text(json.dumps({"status": status, "dataset": {"hash": f"h-{name}"}}))
    rewrite_manifest(RunFolder(run), gguf)
    return RunFolder(run)


def rewrite_manifest(run: RunFolder, gguf: Path) -> None:
    """What a rerun's export leaves: the manifest names the new file and its digest."""
    manifest = {"run": run.name, "file": gguf.name, "quant": "F16", "bytes": gguf.stat().st_size,
                "sha256": sha256_file(gguf)}
    (run.root / "export" / "model.json").write_text(json.dumps(manifest))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# 1. deploy --name is confined, and deploy deletes nothing it did not write


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """An app's assets folder with files of its own, inside a project with files of its own."""
    assets = tmp_path / "project" / "app" / "assets"
    (assets / "fonts").mkdir(parents=True)
    (assets / "fonts" / "dm.ttf").write_bytes(b"font")
    (assets / "logo.png").write_bytes(b"png")
    (tmp_path / "project" / "README").write_text("mine")
    return assets


@pytest.mark.parametrize("name", [".", "..", "../../x", "a/b", "/abs/x", "", ".hidden", "m.previous",
                                  "x" * 101, "a\\b", "dm model"])
def test_deploy_refuses_a_name_that_is_not_one_plain_folder(app: Path, tmp_path: Path, name: str) -> None:
    run = fake_run(tmp_path / "out", "shipme")
    before = tree(tmp_path / "project")
    with pytest.raises(DndtuneError, match="is not a plain folder name") as caught:
        deploy(run, app, DeployOptions(name=name.replace("/abs", str(tmp_path / "abs")), test=False))
    assert "\n" not in str(caught.value)
    assert tree(tmp_path / "project") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project"]


def test_deploy_cli_prints_one_line_for_a_bad_name(app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                   ) -> None:
    fake_run(tmp_path / "out", "shipme")
    code = main(["deploy", "shipme", "--to", str(app), "--output", str(tmp_path / "out"), "--skip-tests",
                 "--name", "../../x"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "is not a plain folder name" in err


def test_redeploy_keeps_the_previous_bundle_and_every_other_file(app: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = deploy(fake_run(out, "shipme", seed=1.0), app, DeployOptions(test=False))
    assert first.previous is None
    first_sha = first.manifest.sha256
    run = RunFolder(out / "runs" / "shipme")
    fake_gguf(run.root / "export" / "shipme-F16.gguf", seed=2.0)
    rewrite_manifest(run, run.root / "export" / "shipme-F16.gguf")
    second = deploy(run, app, DeployOptions(test=False))
    assert second.previous == app / ".shipme.previous"
    kept = json.loads((app / ".shipme.previous" / BUNDLE_MANIFEST).read_text())
    assert kept["sha256"] == first_sha != second.manifest.sha256
    assert (app / "logo.png").read_bytes() == b"png" and (app / "fonts" / "dm.ttf").read_bytes() == b"font"
    # A third deploy replaces only the backup before last; no temp folder is left behind.
    deploy(run, app, DeployOptions(test=False))
    kept = json.loads((app / ".shipme.previous" / BUNDLE_MANIFEST).read_text())
    assert kept["sha256"] == second.manifest.sha256
    assert sorted(p.name for p in app.iterdir()) == [".shipme.previous", "fonts", "logo.png", "shipme"]


def test_deploy_never_replaces_a_folder_it_did_not_write(app: Path, tmp_path: Path) -> None:
    run = fake_run(tmp_path / "out", "shipme")
    before = tree(app)
    with pytest.raises(DndtuneError, match="is not a dndtune bundle"):
        deploy(run, app, DeployOptions(name="fonts", test=False))
    assert tree(app) == before
    # Someone's folder where the backup would go: the first deploy does not touch it, a redeploy refuses.
    (app / ".shipme.previous").mkdir()
    (app / ".shipme.previous" / "notes.txt").write_text("someone's")
    deploy(run, app, DeployOptions(test=False))
    installed = tree(app)
    with pytest.raises(DndtuneError, match="is not a dndtune bundle"):
        deploy(run, app, DeployOptions(test=False))
    assert tree(app) == installed and installed[".shipme.previous/notes.txt"] == b"someone's"


def test_a_failed_deploy_leaves_the_installed_bundle_and_no_temp(app: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    run = fake_run(tmp_path / "out", "shipme")
    deploy(run, app, DeployOptions(test=False))
    before = tree(app)

    def full_disk(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dndtune.deploy.bundle.write_bundle_manifest", full_disk)
    with pytest.raises(DndtuneError, match="No space left on device; nothing was replaced"):
        deploy(run, app, DeployOptions(test=False))
    assert tree(app) == before
    assert sorted(p.name for p in app.iterdir()) == ["fonts", "logo.png", "shipme"]


# 2. promote, check and rollback compare the file's real sha256 with the registry's


def test_rollback_refuses_a_file_that_was_never_promoted(tmp_path: Path) -> None:
    v1 = fake_run(tmp_path, "v1", seed=1.0)
    fake_run(tmp_path, "v2", seed=2.0)
    promote(tmp_path, "v1")
    promote(tmp_path, "v2")
    registry = (tmp_path / "registry.json").read_bytes()
    # A rerun of v1 replaces its GGUF and manifest: the manifest agrees with the file, the registry does not.
    fake_gguf(v1.root / "export" / "v1-F16.gguf", seed=9.0)
    rewrite_manifest(v1, v1.root / "export" / "v1-F16.gguf")
    with pytest.raises(DndtuneError, match=r"not the file the registry recorded for it .*nothing was rolled back"):
        rollback(tmp_path)
    assert (tmp_path / "registry.json").read_bytes() == registry
    with pytest.raises(DndtuneError, match="not the file the registry recorded"):
        promote(tmp_path, "v1")


def test_models_check_notices_a_replaced_promoted_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v1 = fake_run(tmp_path, "v1", seed=1.0)
    fake_run(tmp_path, "v2", seed=2.0)
    promote(tmp_path, "v1")
    out = ["models", "--output", str(tmp_path)]
    assert main([*out, "check", "v2"]) == 0
    fake_gguf(v1.root / "export" / "v1-F16.gguf", seed=9.0)
    rewrite_manifest(v1, v1.root / "export" / "v1-F16.gguf")
    capsys.readouterr()
    assert main([*out, "check", "v2"]) == 1
    err = capsys.readouterr().err
    assert "v1's GGUF is not the file the registry recorded for it" in err and err.count("\n") == 1
    # Once another version is promoted, checking the changed one warns: it can no longer be rolled back to.
    assert main(["models", "--output", str(tmp_path), "promote", "v2"]) == 0
    capsys.readouterr()
    assert main([*out, "check", "v1"]) == 0
    assert "warning: v1: v1's GGUF is not the file the registry recorded" in capsys.readouterr().out
    assert main([*out, "check", "v1", "--strict"]) == 1


# 3. promote loads the header, hashes the file itself and refuses failed runs


def test_promote_records_the_files_own_sha256(tmp_path: Path) -> None:
    run = fake_run(tmp_path, "v1")
    manifest = json.loads(run.manifest_path.read_text())
    del manifest["sha256"]  # an older export's manifest: the digest comes from the file, never from here
    run.manifest_path.write_text(json.dumps(manifest))
    entry = promote(tmp_path, "v1")
    assert run.gguf is not None and entry.sha256 == sha256_file(run.gguf)


@pytest.mark.parametrize(("damage", "message"), [
    ("truncate", "truncated GGUF"),
    ("text", r"corrupt GGUF header \(not a GGUF file"),
    ("manifest", "does not match its export manifest"),
])
def test_promote_refuses_a_damaged_export(tmp_path: Path, damage: str, message: str) -> None:
    run = fake_run(tmp_path, "v1")
    gguf = run.root / "export" / "v1-F16.gguf"
    if damage == "truncate":
        gguf.write_bytes(gguf.read_bytes()[:-64])
    elif damage == "text":
        gguf.write_text("<html>404 not found</html>")
    if damage != "manifest":  # the manifest agrees: only loading the file itself can tell
        rewrite_manifest(run, gguf)
    else:
        with gguf.open("ab") as handle:
            handle.write(b"\0" * 32)
    with pytest.raises(DndtuneError, match=message):
        promote(tmp_path, "v1")
    assert not (tmp_path / "registry.json").exists()


def test_promote_refuses_a_failed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(tmp_path, "v1", status="failed")
    with pytest.raises(DndtuneError, match=r"the run failed \(run.json status: failed\)"):
        promote(tmp_path, "v1")
    assert main(["models", "--output", str(tmp_path), "promote", "v1"]) == 1
    assert "only a finished run can be promoted" in capsys.readouterr().err
    assert not (tmp_path / "registry.json").exists()


# 4. a damaged registry.json: the previous one is kept as registry.json.bak


def test_every_write_keeps_the_previous_registry(tmp_path: Path) -> None:
    fake_run(tmp_path, "v1", seed=1.0)
    fake_run(tmp_path, "v2", seed=2.0)
    promote(tmp_path, "v1")
    assert not (tmp_path / "registry.json.bak").exists()  # nothing was there to keep
    after_v1 = (tmp_path / "registry.json").read_text()
    promote(tmp_path, "v2")
    assert (tmp_path / "registry.json.bak").read_text() == after_v1


def test_a_truncated_registry_points_at_its_backup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_run(tmp_path, "v1", seed=1.0)
    fake_run(tmp_path, "v2", seed=2.0)
    promote(tmp_path, "v1")
    promote(tmp_path, "v2")
    path = tmp_path / "registry.json"
    path.write_text(path.read_text()[:40])
    with pytest.raises(DndtuneError, match=r"registry.json is damaged .*registry.json.bak holds .*\(copy "
                                           r"registry.json.bak over registry.json: cp "):
        Registry(tmp_path).read()
    out = ["models", "--output", str(tmp_path)]
    capsys.readouterr()
    # Showing still works, on the backup, with a warning; a change refuses (it would drop the last change).
    assert main([*out, "list", "--format", "json"]) == 0
    shown = capsys.readouterr()
    assert "showing registry.json.bak" in shown.err
    assert [v["name"] for v in json.loads(shown.out) if v["promoted"]] == ["v1"]
    assert main([*out, "rollback"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cp " in err and "version control" not in err
    shutil.copyfile(tmp_path / "registry.json.bak", path)  # what the error says to do
    assert Registry(tmp_path).read().promoted == "v1"


def test_a_damaged_registry_without_backup_says_to_start_over(tmp_path: Path) -> None:
    fake_run(tmp_path, "v1")
    promote(tmp_path, "v1")
    (tmp_path / "registry.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(DndtuneError, match=r"no usable registry\.json\.bak .*delete registry\.json"):
        Registry(tmp_path).read()
    with pytest.raises(DndtuneError, match=r"no usable registry\.json\.bak"):
        Registry(tmp_path).read_or_backup()
