"""Hydrogen trap models: McNabb–Foster kinetics and Oriani equilibrium (parameters and laws).

A trap type holds hydrogen in N_T sites per volume (dislocations, grain boundaries,
carbides), beside the N_L lattice sites where it diffuses. This module holds the
validated parameters and the local laws as UFL/NumPy expressions; the problem that adds
trapped fields to the μ–C diffusion problem builds on them.

McNabb–Foster (kinetic; McNabb & Foster, Trans. Metall. Soc. AIME 227 (1963) 618):

    ∂C_T/∂t = k C_L (N_T − C_T) − p C_T,   k = k₀ exp(−E_k/RT),   p = p₀ exp(−E_p/RT)

Oriani (local equilibrium; Oriani, Acta Metall. 18 (1970) 147; with lattice saturation
as in Sofronis & McMeeking, J. Mech. Phys. Solids 37 (1989) 317):

    θ_T/(1 − θ_T) = K θ_L/(1 − θ_L),   K = exp(E_b/RT),   θ_T = C_T/N_T, θ_L = C_L/N_L

Units. Concentrations follow the thermodynamics convention: ``"molar"`` (mol/m³, energies
in J/mol, R) or ``"atomic"`` (m⁻³, energies in J per atom, k_B; 1 eV = :data:`EV` J).
p₀ is a frequency [1/s]. The trapping coefficient k₀ comes in one of two conventions:

- ``"per_volume"`` (FESTIM's): k₀ multiplies the concentration C_L, so it is
  [m³/s] (atomic) or [m³/(mol·s)] (molar);
- ``"per_site"`` (TMAP's α_t, Krom et al.'s D/λ²): a frequency ν [1/s] multiplying the
  lattice filling θ_L = C_L/N_L, so k = ν/N_L; it needs the lattice site density N_L.

Their magnitudes differ by ~N_L, so a value given in the wrong convention is caught by a
plausibility range and the error names the convention it fits. That works between
per-site and atomic per-volume values (ranges 1e3–1e18 /s against 1e-29–1e-9 m³/s);
molar per-volume values (6e-6–6e14 m³/(mol·s)) overlap the per-site range, so a
per-site frequency given as molar per-volume can pass unnoticed.

McNabb–Foster tends to Oriani when k, p → ∞ at fixed k/p: its equilibrium
C_T/(N_T − C_T) = (k/p) C_L is Oriani's with K = k N_L/p in the dilute lattice
(θ_L ≪ 1; McNabb–Foster has no (1 − θ_L) blocking). :meth:`Oriani.kinetic` builds the
McNabb–Foster trap with that equilibrium.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem

from femdiff.models.thermodynamics import Units, gas_constant

EV = 1.602176634e-19  # J
AVOGADRO = 6.02214076e23  # 1/mol

RateUnits = Literal["per_volume", "per_site"]

# Plausible activation/binding energies: 1 meV to 10 eV per atom. Below, a value in eV
# given as J/mol (or the reverse); above, J/mol given as J per atom.
_ENERGY_RANGE = {"molar": (1.0e-3 * EV * AVOGADRO, 10.0 * EV * AVOGADRO),
                 "atomic": (1.0e-3 * EV, 10.0 * EV)}
# Plausible trapping prefactors. Per site: an attempt frequency D₀/λ² between 1e3 and
# 1e18 /s. Per volume: that frequency over N_L (1e27–1e32 sites/m³), per atom or per mol.
_K0_RANGE = {"per_site": (1.0e3, 1.0e18),
             ("per_volume", "atomic"): (1.0e3 / 1.0e32, 1.0e18 / 1.0e27),
             ("per_volume", "molar"): (1.0e3 / 1.0e32 * AVOGADRO, 1.0e18 / 1.0e27 * AVOGADRO)}

Density = float | Callable[[Any], Any] | fem.Function | Any


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _exp(value: Any) -> Any:
    """The exponential of a number, a NumPy array or a UFL expression."""
    if _real(value):
        return math.exp(value)
    if isinstance(value, np.ndarray):
        return np.exp(value)
    return ufl.exp(value)


def _check_energy(name: str, value: float, units: Units) -> None:
    """A non-negative energy of plausible size for ``units`` (0 allowed: no barrier)."""
    if not _real(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be ≥ 0, got {value!r}")
    lo, hi = _ENERGY_RANGE[units]
    if value != 0 and not lo <= value <= hi:
        unit = "J/mol" if units == "molar" else "J per atom"
        hint = ("in eV? multiply by 96485.3 for J/mol" if units == "molar" and value < lo
                else "in J/mol? use units='molar'" if units == "atomic" and value > hi
                else "in eV? multiply by femdiff.models.trap_laws.EV for J" if units == "atomic"
                else "check its units")
        raise ValueError(f"{name}={value!r} is implausible for {units} units (expected 0 or "
                         f"{lo:.3g} to {hi:.3g} {unit}, i.e. 1 meV to 10 eV); {hint}")


def _check_units(units: Any) -> None:
    gas_constant(units)  # raises for anything but "molar"/"atomic"


def _check_density(density: Any) -> None:
    """N_T ≥ 0 where it can be checked now: numbers and Functions (all ranks)."""
    if isinstance(density, bool):
        raise TypeError(f"trap density must be a number, callable or Function, got {density!r}")
    if _real(density):
        if not math.isfinite(density) or density < 0:
            raise ValueError(f"trap density N_T must be a finite number ≥ 0, got {density!r}")
        return
    if isinstance(density, fem.Function):
        V = density.function_space
        n = V.dofmap.index_map.size_local * V.dofmap.index_map_bs
        local = density.x.array[:n]
        comm = V.mesh.comm
        lo = comm.allreduce(float(local.min()) if local.size else math.inf, op=MPI.MIN)
        finite = comm.allreduce(bool(np.isfinite(local).all()), op=MPI.LAND)
        if not finite or lo < 0:
            raise ValueError(f"trap density N_T must be finite and ≥ 0 everywhere; the "
                             f"Function {density.name!r} has minimum {lo:g}")
        return
    if not (callable(density) or isinstance(density, ufl.core.expr.Expr)):
        raise TypeError("trap density N_T must be a number, a callable x -> UFL expression, "
                        f"a UFL expression or a dolfinx Function, got {type(density).__name__}")


def density_value(density: Density, x: Any) -> Any:
    """N_T as a number or UFL expression at the spatial coordinate ``x``."""
    if callable(density) and not isinstance(density, ufl.core.expr.Expr | fem.Function):
        return density(x)
    return density


@dataclass(frozen=True)
class Arrhenius:
    """A thermally activated rate r = r₀ exp(−E/(R T)) (k_B T in atomic units).

    Attributes:
        prefactor: r₀ > 0 (units of the rate).
        energy: activation energy E ≥ 0 [J/mol (molar) or J per atom (atomic)].
        units: ``"molar"`` or ``"atomic"``.
        name: what the rate is, for error messages.
    """

    prefactor: float
    energy: float
    units: Units = "molar"
    name: str = "rate"

    def __post_init__(self) -> None:
        _check_units(self.units)
        if not _real(self.prefactor) or not math.isfinite(self.prefactor) \
                or self.prefactor <= 0:
            raise ValueError(f"{self.name} prefactor must be a positive finite number, got "
                             f"{self.prefactor!r}")
        _check_energy(f"{self.name} activation energy", self.energy, self.units)

    def __call__(self, T: Any) -> Any:
        """The rate at temperature T [K]: a number, array or UFL expression (T a Function)."""
        return self.prefactor * _exp(-self.energy / (gas_constant(self.units) * T))


@dataclass(frozen=True)
class McNabbFoster:
    """A kinetic trap: ∂C_T/∂t = k C_L (N_T − C_T) − p C_T.

    Attributes:
        density: N_T [mol/m³ or m⁻³]: a number ≥ 0, a callable ``x -> UFL`` of the
            spatial coordinate, a UFL expression, or a Function (checked ≥ 0 now).
        k0: trapping prefactor, in the ``rate_units`` convention (module docstring).
        E_k: trapping activation energy [J/mol or J] (often the lattice diffusion's).
        p0: detrapping prefactor [1/s].
        E_p: detrapping activation energy [J/mol or J] (≈ E_k + binding energy).
        units: ``"molar"`` or ``"atomic"`` (concentrations and energies).
        rate_units: ``"per_volume"`` (k₀ multiplies C_L) or ``"per_site"`` (k₀ a
            frequency multiplying θ_L = C_L/N_L; then ``n_sites`` is needed).
        n_sites: lattice site density N_L (only for ``"per_site"``).
        initial: initial trapped concentration C_T(t=0), in [0, N_T].
        region: the volume name holding this trap (None: everywhere).
    """

    density: Density
    k0: float
    E_k: float
    p0: float
    E_p: float
    units: Units = "molar"
    rate_units: RateUnits = "per_volume"
    n_sites: float | None = None
    initial: float = 0.0
    region: str | None = None

    def __post_init__(self) -> None:
        _check_units(self.units)
        _check_density(self.density)
        if self.rate_units not in ("per_volume", "per_site"):
            raise ValueError(f"rate_units must be 'per_volume' or 'per_site', got "
                             f"{self.rate_units!r}")
        if self.rate_units == "per_site":
            if self.n_sites is None:
                raise ValueError("rate_units='per_site' needs the lattice site density "
                                 "n_sites (k = k0/N_L)")
        if self.n_sites is not None and (not _real(self.n_sites) or not self.n_sites > 0
                                         or not math.isfinite(self.n_sites)):
            raise ValueError(f"n_sites must be a positive number, got {self.n_sites!r}")
        self.trapping  # noqa: B018 (validates k0, E_k)
        self.detrapping  # noqa: B018 (validates p0, E_p)
        self._check_k0_range()
        if not _real(self.initial) or not math.isfinite(self.initial):
            raise ValueError(f"initial trapped concentration must be a number, got "
                             f"{self.initial!r}")
        upper = float(cast(float, self.density)) if _real(self.density) else math.inf
        if not 0 <= self.initial <= upper:
            raise ValueError(f"initial trapped concentration {self.initial!r} must lie in "
                             f"[0, N_T = {self.density!r}]")
        if self.region is not None and not isinstance(self.region, str):
            raise ValueError(f"region must be a volume name, got {self.region!r}")

    def _check_k0_range(self) -> None:
        key = "per_site" if self.rate_units == "per_site" else ("per_volume", self.units)
        lo, hi = _K0_RANGE[key]
        if lo <= self.k0 <= hi:
            return
        fits = [f"rate_units={k!r}" if isinstance(k, str) else
                f"rate_units={k[0]!r} with units={k[1]!r}"
                for k, (a, b) in _K0_RANGE.items() if a <= self.k0 <= b and k != key]
        unit = ("1/s" if key == "per_site" else
                "m³/s" if self.units == "atomic" else "m³/(mol·s)")
        hint = f"; it would fit {' or '.join(fits)}" if fits else ""
        raise ValueError(f"trapping prefactor k0={self.k0!r} is implausible for "
                         f"rate_units={self.rate_units!r}, units={self.units!r} "
                         f"(expected {lo:.3g} to {hi:.3g} {unit}){hint}")

    @property
    def trapping(self) -> Arrhenius:
        """k₀ exp(−E_k/RT) in the given ``rate_units``."""
        return Arrhenius(self.k0, self.E_k, self.units, "trapping rate k0")

    @property
    def detrapping(self) -> Arrhenius:
        """The detrapping frequency p = p₀ exp(−E_p/RT) [1/s]."""
        return Arrhenius(self.p0, self.E_p, self.units, "detrapping rate p0")

    def k(self, T: Any) -> Any:
        """Trapping coefficient per concentration (the per-volume k) at T."""
        k = self.trapping(T)
        if self.rate_units == "per_site":
            assert self.n_sites is not None
            k = k / self.n_sites
        return k

    def p(self, T: Any) -> Any:
        """Detrapping frequency at T [1/s]."""
        return self.detrapping(T)

    def rate(self, C_L: Any, C_T: Any, T: Any, x: Any = None) -> Any:
        """∂C_T/∂t = k C_L (N_T − C_T) − p C_T (``x``: coordinate for a formula N_T)."""
        N_T = density_value(self.density, x)
        return self.k(T) * C_L * (N_T - C_T) - self.p(T) * C_T

    def equilibrium(self, C_L: Any, T: Any, x: Any = None) -> Any:
        """The C_T where the rate vanishes: N_T (k/p) C_L / (1 + (k/p) C_L)."""
        N_T = density_value(self.density, x)
        y = self.k(T) / self.p(T) * C_L
        return N_T * y / (1 + y)


@dataclass(frozen=True)
class Oriani:
    """An equilibrium trap: θ_T/(1 − θ_T) = K θ_L/(1 − θ_L), K = exp(E_b/RT).

    Attributes:
        density: N_T [mol/m³ or m⁻³] (number ≥ 0, callable of x, UFL or Function).
        binding_energy: E_b ≥ 0 [J/mol or J per atom] (Krom et al.: 60 kJ/mol).
        units: ``"molar"`` or ``"atomic"``.
        region: the volume name holding this trap (None: everywhere).
    """

    density: Density
    binding_energy: float
    units: Units = "molar"
    region: str | None = None

    def __post_init__(self) -> None:
        _check_units(self.units)
        _check_density(self.density)
        _check_energy("trap binding energy", self.binding_energy, self.units)
        if self.region is not None and not isinstance(self.region, str):
            raise ValueError(f"region must be a volume name, got {self.region!r}")

    def K(self, T: Any) -> Any:
        """exp(E_b/RT) (number, array or UFL)."""
        return _exp(self.binding_energy / (gas_constant(self.units) * T))

    def trapped(self, C_L: Any, T: Any, n_sites: float, x: Any = None) -> Any:
        """C_T(C_L) = N_T y/(1 + y), y = K θ_L/(1 − θ_L), θ_L = C_L/N_L (UFL or NumPy)."""
        N_T = density_value(self.density, x)
        theta = C_L / n_sites
        y = self.K(T) * theta / (1 - theta)
        return N_T * y / (1 + y)

    def dtrapped(self, C_L: Any, T: Any, n_sites: float, x: Any = None) -> Any:
        """∂C_T/∂C_L = N_T K / (N_L (1 − θ_L)² (1 + y)²); N_T K/N_L when dilute."""
        N_T = density_value(self.density, x)
        theta = C_L / n_sites
        K = self.K(T)
        y = K * theta / (1 - theta)
        return N_T * K / (n_sites * (1 - theta) ** 2 * (1 + y) ** 2)

    def kinetic(self, k0: float, E_k: float, n_sites: float,
                rate_units: RateUnits = "per_volume") -> McNabbFoster:
        """The McNabb–Foster trap with the same equilibrium in the dilute lattice.

        p₀ = k₀ N_L (per volume; p₀ = k₀ per site) and E_p = E_k + E_b, so that
        k N_L/p = K. Scaling k₀ (and with it p₀) up approaches Oriani.
        """
        p0 = k0 * n_sites if rate_units == "per_volume" else k0
        return McNabbFoster(self.density, k0, E_k, p0, E_k + self.binding_energy,
                            units=self.units, rate_units=rate_units,
                            n_sites=n_sites if rate_units == "per_site" else None,
                            region=self.region)


Trap = McNabbFoster | Oriani


def check_regions(traps: Sequence[Trap], volume_names: Sequence[str]) -> None:
    """Raise for a trap placed in a volume the mesh does not have."""
    for i, trap in enumerate(traps):
        if trap.region is not None and trap.region not in volume_names:
            raise ValueError(f"trap {i} ({type(trap).__name__}) is in region "
                             f"{trap.region!r}, which has no material; volumes: "
                             f"{', '.join(volume_names) or '(none named)'}")


def check_trapped(C_T: Any, N_T: Any, comm: MPI.Comm = MPI.COMM_WORLD,
                  what: str = "trapped concentration") -> None:
    """Raise unless 0 ≤ C_T ≤ N_T at every (process-owned) value (arrays, all ranks)."""
    C_T, N_T = np.asarray(C_T, dtype=float), np.broadcast_to(np.asarray(N_T, float),
                                                               np.shape(C_T))
    bad_low = float((-C_T).max(initial=-math.inf))
    bad_high = float((C_T - N_T).max(initial=-math.inf))
    bad_low = comm.allreduce(bad_low, op=MPI.MAX)
    bad_high = comm.allreduce(bad_high, op=MPI.MAX)
    if bad_low > 0 or bad_high > 0:
        raise ValueError(f"{what} must lie in [0, N_T]: it is below 0 by up to {max(bad_low, 0):g} "
                         f"and above N_T by up to {max(bad_high, 0):g}")
