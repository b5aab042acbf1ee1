"""Chemical-potential models built from free-energy terms.

A chemical potential is assembled from *terms*. Each term contributes to the free-energy
density f(C) (J/m³ in SI, or whatever energy/volume the user's units give), and the
chemical potential is always obtained by differentiation, never hand-coded per model:

    μ = ∂f/∂C − ∇·(∂G/∂∇C),   F = ∫ f(C) + G(∇C) dx.

This keeps μ, F and the Jacobian consistent. Interaction energies fit the same mould:
V_int(x) contributes f = C·V_int, so ∂f/∂C = V_int. Stress coupling is V_int = −Ω σ_h.

Units: ``"molar"`` terms use R (μ in J/mol, C in mol/m³, Ω in m³/mol);
``"atomic"`` terms use k_B (μ in J per atom, C in atoms/m³, Ω in m³ per atom).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import ufl

R_GAS = 8.314462618  # J/(mol K)
K_BOLTZMANN = 1.380649e-23  # J/K

Units = Literal["molar", "atomic"]

# Plausible magnitudes for partial molar/atomic volumes: they catch an atomic Ω passed
# with molar units (or the reverse), which is off by Avogadro's number.
_OMEGA_RANGE = {"molar": (1.0e-9, 1.0e-2), "atomic": (1.0e-33, 1.0e-26)}


def gas_constant(units: Units) -> float:
    """R for molar units, k_B for atomic units."""
    if units == "molar":
        return R_GAS
    if units == "atomic":
        return K_BOLTZMANN
    raise ValueError(f"units must be 'molar' or 'atomic', got {units!r}")


def _check_positive(name: str, value: float) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _check_temperature(T: Any) -> None:
    """A temperature [K]: a positive number, or a field (Constant, Function, UFL expr).

    A field's values are checked where it is used (e.g. by the diffusion problem, which
    rejects a non-positive temperature anywhere on the mesh).
    """
    if isinstance(T, ufl.core.expr.Expr):
        value = getattr(T, "value", None)  # a fem.Constant: check its value now
        if value is not None and not (math.isfinite(float(value)) and float(value) > 0):
            raise ValueError(f"temperature T [K] must be positive, got {float(value)!r}")
        return
    _check_positive("temperature T [K]", T)


def is_number(value: Any) -> bool:
    """A plain real number (not a field)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


@runtime_checkable
class Term(Protocol):
    """One contribution to the free energy.

    ``energy(c)`` is the local density as a UFL expression of the (physical) concentration
    ``c``; ``gradient_energy(g)`` a density of ``g = ∇c`` (or ``None``).
    ``domain`` is the admissible open interval of ``c`` (for checks and Newton bounds).
    """

    def energy(self, c: Any) -> Any: ...  # noqa: D102

    def gradient_energy(self, g: Any) -> Any: ...  # noqa: D102

    @property
    def domain(self) -> tuple[float, float]: ...  # noqa: D102


class _LocalTerm:
    """Base for terms with no gradient energy and an unbounded domain."""

    def gradient_energy(self, g: Any) -> Any:
        return None

    @property
    def domain(self) -> tuple[float, float]:
        return (-math.inf, math.inf)


def check_same_mesh(value: Any, c: Any, what: str) -> None:
    """Raise ``ValueError`` if the coefficient ``value`` lives on another mesh than ``c``.

    DOLFINx would otherwise fail when compiling the form ("Incompatible mesh. argument
    entity_maps must be provided") and leave a half-built problem behind.

    Args:
        value: a number, UFL expression or DOLFINx Function.
        c: an expression on the problem's mesh (the concentration).
        what: names the coefficient in the message, e.g. ``"StressCoupling.sigma_h"``.
    """
    if isinstance(value, numbers.Number) or not hasattr(value, "ufl_shape"):
        return
    from ufl.domain import extract_domains

    try:
        theirs, ours = extract_domains(value), extract_domains(c)
    except Exception:  # noqa: BLE001  (an expression UFL cannot inspect: let the form say)
        return
    if ours and any(d not in ours for d in theirs):
        raise ValueError(
            f"{what} is defined on another mesh than the problem's: interpolate it onto "
            "the problem's mesh first, e.g. s = fem.Function(V) on that mesh, then "
            "s.interpolate_nonmatching(sigma_h, cells, "
            "fem.create_interpolation_data(V, sigma_h.function_space, cells)) "
            "(or build both problems on the same mesh)")


