from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from personax.atomic import atomic_dir, atomic_path, write_json, write_text
from personax.errors import BadInput


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_previous_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"


def test_outputs_are_not_owner_only(tmp_path):
    target = tmp_path / "x.json"
    write_json(target, {"b": 1, "a": 2})
    mode = stat.S_IMODE(os.stat(target).st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
    assert target.read_text().index('"a"') < target.read_text().index('"b"')


def test_output_folders_are_not_owner_only(tmp_path):
    target = tmp_path / "run"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o777 & ~umask


def test_atomic_dir_replaces_whole_folder(tmp_path):
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("1")
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "c.txt").write_text("3")
        raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]


def test_a_swap_killed_between_its_renames_gives_the_previous_output_back(tmp_path):
    """kill -9 after the old folder moved aside and before the new one moved in: the next
    write puts the old one back first, so its own failure cannot lose it."""
    from personax.atomic import output_dir

    target = tmp_path / "run"
    with output_dir(target, "discover") as tmp:
        (tmp / "graph.json").write_text("{}")
    os.replace(target, tmp_path / ".run.old")  # the state such a kill leaves
    with pytest.raises(RuntimeError), output_dir(target, "discover") as tmp:
        raise RuntimeError("this run fails too")
    assert (target / "graph.json").read_text() == "{}"
    assert not (tmp_path / ".run.old").exists()
    # The put-back folder is judged like any other: another command may not replace it.
    os.replace(target, tmp_path / ".run.old")
    with pytest.raises(BadInput, match="another personax command"), output_dir(target, "demo"):
        pass
    assert (target / "graph.json").exists()


def test_ctrl_c_between_the_two_renames_keeps_the_previous_output(tmp_path, monkeypatch):
    # the previous output was left parked in .ds.old and --out was gone until the next run
    import personax.atomic

    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "old.txt").write_text("1")
    real, calls = os.replace, []

    def interrupted(src, dst):
        real(src, dst)
        calls.append(dst)
        if len(calls) == 1:  # the previous output has just been moved aside
            raise KeyboardInterrupt

    monkeypatch.setattr(personax.atomic.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt), atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("2")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert [p.name for p in target.iterdir()] == ["old.txt"]


def test_a_swap_killed_after_its_renames_leaves_only_the_new_output(tmp_path):
    target = tmp_path / "ds"
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("2")
    (tmp_path / ".ds.old").mkdir()  # the replaced output, not yet deleted
    (tmp_path / ".ds.old" / ".personax-output").write_text("demo\n")
    with atomic_dir(target) as tmp:
        (tmp / "newer.txt").write_text("3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    assert [p.name for p in target.iterdir()] == ["newer.txt"]


def test_a_users_own_dot_old_folder_is_never_touched(tmp_path):
    from personax.atomic import check_output_dir

    mine = tmp_path / ".res.old"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep")
    check_output_dir(tmp_path / "res")  # no res: it must not be made from the user's folder
    assert not (tmp_path / "res").exists() and (mine / "precious.txt").read_text() == "keep"
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "notes.txt").write_text("user")
    with pytest.raises(BadInput, match="did not write"):
        check_output_dir(tmp_path / "res")
    assert (mine / "precious.txt").read_text() == "keep"


def test_output_dir_refuses_a_file_and_foreign_folders(tmp_path):
    from personax.atomic import output_dir
    from personax.errors import BadInput

    afile = tmp_path / "f.txt"
    afile.write_text("x")
    with pytest.raises(BadInput, match="a file exists"), output_dir(afile, "t"):
        pass
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(BadInput, match="did not write"), output_dir(foreign, "t"):
        pass
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_output_dir_replaces_previous_run_as_a_whole(tmp_path):
    from personax.atomic import OUTPUT_MARKER, output_dir

    out = tmp_path / "run"
    with output_dir(out, "t") as tmp:
        (tmp / "old.csv").write_text("1")
    with output_dir(out, "t") as tmp:
        (tmp / "new.csv").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == sorted(["new.csv", OUTPUT_MARKER])
    with pytest.raises(RuntimeError), output_dir(out, "t") as tmp:
        (tmp / "half.csv").write_text("3")
        raise RuntimeError("boom")
    assert (out / "new.csv").exists() and not (out / "half.csv").exists()


