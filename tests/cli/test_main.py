from __future__ import annotations

import subprocess
import sys

from personax import __version__
from personax.cli.main import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_help_lists_groups(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "data" in out and "demo" in out


def test_unknown_command_is_usage_error(capsys):
    assert main(["no-such-command"]) == 2


def test_missing_file_exits_2_with_one_sentence(capsys, tmp_path):
    missing = tmp_path / "absent.csv"
    assert main(["data", "info", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


def test_console_script_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "personax", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_bad_input_traceback_only_with_debug(tmp_path, capsys):
    missing = tmp_path / "absent.csv"
    assert main(["data", "validate", str(missing)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["--debug", "data", "info", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and str(missing) in err


def test_unexpected_failure_exits_1(tmp_path, capsys, monkeypatch):
    import personax.data.info as info

    def broken(path):
        raise RuntimeError("boom")

    monkeypatch.setattr(info, "table_info", broken)
    assert main(["data", "info", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "boom" in err and "--debug" in err and "Traceback" not in err
    assert main(["--debug", "data", "info", str(tmp_path)]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_usage_error_for_missing_required_option(capsys):
    assert main(["data", "sample"]) == 2
    assert "--out" in capsys.readouterr().err


def test_bad_input_message_stays_one_line(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text('"a\x1eb\nc",x\n1,2\n')
    assert main(["data", "validate", str(table)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("personax: error: ") and str(table) in lines[-1]


def test_ctrl_c_exits_130_and_says_so(tmp_path, capsys, monkeypatch):
    import personax.data.info as info

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(info, "table_info", interrupted)
    assert main(["data", "info", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "personax: interrupted.\n"