@dataclass(frozen=True)
class Ideal(_LocalTerm):
    """Ideal (dilute) solution: μ = μ° + R T ln(C / C_ref).

    f = μ° C + R T C (ln(C/C_ref) − 1). With mobility M(C) = M₀ C this is Fick's law with
    D = M₀ R T (Einstein relation; k_B instead of R in atomic units).

    Attributes:
        T: temperature [K]: a number, or a field (``fem.Constant``, ``fem.Function``, UFL
            expression; e.g. the T of :class:`femdiff.physics.heat.HeatConduction`). A field
            gives R T(x) ln C; :class:`~femdiff.problems.diffusion.DiffusionProblem` then also
            uses ∂μ/∂T for the isothermal gradient of its Soret flux.
        mu0: reference chemical potential μ° [J/mol or J].
        c_ref: reference concentration C_ref [same units as C].
        units: ``"molar"`` (R) or ``"atomic"`` (k_B).
    """

    T: Any  # [K]: a number or a field (see Ideal)
    mu0: float = 0.0
    c_ref: float = 1.0
    units: Units = "molar"

    def __post_init__(self) -> None:
        _check_temperature(self.T)
        _check_positive("reference concentration c_ref", self.c_ref)
        gas_constant(self.units)

    @property
    def kT(self) -> float:
        """R T or k_B T: the natural energy scale."""
        return gas_constant(self.units) * self.T

    def energy(self, c: Any) -> Any:
        return self.mu0 * c + self.kT * c * (ufl.ln(c / self.c_ref) - 1.0)

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, math.inf)


@dataclass(frozen=True)
class Interaction(_LocalTerm):
    """A prescribed interaction energy V_int(x): μ gains V_int [J/mol or J].

    Attributes:
        potential: a number, UFL expression or DOLFINx Function.
    """

    potential: Any

    def energy(self, c: Any) -> Any:
        check_same_mesh(self.potential, c, "Interaction.potential")
        return c * self.potential


@dataclass(frozen=True)
class StressCoupling(_LocalTerm):
    """Stress-driven interaction V_int = −Ω σ_h (hydrostatic stress, tension positive).

    Solute with Ω > 0 is drawn to tensile regions: at equilibrium
    C ∝ exp(Ω σ_h / R T).

    Attributes:
        omega: partial molar volume Ω [m³/mol] (atomic units: [m³ per atom]).
        sigma_h: hydrostatic stress [Pa]: a Function (e.g. from the mechanics solve),
            UFL expression or number.
        units: ``"molar"`` or ``"atomic"``; Ω's magnitude is checked against them.
    """

    omega: float
    sigma_h: Any
    units: Units = "molar"

    def __post_init__(self) -> None:
        lo, hi = _OMEGA_RANGE[self.units] if self.units in _OMEGA_RANGE else (None, None)
        if lo is None:
            raise ValueError(f"units must be 'molar' or 'atomic', got {self.units!r}")
        if not math.isfinite(self.omega) or not lo <= abs(self.omega) <= hi:
            other = "atomic" if self.units == "molar" else "molar"
            unit = "m³/mol" if self.units == "molar" else "m³ per atom"
            raise ValueError(
                f"partial volume omega={self.omega!r} is implausible for {self.units} units "
                f"(expected {lo:g} ≤ |Ω| ≤ {hi:g} {unit}); did you mean units={other!r}?"
            )

    def energy(self, c: Any) -> Any:
        check_same_mesh(self.sigma_h, c, "StressCoupling.sigma_h")
        return -self.omega * self.sigma_h * c


# Plausible interstitial site densities N_L: they catch per-volume atoms passed with molar
# units (or the reverse), off by Avogadro's number. Iron's tetrahedral sites are
# 5.1e29 m⁻³ = 8.5e5 mol/m³ (Sofronis & McMeeking 1989); fcc octahedral ~1e29 m⁻³.
_SITES_RANGE = {"molar": (1.0e3, 1.0e8), "atomic": (1.0e27, 1.0e32)}


