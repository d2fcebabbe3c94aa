"""Atomic file output: write to a temporary name in the same folder, then rename.

A crash or Ctrl-C never leaves a half-written file where a finished one was expected.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed onto ``path``.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    if target.is_dir():  # os.replace onto it would fail only after the work, with exit 1
        from personax.errors import BadInput

        raise BadInput(f"{target} is a folder; move it away so that the file can be written there.")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    fd, tmp_name = tempfile.mkstemp(
        prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; published outputs get the usual umask-based mode.
        if tmp.is_file():
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _temporary_prefix(target: Path) -> str:
    """``.<name>.<pid>-``: the writer's process id in the name tells a later run whether the
    temporary is still being written or was left by a process killed outright (kill -9)."""
    return f".{target.name}.{os.getpid()}-"


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or no way to tell: leave its files alone
    return True


def remove_stale_temporaries(target: str | os.PathLike[str]) -> None:
    """Delete ``.<name>.<pid>-*.tmp`` files and folders next to ``target`` whose writer no
    longer runs. A SIGKILL leaves them behind (nothing can clean up then); without this they
    would pile up with every killed run. Temporaries of a live process are never touched."""
    target = Path(target)
    prefix = f".{target.name}."
    try:
        entries = [e for e in target.parent.iterdir() if e.name.startswith(prefix)]
    except OSError:
        return
    for entry in entries:
        middle = entry.name[len(prefix) :]
        pid, dash, _ = middle.partition("-")
        if not (entry.name.endswith(".tmp") and dash and pid.isdigit()):
            continue
        if _process_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask is process-wide, so toggling it later could race with threads.
_UMASK = _read_umask()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Deterministic JSON (sorted keys, fixed indentation) written atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it replaces ``path`` as a whole."""
    target = Path(path)
    refuse_current_folder(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    _finish_interrupted_swap(target)
    tmp = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent))
    old, parked = _previous_name(target), False
    try:
        yield tmp
        # mkdtemp creates 0700 folders; published outputs get the usual umask-based mode.
        os.chmod(tmp, 0o777 & ~_UMASK)
        if target.exists():
            if old.exists():
                shutil.rmtree(old)
            parked = True  # before the rename: an interrupt right after it must see it
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
        if parked and old.exists() and not target.exists():
            # Cut between the two renames (Ctrl-C there): the previous output goes back.
            os.replace(old, target)


def _previous_name(target: Path) -> Path:
    """Where :func:`atomic_dir` parks the previous output between its two renames."""
    return target.with_name(f".{target.name}.old")


def _finish_interrupted_swap(target: Path, restore_only: bool = False) -> None:
    """Settle a swap that a kill -9 cut short. Killed between the two renames, the previous
    output sits under ``.NAME.old`` and NAME is gone: it is put back, so that this run's
    failure cannot lose it. Killed after them, ``.NAME.old`` is the replaced output: deleted
    (not with ``restore_only``, for the checks before a run, which may still refuse it)."""
    old = _previous_name(target)
    if not old.is_dir() or old.is_symlink():
        return
    # Only a folder personax wrote: a user's own `.NAME.old` is never moved or deleted.
    if not any((old / mark).is_file() for mark in (OUTPUT_MARKER, "personax_build.json")):
        return
    with contextlib.suppress(OSError):
        if target.exists() or target.is_symlink():
            if not restore_only:
                shutil.rmtree(old)
        else:
            os.replace(old, target)


OUTPUT_MARKER = ".personax-output"
"""Marker file that says a folder was written by personax and may be replaced as a whole."""


def beside_output(out_dir: str | os.PathLike[str], suffix: str) -> Path:
    """A hidden path next to an output folder, ``.<name>.<suffix>``, for the resumable state of
    a run in progress: not inside the folder, which is replaced as a whole when it is written."""
    out = Path(out_dir).resolve()
    return out.with_name(f".{out.name}.{suffix}")


