"""Refusing work that cannot fit in memory before it starts, with a sentence instead of the
operating system's silent kill (exit 137)."""

from __future__ import annotations

from personax.errors import BadInput


def available_memory() -> int | None:
    """Bytes of memory this process could still get (Linux's MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(needed: int, sizes: str) -> None:
    """Refuse, before allocating, a request whose certain minimum of memory exceeds what is
    available: the operating system would otherwise kill the process without a word (exit
    137). ``needed`` is a lower bound, so a feasible request is never refused."""
    available = available_memory()
    if available is not None and needed > available:
        raise BadInput(
            f"{sizes} would need at least {needed / 2**30:.1f} GiB of memory, more than the "
            f"{available / 2**30:.1f} GiB available; ask for fewer rows or dimensions."
        )
