"""Crash-safe checkpoints: partition-independent HDF5 snapshots of a problem's state.

A checkpoint holds the Functions of a problem's state and its scalars, as the problem's
``state_dict()`` gives them and ``load_state()`` takes them back: for a
:class:`~femdiff.problems.diffusion.DiffusionProblem` the mixed states u, uⁿ, uⁿ⁻¹ and, for adaptive
runs, the extrapolation history; for a
:class:`~femdiff.problems.multicomponent.MulticomponentProblem` u, uⁿ, uⁿ⁻¹ and the scales they are
expressed in; plus time, the next and previous Δt and the runner's step, and Newton's
memory across steps (:meth:`~femdiff.numerics.newton.SolverMixin.solver_state`: the contraction
rate of the error-controlled stop). A reused LU factorisation cannot be stored: after
each checkpoint the run rebuilds it, as a restart does, so both take the same steps.
The next Δt is stored once, as the problem's ``dt_request``: a runner that owns the
stepping loop passes its own (``Checkpointer.save(dt_next=...)``) and reads it back from
the same key.

Layout and ordering. Each rank sends its owned degrees of freedom, with their
coordinates, to rank 0, which sorts them by (sub-space, coordinates) and writes one
HDF5 file with h5py. A discontinuous sub-space (a broken C) has one dof per cell at a
shared node: its key adds the midpoint of the dof's cell. Reading matches every local
dof to the stored one with the same key, so a run can restart on a different number of
ranks as long as the mesh is the same (it is regenerated from the same case file:
Gmsh's mesh, and the structured meshes, do not depend on the partition). Rank 0 holds
the whole state while writing, which suits the small and medium runs femdiff targets (a
parallel PETSc HDF5 viewer would avoid that, but would tie the file to the partition).

Atomicity. A checkpoint is written to a temporary file, fsynced and renamed to
``ckpt_<step>.h5``; a file that exists under that name is complete (it also carries
``complete = 1`` as its last attribute). :func:`latest` returns the newest complete one,
so a kill during a write leaves the previous checkpoint in charge. Old ones are pruned
(``keep``).

Integrity. Each file carries the SHA-256 of its data (``sha256``: datasets, scalars and
fingerprint, as rank 0 gathered them, so the same on any number of ranks). Rank 0 reads
and verifies a file and broadcasts the outcome, so every rank agrees; a restart
(:func:`read_newest`) passes over a file that does not read or verify, naming it, for
the newest one that does.

Test hook: ``FEMDIFF_FAULT=checkpoint:N`` kills the process with SIGKILL half-way
through writing its N-th checkpoint (after the data, before the rename).
"""

from __future__ import annotations

import errno
import json
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mpi4py import MPI

import numpy as np
from dolfinx import fem

from femdiff.geometry.periodic import wrap_coordinates

_written = 0


def _fault(kind: str, count: int) -> None:
    """SIGKILL this process if ``FEMDIFF_FAULT`` asks for it at (kind, count)."""
    spec = os.environ.get("FEMDIFF_FAULT", "")
    for item in spec.split(","):
        k, _, n = item.partition(":")
        if k == kind and n.isdigit() and int(n) == count:
            os.kill(os.getpid(), signal.SIGKILL)


# --- partition-independent keys ------------------------------------------------------------


def _subspaces(V: fem.FunctionSpace) -> list[tuple[fem.FunctionSpace, np.ndarray]]:
    """(space, dof indices into V's arrays, shape (n_local_blocks, bs)) per sub-space."""
    if V.num_sub_spaces == 0 or V.dofmap.index_map_bs > 1:  # scalar or blocked space
        imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
        n = imap.size_local + imap.num_ghosts
        return [(V, bs * np.arange(n)[:, None] + np.arange(bs))]
    out = []
    for i in range(V.num_sub_spaces):
        Vi, dofs = V.sub(i).collapse()
        out.append((Vi, np.asarray(dofs).reshape(-1, Vi.dofmap.index_map_bs)))
    return out


def _keys(coords: np.ndarray, lo: np.ndarray, scale: float) -> np.ndarray:
    """Integer coordinate keys, as a sortable structured array."""
    q = np.rint((coords - lo) / (scale * 1e-10)).astype(np.int64)
    keys = np.empty(len(q), dtype=[("x", "<i8"), ("y", "<i8"), ("z", "<i8")])
    keys["x"], keys["y"], keys["z"] = q[:, 0], q[:, 1], q[:, 2]
    return keys


