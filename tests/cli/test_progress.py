"""The shared CLI progress helper."""

from __future__ import annotations

from personax.cli.progress import rich_progress


def test_one_bar_per_stage_driven_by_the_callback():
    bar, callback = rich_progress()
    callback("text embeddings", 0, 10)
    callback("text embeddings", 4, 10)
    callback("images", 1, 3)
    callback("text embeddings", 10, 12)  # a stage may revise its total
    tasks = {task.description: task for task in bar.tasks}
    assert set(tasks) == {"text embeddings", "images"}
    assert (tasks["text embeddings"].completed, tasks["text embeddings"].total) == (10, 12)
    assert (tasks["images"].completed, tasks["images"].total) == (1, 3)


def test_a_bar_off_a_terminal_writes_nothing_to_stdout_or_stderr(capfd):
    # A transient bar that stops on a non-terminal used to print an empty line on stdout,
    # which showed up before error messages and polluted piped results.
    bar, callback = rich_progress()
    try:
        with bar:
            callback("work", 1, 3)
            raise ValueError("interrupted")
    except ValueError:
        pass
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_the_crl_epoch_bar_draws_on_stderr_and_only_on_a_terminal():
    from rich.console import Console

    from personax.cli.crl import _epoch_bar
    from personax.cli.progress import bars_disabled, progress_console

    assert progress_console().stderr
    piped = Console(stderr=True, force_terminal=False)
    assert bars_disabled(piped) and _epoch_bar(piped, "x").disable
    terminal = Console(stderr=True, force_terminal=True)
    assert not bars_disabled(terminal) and not _epoch_bar(terminal, "x").disable
