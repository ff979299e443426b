"""The wheel carries the package, its default config, the templates and the translation catalogs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_templates_and_default_config(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("reportgen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "reportgen/config/default_config.toml" in names
    assert "reportgen/cli.py" in names
    templates = {p.relative_to(ROOT).as_posix() for p in (ROOT / "templates").rglob("*") if p.is_file()}
    assert templates and {f"reportgen/{t}" for t in templates} <= names
    # The catalogs ship as .po (and the .pot); a build compiles them in memory, so no .mo is packaged.
    assert {"reportgen/locale/reportgen.pot", "reportgen/locale/zh_CN/LC_MESSAGES/reportgen.po"} <= names
    assert not [n for n in names if n.endswith(".mo")]
    entry = [n for n in names if n.endswith("entry_points.txt")]
    assert entry and "reportgen = reportgen.cli:run" in zipfile.ZipFile(wheel).read(entry[0]).decode()


def test_installed_wheel_finds_its_templates(tmp_path):
    """Unpack the wheel alone on sys.path (no source checkout beside it) and load the templates."""
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("reportgen-*.whl")
    site = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import reportgen.site.pages as s, reportgen.config.load as c;"
        "print(s.templates_dir()); s.make_environment().get_template('index.html'); c.load_config();"
        "import reportgen.core.i18n as i; print(i.catalog_path('zh-CN')); print(i.translations('zh-CN').gettext('Model'))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [str(site / "reportgen" / "templates"),
                                        str(site / "reportgen/locale/zh_CN/LC_MESSAGES/reportgen.po"), "模型"]
