"""Multicomponent thermodynamics (molar Gibbs energies) and Onsager transport forms.

The thermodynamic terms (:class:`IdealMixing`, :class:`RegularSolution`,
:class:`WagnerDilute`, :class:`StressCoupling`, :class:`FreeEnergy`,
:class:`GradientEnergies`) sum to a :class:`Mixture`; the transport input is an
:class:`Onsager` matrix or a form converted to it. They are used by
:class:`femdiff.problems.multicomponent.MulticomponentProblem`.

g(X) is the molar Gibbs energy [J/mol] of a :class:`Mixture`; in the lattice setting it is
differentiated with X_n = 1 − Σ X_j substituted, which gives μ_i − μ_n by the chain rule.
The partial molar μ_i themselves (:meth:`Mixture.chemical_potentials`) follow from the
homogeneous-degree-one extension, μ_i = g + ∂g/∂X_i − Σ_k X_k ∂g/∂X_k, so the
Gibbs–Duhem relation Σ X_i dμ_i = 0 holds for every model built here.

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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import ufl

from femdiff.models.thermodynamics import Units, check_same_mesh, gas_constant

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
            Function (e.g. from :mod:`femdiff.physics.mechanics`).
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
        check_same_mesh(self.sigma_h, next(iter(X.values())), "StressCoupling.sigma_h")
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
            missing = [s for s in X if s not in self.data]
            if missing:  # not 0: the vacancy mechanism needs every species' mobility
                raise ValueError(f"Onsager.mobilities needs M of every species; missing "
                                 f"{', '.join(map(repr, missing))} (0.0 if immobile)")
            rate = {s: float(self.data[s]) for s in X}
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
