"""The classroom: variants from ids under a secret, assignments without the answers, a key the course loop
agrees with, grading, and one line for every bad input."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.classroom.assign import assignment_name, course_script
from reportgen.classroom.key import run_class
from reportgen.classroom.roster import Student, parse_roster
from reportgen.classroom.secret import SECRET_ENV
from reportgen.classroom.variants import homework_of, stable_variant, variant_of
from reportgen.cli import main
from reportgen.config.load import load_config, parse_config
from reportgen.infra.errors import ConfigError
from reportgen.train.course import course_loop

CLASS = """
[classroom]
slope = [1.0, 5.0]
intercept = [2.0, 8.0]
[defaults]
max_iters = 400
[[sweep]]
name = "threshold"
vary = { threshold = [10.0, 1.0, 0.1] }
[[sweep]]
name = "slope"
vary = { slope = [1.0, 3.0] }
"""
ROSTER = "id,name\ns01,Ada Lovelace\ns02,李雷\ns03,<b>Bobby</b>\ns04,=HYPERLINK(\"x\")\ns05,\ns06,Grace\n"


@pytest.fixture(scope="module")
def klass(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("class")
    (root / "class.toml").write_text(CLASS)
    (root / "roster.csv").write_text(ROSTER, "utf-8")
    monkeypatch_module.setenv(SECRET_ENV, "a class secret")
    assert main(["class", "--roster", str(root / "roster.csv"), "--config", str(root / "class.toml"),
                 "--out", str(root / "out"), "-q"]) == 0
    return root


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def key_rows(root: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((root / "out" / "key.csv").read_text("utf-8"))))


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and "\n" not in s))
def test_one_secret_and_id_give_one_variant_and_another_secret_another(sid):
    config = parse_config(CLASS)
    one, again = variant_of(Student(sid), config, "secret"), variant_of(Student(sid), config, "secret")
    other = variant_of(Student(sid), config, "another secret")
    assert one == again and one.seed != other.seed
    assert 1.0 <= one.slope <= 5.0 and 2.0 <= one.intercept <= 8.0 and 0 <= one.seed < 2**63


def test_each_assignment_has_its_data_and_no_graded_answer(klass):
    rows = key_rows(klass)
    assert [r["id"] for r in rows] == ["s01", "s02", "s03", "s04", "s05", "s06"]
    config = parse_config(CLASS)
    for row in rows:
        v = stable_variant(Student(row["id"], row["name"].lstrip("'")), config, "a class secret")
        html = (klass / "out" / "assignments" / assignment_name(v)).read_text("utf-8")
        assert len(html.encode()) < 1_000_000 and "<script" not in html
        assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", html)  # nothing to fetch
        assert f"torch.manual_seed({v.seed})" in html and f"slope, intercept = {v.slope!r}, {v.intercept!r}" in html
        # The inputs (the data's plot, its table, the script) hold numbers of their own: the rest is searched
        # for stop iterations; w and b (four decimals) are searched for everywhere.
        body = re.sub(r"<head>.*?</head>", " ", html, flags=re.S)  # its style holds a font as base64
        everywhere = set(re.findall(r"\d+(?:\.\d+)?", re.sub(r"<[^>]+>", " ", body)))
        rest = re.sub(r"<svg.*?</svg>|<div class=\"wrap\">.*?</div>|<pre>.*?</pre>", " ", body, flags=re.S)
        tokens = set(re.findall(r"\d+(?:\.\d+)?", re.sub(r"<[^>]+>", " ", rest)))
        assert html.count('<td class="blank">') == 3 * (len(row) - 6) // 3  # every answer cell is blank
        for column, answer in row.items():
            if column.endswith(("_w", "_b")) and answer:
                assert answer not in everywhere, (row["id"], column)  # w, b to four decimals
            if column.endswith("_stop") and answer.isdigit() and int(answer) > 20:
                assert answer not in tokens, (row["id"], column)  # a stop iteration beyond the data's row numbers
    # Names are text: no markup, and a spreadsheet does not run one as a formula.
    assert "<b>Bobby</b>" not in (klass / "out" / "key.html").read_text("utf-8")
    assert rows[3]["name"].startswith("'=")


def test_the_key_is_what_the_course_loop_gives_each_student(klass):
    config = parse_config(CLASS)
    homework = homework_of(config)
    for row in key_rows(klass)[:3]:
        v = stable_variant(Student(row["id"]), config, "a class secret")
        for t in homework.thresholds:
            p = config.defaults.replace(seed=v.seed, slope=v.slope, intercept=v.intercept, threshold=t)
            course = course_loop(p)
            name = repr(t).removesuffix(".0")
            expected = "never" if course.stop_iteration is None else str(course.stop_iteration)
            assert row[f"threshold_{name}_stop"] == expected
            assert float(row[f"threshold_{name}_w"]) == pytest.approx(course.w, abs=6e-5)
            assert float(row[f"threshold_{name}_b"]) == pytest.approx(course.b, abs=6e-5)


def test_the_students_script_prints_the_keys_answer(klass, tmp_path):
    config = parse_config(CLASS)
    row = key_rows(klass)[0]
    v = stable_variant(Student(row["id"]), config, "a class secret")
    script = tmp_path / "homework.py"
    script.write_text(course_script(v, config.defaults.replace(threshold=1.0), "t"))
    run = subprocess.run([sys.executable, "-c", "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot "
                          "as plt; plt.pause = lambda s: None; exec(open(%r).read())" % str(script)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    words = run.stdout.split()
    assert words[:3] == ["stopped", "at", "iteration"] and words[3] == row["threshold_1_stop"]
    assert float(words[5]) == pytest.approx(float(row["threshold_1_w"]), abs=6e-5)


def test_two_hundred_students_get_different_answers_trained_together():
    config = load_config()
    students = [Student(f"student-{i}") for i in range(200)]
    run = run_class(config, students, "secret")
    answers = {tuple(sorted(run.answers[s.id].items())) for s in students}
    assert len(answers) >= 0.95 * len(students)
    assert not any("diverged" in a.values() for a in run.answers.values())  # every variant is a stable homework


def test_a_rebuild_with_the_same_secret_writes_the_same_bytes(klass, tmp_path):
    out = tmp_path / "again"
    assert main(["class", "--roster", str(klass / "roster.csv"), "--config", str(klass / "class.toml"),
                 "--out", str(out), "-q"]) == 0
    for path in (klass / "out").rglob("*"):
        if path.is_file() and ".reportgen-cache" not in path.parts:
            assert (out / path.relative_to(klass / "out")).read_bytes() == path.read_bytes(), path


def test_grading_counts_right_answers_within_the_tolerances(klass, tmp_path, capsys):
    rows = key_rows(klass)
    answers = tmp_path / "answers.csv"
    off_by_one = str(int(rows[1]["threshold_1_stop"]) + 1)
    answers.write_text("id,threshold_1_stop,threshold_1_w,threshold_0.1_stop\n"
                       f"s01,{rows[0]['threshold_1_stop']},{rows[0]['threshold_1_w']},never\n"
                       f"s02,{off_by_one},{float(rows[1]['threshold_1_w']) + 0.2:.4f},\n")
    assert main(["grade", "--key", str(klass / "out" / "key.csv"), str(answers)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("graded 2 students")
    grades = {r["id"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    asked = len([c for c in rows[0] if c.endswith(("_stop", "_w", "_b"))])
    assert grades["s01"]["right"] == str(3 if rows[0]["threshold_0.1_stop"] == "never" else 2)
    assert grades["s02"]["right"] == "1" and grades["s02"]["asked"] == str(asked)  # w off by 0.2; 0.1 unanswered


@pytest.mark.parametrize("answers, message", [
    ("id,threshold_1_stop\nnobody,5\n", "is not in the key"),
    ("id,threshold_1_stop\ns01,5\ns01,6\n", "again (first on line 2)"),
    ("id,threshold_1_stop\ns01,five\n", "is not a number"),
    ("id,answer\ns01,5\n", "is not one of the key's questions"),
    ("name,threshold_1_stop\nA,5\n", "no 'id' column"),
])
def test_bad_answers_get_one_line_each_and_nothing_is_written(klass, tmp_path, capsys, answers, message):
    path = tmp_path / "answers.csv"
    path.write_text(answers)
    assert main(["grade", "--key", str(klass / "out" / "key.csv"), str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "grades.csv").exists()


def test_a_key_from_another_secret_is_told_apart(klass, tmp_path, capsys, monkeypatch):
    path = tmp_path / "answers.csv"
    path.write_text("id,threshold_1_stop\ns01,5\n")
    monkeypatch.setenv(SECRET_ENV, "not the class secret")
    assert main(["grade", "--key", str(klass / "out" / "key.csv"), str(path)]) == 2
    assert "another class secret" in capsys.readouterr().err


@pytest.mark.parametrize("roster, message", [
    ("name\nAda\n", "no 'id' column"),
    ("id\ns1\ns1\n", "again (first on line 2)"),
    ("id,name\ns1,Ada\u202eevil\n", "U+202E"),
    ("id\n", "no student"),
])
def test_a_bad_roster_is_one_line_per_problem(roster, message):
    with pytest.raises(ConfigError) as info:
        parse_roster(roster, "roster.csv")
    assert any(message in p for p in info.value.problems)


def test_no_secret_no_class_and_a_secret_is_never_published(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    (tmp_path / "roster.csv").write_text("id\ns1\n")
    assert main(["class", "--roster", str(tmp_path / "roster.csv"), "--out", str(tmp_path / "out")]) == 2
    assert "a class needs a secret" in capsys.readouterr().err
    config = parse_config('[classroom]\nsecret = "hunter2-class"\n' + CLASS.split("[defaults]")[1].join(["[defaults]", ""]))
    assert "hunter2-class" not in str(config.to_dict())
    from reportgen.site.views import redacted

    assert "hunter2-class" not in redacted(config.text)


def test_each_students_own_report_explains_their_numbers(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv(SECRET_ENV, "a class secret")
    (tmp_path / "class.toml").write_text(CLASS.replace("[defaults]", "[render]\nformats = []\n[defaults]"))
    (tmp_path / "roster.csv").write_text("id\ns01\n")
    assert main(["class", "--roster", str(tmp_path / "roster.csv"), "--config", str(tmp_path / "class.toml"),
                 "--out", str(tmp_path / "out"), "--reveal", "--jobs", "1", "-q"]) == 0
    (row,) = key_rows(tmp_path)
    (report,) = [p for p in (tmp_path / "out" / "reveal").iterdir() if not p.name.startswith(".")]
    runs = {r["id"]: r for r in json.loads((report / "results.json").read_text())["runs"]}
    assert str(runs["threshold__threshold-1"]["stop_iteration"]) == row["threshold_1_stop"]
    assert runs["threshold__threshold-1"]["params"]["seed"] == int(row["seed"])
    html = (report / "index.html").read_text("utf-8")
    assert 'data-checkpoint="will-it-stop"' in html and "a class secret" not in html