def is_inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Is ``path`` the folder itself or somewhere below it (links and ``..`` resolved)?"""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


def refuse_current_folder(path: str | os.PathLike[str]) -> None:
    """BadInput for an output folder that is the current folder or holds it: the folder is
    swapped as a whole, so `--out .` would move it away from under the user's shell (and `.`
    has no name to build the temporary names from)."""
    from personax.errors import BadInput

    try:
        here = Path.cwd()
    except OSError:  # the current folder was deleted: no output can hold it
        return
    if is_inside(here, path):
        raise BadInput(
            f"--out {path}: the output folder is replaced as a whole, so it cannot be the "
            "current folder or one that holds it; give a new folder, such as ./results."
        )


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """Raise BadInput unless a file can be written at ``path`` (missing folders are created).

    Call it before long work: a folder there, or a file where a folder is needed, would
    otherwise fail only at the final write.
    """
    from personax.errors import BadInput

    target = Path(path)
    if target.is_dir():
        raise BadInput(f"--out {target} is a folder; give the file to write.")
    check_parents_are_folders(target)
    _check_writable(target, f"--out {target}")
    return target


def check_parents_are_folders(target: Path, option: str = "--out") -> None:
    """Raise BadInput when the nearest existing ancestor of ``target`` is a file: creating the
    missing folders would otherwise fail with a bare FileExistsError after the checks."""
    from personax.errors import BadInput

    for parent in Path(target).parents:
        if parent.exists():
            if not parent.is_dir():
                raise BadInput(f"{option} {target}: {parent} is a file, not a folder.")
            return


def _check_writable(target: Path, name: str) -> None:
    """Raise BadInput unless a file can be created where ``target``'s temporary file or folder
    will go (its nearest existing ancestor): a read-only or special folder (/proc, say) would
    otherwise fail only at the final write, after the work."""
    from personax.errors import BadInput

    folder = next((p for p in target.absolute().parents if p.exists()), None)
    if folder is None or not folder.is_dir():
        return  # reported by the callers' own checks
    try:
        fd, probe = tempfile.mkstemp(prefix=".personax-probe.", dir=folder)
    except OSError as exc:
        raise BadInput(f"{name}: cannot write in {folder} ({exc.strerror}).") from None
    os.close(fd)
    os.unlink(probe)


def refuse_overwriting(
    out: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]], what: str = "path"
) -> None:
    """Raise BadInput when the output file ``out`` is one of ``inputs`` (links and ``..``
    resolved): writing it would destroy what it is made from."""
    from personax.errors import BadInput

    for source in inputs:
        if is_inside(out, source):
            raise BadInput(f"--out {out} would overwrite {source}; give another {what}.")


def check_inputs_outside(
    out: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str] | None]
) -> None:
    """Raise BadInput when an input (file or folder; None is skipped) lies inside the output
    folder ``out``: replacing the folder as a whole would delete it."""
    from personax.errors import BadInput

    for source in inputs:
        if source is not None and is_inside(source, out):
            raise BadInput(
                f"--out {out} holds the input {source}, which replacing the folder would "
                "delete; give another output folder."
            )


def check_output_outside(out: str | os.PathLike[str], source: str | os.PathLike[str]) -> None:
    """Raise BadInput when the output file ``out`` lies inside the input folder ``source``:
    writing there would overwrite (or add to) the very data being read."""
    from personax.errors import BadInput

    if is_inside(out, source):
        raise BadInput(
            f"--out {out} lies inside the input {source}, which writing there would "
            "overwrite; give a path outside it."
        )


def check_output_dir(
    path: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    kind: str | None = None,
) -> Path:
    """Raise BadInput unless ``path`` can be (re)written as a personax output folder.

    Call it before long work so that a bad ``--out`` fails at once. ``inputs`` are the files
    or folders the command reads: the output folder is replaced as a whole, so one inside it
    would be deleted. ``kind`` (the command's marker, as given to :func:`output_dir`): a folder
    whose marker names another command is refused, so `discover --out d` then
    `independence --out d` cannot wipe the graph.
    """
    from personax.errors import BadInput

    target = Path(path)
    refuse_current_folder(target)
    # A previous output that a killed swap left under .NAME.old is back in place before the
    # checks, so that they judge it (another command's folder is still refused).
    _finish_interrupted_swap(target, restore_only=True)
    if target.exists() and not target.is_dir():
        raise BadInput(f"{target}: the output must be a folder, but a file exists at that path.")
    check_parents_are_folders(target)
    marker = target / OUTPUT_MARKER
    if target.is_dir() and any(target.iterdir()) and not marker.exists():
        raise BadInput(
            f"{target}: the output folder already holds files personax did not write; "
            "give a new or empty folder."
        )
    # An input inside the folder is the more telling reason, so it is checked first.
    check_inputs_outside(target, inputs)
    _check_writable(target, str(target))
    if marker.exists():
        found, written = _read_marker(marker)
        if kind is not None and found != kind:
            raise BadInput(
                f"{target}: the folder holds the output of another personax command "
                f"('{found}'), which this '{kind}' run would replace; give another folder."
            )
        # Something added to a run folder afterwards (`discover --out RUN/graph`, a
        # `crl encode` CSV, the user's notes) would be deleted with the folder. Markers of
        # older versions list nothing; their folders are replaced as before.
        if written is not None:
            added = sorted(
                p.name
                for p in target.iterdir()
                if p.name != OUTPUT_MARKER and p.name not in written
            )
            if added:
                raise BadInput(
                    f"{target}: the folder holds {', '.join(added)}, which the earlier run did "
                    "not write and replacing the folder would delete; move it out or give "
                    "another folder."
                )
    return target


def _read_marker(marker: Path) -> tuple[str, set[str] | None]:
    """The command that wrote a folder and the entries it wrote (None: not recorded)."""
    try:
        lines = marker.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return "?", None
    if not lines:
        return "?", None
    if len(lines) > 1 and lines[1] == _ENTRIES_HEADER:
        return lines[0].strip(), set(lines[2:])
    return lines[0].strip(), None


_ENTRIES_HEADER = "entries written:"


def _marker_text(kind: str, written: set[str]) -> str:
    return "".join(f"{line}\n" for line in [kind, _ENTRIES_HEADER, *sorted(written)])


def record_in_output(folder: str | os.PathLike[str], name: str) -> None:
    """Count ``name`` among the entries of a personax output folder, so that re-running the
    command that wrote the folder replaces it rather than refusing it as an addition (`report`
    rebuilding a demo's report.html that the run could not write). A folder without a marker,
    or with one that lists nothing, is left alone."""
    marker = Path(folder) / OUTPUT_MARKER
    if not marker.is_file():
        return
    kind, written = _read_marker(marker)
    if written is None or name in written:
        return
    write_text(marker, _marker_text(kind, {*written, name}))


@contextlib.contextmanager
def output_dir(path: str | os.PathLike[str], kind: str) -> Iterator[Path]:
    """Build a command's output folder in a temporary folder and swap it in on success.

    A re-run replaces the previous run's folder as a whole (no mix of two runs); a failure
    leaves the previous folder untouched. A folder personax did not write (no marker file),
    that another command wrote (the marker holds ``kind``), or to which something was added
    since (the marker lists what the run wrote), is never replaced, so `--out .` cannot wipe a
    user's files.
    """
    target = check_output_dir(path, kind=kind)
    with atomic_dir(target) as tmp:
        yield tmp
        # The marker names the command, then every entry it wrote, so that a re-run can tell
        # them from what was added to the folder later.
        written = {p.name for p in tmp.iterdir()}
        (tmp / OUTPUT_MARKER).write_text(_marker_text(kind, written), encoding="utf-8")
