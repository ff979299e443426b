"""The build stamp: a build with nothing to change stops at once; any change to what a site is made from builds it."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EPOCH, copy_project

from reportgen.cli import main
from reportgen.infra import stamp

UP_TO_DATE = "Up to date: nothing changed since the last build (--force builds it again).\n"


@pytest.fixture
def project(tiny, tmp_path, monkeypatch):
    """A copy of the tiny project, built once more by the command line (which stamps it)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    monkeypatch.chdir(tmp_path)
    copy = copy_project(tiny, tmp_path / "p")
    assert build(copy) == 0
    return copy


def build(project, *extra: str) -> int:
    return main(["build", "--config", str(project.config), "--out", str(project.site), "--jobs", "1", "-q", *extra])


def state(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: its bytes and modification time (a rebuild changes the times)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_nothing_changed_is_up_to_date_and_writes_nothing(project, capsys):
    before = state(project.site)
    capsys.readouterr()
    assert main(["build", "--config", str(project.config), "--out", str(project.site)]) == 0
    out = capsys.readouterr().out
    assert out == f"{UP_TO_DATE}Site: {project.site / 'index.html'}\n"
    assert state(project.site) == before
    assert build(project) == 0 and capsys.readouterr().out == ""  # -q: nothing to say


def test_up_to_date_imports_neither_numpy_nor_the_renderers(project):
    probe = ("import sys; from reportgen.cli import main; code = main(sys.argv[1:]); "
             "print(sorted(m for m in ('numpy', 'torch', 'matplotlib', 'jinja2', 'reportgen.build') if m in sys.modules));"
             "sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", probe, "build", "--config", str(project.config),
                           "--out", str(project.site)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(UP_TO_DATE) and proc.stdout.endswith("\n[]\n")


def edit_config(p):
    p.config.write_text(p.config.read_text() + "# any edit, even a comment\n")


def touch_page(p):
    index = p.site / "index.html"
    index.write_text(index.read_text())


CHANGES = {
    "the config": (edit_config, ()),
    "a page rewritten": (touch_page, ()),
    "a site file removed": (lambda p: next((p.site / "media").glob("*.gif")).unlink(), ()),
    "a file added to the site": (lambda p: (p.site / "extra.txt").write_text("x"), ()),
    "the language flag": (lambda p: None, ("--lang", "en")),
    "a budget flag": (lambda p: None, ("--max-frames", "40000")),
    "--force": (lambda p: None, ("--force",)),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_builds_again(project, change, capsys):
    edit, flags = CHANGES[change]
    edit(project)
    capsys.readouterr()
    assert main(["build", "--config", str(project.config), "--out", str(project.site), "--jobs", "1", *flags]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Built ") and UP_TO_DATE not in out
    assert not (project.site / "extra.txt").exists()  # the new site replaced the old one whole
    # ... and the site that build left is the one the next build finds up to date.
    assert main(["build", "--config", str(project.config), "--out", str(project.site), *flags]) == 0
    assert capsys.readouterr().out.startswith("Built " if change == "--force" else UP_TO_DATE)


def test_the_date_reportgen_and_the_packages_are_inputs(project):
    assert stamp.up_to_date(project.options()) is not None
    with pytest.MonkeyPatch.context() as change:
        change.setenv("SOURCE_DATE_EPOCH", str(int(EPOCH) + 86400))
        assert stamp.up_to_date(project.options()) is None
    with pytest.MonkeyPatch.context() as change:
        change.setattr(stamp, "site_sources", lambda: "an edited template")
        assert stamp.up_to_date(project.options()) is None
    with pytest.MonkeyPatch.context() as change:
        change.setattr(stamp, "installed_packages", lambda: ["torch-9.9.dist-info"])
        assert stamp.up_to_date(project.options()) is None
    assert stamp.up_to_date(project.options()) is not None


def test_installed_packages_name_their_versions():
    names = stamp.installed_packages()
    assert any(n.startswith("torch-") for n in names) and any(n.startswith("Jinja2-") or n.startswith("jinja2-")
                                                               for n in names)


def test_single_file_is_part_of_the_site(project, tmp_path, capsys):
    target = Path("r.html")  # relative to the test's folder: said back as typed
    assert build(project, "--single-file", str(target)) == 0
    capsys.readouterr()
    assert build(project, "--single-file", str(target)) == 0
    assert capsys.readouterr().out == f"Single file: r.html ({stamp_size(target)})\n"  # said even up to date
    (tmp_path / target).unlink()
    assert build(project, "--single-file", str(target)) == 0 and (tmp_path / target).is_file()


def test_the_page_shows_the_command_as_typed_so_its_spelling_is_an_input(project, capsys):
    assert build(project, "--lang", "en") == 0
    assert "--lang en" in project.html
    capsys.readouterr()
    assert main(["build", "--config", str(project.config), "--out", str(project.site), "--lang", "EN"]) == 0
    assert capsys.readouterr().out.startswith("Built ") and "--lang EN" in project.html


def test_another_working_folder_builds(project, tmp_path, monkeypatch):
    assert stamp.up_to_date(project.options()) is not None
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # the page names the config relative to it
    assert stamp.up_to_date(project.options()) is None


def test_a_template_edit_changes_the_sources_digest(tmp_path, monkeypatch):
    from reportgen.infra import sources

    copy = tmp_path / "templates"
    shutil.copytree(sources.templates_dir(), copy)
    monkeypatch.setattr(sources, "templates_dir", lambda: copy)
    digests = []
    for edit in ("", "\n/* a style edit */\n"):
        (copy / "style.css").write_text((copy / "style.css").read_text() + edit)
        sources.site_sources.cache_clear()
        digests.append(sources.site_sources())
    sources.site_sources.cache_clear()
    assert digests[0] != digests[1]


def stamp_size(path: Path) -> str:
    from reportgen.core.formatting import megabytes

    return megabytes(path.stat().st_size)


def test_a_build_that_warned_is_not_stamped(project, monkeypatch, capsys):
    import reportgen.build

    theory_of = reportgen.build.theory_of

    def warning_theory(*args, **kwargs):
        logging.getLogger("reportgen").warning("something to say again")
        return theory_of(*args, **kwargs)

    monkeypatch.setattr(reportgen.build, "theory_of", warning_theory)
    assert build(project, "--force") == 0
    assert "something to say again" in capsys.readouterr().err
    assert stamp.up_to_date(project.options()) is None


@pytest.mark.parametrize("damage", ["not json {", json.dumps({"inputs": 3}), json.dumps([1, 2]), ""])
def test_a_damaged_stamp_means_build(project, damage, capsys):
    stamp.stamp_path(project.site).write_text(damage)
    capsys.readouterr()
    assert main(["build", "--config", str(project.config), "--out", str(project.site), "--jobs", "1"]) == 0
    assert capsys.readouterr().out.startswith("Built ")
    assert stamp.up_to_date(project.options()) is not None


def test_clean_removes_the_stamp_and_no_cache_ignores_it(project):
    assert stamp.up_to_date(project.options(use_cache=False)) is None  # --no-cache: build everything
    assert main(["clean", "--out", str(project.site)]) == 0
    assert not stamp.stamp_path(project.site).exists() and stamp.up_to_date(project.options()) is None


def test_a_lock_that_cannot_be_taken_means_build(project, monkeypatch):
    def unreadable(folder):
        raise PermissionError(13, "Permission denied", str(folder / ".reportgen.lock"))

    monkeypatch.setattr(stamp.output, "build_lock", unreadable)
    assert stamp.up_to_date(project.options()) is None  # then the build refuses the folder in its own words
