"""Multicomponent Onsager diffusion in the mixed μ–X weak form.

N species. Two settings:

* **Lattice** (``lattice=True``, the default): n components share the sites, Σ X_i = 1.
  The *last* species is the dependent (solvent) one, X_n = 1 − Σ_{i<n} X_i. The
  unknowns are the n−1 independent mole fractions and their *diffusion potentials*
  μ̃_i = μ_i − μ_n.
* **Solutes in a matrix** (``lattice=False``): n solutes in an implicit matrix, no sum
  constraint; the unknowns are the n fractions (or concentrations) and their μ_i.

Strong form, with m independent species (m = n−1 or n) and constant molar volume:

    ∂X_i/∂t + ∇·J_i = 0,   J_i = −Σ_j L_ij ∇μ̃_j,
    μ̃_i = ∂g/∂X_i − ∇·(∂G/∂∇X_i)

g(X) is the molar Gibbs energy [J/mol] of a :class:`Mixture`; in the lattice setting it is
differentiated with X_n = 1 − Σ X_j substituted, which gives μ_i − μ_n by the chain rule.
The partial molar μ_i themselves (:meth:`Mixture.chemical_potentials`) follow from the
homogeneous-degree-one extension, μ_i = g + ∂g/∂X_i − Σ_k X_k ∂g/∂X_k, so the
Gibbs–Duhem relation Σ X_i dμ_i = 0 holds for every model built here.

Units. X is a mole fraction (lattice) or any concentration unit (matrix); μ in J/mol; J_i
in [X-units · m/s] (the molar flux times the molar volume V_m); L_ij in
[X-units · m² mol/(J s)]. Weak form, with test functions (q_i, v_i):

    ∫ ∂X_i/∂t q_i + Σ_j L_ij ∇μ̃_j·∇q_i dx + ∫_Γ j_i q_i ds = 0
    ∫ μ̃_i v_i − ∂g/∂X_i v_i − ∂G/∂∇X_i·∇v_i dx = 0

Transport input (:class:`Onsager`). L is the (m×m) Onsager matrix over the independent
species, in the frame in which Σ J_i = 0 (lattice: the fluxes of all n species sum to
zero, so J_n = −Σ J_i). It must be symmetric (Onsager reciprocity) and positive
semi-definite; this is checked at every node of the initial state. The practitioners'
forms are converted:

* species mobilities M_k (vacancy mechanism, no Kirkendall shift): with a lattice,
  L_ij = X_i M_i δ_ij − X_i M_i X_j M_j / Σ_k X_k M_k (over all n species); in a matrix,
  L_ij = δ_ij M_i X_i. For a binary lattice L = X_A X_B M_A M_B / (X_A M_A + X_B M_B).
* dilute diffusivities D_i: L_ij = δ_ij D_i X_i / (R T) (exact for an ideal dilute
  solution: J_i = −D_i ∇X_i);
* an interdiffusion matrix D̃ (J = −D̃ ∇X, constant or composition-dependent):
  ∇μ̃ = H ∇X with H_jk = ∂μ̃_j/∂X_k (the thermodynamic-factor matrix, the Hessian of the
  constrained g), so L = D̃ H⁻¹. Reciprocity then requires D̃ H⁻¹ to be symmetric, which
  a measured D̃ satisfies only within its error bars: the check names the entry.

Scaling, positivity and step control follow :class:`femdiff.diffusion.DiffusionProblem`:
the unknowns are stored as X̂_i = X_i / X_s,i (X_s,i: mean initial X_i) and μ̂ = μ̃/μ_s
(μ_s = R T); logarithmic models run as a bound-constrained SNES (``vinewtonrsls``) keeping
every independent X_i in (0, 1); a step whose Newton fails, or which drives the dependent
fraction to X_n ≤ 0 (a linear constraint that box bounds cannot hold), is rejected and
retried with a smaller Δt.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import LinearProblem, NonlinearProblem

from femdiff import solvers
from femdiff.diffusion import (
    FixedConcentration,
    FixedPotential,
    Flux,
    NoFlux,
    StepInfo,
    Value,
    global_min_max,
    interpolate_into,
    newton_solve,
    set_step_constants,
)
from femdiff.mesh import Domain
from femdiff.thermodynamics import Units, gas_constant
from femdiff.timestepping import StepFailure, TimeControl, check_end_time

log = logging.getLogger(__name__)

BoundaryCondition = NoFlux | FixedConcentration | FixedPotential | Flux
Pair = tuple[str, str]


def _check_temperature(T: float) -> None:
    if not isinstance(T, int | float) or not math.isfinite(T) or T <= 0:
        raise ValueError(f"temperature T [K] must be a positive finite number, got {T!r}")


def _symmetric_pairs(name: str, values: Mapping[Pair, float]) -> dict[Pair, float]:
    """Fill (j, i) from (i, j); if both are given they must agree."""
    out: dict[Pair, float] = {}
    for (a, b), v in values.items():
        if not math.isfinite(v):
            raise ValueError(f"{name}[{a},{b}] must be finite, got {v!r}")
        if (b, a) in values and not math.isclose(values[(b, a)], v, rel_tol=1e-12):
            raise ValueError(f"{name} must be symmetric: {name}[{a},{b}] = {v!r} but "
                             f"{name}[{b},{a}] = {values[(b, a)]!r}")
        out[(a, b)] = out[(b, a)] = float(v)
    return out


# --- thermodynamic terms ---------------------------------------------------------------
#
# A term gives a molar Gibbs energy contribution g(X) [J/mol] as a UFL expression of
# ``X``, a dict species name -> mole fraction (all n species in the lattice setting).


class _Term:
    """Base: no gradient energy, no logarithm, no species of its own."""

    positive: bool = False  # needs every X_i > 0 (a ln X term)

    def species_used(self) -> set[str]:
        """Species names the term refers to (checked against the problem's)."""
        return set()

    def gradient_energy(self, grads: Mapping[str, Any]) -> Any:
        """G(∇X) [J/mol · m²/m²], or ``None``."""
        return None


def _mixing(X: Mapping[str, Any], lattice: bool) -> Any:
    """Σ X ln X (lattice), or the dilute form Σ X (ln X − 1) of solutes in a matrix."""
    if lattice:
        return sum(x * ufl.ln(x) for x in X.values())
    return sum(x * (ufl.ln(x) - 1.0) for x in X.values())


@dataclass(frozen=True)
class IdealMixing(_Term):
    """Ideal solution: g = Σ X_i μ_i° + R T Σ X_i ln X_i, so μ_i = μ_i° + R T ln X_i.

    For solutes in a matrix g = Σ X_i μ_i° + R T Σ X_i (ln X_i − 1) (the dilute limit),
    which gives the same μ_i.

    Attributes:
        T: temperature [K].
        mu0: reference potentials μ_i° by species [J/mol] (missing: 0).
        units: ``"molar"`` (R) or ``"atomic"`` (k_B).
    """

    T: float
    mu0: Mapping[str, float] = field(default_factory=dict)
    units: Units = "molar"
    positive = True

    def __post_init__(self) -> None:
        _check_temperature(self.T)
        gas_constant(self.units)

    @property
    def kT(self) -> float:
        """R T (or k_B T)."""
        return gas_constant(self.units) * self.T

    def species_used(self) -> set[str]:  # noqa: D102
        return set(self.mu0)

    def energy(self, X: Mapping[str, Any], lattice: bool) -> Any:  # noqa: D102
        ref = sum(float(self.mu0.get(s, 0.0)) * x for s, x in X.items())
        return ref + self.kT * _mixing(X, lattice)


@dataclass(frozen=True)
class RegularSolution(IdealMixing):
    """Regular solution: g = ideal + Σ_{i<j} Ω_ij X_i X_j.

    Attributes:
        omega: pairwise interaction parameters Ω_ij [J/mol], keyed by species pairs
            (``{("A", "B"): 1e4}``); each unordered pair once (or twice, equal).
    """

    omega: Mapping[Pair, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        for (a, b), v in self.omega.items():
            if a == b:
                raise ValueError(f"regular-solution omega[{a},{b}]: a pair needs two "
                                 "different species")
            if not math.isfinite(v):
                raise ValueError(f"omega[{a},{b}] must be finite, got {v!r}")
        _symmetric_pairs("omega", self.omega)

    def species_used(self) -> set[str]:  # noqa: D102
        return super().species_used() | {s for pair in self.omega for s in pair}

    def energy(self, X: Mapping[str, Any], lattice: bool) -> Any:  # noqa: D102
        pairs = {tuple(sorted(p)): float(v) for p, v in self.omega.items()}
        excess = sum(v * X[a] * X[b] for (a, b), v in pairs.items())
        return super().energy(X, lattice) + excess


@dataclass(frozen=True)
class WagnerDilute(IdealMixing):
    """Dilute solution with Wagner interaction parameters.

    ln γ_i = ln γ_i° + Σ_j ε_ij X_j for the solutes i, j (the species named in
    ``epsilon`` and ``ln_gamma0``). The free energy

        g = Σ X_i (μ_i° + R T ln γ_i°) + R T Σ X_i ln X_i + (R T/2) Σ_ij ε_ij X_i X_j

    reproduces this in a matrix (μ_i = ∂g/∂X_i exactly) and, on a lattice, adds the
    second-order term −(1/2) Σ_jk ε_jk X_j X_k to every ln γ (solvent included). This is
    the unified interaction-parameter formalism of Pelton & Bale, Metall. Trans. A 17
    (1986) 1211, which makes Wagner's first-order expansion obey Gibbs–Duhem exactly.
    Reciprocity ε_ij = ε_ji is required (it holds in the dilute limit).

    Attributes:
        epsilon: ε_ij by species pair (``{("C", "Si"): 9.0}`` also sets ε_SiC; a
            self-interaction is ``("C", "C")``).
        ln_gamma0: ln γ_i° by solute (missing: 0).
    """

    epsilon: Mapping[Pair, float] = field(default_factory=dict)
    ln_gamma0: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        _symmetric_pairs("epsilon", self.epsilon)
        for s, v in self.ln_gamma0.items():
            if not math.isfinite(v):
                raise ValueError(f"ln_gamma0[{s}] must be finite, got {v!r}")

    def species_used(self) -> set[str]:  # noqa: D102
        return (super().species_used() | set(self.ln_gamma0)
                | {s for pair in self.epsilon for s in pair})

    def energy(self, X: Mapping[str, Any], lattice: bool) -> Any:  # noqa: D102
        eps = _symmetric_pairs("epsilon", self.epsilon)
        g = super().energy(X, lattice)
        g += self.kT * sum(float(v) * X[s] for s, v in self.ln_gamma0.items())
        g += 0.5 * self.kT * sum(v * X[a] * X[b] for (a, b), v in eps.items())
        return g


@dataclass(frozen=True)
class StressCoupling(_Term):
    """Stress coupling: g = −σ_h Σ_i V_i X_i, so μ_i gains −V_i σ_h.

    On a lattice only V_i − V_n drives diffusion.

    Attributes:
        volumes: partial molar volume V_i by species [m³/mol] (missing: 0).
        sigma_h: hydrostatic stress [Pa] (tension positive): a number, UFL expression or
            Function (e.g. from :mod:`femdiff.mechanics`).
    """

    volumes: Mapping[str, float]
    sigma_h: Any

    def __post_init__(self) -> None:
        for s, v in self.volumes.items():
            if not math.isfinite(v) or abs(v) > 1e-2:
                raise ValueError(f"partial molar volume of {s!r} = {v!r} m³/mol is "
                                 "implausible (|V| ≤ 1e-2 m³/mol expected)")

    def species_used(self) -> set[str]:  # noqa: D102
        return set(self.volumes)

    def energy(self, X: Mapping[str, Any], lattice: bool) -> Any:  # noqa: D102
        return -self.sigma_h * sum(float(v) * X[s] for s, v in self.volumes.items())


@dataclass(frozen=True)
class FreeEnergy(_Term):
    """A user's own molar Gibbs energy g(X_1..X_n); μ follows by UFL differentiation.

    Attributes:
        g: callable ``X -> UFL``, X a dict species name -> fraction (all n species on a
            lattice; the dependent one is 1 − Σ of the others there).
        G: optional gradient energy, callable ``grads -> UFL`` with grads a dict
            independent species -> ∇X_i.
        positive: whether g needs every X_i > 0 (e.g. it has X ln X terms).
    """

    g: Callable[[Mapping[str, Any]], Any]
    G: Callable[[Mapping[str, Any]], Any] | None = None
    positive: bool = False

    def __post_init__(self) -> None:
        if not callable(self.g) or (self.G is not None and not callable(self.G)):
            raise TypeError("FreeEnergy needs callables g(X) (and G(grads))")

    def energy(self, X: Mapping[str, Any], lattice: bool) -> Any:  # noqa: D102
        return self.g(X)

    def gradient_energy(self, grads: Mapping[str, Any]) -> Any:  # noqa: D102
        return None if self.G is None else self.G(grads)


@dataclass(frozen=True)
class GradientEnergies(_Term):
    """Gradient energy G = ½ Σ_ij κ_ij ∇X_i·∇X_j over the independent species.

    Attributes:
        kappa: κ_ij [J/mol · m²] by species pair (symmetric; ``("A", "A")`` diagonal).
    """

    kappa: Mapping[Pair, float]

    def __post_init__(self) -> None:
        _symmetric_pairs("kappa", self.kappa)
        for (a, b), v in self.kappa.items():
            if a == b and v < 0:
                raise ValueError(f"gradient energy kappa[{a},{a}] must be ≥ 0, got {v!r}")

    def species_used(self) -> set[str]:  # noqa: D102
        return {s for pair in self.kappa for s in pair}

    def energy(self, X: Mapping[str, Any], lattice: bool) -> Any:  # noqa: D102
        return 0.0

    def gradient_energy(self, grads: Mapping[str, Any]) -> Any:  # noqa: D102
        k = _symmetric_pairs("kappa", self.kappa)
        return 0.5 * sum(v * ufl.inner(grads[a], grads[b]) for (a, b), v in k.items())


@dataclass(frozen=True)
class Mixture:
    """The sum of thermodynamic terms of a multicomponent solution.

    Attributes:
        terms: the terms (:class:`IdealMixing`, :class:`RegularSolution`,
            :class:`WagnerDilute`, :class:`StressCoupling`, :class:`FreeEnergy`,
            :class:`GradientEnergies`).
        energy_scale: typical size of μ [J/mol] for nondimensionalising (R T of the first
            term with a temperature by default, else 1).
    """

    terms: Sequence[Any]
    energy_scale: float | None = None

    def __post_init__(self) -> None:
        if not self.terms:
            raise ValueError("a mixture needs at least one thermodynamic term")
        for t in self.terms:
            if not hasattr(t, "energy"):
                raise TypeError(f"{t!r} is not a thermodynamic term (it has no energy(X))")
        if self.energy_scale is not None and not self.energy_scale > 0:
            raise ValueError(f"energy_scale must be positive, got {self.energy_scale!r}")

    @property
    def scale(self) -> float:
        """μ_s: the given energy scale, else R T of a term, else 1."""
        if self.energy_scale is not None:
            return float(self.energy_scale)
        for t in self.terms:
            if hasattr(t, "kT"):
                return t.kT
        return 1.0

    @property
    def positive(self) -> bool:
        """Whether some term needs X_i > 0 (a logarithm)."""
        return any(getattr(t, "positive", False) for t in self.terms)

    def species_used(self) -> set[str]:
        """All species names the terms refer to."""
        return set().union(*(t.species_used() for t in self.terms
                             if hasattr(t, "species_used")))

    def energy(self, X: Mapping[str, Any], lattice: bool = True) -> Any:
        """Molar Gibbs energy g(X) [J/mol]."""
        return sum(t.energy(X, lattice) for t in self.terms)

    def gradient_energy(self, grads: Mapping[str, Any]) -> Any:
        """G(∇X), or ``None``."""
        parts = [p for t in self.terms if (p := t.gradient_energy(grads)) is not None]
        return sum(parts) if parts else None

    def chemical_potentials(self, X: Mapping[str, Any], lattice: bool = True
                            ) -> dict[str, Any]:
        """Partial molar μ_i (local part) as UFL expressions of the n fractions ``X``.

        Lattice: μ_i = g + ∂g/∂X_i − Σ_k X_k ∂g/∂X_k with g differentiated as a function of
        n free variables (the homogeneous-degree-one extension; Σ X_i μ_i = g and
        Gibbs–Duhem hold identically). Matrix: μ_i = ∂g/∂X_i.
        """
        Xv = {s: ufl.variable(x) for s, x in X.items()}
        g = self.energy(Xv, lattice)
        dg = {s: ufl.diff(g, x) for s, x in Xv.items()}
        if not lattice:
            return dg
        mean = sum(Xv[s] * dg[s] for s in Xv)
        return {s: g + dg[s] - mean for s in Xv}


# --- transport -------------------------------------------------------------------------

Entry = float | Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True)
class Onsager:
    """The Onsager matrix L (J_i = −Σ_j L_ij ∇μ̃_j), or a form that converts to it.

    Use the constructors :meth:`matrix`, :meth:`mobilities`, :meth:`dilute` and
    :meth:`interdiffusion`; see the module docstring for the conversions.

    Attributes:
        kind: ``"matrix"``, ``"mobilities"``, ``"dilute"`` or ``"interdiffusion"``.
        data: a dict species pair -> entry (matrix, interdiffusion; an entry is a number
            or a callable ``X -> UFL``, missing entries are 0), or species -> number.
        T: temperature for ``"dilute"`` [K].
        units: ``"molar"`` or ``"atomic"`` (for ``"dilute"``).
    """

    kind: str
    data: Mapping[Any, Any]
    T: float | None = None
    units: Units = "molar"

    def __post_init__(self) -> None:
        if self.kind not in ("matrix", "mobilities", "dilute", "interdiffusion"):
            raise ValueError(f"unknown Onsager kind {self.kind!r}")
        if self.kind in ("mobilities", "dilute"):
            for s, v in self.data.items():
                if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                    raise ValueError(f"{self.kind} value of {s!r} must be a finite number "
                                     f"≥ 0, got {v!r}")
        else:
            for key, v in self.data.items():
                if not (isinstance(key, tuple) and len(key) == 2):
                    raise ValueError(f"{self.kind} entries are keyed by species pairs "
                                     f"('A', 'B'), got key {key!r}")
                if not (callable(v) or isinstance(v, int | float)):
                    raise TypeError(f"entry {key} must be a number or a callable X -> UFL")
        if self.kind == "dilute":
            _check_temperature(self.T)  # type: ignore[arg-type]

    @classmethod
    def matrix(cls, L: Mapping[Pair, Entry]) -> Onsager:
        """L_ij given directly, keyed by independent-species pairs (both (i,j) and (j,i))."""
        return cls("matrix", dict(L))

    @classmethod
    def mobilities(cls, M: Mapping[str, float]) -> Onsager:
        """Species mobilities M_k [m² mol/(J s)] (vacancy mechanism; see module doc)."""
        return cls("mobilities", dict(M))

    @classmethod
    def dilute(cls, D: Mapping[str, float], T: float, units: Units = "molar") -> Onsager:
        """Dilute diffusivities D_i [m²/s]: L_ij = δ_ij D_i X_i / (R T)."""
        return cls("dilute", dict(D), T, units)

    @classmethod
    def interdiffusion(cls, D: Mapping[Pair, Entry]) -> Onsager:
        """Interdiffusion matrix D̃_ij [m²/s] (J = −D̃ ∇X): L = D̃ H⁻¹ (see module doc)."""
        return cls("interdiffusion", dict(D))

    def species_used(self) -> set[str]:
        """Species named by the data."""
        if self.kind in ("matrix", "interdiffusion"):
            return {s for pair in self.data for s in pair}
        return set(self.data)

    def constant_entries(self) -> bool:
        """Whether L is a matrix of plain numbers (checkable before any mesh)."""
        return self.kind == "matrix" and all(isinstance(v, int | float)
                                             for v in self.data.values())

    @staticmethod
    def _entry(v: Entry, X: Mapping[str, Any]) -> Any:
        return v(X) if callable(v) else float(v)

    def build(self, X: Mapping[str, Any], independent: Sequence[str], lattice: bool,
              hessian: Callable[[], list[list[Any]]]) -> list[list[Any]]:
        """L as an m×m nested list of UFL expressions of the fractions ``X`` (all species).

        ``hessian`` returns H_jk = ∂μ̃_j/∂X_k (used by the interdiffusion form only).
        """
        m = len(independent)
        if self.kind == "matrix":
            return [[self._entry(self.data.get((a, b), 0.0), X) for b in independent]
                    for a in independent]
        if self.kind == "interdiffusion":
            if m > 4:
                raise ValueError("the interdiffusion form needs m ≤ 4 independent species "
                                 "(UFL inverts matrices up to 4×4); give L directly")
            D = ufl.as_matrix([[self._entry(self.data.get((a, b), 0.0), X)
                                for b in independent] for a in independent])
            L = D * ufl.inv(ufl.as_matrix(hessian()))
            return [[L[i, j] for j in range(m)] for i in range(m)]
        if self.kind == "dilute":
            kT = gas_constant(self.units) * float(self.T)  # type: ignore[arg-type]
            rate = {s: float(self.data.get(s, 0.0)) / kT for s in independent}
        else:
            rate = {s: float(self.data.get(s, 0.0)) for s in X}
        diag = [[(rate[a] * X[a] if a == b else 0.0) for b in independent]
                for a in independent]
        if self.kind == "mobilities" and lattice:
            total = sum(rate[s] * X[s] for s in X)
            return [[diag[i][j] - rate[a] * X[a] * rate[b] * X[b] / total
                     for j, b in enumerate(independent)] for i, a in enumerate(independent)]
        return diag


def check_onsager(values: np.ndarray, names: Sequence[str], where: np.ndarray | None = None,
                  rtol: float = 1e-8) -> None:
    """Raise ValueError unless every L (shape (k, m, m)) is symmetric and PSD.

    Args:
        values: L at k points.
        names: the m species names (for the message).
        where: the k point coordinates (for the message), or ``None``.
        rtol: tolerance relative to the largest |L| at each point.
    """
    values = np.asarray(values, dtype=float).reshape(-1, len(names), len(names))
    if not np.isfinite(values).all():
        raise ValueError("the Onsager matrix L has NaN or Inf entries at the initial state")
    for p, L in enumerate(values):
        size = max(float(np.abs(L).max()), 1e-300)
        at = f" at x = {np.round(where[p], 6).tolist()}" if where is not None else ""
        asym = np.abs(L - L.T)
        if asym.max() > rtol * size:
            i, j = np.unravel_index(int(np.argmax(asym)), L.shape)
            raise ValueError(
                f"the Onsager matrix must be symmetric (reciprocity): L[{names[i]},"
                f"{names[j]}] = {L[i, j]:.6g} but L[{names[j]},{names[i]}] = "
                f"{L[j, i]:.6g}{at}")
        for i in range(len(names)):
            if L[i, i] < -rtol * size:
                raise ValueError(f"the Onsager matrix must be positive semi-definite: "
                                 f"L[{names[i]},{names[i]}] = {L[i, i]:.6g} < 0{at}")
        w, v = np.linalg.eigh(0.5 * (L + L.T))
        if w[0] < -rtol * size:
            mode = " + ".join(f"{c:.3g}·{n}" for c, n in zip(v[:, 0], names, strict=True))
            raise ValueError(
                f"the Onsager matrix is indefinite (not positive semi-definite): eigenvalue "
                f"{w[0]:.6g} along {mode}{at}; the off-diagonal entries are too large, "
                f"e.g. L[{names[0]},{names[-1]}] = {L[0, -1]:.6g}")


# --- the problem -----------------------------------------------------------------------


_set = interpolate_into  # kept: the name is used throughout this module


class MulticomponentProblem:
    """Onsager diffusion of several species in the mixed μ̃–X form.

    Args:
        domain: the mesh with named boundaries.
        species: species names; on a lattice the *last* one is the dependent (solvent)
            species.
        model: the thermodynamics (a :class:`Mixture`).
        transport: the Onsager matrix or a form converted to it (:class:`Onsager`).
        initial: initial fraction by independent species: a number, a callable
            ``x -> values``, a Function or UFL expression. On a lattice the dependent
            species may be given too; then the fractions must sum to 1.
        time: time-step settings (no adaptive control yet).
        bcs: boundary conditions by species name: ``{"A": [FixedConcentration("left",
            0.2)]}``; unlisted boundaries are no-flux. Flux values are J_i·n.
        lattice: Σ X_i = 1 with a dependent species (``True``), or solutes in a matrix.
        degree: polynomial degree of every field (1 or 2).
        petsc_options: SNES/KSP options over :func:`femdiff.solvers.newton_options`.
        lumped: vertex quadrature for the constitutive equations (P1 only), as in
            :class:`~femdiff.diffusion.DiffusionProblem`.
        name: options-prefix stem.

    Lifecycle: :meth:`initialise` (spaces → initial state → transport check → boundary
    conditions → formulation → solver), :meth:`step`, :meth:`run`.
    """

    def __init__(
        self,
        domain: Domain,
        species: Sequence[str],
        model: Mixture,
        transport: Onsager,
        *,
        initial: Mapping[str, Value],
        time: TimeControl,
        bcs: Mapping[str, Sequence[BoundaryCondition]] | None = None,
        lattice: bool = True,
        degree: int = 1,
        petsc_options: dict[str, Any] | None = None,
        lumped: bool = True,
        name: str = "multicomponent",
    ) -> None:
        species = list(species)
        if not species or not all(isinstance(s, str) and s for s in species):
            raise ValueError(f"species must be non-empty names, got {species!r}")
        if len(set(species)) != len(species):
            raise ValueError(f"species names must be unique, got {species!r}")
        if lattice and len(species) < 2:
            raise ValueError("a lattice needs at least two species (one is dependent)")
        if degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, got {degree!r}")
        if not isinstance(model, Mixture):
            raise TypeError("model must be a femdiff.multicomponent.Mixture")
        if not isinstance(transport, Onsager):
            raise TypeError("transport must be a femdiff.multicomponent.Onsager")
        if not isinstance(time, TimeControl):
            raise TypeError("time must be a femdiff.timestepping.TimeControl")
        self.species = species
        self.lattice = bool(lattice)
        self.dependent = species[-1] if lattice else None
        self.independent = species[:-1] if lattice else species
        known = ", ".join(repr(s) for s in species)
        for what, names in (("the thermodynamic model", model.species_used()),
                            ("the transport data", transport.species_used())):
            for s in sorted(names):
                if s not in species:
                    raise ValueError(f"unknown species {s!r} in {what}; species: {known}")
        if transport.kind in ("matrix", "interdiffusion"):
            for a, b in transport.data:
                for s in (a, b):
                    if s == self.dependent:
                        raise ValueError(
                            f"L[{a},{b}]: the dependent species {s!r} has no row or column "
                            f"in the reduced matrix; index L by {self.independent}")
        if transport.constant_entries():
            m = len(self.independent)
            L = np.array([[transport.data.get((a, b), 0.0) for b in self.independent]
                          for a in self.independent], dtype=float).reshape(1, m, m)
            check_onsager(L, self.independent)
        initial = dict(initial)
        for s in initial:
            if s not in species:
                raise ValueError(f"unknown species {s!r} in the initial state; species: "
                                 f"{known}")
        missing = [s for s in self.independent if s not in initial]
        if missing:
            raise ValueError(f"no initial state for species {', '.join(map(repr, missing))}")
        bcs = dict(bcs or {})
        for s, lst in bcs.items():
            if s not in species:
                raise ValueError(f"unknown species {s!r} in a boundary condition; species: "
                                 f"{known}")
            for bc in lst:
                if not isinstance(bc, NoFlux | FixedConcentration | FixedPotential | Flux):
                    raise TypeError(f"unknown boundary condition {bc!r} for species {s!r}")
                if isinstance(bc, FixedPotential):
                    raise ValueError(
                        f"FixedPotential for species {s!r}: reservoir potentials are not "
                        "supported for multicomponent problems yet; fix the compositions "
                        "(FixedConcentration) instead")
                if s == self.dependent and not isinstance(bc, NoFlux):
                    raise ValueError(
                        f"{type(bc).__name__} on {bc.boundary!r} for the dependent species "
                        f"{s!r}: its fraction and flux follow from the others "
                        f"(X = 1 − Σ, J = −Σ J); set the independent species instead")
            domain.check_boundaries([bc.boundary for bc in lst])
        self.domain = domain
        self.model = model
        self.transport = transport
        self.initial = initial
        self.time = time
        self.bcs = bcs
        self.degree = degree
        self.user_petsc_options = dict(petsc_options or {})
        self.petsc_options = solvers.merge(solvers.newton_options(), petsc_options)
        self.lumped = bool(lumped) and degree == 1
        self.prefix = solvers.unique_prefix(name)
        self._initialised = False

    # -- lifecycle ---------------------------------------------------------------------

    def initialise(self) -> None:
        """Build spaces, initial state, BCs, forms and solver (idempotent)."""
        if self._initialised:
            return
        self._create_function_spaces()
        self._create_initial_state()
        self._check_transport()
        self._create_dirichlet_bcs()
        self._create_formulation()
        self._create_solver()
        self._initialised = True

    @property
    def m(self) -> int:
        """Number of independent species."""
        return len(self.independent)

    def _create_function_spaces(self) -> None:
        mesh = self.domain.mesh
        self.dx = ufl.Measure("dx", domain=mesh)
        self.dx_mu = (ufl.Measure("dx", domain=mesh, metadata={
            "quadrature_rule": "vertex", "quadrature_degree": 1}) if self.lumped else self.dx)
        P = basix.ufl.element("Lagrange", mesh.basix_cell(), self.degree)
        m = self.m
        self.W = fem.functionspace(mesh, basix.ufl.mixed_element([P] * (2 * m)))
        subs = [self.W.sub(k).collapse() for k in range(2 * m)]
        self.V = subs[0][0]
        self.dofs_x = [subs[k][1] for k in range(m)]
        self.dofs_mu = [subs[m + k][1] for k in range(m)]
        self.u = fem.Function(self.W, name="state")
        self.u_n = fem.Function(self.W, name="state_n")
        self.u_nn = fem.Function(self.W, name="state_nn")
        #: fractions of every species (the dependent one included) and potentials
        self.X = {s: fem.Function(self.V, name=s) for s in self.species}
        self.mu = {s: fem.Function(self.V, name=f"mu_{s}") for s in self.independent}

    @property
    def _n_owned(self) -> int:
        return self.V.dofmap.index_map.size_local * self.V.dofmap.index_map_bs

    def _fail_at(self, values: np.ndarray, bad: np.ndarray) -> str:
        """' at x = (...)' for the first bad owned dof on this rank, '' elsewhere."""
        idx = np.flatnonzero(bad)
        if not idx.size:
            return ""
        x = self.V.tabulate_dof_coordinates()[idx[0], : self.domain.gdim]
        return f" (e.g. {values[idx[0]]:.6g} at x = {np.round(x, 6).tolist()})"

    def _raise_where(self, condition_bad: np.ndarray, values: np.ndarray, message: str
                     ) -> None:
        comm = self.domain.comm
        if not comm.allreduce(bool(condition_bad.any()), op=MPI.LOR):
            return
        where = comm.allgather(self._fail_at(values, condition_bad))
        raise ValueError(message + next((w for w in where if w), ""))

    def _create_initial_state(self) -> None:
        comm, n = self.domain.comm, self._n_owned
        for s in self.independent:
            _set(self.X[s], self.initial[s])
        total = sum(self.X[s].x.array for s in self.independent)
        for s in self.independent:
            lo, hi = global_min_max(comm, self.X[s].x.array[:n])
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ValueError(f"initial fraction of species {s!r} has NaN or Inf values")
        positive = self.model.positive
        for s in self.independent:
            vals = self.X[s].x.array[:n]
            if positive:
                self._raise_where(vals <= 0, vals, (
                    f"initial fraction of species {s!r} must be > 0: the thermodynamic "
                    "model has a logarithm (ln X)"))
            if self.lattice:
                self._raise_where(vals > 1, vals, (
                    f"initial fraction of species {s!r} exceeds 1"))
        if self.lattice:
            dep = self.dependent
            assert dep is not None
            if dep in self.initial:
                given = fem.Function(self.V)
                _set(given, self.initial[dep])
                s_all = total[:n] + given.x.array[:n]
                self._raise_where(np.abs(s_all - 1) > 1e-8, s_all, (
                    "initial fractions do not sum to 1 (Σ over "
                    f"{', '.join(self.species)})"))
            rest = 1.0 - total[:n]
            bad = rest <= 0 if positive else rest < 0
            self._raise_where(bad, 1.0 - rest, (
                f"initial fractions of {', '.join(map(repr, self.independent))} sum to "
                f"{'1 or more' if positive else 'more than 1'}, leaving the dependent "
                f"species {dep!r} {'non-positive' if positive else 'negative'}"))
            self.X[dep].x.array[:] = 1.0 - total
        self.mu_scale = self.model.scale
        volume = self.domain.volume()
        self.x_scale = {}
        for s in self.independent:
            mean = self._integrate(abs(self.X[s]) * ufl.dx) / volume
            self.x_scale[s] = mean if mean > 0 else 1.0
        self.length = self.domain.characteristic_length()
        for k, s in enumerate(self.independent):
            self.u.x.array[self.dofs_x[k]] = self.X[s].x.array / self.x_scale[s]
        self._project_initial_potentials()
        self.u.x.scatter_forward()
        self.u_n.x.array[:] = self.u.x.array
        self.u_nn.x.array[:] = self.u.x.array
        self._sync_outputs()

    def _fractions(self, Xind: Sequence[Any]) -> dict[str, Any]:
        """All n fractions from the m independent ones (as given, plain UFL)."""
        X = dict(zip(self.independent, Xind, strict=True))
        if self.lattice:
            assert self.dependent is not None
            X[self.dependent] = 1.0 - sum(Xind)
        return X

    def _local_potentials(self, Xind: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        """(variables, μ̃_i = ∂g/∂X_i) for the independent species (no gradient part)."""
        Xv = [ufl.variable(x) for x in Xind]
        g = self.model.energy(self._fractions(Xv), self.lattice)
        return Xv, [ufl.diff(g, x) for x in Xv]

    def _gradient_parts(self, Xind: Sequence[Any]) -> list[Any] | None:
        """∂G/∂∇X_i for the independent species, or ``None``."""
        gv = [ufl.variable(ufl.grad(x)) for x in Xind]
        G = self.model.gradient_energy(dict(zip(self.independent, gv, strict=True)))
        return None if G is None else [ufl.diff(G, g) for g in gv]

    def _project_initial_potentials(self) -> None:
        """μ̃(t₀) from the constitutive law by (lumped) L2 projection."""
        Xind = [self.X[s] for s in self.independent]
        _, mus = self._local_potentials(Xind)
        dG = self._gradient_parts(Xind)
        mu, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        for k in range(self.m):
            rhs = mus[k] / self.mu_scale * v * self.dx_mu
            if dG is not None:
                rhs += ufl.inner(dG[k], ufl.grad(v)) / self.mu_scale * self.dx
            problem = LinearProblem(mu * v * self.dx_mu, rhs,
                                    petsc_options_prefix=f"{self.prefix}mu0_{k}_",
                                    petsc_options=solvers.lu_options())
            self.u.x.array[self.dofs_mu[k]] = problem.solve().x.array

    def _onsager_ufl(self, Xind: Sequence[Any]) -> list[list[Any]]:
        Xv, mus = self._local_potentials(Xind)

        def hessian() -> list[list[Any]]:
            return [[ufl.diff(mu, x) for x in Xv] for mu in mus]

        return self.transport.build(self._fractions(Xv), self.independent, self.lattice,
                                    hessian)

    def _check_transport(self) -> None:
        """Symmetry and positive semi-definiteness of L at every node of the initial state."""
        L = self._onsager_ufl([self.X[s] for s in self.independent])
        m, n = self.m, self._n_owned
        values = np.empty((n, m, m))
        f = fem.Function(self.V)
        for i in range(m):
            for j in range(m):
                _set(f, L[i][j])
                values[:, i, j] = f.x.array[:n]
        where = self.V.tabulate_dof_coordinates()[:n, : self.domain.gdim]
        error = None
        try:
            check_onsager(values, self.independent, where)
        except ValueError as exc:
            error = str(exc)
        errors = [e for e in self.domain.comm.allgather(error) if e]
        if errors:
            raise ValueError(errors[0])

    def _create_dirichlet_bcs(self) -> None:
        self.dirichlet: list[fem.DirichletBC] = []
        fdim = self.domain.tdim - 1
        for s, lst in self.bcs.items():
            for bc in lst:
                if not isinstance(bc, FixedConcentration):
                    continue
                k = self.independent.index(s)
                g = fem.Function(self.V)
                _set(g, bc.value)
                g.x.array[:] /= self.x_scale[s]
                dofs = fem.locate_dofs_topological((self.W.sub(k), self.V), fdim,
                                                   self.domain.facets(bc.boundary))
                self.dirichlet.append(fem.dirichletbc(g, dofs, self.W.sub(k)))
        for dbc in self.dirichlet:
            dbc.set(self.u.x.array)
        self.u_n.x.array[:] = self.u.x.array
        self.u_nn.x.array[:] = self.u.x.array

    def _create_formulation(self) -> None:
        mesh = self.domain.mesh
        m = self.m
        self.t = fem.Constant(mesh, PETSc.ScalarType(self.time.t0))
        self.dt = fem.Constant(mesh, PETSc.ScalarType(self.time.dt))
        self.bdf = [fem.Constant(mesh, PETSc.ScalarType(a)) for a in (1.0, -1.0, 0.0)]
        cn = self.time.scheme == "crank_nicolson"
        theta = 0.5 if cn else 1.0
        self._dt_prev: float | None = None
        self._dt_request = float(self.time.dt)

        def physical(u: fem.Function) -> tuple[list[Any], list[Any]]:
            parts = ufl.split(u)
            Xs = [self.x_scale[s] * parts[k] for k, s in enumerate(self.independent)]
            return Xs, [self.mu_scale * parts[m + k] for k in range(m)]

        X, mu = physical(self.u)
        X_n, mu_n = physical(self.u_n)
        X_nn, _ = physical(self.u_nn)
        tests = [self.length ** -self.domain.tdim * w for w in ufl.TestFunctions(self.W)]
        q, v = tests[:m], tests[m:]
        a0, a1, a2 = self.bdf
        L = self._onsager_ufl(X)
        fluxes = [-sum(L[i][j] * ufl.grad(mu[j]) for j in range(m)) for i in range(m)]
        if cn:
            L_n = self._onsager_ufl(X_n)
            old = [-sum(L_n[i][j] * ufl.grad(mu_n[j]) for j in range(m)) for i in range(m)]
            fluxes_t = [theta * J + (1 - theta) * Jo for J, Jo in zip(fluxes, old, strict=True)]
        else:
            fluxes_t = fluxes
        _, mus = self._local_potentials(X)
        dG = self._gradient_parts(X)
        F = 0
        for i, s in enumerate(self.independent):
            Xs = self.x_scale[s]
            hist = a1 * X_n[i] + (a2 * X_nn[i] if self.time.scheme == "bdf2" else 0)
            F += (a0 * X[i] + hist) / Xs * q[i] * self.dx
            F -= self.dt / Xs * ufl.inner(fluxes_t[i], ufl.grad(q[i])) * self.dx
            for bc in self.bcs.get(s, ()):
                if isinstance(bc, Flux):
                    F += self.dt / Xs * bc.value * q[i] * self.domain.ds(bc.boundary)
            F += (mu[i] - mus[i]) / self.mu_scale * v[i] * self.dx_mu
            if dG is not None:
                F -= ufl.inner(dG[i], ufl.grad(v[i])) / self.mu_scale * self.dx
        self.residual = F
        self.flux_ufl = dict(zip(self.independent, fluxes, strict=True))
        if self.lattice:
            assert self.dependent is not None
            self.flux_ufl[self.dependent] = -sum(fluxes)
        self.onsager_ufl = L

    def _create_solver(self) -> None:
        opts = dict(self.petsc_options)
        if self.model.positive and "snes_type" not in self.user_petsc_options:
            opts["snes_type"] = "vinewtonrsls"
        if opts.get("pc_type") != "lu":
            opts.pop("pc_factor_mat_solver_type", None)
        solvers.set_options(self.prefix, opts)
        self.problem = NonlinearProblem(self.residual, self.u, bcs=self.dirichlet,
                                        petsc_options_prefix=self.prefix)
        snes = self.problem.solver
        snes.setFromOptions()
        if snes.getType().startswith("vi"):
            self._lower = fem.Function(self.W)
            self._upper = fem.Function(self.W)
            self._lower.x.array[:] = -PETSc.INFINITY
            self._upper.x.array[:] = PETSc.INFINITY
            span = 1e-10
            for k, s in enumerate(self.independent):
                self._lower.x.array[self.dofs_x[k]] = span
                if self.lattice:
                    self._upper.x.array[self.dofs_x[k]] = 1.0 / self.x_scale[s] - span
            snes.setVariableBounds(self._lower.x.petsc_vec, self._upper.x.petsc_vec)

    # -- time stepping -------------------------------------------------------------------

    def _newton(self) -> tuple[bool, int, int]:
        ok, its, kits = newton_solve(self.problem, self.u, self.domain.comm)
        if ok and self.lattice and self.model.positive:
            total = sum(self.u.x.array[d] * self.x_scale[s]
                        for d, s in zip(self.dofs_x, self.independent, strict=True))
            ok = bool((total < 1.0).all())  # the dependent fraction stays positive
            ok = self.domain.comm.allreduce(ok, op=MPI.LAND)
        return ok, its, kits

    def step(self, dt: float | None = None) -> StepInfo:
        """Advance one step, retrying with Δt · ``time.shrink`` on failure.

        Raises:
            StepFailure: when Newton fails even at ``time.smallest``.
        """
        self.initialise()
        dt = self._dt_request if dt is None else float(dt)
        if not dt > 0:
            raise ValueError(f"time step dt must be positive, got {dt!r}")
        newton = krylov = 0
        for attempt in range(self.time.max_retries + 1):
            set_step_constants(self, dt)
            self.t.value = self.current_time + dt
            self.u.x.array[:] = self.u_n.x.array
            ok, its, kits = self._newton()
            newton += its
            krylov += kits
            if ok:
                self.u_nn.x.array[:] = self.u_n.x.array
                self.u_n.x.array[:] = self.u.x.array
                self._dt_prev = dt
                self._t_accepted = self.current_time + dt
                self._sync_outputs()
                return StepInfo(self._t_accepted, dt, newton, krylov, attempt)
            self.u.x.array[:] = self.u_n.x.array
            self.t.value = self.current_time
            log.info("step to t=%g with dt=%g failed; retrying with dt=%g",
                     self.current_time + dt, dt, dt * self.time.shrink)
            dt *= self.time.shrink
            if dt < self.time.smallest:
                break
        raise StepFailure(
            f"Newton failed at t={self.current_time:g} even with dt={dt / self.time.shrink:g} "
            f"after {attempt + 1} attempts (reason "
            f"{self.problem.solver.getConvergedReason()}); the last accepted state is kept")

    @property
    def current_time(self) -> float:
        """Time of the last accepted state."""
        return getattr(self, "_t_accepted", self.time.t0)

    def run(self, t_end: float,
            callback: Callable[[MulticomponentProblem, StepInfo], None] | None = None,
            max_steps: int = 10**7) -> list[StepInfo]:
        """Step until ``t_end`` (the last step is shortened to land on it)."""
        self.initialise()
        check_end_time(self.current_time, t_end)
        history: list[StepInfo] = []
        dt = self._dt_request
        while self.current_time < t_end * (1 - 1e-12) - 1e-300 and len(history) < max_steps:
            info = self.step(min(dt, t_end - self.current_time))
            history.append(info)
            if callback is not None:
                callback(self, info)
            if info.retries:
                dt = info.dt
        self._dt_request = dt
        return history

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The state that a restart needs: (local dof arrays of the mixed space, scalars).

        Arrays: u, uⁿ, uⁿ⁻¹ (scaled unknowns); scalars: t, the requested and previous Δt
        (−1 stands for "none"), the number of independent species and the scales X_s,i
        and μ_s the arrays are expressed in. Used by :mod:`femdiff.checkpoint`; the arrays
        are copies.
        """
        self.initialise()
        arrays = {"u": self.u.x.array.copy(), "u_n": self.u_n.x.array.copy(),
                  "u_nn": self.u_nn.x.array.copy()}
        scalars = {"t": float(self.current_time), "dt_request": float(self._dt_request),
                   "dt_prev": -1.0 if self._dt_prev is None else float(self._dt_prev),
                   "independent_species": float(self.m), "mu_scale": float(self.mu_scale)}
        for k, s in enumerate(self.independent):
            scalars[f"x_scale_{k}"] = float(self.x_scale[s])
        return arrays, scalars

    def load_state(self, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> None:
        """Put back a state from :meth:`state_dict` (same mesh, species and degree).

        The arrays are rescaled if this problem's X_s,i or μ_s differ from the stored ones
        (they are means over the initial state, so they can differ in the last digits on
        another number of ranks).

        Raises:
            ValueError: the state has another number of independent species.
        """
        self.initialise()
        stored = int(scalars.get("independent_species", -1))
        if stored != self.m:
            raise ValueError(f"the stored state has {stored} independent species, this "
                             f"problem has {self.m} ({', '.join(self.independent)})")
        for name in ("u", "u_n", "u_nn"):
            a = np.array(arrays[name], dtype=float)
            for k, s in enumerate(self.independent):
                a[self.dofs_x[k]] *= float(scalars[f"x_scale_{k}"]) / self.x_scale[s]
                a[self.dofs_mu[k]] *= float(scalars["mu_scale"]) / self.mu_scale
            getattr(self, name).x.array[:] = a
        self._t_accepted = float(scalars["t"])
        self.t.value = self._t_accepted
        self._dt_request = float(scalars["dt_request"])
        self._dt_prev = None if scalars["dt_prev"] < 0 else float(scalars["dt_prev"])
        if self._dt_prev is not None:
            self.dt.value = self._dt_prev
        self._sync_outputs()

    # -- outputs and diagnostics -------------------------------------------------------

    def _sync_outputs(self) -> None:
        total = 0.0
        for k, s in enumerate(self.independent):
            self.X[s].x.array[:] = self.u.x.array[self.dofs_x[k]] * self.x_scale[s]
            self.mu[s].x.array[:] = self.u.x.array[self.dofs_mu[k]] * self.mu_scale
            total = total + self.X[s].x.array
        if self.lattice:
            self.X[self.dependent].x.array[:] = 1.0 - total  # type: ignore[index]

    def _integrate(self, integrand: Any) -> float:
        value = fem.assemble_scalar(fem.form(integrand))
        return self.domain.comm.allreduce(value, op=MPI.SUM)

    def _species(self, name: str) -> str:
        if name not in self.species:
            raise ValueError(f"unknown species {name!r}; species: "
                             f"{', '.join(map(repr, self.species))}")
        return name

    def amount(self, species: str, volume: str | None = None) -> float:
        """∫ X_i dx of one species (over a named volume, or everywhere)."""
        self.initialise()
        return self._integrate(self.X[self._species(species)] * self.domain.dx(volume))

    def flux_through(self, species: str, boundary: str) -> float:
        """Outward flux ∫ J_i·n ds of one species through a named boundary."""
        self.initialise()
        n = ufl.FacetNormal(self.domain.mesh)
        J = self.flux_ufl[self._species(species)]
        return self._integrate(ufl.inner(J, n) * self.domain.ds(boundary))

    def flux(self, species: str, degree: int | None = None) -> fem.Function:
        """J_i interpolated into a discontinuous vector space (degree k−1 by default).

        The same Function is returned, refreshed, on every call for a species.
        """
        self.initialise()
        k = self.degree - 1 if degree is None else degree
        cache = self.__dict__.setdefault("_flux_cache", {})
        key = (self._species(species), k)
        if key not in cache:
            V = fem.functionspace(self.domain.mesh,
                                  ("Discontinuous Lagrange", k, (self.domain.gdim,)))
            J = fem.Function(V, name=f"J_{species}")
            cache[key] = (J, fem.Expression(self.flux_ufl[species],
                                            V.element.interpolation_points))
        J, expr = cache[key]
        J.interpolate(expr)
        return J