@dataclass(frozen=True)
class LatticeSaturation(_LocalTerm):
    """Interstitial solute on a lattice of N_L sites (Fermi–Dirac / Langmuir statistics).

    f = μ° C + N_L R T [θ ln θ + (1 − θ) ln(1 − θ)],  θ = C/N_L, so that

        μ = ∂f/∂C = μ° + R T ln(θ/(1 − θ))

    (Sofronis & McMeeking, J. Mech. Phys. Solids 37 (1989) 317; Krom, Koers & Bakker,
    J. Mech. Phys. Solids 47 (1999) 971). Add :class:`StressCoupling` for the −V_H σ_h
    of the hydrogen papers. At equilibrium with a reservoir, θ/(1−θ) ∝ exp(V_H σ_h/RT),
    which is C ∝ exp(V_H σ_h/RT) in the dilute limit θ ≪ 1. The domain is (0, N_L): the
    bounded Newton of the diffusion problem keeps 0 < C < N_L node by node, and an
    initial C ≥ N_L is rejected.

    Mobility. Since ∇μ = R T ∇C/(C(1 − θ)), the mobility M = D_L C (1 − θ)/(R T)
    (:meth:`Mobility.lattice`) gives exactly Fick's J = −D_L ∇C without stress, for any θ;
    with stress, J = −D_L ∇C + D_L C (1 − θ) V_H ∇σ_h/(R T), the Sofronis–McMeeking drift
    up to the factor (1 − θ) (≈ 1 − 1e-6 at their concentrations). M = D_L C/(R T)
    (:meth:`Mobility.from_diffusivity`) would instead give the enhanced D_L/(1 − θ).

    Attributes:
        T: temperature [K].
        n_sites: lattice site density N_L [mol/m³ (molar) or sites/m³ (atomic)].
        mu0: reference chemical potential μ° [J/mol or J].
        units: ``"molar"`` (R) or ``"atomic"`` (k_B); N_L's magnitude is checked
            against them.
    """

    T: Any  # [K]: a number or a field (see Ideal)
    n_sites: float
    mu0: float = 0.0
    units: Units = "molar"

    def __post_init__(self) -> None:
        _check_temperature(self.T)
        gas_constant(self.units)
        _check_positive("lattice site density n_sites", self.n_sites)
        lo, hi = _SITES_RANGE[self.units]
        if not lo <= self.n_sites <= hi:
            other = "atomic" if self.units == "molar" else "molar"
            unit = "mol/m³" if self.units == "molar" else "sites/m³"
            raise ValueError(
                f"lattice site density n_sites={self.n_sites!r} is implausible for "
                f"{self.units} units (expected {lo:g} to {hi:g} {unit}); did you mean "
                f"units={other!r}? (for site fractions use RegularSolution)")

    @property
    def kT(self) -> float:
        """R T or k_B T: the natural energy scale."""
        return gas_constant(self.units) * self.T

    def energy(self, c: Any) -> Any:
        theta = c / self.n_sites
        mix = theta * ufl.ln(theta) + (1 - theta) * ufl.ln(1 - theta)
        return self.mu0 * c + self.n_sites * self.kT * mix

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, self.n_sites)


