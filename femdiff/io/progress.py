"""Progress of a time-dependent run: a tqdm bar, or a log line every N seconds.

:class:`RunProgress` shows simulated time on rank 0. On a terminal or in a notebook it
draws a ``tqdm.auto`` bar (a widget in Jupyter); elsewhere (a batch job, stderr not a
terminal) it logs one line every ``every`` wall seconds (default 30) with t, Δt, the step
count, the Newton/Krylov iterations and the ETA, so a log shows that a job is alive.

The ETA comes from the recent rate, not the mean since the start: the wall time per unit
of simulated time is an exponential moving average over the steps (weight ``alpha``),
because Δt grows during most runs and an early, slow phase would otherwise overstate the
time left for the rest.
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
import time
from typing import Any

log = logging.getLogger("femdiff")

__all__ = ["RunProgress", "format_eta", "in_notebook"]


def in_notebook() -> bool:
    """Whether we run inside a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None) if shell else None
    ip = get() if callable(get) else None
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def format_eta(seconds: float) -> str:
    """``mm:ss`` or ``h:mm:ss``; ``--:--`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class RunProgress:
    """Progress from ``t_start`` to ``t_end`` on rank 0 of ``comm``.

    Args:
        comm: communicator (only rank 0 shows anything).
        t_start: the simulated start time.
        t_end: the simulated end time.
        mode: ``"auto"`` (a bar on a terminal or in a notebook, log lines otherwise),
            ``"bar"``, ``"log"`` or ``"none"``.
        every: seconds between log lines.
        alpha: weight of the newest step in the moving average of the rate.
        stream: where the bar is drawn (default stderr).
    """

    def __init__(self, comm: Any, t_start: float, t_end: float, mode: str = "auto",
                 every: float = 30.0, alpha: float = 0.3, stream: Any = None) -> None:
        if mode not in ("auto", "bar", "log", "none"):
            raise ValueError(f"progress mode must be auto, bar, log or none, got {mode!r}")
        self.stream = stream or sys.stderr
        if mode == "auto":
            tty = bool(getattr(self.stream, "isatty", lambda: False)())
            mode = "bar" if tty or in_notebook() else "log"
        self.mode = mode if comm.rank == 0 else "none"
        self.t_start, self.t_end = float(t_start), float(t_end)
        self.every, self.alpha = float(every), float(alpha)
        self.steps = self.newton = self.krylov = 0
        self.rate = math.nan  # wall seconds per unit simulated time (smoothed)
        self._wall = self._last_log = time.perf_counter()
        self._t = self.t_start
        self._bar = None
        if self.mode == "bar":
            from tqdm.auto import tqdm

            span = self.t_end - self.t_start
            # a terminal that reports no width (script, some CI runners): 100 columns
            width = shutil.get_terminal_size((100, 20)).columns or 100
            self._bar = tqdm(total=span, file=self.stream, ncols=min(width, 120),
                             bar_format="{percentage:3.0f}%|{bar}| {desc}")

    def eta(self, t: float) -> float:
        """Wall seconds left at simulated time ``t`` (NaN before the first step)."""
        return max(self.t_end - t, 0.0) * self.rate

    def update(self, info: Any) -> None:
        """Account for one accepted step (``info``: a StepInfo)."""
        self.steps += 1
        self.newton += info.newton_iterations
        self.krylov += info.krylov_iterations
        now = time.perf_counter()
        dt_sim = info.t - self._t
        if dt_sim > 0:
            rate = (now - self._wall) / dt_sim
            self.rate = rate if math.isnan(self.rate) else \
                self.alpha * rate + (1 - self.alpha) * self.rate
        self._wall, self._t = now, info.t
        if self.mode == "bar" and self._bar is not None:
            self._bar.n = min(info.t - self.t_start, self._bar.total)
            self._bar.set_description_str(
                f"t = {info.t:.4g}, dt = {info.dt:.3g}, step {self.steps}, ETA "
                f"{format_eta(self.eta(info.t))}", refresh=False)
            self._bar.refresh()
        elif self.mode == "log" and now - self._last_log >= self.every:
            self._last_log = now
            if log.hasHandlers():  # the CLI's logging (silent with --quiet)
                log.info("%s", self.line(info))
            else:  # an API run without logging set up
                print(f"femdiff: {self.line(info)}", file=self.stream, flush=True)

    def line(self, info: Any) -> str:
        """The log line after a step."""
        frac = (info.t - self.t_start) / (self.t_end - self.t_start)
        return (f"t = {info.t:.6g} ({100 * frac:.1f} %), dt = {info.dt:.3g}, steps "
                f"{self.steps} (Newton {self.newton}, Krylov {self.krylov}), "
                f"ETA {format_eta(self.eta(info.t))}")

    def close(self) -> None:
        """End the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_bar(comm: Any, t0: float, t_end: float, progress: Any) -> RunProgress | None:
    """A :class:`RunProgress` for ``problem.run(progress=...)`` (True or a mode), or None."""
    if not progress:
        return None
    mode = progress if isinstance(progress, str) else "auto"
    return RunProgress(comm, t0, t_end, mode=mode)
