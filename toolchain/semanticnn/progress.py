"""Progress bars on a terminal only: when stderr is piped, the logs stay one line per event.

``progress_bar()`` is a rich ``Progress`` (transient, on stderr) or ``None``; callers
enter it with ``with progress or contextlib.nullcontext():`` and count with
:func:`advancer`, which is a no-op without a bar.
"""

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["progress_bar", "advancer"]


def progress_bar(console=None):
    """A transient progress display on ``console`` (default: stderr), or ``None`` if it is not a terminal."""
    console = console or Console(stderr=True)
    if not console.is_terminal:
        return None
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)


def advancer(progress, description, total):
    """``advance(n=1)`` for a new task of ``progress`` with ``total`` steps; a no-op when ``progress`` is None."""
    if progress is None:
        return lambda n=1: None
    task = progress.add_task(description, total=total)
    return lambda n=1: progress.advance(task, n)
