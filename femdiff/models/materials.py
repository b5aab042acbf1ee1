"""Materials assigned to named mesh volumes, and the piecewise parameter fields they make.

A :class:`Material` carries the parameters of one material: diffusion (an Arrhenius
D = D₀ exp(−E_D/RT), or a mobility M), solubility (S = S₀ exp(−E_S/RT), or μ°), the
partial molar volume Ω, the elastic constants E, ν, and the thermal ones α, k, ρc_p. It
names the Gmsh volumes it fills (``regions=("coating",)``). Every parameter may be

- a number;
- an :class:`Arrhenius` law ``A exp(−Q/RT)`` of the temperature T (a number, a
  ``fem.Constant`` or a ``fem.Function`` such as the field of
  :class:`femdiff.physics.heat.HeatConduction`);
- a UFL expression, or a callable ``x -> UFL expression`` of the spatial coordinate.

:func:`assign` checks that every volume of a :class:`~femdiff.geometry.mesh.Domain` has exactly one
material and returns :class:`MaterialFields`, whose :meth:`MaterialFields.get` gives one
parameter as a field over the whole mesh.

How the piecewise fields are represented. Each material m owns an indicator χ_m, a DG0
``Function`` equal to 1 on its cells and 0 elsewhere; a parameter is the UFL sum
Σ_m χ_m p_m(T, x). It is an ordinary UFL expression: it goes into any form over the plain
``dx`` (no per-volume measures), it keeps the full dependence on T and x inside each
cell (an Arrhenius law of a P1 temperature is evaluated at the quadrature points, not
cell-averaged), and UFL can differentiate it (with respect to T for a Newton solve).
When every material gives a plain number the field is instead a DG0 ``Function`` holding
the cell values (cheaper, and it can be written out for ParaView). At an interface the
cells on either side belong to different materials, so cell integrals see each material's
own value; facet integrals over an interior interface see ``p('+')`` and ``p('-')``.

Units: energies in J/mol (R = 8.314 J/(mol K)). An activation energy given in eV (or
kJ/mol) is caught by a plausibility check: 100 ≤ |Q| ≤ 10⁶ J/mol, or Q = 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import ufl
from dolfinx import fem

from femdiff.geometry.mesh import Domain
from femdiff.models.thermodynamics import R_GAS
from femdiff.numerics.fem_utils import is_real

#: Plausible activation energies [J/mol]: 100 J/mol is 1 meV per atom, 10⁶ J/mol 10 eV.
ENERGY_RANGE = (1.0e2, 1.0e6)
_FARADAY = 96485.33212  # J/(mol eV): 1 eV per atom in J/mol
#: Plausible partial molar volumes [m³/mol], as femdiff.models.thermodynamics.StressCoupling checks
_OMEGA_MOLAR = (1.0e-9, 1.0e-2)


def check_activation_energy(name: str, value: Any) -> None:
    """Raise :class:`ValueError` unless ``value`` is a plausible activation energy [J/mol].

    Zero is allowed (no temperature dependence); otherwise 100 ≤ |value| ≤ 10⁶ J/mol.
    Negative values are allowed (exothermic solution enthalpies, e.g. H in Pd).
    """
    if not is_real(value) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number in J/mol, got {value!r}")
    lo, hi = ENERGY_RANGE
    if value != 0 and not lo <= abs(value) <= hi:
        hint = (f"; in eV that is {value * _FARADAY:.4g} J/mol" if abs(value) < lo
                else "")
        raise ValueError(
            f"{name}={value!r} is implausible: expected J/mol with {lo:g} ≤ |{name}| ≤ "
            f"{hi:g} (1 eV per atom = {_FARADAY:.0f} J/mol){hint}")


@dataclass(frozen=True)
class Arrhenius:
    """An Arrhenius law p(T) = prefactor · exp(−energy / (R T)).

    Attributes:
        prefactor: the value at infinite temperature [units of the parameter]; positive.
        energy: activation energy Q [J/mol] (checked: 100 ≤ |Q| ≤ 10⁶, or 0).
    """

    prefactor: float
    energy: float

    def __post_init__(self) -> None:
        if (not is_real(self.prefactor) or not math.isfinite(self.prefactor)
                or self.prefactor <= 0):
            raise ValueError(
                f"Arrhenius prefactor must be a positive number, got {self.prefactor!r}")
        check_activation_energy("activation energy", self.energy)

    def __call__(self, T: Any) -> Any:
        """Evaluate at T [K]: a float for a number, else a UFL expression."""
        if is_real(T):
            if not math.isfinite(T) or T <= 0:
                raise ValueError(f"temperature must be positive [K], got {T!r}")
            return self.prefactor * math.exp(-self.energy / (R_GAS * T))
        return self.prefactor * ufl.exp(-self.energy / (R_GAS * T))


Parameter = float | Arrhenius | Any | Callable[[Any], Any]

# parameters that must be positive when given as numbers, and their names in messages
_POSITIVE = {"D0": "D0", "M": "mobility M", "S0": "solubility S0", "E": "Young's modulus E",
             "k": "thermal conductivity k", "rho_cp": "heat capacity rho_cp"}


@dataclass(frozen=True)
class Material:
    """One material and the named volumes it fills.

    Only the parameters a problem uses need to be given; the others stay ``None``.

    Attributes:
        name: a unique name (used in messages).
        regions: the Gmsh volume names it is assigned to (at least one).
        D0: diffusivity prefactor [m²/s]; with ``E_D`` the law D = D₀ exp(−E_D/RT).
        E_D: diffusion activation energy [J/mol] (needs ``D0``).
        M: mobility [mol m²/(J s)]; an alternative to ``D0``.
        S0: solubility prefactor [mol/m³ (per √Pa for Sieverts)]; with ``E_S`` the law
            S = S₀ exp(−E_S/RT).
        E_S: solution enthalpy [J/mol] (needs ``S0``; may be negative).
        mu0: reference chemical potential μ° [J/mol]; an alternative to ``S0``.
        Omega: partial molar volume Ω [m³/mol]; a number must satisfy
            1e-9 ≤ |Ω| ≤ 1e-2 (the molar range of
            :class:`femdiff.models.thermodynamics.StressCoupling`), which catches atomic volumes.
        E: Young's modulus [Pa].
        nu: Poisson's ratio [-], in (−1, 0.5).
        alpha: linear thermal-expansion coefficient [1/K].
        k: thermal conductivity [W/(m K)].
        rho_cp: volumetric heat capacity ρc_p [J/(m³ K)].

    Raises:
        ValueError: for a missing region, a non-positive D0, M, S0, E, k or rho_cp, a ν
            outside (−1, 0.5), conflicting alternatives, or an implausible energy.
    """

    name: str
    regions: tuple[str, ...]
    D0: Parameter | None = None
    E_D: float | None = None
    M: Parameter | None = None
    S0: Parameter | None = None
    E_S: float | None = None
    mu0: Parameter | None = None
    Omega: Parameter | None = None
    E: Parameter | None = None
    nu: Parameter | None = None
    alpha: Parameter | None = None
    k: Parameter | None = None
    rho_cp: Parameter | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a material needs a non-empty name, got {self.name!r}")
        regions = (self.regions,) if isinstance(self.regions, str) else self.regions
        try:
            regions = tuple(regions)
        except TypeError:
            raise ValueError(f"material {self.name!r}: regions must be a sequence of volume "
                             f"names, got {self.regions!r}") from None
        if not regions or not all(isinstance(r, str) and r for r in regions):
            raise ValueError(f"material {self.name!r} has no region: give regions=(\"name\", "
                             f"...) with the Gmsh volume names it fills, got {self.regions!r}")
        if len(set(regions)) != len(regions):
            raise ValueError(f"material {self.name!r} lists a region twice: {regions!r}")
        object.__setattr__(self, "regions", regions)
        where = f"material {self.name!r}"
        for key, label in _POSITIVE.items():
            value = getattr(self, key)
            if is_real(value) and (not math.isfinite(value) or value <= 0):
                raise ValueError(f"{where}: {label} must be positive, got {value!r}")
        if is_real(self.nu) and not -1.0 < self.nu < 0.5:
            raise ValueError(f"{where}: Poisson's ratio nu must lie in (-1, 0.5), "
                             f"got {self.nu!r}")
        if is_real(self.Omega) and math.isfinite(self.Omega):
            lo, hi = _OMEGA_MOLAR
            if not lo <= abs(self.Omega) <= hi:
                raise ValueError(f"{where}: Omega={self.Omega!r} is implausible: expected "
                                 f"m³/mol with {lo:g} ≤ |Omega| ≤ {hi:g} (an atomic volume "
                                 "in m³ per atom is 6.022e23 times smaller)")
        for key in ("alpha", "Omega", "mu0"):
            value = getattr(self, key)
            if is_real(value) and not math.isfinite(value):
                raise ValueError(f"{where}: {key} must be finite, got {value!r}")
        for energy, pre, alt in (("E_D", "D0", "M"), ("E_S", "S0", "mu0")):
            if getattr(self, pre) is not None and getattr(self, alt) is not None:
                raise ValueError(f"{where}: give either {pre} (with {energy}) or {alt}, "
                                 "not both")
            if getattr(self, energy) is not None:
                if getattr(self, pre) is None:
                    raise ValueError(f"{where}: {energy} needs the prefactor {pre}")
                check_activation_energy(f"{where}: {energy}", getattr(self, energy))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("name", "regions", "E_D", "E_S") or value is None:
                continue
            if not (is_real(value) or isinstance(value, Arrhenius | ufl.core.expr.Expr)
                    or callable(value)):
                raise TypeError(f"{where}: {f.name} must be a number, an Arrhenius law, a "
                                f"UFL expression or a callable of x, got "
                                f"{type(value).__name__}")

    def parameter(self, key: str, T: Any = None, x: Any = None) -> Any:
        """One parameter as a number or UFL expression.

        Args:
            key: a field name (``"k"``, ``"E"``, ...), or ``"D"`` / ``"S"`` for the laws
                D₀ exp(−E_D/RT) and S₀ exp(−E_S/RT).
            T: the temperature [K] (number, Constant, Function or UFL), needed by
                Arrhenius laws.
            x: the spatial coordinate, needed by callables of x.

        Raises:
            ValueError: when the parameter is not set, or T is missing for a law of T.
        """
        if key in ("D", "S"):
            pre, energy = ("D0", "E_D") if key == "D" else ("S0", "E_S")
            value = self.parameter(pre, T, x)
            Q = getattr(self, energy)
            if Q:
                value = value * Arrhenius(1.0, Q)(self._need_T(energy, T))
            return value
        if key not in _FIELD_NAMES:
            raise ValueError(f"unknown material parameter {key!r}; known: "
                             f"{', '.join(sorted(_FIELD_NAMES | {'D', 'S'}))}")
        value = getattr(self, key)
        if value is None:
            raise ValueError(f"material {self.name!r} does not set {key}")
        if isinstance(value, Arrhenius):
            return value(self._need_T(key, T))
        if is_real(value) or isinstance(value, ufl.core.expr.Expr):
            return value
        if x is None:
            raise ValueError(f"material {self.name!r}: {key} is a function of x; pass x")
        return value(x)

    def _need_T(self, key: str, T: Any) -> Any:
        if T is None:
            raise ValueError(f"material {self.name!r}: {key} depends on the temperature; "
                             "pass T")
        return T


_FIELD_NAMES = {f.name for f in fields(Material)} - {"name", "regions"}


class MaterialFields:
    """Piecewise parameter fields of materials assigned to a :class:`Domain`.

    Attributes:
        domain: the mesh.
        materials: the materials, in the order given.
        indicators: material name → DG0 indicator Function (1 on its cells, 0 elsewhere).
    """

    def __init__(self, domain: Domain, materials: Sequence[Material],
                 indicators: dict[str, fem.Function]) -> None:
        self.domain = domain
        self.materials = list(materials)
        self.indicators = indicators
        self._cache: dict[tuple, fem.Function] = {}

    def has(self, key: str) -> bool:
        """Whether every material sets ``key`` (``"D"``/``"S"``: their prefactor)."""
        attr = {"D": "D0", "S": "S0"}.get(key, key)
        return all(getattr(m, attr) is not None for m in self.materials)

    def missing(self, key: str) -> list[str]:
        """Names of the materials that do not set ``key``."""
        attr = {"D": "D0", "S": "S0"}.get(key, key)
        return [m.name for m in self.materials if getattr(m, attr) is None]

    def get(self, key: str, T: Any = None) -> Any:
        """Parameter ``key`` over the whole mesh (see the module doc for the form).

        A DG0 Function when every material gives a number for it, else the UFL sum
        Σ_m χ_m p_m(T, x).

        Raises:
            ValueError: naming the materials that do not set ``key``.
        """
        missing = self.missing(key)
        if missing:
            raise ValueError(f"parameter {key!r} is not set by material(s) "
                             f"{', '.join(repr(n) for n in missing)}")
        x = ufl.SpatialCoordinate(self.domain.mesh)
        values = [m.parameter(key, T, x) for m in self.materials]
        if all(is_real(v) for v in values):
            return self._cellwise(key, values)
        return sum(self.indicators[m.name] * v for m, v in zip(self.materials, values,
                                                                strict=True))

    def _cellwise(self, key: str, values: list[float]) -> fem.Function:
        """A DG0 Function of the per-material numbers (cached per key and values)."""
        ident = (key, *(float(v) for v in values))
        if ident not in self._cache:
            first = next(iter(self.indicators.values()))
            f = fem.Function(first.function_space, name=key)
            for m, v in zip(self.materials, values, strict=True):
                f.x.array[:] += float(v) * self.indicators[m.name].x.array
            self._cache[ident] = f
        return self._cache[ident]


def assign(domain: Domain, materials: Sequence[Material]) -> MaterialFields:
    """Assign materials to the named volumes of ``domain``.

    Every volume must have exactly one material, and every region must be a volume of
    the mesh.

    Raises:
        ValueError: (one line, listing the names) for a volume without a material, a
            volume in two materials, a region the mesh does not have, two materials with
            one name, or a mesh without named volumes.
    """
    materials = list(materials)
    if not materials:
        raise ValueError("no materials given")
    for m in materials:
        if not isinstance(m, Material):
            raise TypeError(f"expected femdiff.models.materials.Material, got {type(m).__name__}")
    names = [m.name for m in materials]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two materials are named {', '.join(repr(n) for n in twice)}")
    volumes = domain.volume_names
    if not volumes or domain.cell_tags is None:
        raise ValueError("the mesh has no named volumes to assign materials to; name its "
                         "Gmsh volumes (or use femdiff.geometry.mesh.with_volumes)")
    unknown = sorted({r for m in materials for r in m.regions if r not in volumes})
    if unknown:
        raise ValueError(f"unknown region(s) {', '.join(repr(r) for r in unknown)}; this "
                         f"mesh has volumes: {', '.join(repr(v) for v in volumes)}")
    owners: dict[str, list[str]] = {v: [] for v in volumes}
    for m in materials:
        for r in m.regions:
            owners[r].append(m.name)
    double = [f"{v!r} (in {' and '.join(repr(o) for o in own)})"
              for v, own in owners.items() if len(own) > 1]
    if double:
        raise ValueError(f"volume(s) assigned to two materials: {', '.join(double)}")
    orphans = [v for v, own in owners.items() if not own]
    if orphans:
        raise ValueError(f"volume(s) without a material: "
                         f"{', '.join(repr(v) for v in orphans)}; materials cover "
                         f"{', '.join(repr(v) for v in volumes if owners[v])}")
    V0 = fem.functionspace(domain.mesh, ("Discontinuous Lagrange", 0))
    indicators = {}
    for m in materials:
        chi = fem.Function(V0, name=f"chi_{m.name}")
        for r in m.regions:
            chi.x.array[V0.dofmap.list[domain.cells(r)].ravel()] = 1.0
        chi.x.scatter_forward()
        indicators[m.name] = chi
    return MaterialFields(domain, materials, indicators)


def piecewise(fields_: MaterialFields, values: Mapping[str, Any]) -> Any:
    """Σ_m χ_m values[m.name]: a custom per-material expression (e.g. a derived law)."""
    missing = [m.name for m in fields_.materials if m.name not in values]
    if missing:
        raise ValueError(f"no value for material(s) {', '.join(repr(n) for n in missing)}")
    return sum(fields_.indicators[m.name] * values[m.name] for m in fields_.materials)