def _bbox(mesh: Any) -> tuple[np.ndarray, float]:
    comm = mesh.comm
    x = mesh.geometry.x
    lo = np.array([comm.allreduce(float(x[:, i].min()) if len(x) else np.inf, op=MPI.MIN)
                   for i in range(3)])
    hi = np.array([comm.allreduce(float(x[:, i].max()) if len(x) else -np.inf, op=MPI.MAX)
                   for i in range(3)])
    return lo, float(np.max(hi - lo)) or 1.0


def _cell_keys(Vi: fem.FunctionSpace, n_local: int, lo: np.ndarray, scale: float,
               keys: np.ndarray) -> np.ndarray:
    """Keys of a discontinuous space: the dof's coordinates and its cell's midpoint.

    Every cell has its own dofs at a shared node (a broken C jumps there between two
    materials), so the coordinates alone do not tell them apart; the midpoint of the one
    cell a dof belongs to does, and like the coordinates it does not depend on the
    partition.
    """
    from dolfinx.mesh import compute_midpoints

    msh = Vi.mesh
    cell_dofs = Vi.dofmap.list
    cells = np.empty(n_local, dtype=np.int32)
    cells[cell_dofs.ravel()] = np.repeat(np.arange(len(cell_dofs), dtype=np.int32),
                                         cell_dofs.shape[1])
    mid = _keys(compute_midpoints(msh, msh.topology.dim, cells), lo, scale)
    out = np.empty(n_local, dtype=keys.dtype.descr + [("cx", "<i8"), ("cy", "<i8"),
                                                       ("cz", "<i8")])
    for name in ("x", "y", "z"):
        out[name] = keys[name]
    out["cx"], out["cy"], out["cz"] = mid["x"], mid["y"], mid["z"]
    return out


def _layout(V: fem.FunctionSpace) -> list[dict[str, Any]]:
    """Per sub-space: local dofs in V (with ghosts), their keys, and the owned count."""
    lo, scale = _bbox(V.mesh)
    out = []
    for Vi, dofs in _subspaces(V):
        imap = Vi.dofmap.index_map
        n_local = imap.size_local + imap.num_ghosts
        coords = wrap_coordinates(V.mesh, Vi.tabulate_dof_coordinates()[:n_local])
        keys = _keys(coords, lo, scale)
        if Vi.element.basix_element.discontinuous:
            keys = _cell_keys(Vi, n_local, lo, scale, keys)
        out.append({"dofs": dofs[:n_local], "keys": keys, "owned": imap.size_local})
    return out