@dataclass(frozen=True)
class RegularSolution(_LocalTerm):
    """Regular solution of mole fraction X = c/c_sites.

    f = c_sites·{R T [X ln X + (1−X) ln(1−X)] + Ω_mix X (1−X)}  [J/m³]

    so μ = ∂f/∂c = R T ln(X/(1−X)) + Ω_mix (1 − 2X) (the exchange potential).
    For Ω_mix > 2RT the curve has a spinodal region where ∂²f/∂c² < 0: diffusion there is
    uphill, and without gradient energy (κ = 0) ill-posed (see :class:`GradientEnergy`).

    Attributes:
        T: temperature [K].
        omega_mix: regular-solution interaction parameter Ω_mix [J/mol or J].
        units: ``"molar"`` or ``"atomic"``.
        c_sites: site density, so that X = c/c_sites (1 for c given as a fraction).
    """

    T: Any  # [K]: a number or a field (see Ideal)
    omega_mix: float
    units: Units = "molar"
    c_sites: float = 1.0

    def __post_init__(self) -> None:
        _check_temperature(self.T)
        _check_positive("site density c_sites", self.c_sites)
        if not math.isfinite(self.omega_mix):
            raise ValueError(f"omega_mix must be finite, got {self.omega_mix!r}")
        gas_constant(self.units)

    @property
    def kT(self) -> float:
        """R T or k_B T."""
        return gas_constant(self.units) * self.T

    def energy(self, c: Any) -> Any:
        X = c / self.c_sites
        mix = self.kT * (X * ufl.ln(X) + (1 - X) * ufl.ln(1 - X))
        return self.c_sites * (mix + self.omega_mix * X * (1 - X))

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, self.c_sites)

    @property
    def concave_bound(self) -> float:
        """max(−∂²f/∂c²) = max(0, 2Ω_mix − 4RT)/c_sites (used by convex splitting)."""
        return max(0.0, 2 * self.omega_mix - 4 * self.kT) / self.c_sites


@dataclass(frozen=True)
class DoubleWell(_LocalTerm):
    """Polynomial double well f = ρ (c − c_α)² (c_β − c)² (e.g. PFHub benchmark 1).

    Attributes:
        rho: barrier height ρ [energy/volume].
        c_alpha: composition of the α well.
        c_beta: composition of the β well (> c_alpha).
    """

    rho: float
    c_alpha: float
    c_beta: float

    def __post_init__(self) -> None:
        _check_positive("double-well height rho", self.rho)
        if not self.c_alpha < self.c_beta:
            raise ValueError(f"c_alpha ({self.c_alpha!r}) must be smaller than c_beta "
                             f"({self.c_beta!r})")

    def energy(self, c: Any) -> Any:
        return self.rho * (c - self.c_alpha) ** 2 * (self.c_beta - c) ** 2

    @property
    def concave_bound(self) -> float:
        """max(−f'') = ρ (c_β − c_α)², reached midway between the wells."""
        return self.rho * (self.c_beta - self.c_alpha) ** 2


@dataclass(frozen=True)
class Activity(_LocalTerm):
    """A general activity coefficient: μ = μ° + R T ln(γ(X) X), X = c/c_sites.

    γ is any UFL function of X. A closed-form f whose derivative is this μ does not exist
    for a general γ, so this term contributes μ directly (``chemical_potential``) and
    nothing to the free energy F; use :class:`RegularSolution` or :class:`FreeEnergy`
    when F is needed.

    Attributes:
        T: temperature [K].
        gamma: callable ``X -> UFL expression`` (γ > 0).
        mu0: reference potential μ°.
        units: ``"molar"`` or ``"atomic"``.
        c_sites: site density (X = c/c_sites).
    """

    T: Any  # [K]: a number or a field (see Ideal)
    gamma: Callable[[Any], Any]
    mu0: float = 0.0
    units: Units = "molar"
    c_sites: float = 1.0

    def __post_init__(self) -> None:
        _check_temperature(self.T)
        _check_positive("site density c_sites", self.c_sites)
        if not callable(self.gamma):
            raise TypeError("gamma must be a callable X -> UFL expression")
        gas_constant(self.units)

    @property
    def kT(self) -> float:
        """R T or k_B T."""
        return gas_constant(self.units) * self.T

    def energy(self, c: Any) -> Any:
        return 0.0

    def chemical_potential(self, c: Any) -> Any:
        X = c / self.c_sites
        return self.mu0 + self.kT * ufl.ln(self.gamma(X) * X)

    @property
    def domain(self) -> tuple[float, float]:
        return (0.0, self.c_sites)