def test_output_dir_refuses_a_folder_holding_an_input(tmp_path):
    from personax.atomic import check_output_dir, output_dir
    from personax.errors import BadInput

    run = tmp_path / "run"
    with output_dir(run, kind="test") as tmp:
        (tmp / "data.npz").write_text("input")
    for source in (run / "data.npz", run, tmp_path / "run" / ".." / "run" / "data.npz"):
        with pytest.raises(BadInput, match="holds the input"):
            check_output_dir(run, inputs=(source,))
    check_output_dir(run, inputs=(tmp_path / "elsewhere.npz", None))
    assert (run / "data.npz").read_text() == "input"


def test_output_dir_refuses_a_folder_another_command_wrote(tmp_path):
    # `discover --out d` then `independence --out d` silently replaced the graph
    from personax.atomic import check_output_dir, output_dir
    from personax.errors import BadInput

    out = tmp_path / "d"
    with output_dir(out, kind="discover") as tmp:
        (tmp / "graph.json").write_text("{}")
    with pytest.raises(BadInput, match="another personax command \\('discover'\\)"):
        check_output_dir(out, kind="independence")
    with pytest.raises(BadInput, match="'independence' run would replace"):
        with output_dir(out, kind="independence") as tmp:
            (tmp / "results.csv").write_text("x")
    assert (out / "graph.json").read_text() == "{}"
    with output_dir(out, kind="discover") as tmp:  # the same command may rerun there
        (tmp / "graph.json").write_text("[]")
    assert (out / "graph.json").read_text() == "[]"


def test_output_dir_refuses_a_run_folder_something_was_added_to(tmp_path):
    # Re-running `crl train --out RUN` deleted RUN/graph written there by `discover`
    from personax.atomic import OUTPUT_MARKER, output_dir
    from personax.errors import BadInput

    run = tmp_path / "run"
    with output_dir(run, kind="t") as tmp:
        (tmp / "latents.csv").write_text("1")
        (tmp / "plots").mkdir()
    with output_dir(run / "graph", kind="discover") as tmp:
        (tmp / "graph.json").write_text("{}")
    (run / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match=r"holds graph, notes\.txt, which the earlier run"):
        with output_dir(run, kind="t") as tmp:
            (tmp / "latents.csv").write_text("2")
    assert (run / "graph" / "graph.json").read_text() == "{}"
    assert (run / "notes.txt").read_text() == "mine"
    assert (run / "latents.csv").read_text() == "1"
    # Once the additions are moved out, the run folder is replaced as usual.
    (run / "notes.txt").unlink()
    (run / "graph" / "graph.json").unlink()
    (run / "graph" / OUTPUT_MARKER).unlink()
    (run / "graph").rmdir()
    with output_dir(run, kind="t") as tmp:
        (tmp / "latents.csv").write_text("2")
    assert sorted(p.name for p in run.iterdir()) == sorted(["latents.csv", OUTPUT_MARKER])


def test_output_dir_marker_of_an_older_version_is_still_replaced(tmp_path):
    # Markers written before the entry list existed hold the command only.
    from personax.atomic import OUTPUT_MARKER, output_dir

    run = tmp_path / "run"
    run.mkdir()
    (run / OUTPUT_MARKER).write_text("t\n")
    (run / "old.csv").write_text("1")
    with output_dir(run, kind="t") as tmp:
        (tmp / "new.csv").write_text("2")
    assert sorted(p.name for p in run.iterdir()) == sorted(["new.csv", OUTPUT_MARKER])
    assert (run / OUTPUT_MARKER).read_text().splitlines()[2:] == ["new.csv"]


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc")
def test_an_output_in_a_folder_that_takes_no_files_is_refused_up_front():
    # `data crl-synthetic --out /proc/x.npz` failed (exit 1) only at the final write
    from personax.atomic import check_output_dir, check_output_file
    from personax.errors import BadInput

    with pytest.raises(BadInput, match=r"--out /proc/x\.npz: cannot write in /proc"):
        check_output_file("/proc/x.npz")
    with pytest.raises(BadInput, match="/proc/run: cannot write in /proc"):
        check_output_dir("/proc/run")