def _gather(comm: MPI.Comm, layout: list[dict], array: np.ndarray
            ) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Rank 0: per sub-space (sorted keys, values); other ranks: None."""
    parts = [(sub["keys"][: sub["owned"]], array[sub["dofs"][: sub["owned"]]])
             for sub in layout]
    gathered = comm.gather(parts, root=0)
    if comm.rank != 0 or gathered is None:
        return None
    out = []
    for i in range(len(layout)):
        keys = np.concatenate([g[i][0] for g in gathered])
        values = np.concatenate([g[i][1] for g in gathered])
        order = np.argsort(keys, order=keys.dtype.names)
        out.append((keys[order], values[order]))
    return out


def _scatter(layout: list[dict], stored: list[tuple[np.ndarray, np.ndarray]],
             array: np.ndarray, name: str) -> None:
    for i, sub in enumerate(layout):
        keys, values = stored[i]
        mine = sub["keys"]
        names = keys.dtype.names or ()
        if names != mine.dtype.names and set(names) <= set(mine.dtype.names or ()):
            # a discontinuous space keyed by coordinates only (older files): exact only
            # if no two of its dofs share a node (DG0), else a broken C loses its jumps
            if len(keys) > 1 and np.any(keys[1:] == keys[:-1]):
                raise ValueError(f"checkpoint field {name!r} was written by an older femdiff "
                                 "that stored a discontinuous field (a broken C) by node, "
                                 "losing its jumps between materials; it cannot be "
                                 "restored exactly: start a new run (--overwrite)")
            mine = np.array(mine[list(names)], dtype=keys.dtype)
        pos = np.searchsorted(keys, mine)
        pos = np.minimum(pos, len(keys) - 1)
        if len(keys) == 0 or keys.dtype != mine.dtype or not np.array_equal(keys[pos], mine):
            raise ValueError(f"checkpoint field {name!r} does not match this mesh (different "
                             "geometry, mesh size or degree than the checkpointed run?)")
        array[sub["dofs"]] = values[pos]


# --- problem state ---------------------------------------------------------------------------


def problem_state(problem: Any) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """(arrays on the problem's mixed space, scalars) that define its state."""
    if not hasattr(problem, "state_dict"):
        raise TypeError(f"{type(problem).__name__} cannot be checkpointed: it has no "
                        "state_dict()/load_state()")
    arrays, scalars = problem.state_dict()
    # Newton's memory across steps (the error-controlled stop's contraction rate)
    solver_state = getattr(problem, "solver_state", None)
    return arrays, {**scalars, **(solver_state() if callable(solver_state) else {})}


def restore_problem(problem: Any, arrays: Mapping[str, np.ndarray],
                    scalars: Mapping[str, float]) -> None:
    """Put a state from :func:`problem_state` back (after ``problem.initialise()``)."""
    problem.load_state(dict(arrays), dict(scalars))
    load_solver_state = getattr(problem, "load_solver_state", None)
    if callable(load_solver_state):
        load_solver_state(dict(scalars))


# --- files -------------------------------------------------------------------------------------


def write(path: str | Path, V: fem.FunctionSpace, arrays: Mapping[str, np.ndarray],
          scalars: Mapping[str, float], fingerprint: Mapping[str, Any] | None = None) -> Path:
    """Write arrays living on V's dofs and scalars to an HDF5 file, atomically.

    Collective. ``arrays`` are local dof arrays of V (``Function.x.array``-shaped).
    ``fingerprint`` (JSON-serialisable, e.g. the case data that define the physics) is
    stored as a JSON string attribute; :func:`read_fingerprint` returns it and
    :func:`fingerprint_differences` compares two.

    Raises:
        OutputError: on every rank when rank 0 cannot write the file (full disk, no
            permission); the temporary file is removed and an older checkpoint stays
            the latest complete one.
    """
    from femdiff.io import collective

    global _written
    comm = V.mesh.comm
    path = Path(path)
    layout = _layout(V)
    gathered = {name: _gather(comm, layout, a) for name, a in arrays.items()}
    _written += 1
    text = None if fingerprint is None else json.dumps(fingerprint, sort_keys=True)
    with collective(comm, path):
        if comm.rank == 0:
            _write_file(path, gathered, scalars, text)
    return path


def _write_file(path: Path, gathered: Mapping[str, Any], scalars: Mapping[str, float],
                fingerprint: str | None) -> None:
    """Rank 0's part of :func:`write`: temporary file, fsync, rename, directory fsync.

    The HDF5 image is built in memory and written with plain ``os.write``: HDF5 reports
    a full disk only when its buffers are flushed from destructors (as "Exception ignored"
    tracebacks, and then a crash), while ``os.write`` raises a clean ``OSError`` naming
    no half-written file (the temporary one is removed).
    """
    import io

    import h5py

    from femdiff.io.collective import _fault_write

    buffer = io.BytesIO()
    stored = {name: list(parts or []) for name, parts in gathered.items()}
    with h5py.File(buffer, "w") as fh:
        for name, parts in stored.items():
            group = fh.create_group(name)
            for i, (keys, values) in enumerate(parts):
                group.create_dataset(f"keys_{i}", data=keys)
                group.create_dataset(f"values_{i}", data=values)
        for key, value in scalars.items():
            fh.attrs[key] = value
        if fingerprint is not None:
            fh.attrs[FINGERPRINT] = fingerprint
        fh.attrs[CHECKSUM] = _checksum(stored, scalars, fingerprint)
        fh.attrs["complete"] = 1
    # a bytes copy, not getbuffer(): a memoryview export that outlives its BytesIO (kept
    # by an exception's traceback) crashes CPython 3.12.1 when it is finally released
    data = buffer.getvalue()
    buffer.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        _fault_write(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                if n == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        _fault("checkpoint", _written)
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


#: the HDF5 attribute that holds a checkpoint's fingerprint (a JSON string)
FINGERPRINT = "fingerprint"
#: the HDF5 attribute that holds the SHA-256 of a checkpoint's data (:func:`_checksum`)
CHECKSUM = "sha256"
#: attributes that are not scalars of the state ("complete" is one, for older readers)
_NOT_SCALARS = (FINGERPRINT, CHECKSUM)


def _checksum(stored: Mapping[str, list[tuple[np.ndarray, np.ndarray]]],
              scalars: Mapping[str, float], fingerprint: str | None) -> str:
    """SHA-256 of a checkpoint's content: datasets (keys, values), scalars, fingerprint.

    Computed on rank 0 from the gathered arrays, which are sorted by their
    partition-independent keys, so a file written on N ranks has the same checksum as one
    written on M and is verified on any number of ranks.
    """
    import hashlib

    digest = hashlib.sha256()
    for name in sorted(stored):
        for i, (keys, values) in enumerate(stored[name]):
            for label, a in ((f"{name}/keys_{i}", keys), (f"{name}/values_{i}", values)):
                a = np.ascontiguousarray(a)
                digest.update(f"{label}:{a.dtype.str}:{a.dtype.names}:{a.shape}".encode())
                digest.update(a.tobytes())
    for key in sorted(scalars):
        digest.update(f"{key}={float(scalars[key])!r};".encode())
    digest.update((fingerprint or "").encode())
    return digest.hexdigest()


def _load(path: str | Path) -> tuple[dict[str, list], dict[str, float], str | None]:
    """Read and verify a checkpoint file (one process): (stored arrays, scalars, fingerprint).

    Raises:
        OSError: the file cannot be read (truncated, damaged HDF5 structure, not HDF5),
            is incomplete, or its data do not match its checksum; the message names it.
    """
    import h5py

    try:
        with h5py.File(path, "r") as fh:
            if int(fh.attrs.get("complete", 0)) != 1:
                raise ValueError("incomplete (no 'complete' mark)")
            text = fh.attrs.get(FINGERPRINT)
            fingerprint = None if text is None else (
                text.decode() if isinstance(text, bytes) else str(text))
            checksum = fh.attrs.get(CHECKSUM)
            scalars = {k: float(v) for k, v in fh.attrs.items() if k not in _NOT_SCALARS}
            stored = {name: [(fh[name][f"keys_{i}"][()], fh[name][f"values_{i}"][()])
                             for i in range(len(fh[name]) // 2)] for name in fh}
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError, ValueError...
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
        detail = " ".join(text.split()) or type(exc).__name__
        raise OSError(f"could not read checkpoint {str(path)!r}: {detail}") from None
    if checksum is not None:  # (files from before the checksum have none)
        checksum = checksum.decode() if isinstance(checksum, bytes) else str(checksum)
        written = {k: v for k, v in scalars.items() if k != "complete"}  # (set after it)
        if _checksum(stored, written, fingerprint) != checksum:
            raise OSError(f"could not read checkpoint {str(path)!r}: its data do not match "
                          "its checksum (the file was changed or damaged)")
    return stored, scalars, fingerprint


def _on_rank0(comm: MPI.Comm, load: Any) -> Any:
    """``load()`` on rank 0, its result (or exception) broadcast: every rank agrees."""
    payload: Any = None
    if comm.rank == 0:
        try:
            payload = load()
        except Exception as exc:  # noqa: BLE001 - sent to every rank, raised there
            payload = exc if isinstance(exc, OSError | ValueError) else OSError(str(exc))
    payload = comm.bcast(payload, root=0)
    if isinstance(payload, Exception):
        raise payload
    return payload


def _distribute(V: fem.FunctionSpace, stored: Mapping[str, list]) -> dict[str, np.ndarray]:
    layout = _layout(V)
    n = len(fem.Function(V).x.array)
    arrays = {}
    for name, parts in stored.items():
        a = np.zeros(n)
        _scatter(layout, parts, a, name)
        arrays[name] = a
    return arrays


def read(path: str | Path, V: fem.FunctionSpace
         ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Read a file from :func:`write` into local dof arrays of V (collective).

    Raises:
        OSError: on every rank, naming the file, when it cannot be read or its data do
            not match its checksum.
    """
    stored, scalars, _ = _on_rank0(V.mesh.comm, lambda: _load(path))
    return _distribute(V, stored), scalars


def read_newest(folder: str | Path, V: fem.FunctionSpace
                ) -> tuple[Path, dict[str, np.ndarray], dict[str, float],
                           dict[str, Any] | None, list[str]]:
    """The newest checkpoint in ``folder`` that reads and verifies (collective).

    Rank 0 tries them newest first; a file that cannot be read (truncated, damaged,
    changed: see :func:`_load`) is passed over for the one before, and every rank gets
    the same answer.

    Returns:
        (path, arrays, scalars, fingerprint or None, why each newer file was passed over).

    Raises:
        FileNotFoundError: no checkpoint in ``folder`` reads (every rank).
    """
    def find() -> Any:
        skipped: list[str] = []
        for path in reversed(checkpoint_files(folder)):
            try:
                return path, *_load(path), skipped
            except OSError as exc:
                skipped.append(str(exc))
        why = f" ({'; '.join(skipped)})" if skipped else ""
        return FileNotFoundError(f"cannot restart: no readable checkpoint in "
                                 f"{str(folder)!r}{why}")

    path, stored, scalars, text, skipped = _on_rank0(V.mesh.comm, find)
    return (path, _distribute(V, stored), scalars,
            None if text is None else json.loads(text), skipped)


def read_fingerprint(path: str | Path, comm: MPI.Comm | None = None) -> dict[str, Any] | None:
    """The fingerprint stored by :func:`write` (``None`` if the file has none).

    With ``comm``, rank 0 reads and broadcasts (collective); without, the caller reads.
    """
    def load() -> Any:
        import h5py

        try:
            with h5py.File(path, "r") as fh:
                text = fh.attrs.get(FINGERPRINT)
        except Exception as exc:  # noqa: BLE001 - a damaged file raises KeyError etc.
            return OSError(f"could not read checkpoint {str(path)!r}: {exc}")
        if text is None:
            return None
        return json.loads(text.decode() if isinstance(text, bytes) else str(text))

    result = load() if comm is None or comm.rank == 0 else None
    if comm is not None:
        result = comm.bcast(result, root=0)
    if isinstance(result, Exception):
        raise result
    return result


def fingerprint_differences(stored: Mapping[str, Any], current: Mapping[str, Any],
                            ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted key paths whose values differ between two fingerprints (sorted).

    Nested tables are compared key by key (``physics.mobility.D``), arrays of tables
    element by element (``boundary.0.value``), other lists as wholes.
    A key present in only one of them differs. Keys equal to, or under, an entry of
    ``ignore`` (dotted, e.g. ``"time.t_end"`` or ``"output"``) are skipped.
    """
    out: list[str] = []

    def walk(a: Any, b: Any, key: str) -> None:
        if key and any(key == i or key.startswith(i + ".") for i in ignore):
            return
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for k in sorted(set(a) | set(b), key=str):
                sub = f"{key}.{k}" if key else str(k)
                if k not in a or k not in b:
                    if not any(sub == i or sub.startswith(i + ".") for i in ignore):
                        out.append(sub)
                else:
                    walk(a[k], b[k], sub)
        elif (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)
              and any(isinstance(v, Mapping) for v in a)):  # arrays of tables, by index
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{key}.{i}" if key else str(i))
        elif _normal(a) != _normal(b):
            out.append(key or "(all)")

    walk(stored, current, "")
    return out


def _normal(value: Any) -> Any:
    """JSON round trip: a fingerprint read back compares equal to the one written."""
    return json.loads(json.dumps(value, sort_keys=True))


def checkpoint_files(folder: str | Path) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first."""
    return sorted(Path(folder).glob("ckpt_*.h5"))


def latest(folder: str | Path) -> Path | None:
    """The newest complete checkpoint in ``folder`` (``None`` if there is none)."""
    import h5py

    for path in reversed(checkpoint_files(folder)):
        try:
            with h5py.File(path, "r") as fh:
                if int(fh.attrs.get("complete", 0)) == 1:
                    return path
        except Exception:  # noqa: BLE001 - a damaged file raises KeyError, RuntimeError...
            continue
    return None


def prune(folder: str | Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (call on rank 0)."""
    for path in checkpoint_files(folder)[:-keep]:
        path.unlink(missing_ok=True)


class Checkpointer:
    """Writes a problem's state every N steps and/or every T wall seconds.

    Args:
        problem: the problem (its ``W`` space, ``domain``, ``state_dict`` and
            ``load_state``).
        folder: where ``ckpt_<step>.h5`` files go.
        every_steps: checkpoint every N accepted steps (0: never).
        every_seconds: checkpoint when T wall seconds passed since the last (0: never).
        keep: how many checkpoints to keep.
        fingerprint: stored in every checkpoint (see :func:`write`); a restart compares
            it with :meth:`check_fingerprint`.
    """

    def __init__(self, problem: Any, folder: str | Path, every_steps: int = 0,
                 every_seconds: float = 0.0, keep: int = 2,
                 fingerprint: Mapping[str, Any] | None = None) -> None:
        self.problem = problem
        self.fingerprint = fingerprint
        self.folder = Path(folder)
        self.every_steps = every_steps
        self.every_seconds = every_seconds
        self.keep = keep
        self._last = MPI.Wtime()

    def due(self, step: int) -> bool:
        """Whether a checkpoint is due after ``step`` (same answer on every rank)."""
        due = bool(self.every_steps) and step % self.every_steps == 0
        if self.every_seconds:
            elapsed = MPI.Wtime() - self._last
            elapsed = self.problem.domain.comm.bcast(elapsed, root=0)
            due = due or elapsed >= self.every_seconds
        return due

    def save(self, step: int, extra: Mapping[str, float] | None = None,
             path: Path | None = None, dt_next: float | None = None) -> Path:
        """Write the state now (as ``ckpt_<step>.h5`` or ``path``).

        ``dt_next``: the Δt the next step will try, when the caller (not the problem's
        ``run``) chooses it; it is stored as the problem's ``dt_request``.
        """
        arrays, scalars = problem_state(self.problem)
        scalars = {**scalars, "step": float(step), **(extra or {})}
        if dt_next is not None:
            scalars["dt_request"] = float(dt_next)
        target = path or self.folder / f"ckpt_{step:08d}.h5"
        write(target, self.problem.W, arrays, scalars, fingerprint=self.fingerprint)
        # a reused LU factorisation is not stored: a restart starts with a fresh one, so
        # this run does too (the same steps whether it is restarted here or not)
        refactor = getattr(self.problem, "refactor_at_next_solve", None)
        if callable(refactor):
            refactor()
        if path is None:
            from femdiff.io import on_root

            on_root(self.problem.domain.comm, lambda: prune(self.folder, self.keep),
                    self.folder)
        self._last = MPI.Wtime()
        return target

    def check_fingerprint(self, path: str | Path, ignore: tuple[str, ...] = ()) -> None:
        """Raise ``ValueError`` (every rank) if ``path``'s fingerprint differs from ours.

        The message lists the differing keys. Nothing is checked when either side has no
        fingerprint (a checkpoint from an older femdiff, or a checkpointer without one).
        """
        if self.fingerprint is None:
            return
        self._differences(read_fingerprint(path, self.problem.domain.comm), path, ignore)

    def _differences(self, stored: Mapping[str, Any] | None, path: str | Path,
                     ignore: tuple[str, ...] = ()) -> None:
        if self.fingerprint is None or stored is None:
            return
        keys = fingerprint_differences(stored, self.fingerprint, ignore)
        if keys:
            shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8
                                           else "")
            raise ValueError(f"cannot restart from {str(path)!r}: it was written by a run "
                             f"with different settings ({shown}); use --overwrite for a "
                             "new run")

    def load(self, path: str | Path) -> dict[str, float]:
        """Restore the problem from ``path``; return the scalars (t, step, dt_request, ...)."""
        arrays, scalars = read(path, self.problem.W)
        return self._restore(arrays, scalars)

    def _restore(self, arrays: dict[str, np.ndarray], scalars: dict[str, float]
                 ) -> dict[str, float]:
        if "runner_dt" in scalars:  # written before the next Δt was stored once
            scalars["dt_request"] = scalars.pop("runner_dt")
        restore_problem(self.problem, arrays, scalars)
        return scalars

    def load_newest(self, ignore: tuple[str, ...] = ()
                    ) -> tuple[Path, dict[str, float], list[str]]:
        """Restore the problem from the newest checkpoint that reads (collective).

        A damaged or changed file (:func:`read_newest`) is passed over for the one
        before; the one used must have this checkpointer's fingerprint
        (:meth:`check_fingerprint`). The problem is changed only in memory.

        Returns:
            (the file used, its scalars, why each newer file was passed over).

        Raises:
            FileNotFoundError: no checkpoint reads.
            ValueError: the newest readable one has a different fingerprint.
        """
        path, arrays, scalars, stored, skipped = read_newest(self.folder, self.problem.W)
        self._differences(stored, path, ignore)
        return path, self._restore(arrays, scalars), skipped