@dataclass(frozen=True)
class GradientEnergy:
    """Gradient energy G = κ/2 |∇c|², giving μ = f′(c) − κ∇²c (Cahn–Hilliard).

    With κ > 0 the spinodal region is well posed: κ sets the interface width
    δ ~ √(κ/|f″|) and suppresses wavelengths below 2π√(κ/|f″|). With κ = 0 (omit the
    term) femdiff still solves the problem, but inside a spinodal region (f″ < 0) the
    continuous problem is ill-posed: the fastest-growing wavelength is the mesh size,
    so results are mesh-dependent and only meaningful outside the spinodal (uphill
    diffusion with f″ > 0, e.g. from stress or a ternary) or for short times. There is
    no hidden regularisation: :class:`~femdiff.problems.diffusion.DiffusionProblem` logs a
    warning when κ = 0 and f″ < 0 at some node of the initial data, and the mesh (and,
    for P1, the lumped constitutive law) then sets the shortest growing wavelength.

    Attributes:
        kappa: gradient-energy coefficient κ ≥ 0 [energy·length²/volume per c²].
    """

    kappa: float

    def __post_init__(self) -> None:
        if not isinstance(self.kappa, int | float) or not math.isfinite(self.kappa) \
                or self.kappa < 0:
            raise ValueError(f"gradient-energy coefficient kappa must be ≥ 0, got "
                             f"{self.kappa!r}")

    def energy(self, c: Any) -> Any:
        return 0.0

    def gradient_energy(self, g: Any) -> Any:
        return 0.5 * self.kappa * ufl.inner(g, g)

    @property
    def domain(self) -> tuple[float, float]:
        return (-math.inf, math.inf)


@dataclass(frozen=True)
class FreeEnergy:
    """A user's own free-energy density f(c) (and optional gradient energy G(∇c)).

    Attributes:
        f: callable ``c -> UFL expression``.
        G: callable ``grad_c -> UFL expression`` or ``None``.
        bounds: the open interval where f is defined, e.g. ``(0, 1)`` for X ln X terms.
    """

    f: Callable[[Any], Any]
    G: Callable[[Any], Any] | None = None
    bounds: tuple[float, float] = (-math.inf, math.inf)

    def energy(self, c: Any) -> Any:
        return self.f(c)

    def gradient_energy(self, g: Any) -> Any:
        return None if self.G is None else self.G(g)

    @property
    def domain(self) -> tuple[float, float]:
        return self.bounds


@dataclass(frozen=True)
class ChemicalPotential:
    """The sum of free-energy terms, with μ and F derived by differentiation.

    Attributes:
        terms: the free-energy terms.
        energy_scale: typical size of μ, used to nondimensionalise (R T of the first ideal
            term by default).
    """

    terms: Sequence[Any]
    energy_scale: float | None = field(default=None)

    def __post_init__(self) -> None:
        if not self.terms:
            raise ValueError("a chemical potential needs at least one term")
        for t in self.terms:
            if not hasattr(t, "energy"):
                raise TypeError(f"{t!r} is not a free-energy term (it has no energy(c))")

    @property
    def scale(self) -> float:
        """Energy scale for μ: the given one, else R T (k_B T) of an ideal term, else 1."""
        if self.energy_scale is not None:
            return self.energy_scale
        for t in self.terms:
            if hasattr(t, "kT") and is_number(t.kT):
                return t.kT
        return 1.0

    @property
    def domain(self) -> tuple[float, float]:
        """Intersection of the terms' admissible concentration intervals."""
        lo = max(getattr(t, "domain", (-math.inf, math.inf))[0] for t in self.terms)
        hi = min(getattr(t, "domain", (-math.inf, math.inf))[1] for t in self.terms)
        return lo, hi

    def f(self, c: Any) -> Any:
        """Local free-energy density f(c)."""
        return sum(t.energy(c) for t in self.terms)

    def G(self, grad_c: Any) -> Any:
        """Gradient-energy density G(∇c), or ``None``."""
        parts = [p for t in self.terms
                 if hasattr(t, "gradient_energy") and (p := t.gradient_energy(grad_c)) is not None]
        return sum(parts) if parts else None

    def dfdc(self, c: Any) -> Any:
        """∂f/∂c by UFL differentiation, plus the direct μ of terms without an f."""
        cv = ufl.variable(c)
        mu = ufl.diff(self.f(cv), cv)
        for t in self.terms:
            if hasattr(t, "chemical_potential"):
                mu = mu + t.chemical_potential(c)
        return mu

    @property
    def concave_bound(self) -> float:
        """S ≥ max(−∂²f/∂c²): f + S c²/2 is convex (for convex splitting)."""
        return sum(getattr(t, "concave_bound", 0.0) for t in self.terms)

    def dGdg(self, grad_c: Any) -> Any:
        """∂G/∂(∇c), or ``None``."""
        gv = ufl.variable(grad_c)
        G = self.G(gv)
        return None if G is None else ufl.diff(G, gv)

    def energy_density(self, c: Any) -> Any:
        """f(c) + G(∇c): integrate over the domain for the free energy."""
        G = self.G(ufl.grad(c))
        return self.f(c) if G is None else self.f(c) + G