def test_an_entry_recorded_later_counts_as_the_runs_own(tmp_path):
    # `personax report RUN` writing report.html into a demo folder whose report step failed
    from personax.atomic import OUTPUT_MARKER, output_dir, record_in_output

    run = tmp_path / "run"
    with output_dir(run, kind="demo") as tmp:
        (tmp / "run.json").write_text("{}")
    (run / "report.html").write_text("<html>")
    record_in_output(run, "report.html")
    with output_dir(run, kind="demo") as tmp:
        (tmp / "run.json").write_text("{}")
    assert sorted(p.name for p in run.iterdir()) == sorted(["run.json", OUTPUT_MARKER])
    plain = tmp_path / "mine"
    plain.mkdir()
    record_in_output(plain, "report.html")  # not a personax folder: nothing written
    assert list(plain.iterdir()) == []


@pytest.mark.parametrize("depth", [1, 2])
def test_output_dir_under_a_file_is_bad_input_not_a_crash(tmp_path, depth):
    from personax.atomic import check_output_dir, check_output_file
    from personax.errors import BadInput

    blocker = tmp_path / "results.parquet"
    blocker.write_text("keep me")
    target = blocker.joinpath(*["sub"] * depth)
    with pytest.raises(BadInput, match="results.parquet is a file, not a folder"):
        check_output_dir(target)
    with pytest.raises(BadInput, match="results.parquet is a file, not a folder"):
        check_output_file(target / "out.csv")
    assert blocker.read_text() == "keep me"


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    # kill -9 leaves .NAME.<pid>-*.tmp behind (nothing can clean up then); they used to pile up
    dead = _dead_pid()
    stale_dir = tmp_path / f".run.{dead}-abc123.tmp"
    stale_dir.mkdir()
    (stale_dir / "graph.json").write_text("{}")
    stale_file = tmp_path / f".table.csv.{dead}-xyz.tmp"
    stale_file.write_text("half")
    live = tmp_path / f".run.{os.getpid()}-inuse.tmp"  # this process: still being written
    live.mkdir()
    older = tmp_path / ".run.k3j9x_2q.tmp"  # an older version's name: no writer to ask
    older.mkdir()
    other = tmp_path / f".runs.{dead}-abc.tmp"  # another output's temporary
    other.mkdir()
    with atomic_dir(tmp_path / "run") as tmp:
        (tmp / "a.txt").write_text("x")
    write_text(tmp_path / "table.csv", "a\n1\n")
    assert not stale_dir.exists() and not stale_file.exists()
    assert live.is_dir() and older.is_dir() and other.is_dir()
    assert (tmp_path / "run" / "a.txt").read_text() == "x"


@pytest.mark.parametrize("out", [".", "./", "..", "{cwd}"])
def test_the_current_folder_or_one_above_it_is_refused_as_output(tmp_path, monkeypatch, out):
    # `--out .` crashed (ValueError: '.' has an empty name); `--out $PWD` on an empty folder
    # would have moved the user's current folder away from under the shell
    from personax.atomic import atomic_dir, check_output_dir
    from personax.errors import BadInput

    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    out = out.format(cwd=here)
    with pytest.raises(BadInput, match="cannot be the current folder or one that holds it"):
        check_output_dir(out)
    with pytest.raises(BadInput, match="cannot be the current folder"):
        with atomic_dir(out):
            pass
    assert here.is_dir() and list(here.iterdir()) == []
    check_output_dir("results")  # a new folder below the current one is fine


def test_an_output_is_written_when_the_current_folder_was_deleted(tmp_path, monkeypatch):
    from personax.atomic import check_output_dir

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert check_output_dir(tmp_path / "results") == tmp_path / "results"
