"""Which database and playbook are in force: option, then environment, then salesplay.toml,
then the default; salesplay.toml found by walking up; paths relative to where they are written."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesplay.engine.errors import ProjectError, SalesplayError
from salesplay.engine.project.settings import hide_password, resolve


def project(folder: Path, text: str = 'database = "sales.db"\nplaybook = "book.yaml"\n') -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "salesplay.toml").write_text(text, "utf-8")
    return folder


def test_nothing_given_and_no_project_is_the_built_in_default(tmp_path: Path) -> None:
    found = resolve(env={}, cwd=tmp_path)
    assert found.project is None
    assert found.database.value == f"sqlite:///{tmp_path / 'salesplay.db'}"
    assert found.playbook.value == "default"
    assert found.database.source.startswith("the default")


def test_the_project_is_found_by_walking_up_and_its_paths_are_relative_to_it(
    tmp_path: Path,
) -> None:
    root = project(tmp_path / "sales")
    deep = root / "reports" / "2024"
    deep.mkdir(parents=True)
    found = resolve(env={}, cwd=deep)
    assert found.project == root
    assert found.database.value == f"sqlite:///{root / 'sales.db'}"
    assert found.playbook.value == str(root / "book.yaml")
    assert found.database.source == str(root / "salesplay.toml")
    assert "a folder above" in found.project_source


def test_option_beats_environment_beats_toml(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    env = {"SALESPLAY_DB": "env.db", "SALESPLAY_PLAYBOOK": "fmcg"}
    from_env = resolve(env=env, cwd=root)
    assert from_env.database.value == f"sqlite:///{root / 'env.db'}"
    assert (from_env.database.source, from_env.playbook.value) == ("SALESPLAY_DB", "fmcg")
    from_option = resolve(database="opt.db", playbook="default", env=env, cwd=root)
    assert from_option.database.value == f"sqlite:///{root / 'opt.db'}"
    assert from_option.database.source == "--db"
    assert from_option.playbook_named
    assert not from_env.playbook_named


def test_project_option_and_environment_name_the_folder_from_anywhere(tmp_path: Path) -> None:
    root = project(tmp_path / "p")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert resolve(project=str(root), env={}, cwd=elsewhere).project == root
    by_env = resolve(env={"SALESPLAY_PROJECT": str(root)}, cwd=elsewhere)
    assert (by_env.project, by_env.project_source) == (root, "SALESPLAY_PROJECT")
    with pytest.raises(SalesplayError, match=r"--project .*: no salesplay.toml in"):
        resolve(project=str(elsewhere), env={}, cwd=tmp_path)


def test_a_url_is_kept_and_a_bundled_name_stays_a_name(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p", 'database = "postgresql://ops:secret@db/sales"\nplaybook = "fmcg"\n'
    )
    found = resolve(env={}, cwd=root)
    assert found.database.value == "postgresql://ops:secret@db/sales"
    assert found.database_file() is None
    assert found.playbook.value == "fmcg"
    assert hide_password(found.database.value) == "postgresql://ops:***@db/sales"


def test_a_missing_database_file_is_refused_naming_its_path(tmp_path: Path) -> None:
    found = resolve(env={}, cwd=tmp_path)
    with pytest.raises(SalesplayError) as caught:
        found.require_database()
    assert str(tmp_path / "salesplay.db") in str(caught.value)
    assert "salesplay init" in str(caught.value)
    assert not (tmp_path / "salesplay.db").exists()


def test_a_bad_toml_is_located(tmp_path: Path) -> None:
    root = project(tmp_path / "p", 'playbook = "book.yaml"\ndatabase = \n')
    with pytest.raises(ProjectError) as caught:
        resolve(env={}, cwd=root)
    assert str(caught.value).startswith(f"{root / 'salesplay.toml'}:2: not valid TOML")
    project(root, 'playbook = "book.yaml"\ndatabase = 5\n')
    with pytest.raises(ProjectError) as caught:
        resolve(env={}, cwd=root)
    assert str(caught.value).startswith(f"{root / 'salesplay.toml'}:2: database: must be text")
