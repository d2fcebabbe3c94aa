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