@dataclass(frozen=True)
class Mobility:
    """Mobility M(C) in J = −M(C) ∇μ.

    Use the constructors: :meth:`constant`, :meth:`linear` (M₀ C, the ideal-solution
    form that gives Fick's law with D = M₀ R T), :meth:`from_diffusivity`,
    :meth:`cahn_hilliard` (M₀ c(1 − c)), or :meth:`custom`.

    Attributes:
        M0: mobility prefactor [units such that M(C)·μ/length² is C/time].
        kind: ``"constant"``, ``"linear"``, ``"ch"`` or ``"custom"``.
        fn: for ``"custom"``, a callable ``c -> UFL expression``.
    """

    M0: float
    kind: str = "linear"
    fn: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        if self.kind != "custom":
            _check_positive("mobility M0", self.M0)
        if self.kind not in ("constant", "linear", "ch", "custom"):
            raise ValueError(f"mobility kind must be constant/linear/ch/custom, got {self.kind!r}")
        if self.kind == "custom" and self.fn is None:
            raise ValueError("a custom mobility needs fn(c)")

    @classmethod
    def constant(cls, M0: float) -> Mobility:
        """M = M₀."""
        return cls(M0, "constant")

    @classmethod
    def linear(cls, M0: float) -> Mobility:
        """M = M₀ C (dilute/ideal solution)."""
        return cls(M0, "linear")

    @classmethod
    def from_diffusivity(cls, D: float, T: float, units: Units = "molar") -> Mobility:
        """M = M₀ C with M₀ = D / (R T): the Einstein relation for an ideal solution."""
        _check_positive("diffusivity D", D)
        _check_positive("temperature T [K]", T)
        return cls(D / (gas_constant(units) * T), "linear")

    @classmethod
    def lattice(cls, D: float, T: float, n_sites: float, units: Units = "molar"
                ) -> Mobility:
        """M = D C (1 − C/N_L)/(R T): Fick's law with D for :class:`LatticeSaturation`.

        A ``"custom"`` mobility; its :meth:`typical` is D/(R T) (per unit C), so a
        preconditioner that scales by it sees the dilute M₀, not M₀ C.
        """
        _check_positive("diffusivity D", D)
        _check_positive("temperature T [K]", T)
        _check_positive("lattice site density n_sites", n_sites)
        M0 = D / (gas_constant(units) * T)
        N = float(n_sites)
        return cls.custom(lambda c: M0 * c * (1 - c / N), scale=M0)

    @classmethod
    def cahn_hilliard(cls, M0: float) -> Mobility:
        """M = M₀ c (1 − c) (degenerate, for mole fractions)."""
        return cls(M0, "ch")

    @classmethod
    def custom(cls, fn: Callable[[Any], Any], scale: float = 1.0) -> Mobility:
        """M = fn(c); ``scale`` is its typical size (used for nondimensionalising)."""
        return cls(scale, "custom", fn)

    def __call__(self, c: Any) -> Any:
        if self.kind == "constant":
            return self.M0
        if self.kind == "linear":
            return self.M0 * c
        if self.kind == "ch":
            return self.M0 * c * (1 - c)
        assert self.fn is not None
        return self.fn(c)

    def typical(self, c: float) -> float:
        """M at a typical concentration (positive), for scaling."""
        if self.kind == "constant" or self.kind == "custom":
            return abs(self.M0)
        if self.kind == "linear":
            return self.M0 * abs(c)
        return self.M0 * max(abs(c * (1 - c)), 1e-3)
