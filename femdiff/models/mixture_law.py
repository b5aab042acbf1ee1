"""The materials of a multicomponent body: :class:`MixtureMaterial` and :class:`MixtureLaw`.

A :class:`MixtureMaterial` fills named volumes and gives, per species, the parameters of
a single-species :class:`~femdiff.models.materials.Material`: a reference potential μ°_i,m or a
solubility S_i,m (μ°_i,m = −R T ln S_i,m), and a diffusivity D_i,m (dilute transport
L_ij = δ_ij D_i X_i/(R T)), or the material's own :class:`~femdiff.models.mixtures.Onsager`
transport; each value a number, an Arrhenius law of T or a formula of x.
:class:`MixtureLaw` turns them into the fields that
:class:`~femdiff.problems.multicomponent.MulticomponentProblem` puts into its weak form, the
materials' part Σ_i μ°_i(x) X_i of g and L(x, X) = Σ_m χ_m L_m(X), with one
:class:`~femdiff.models.material_law.DiffusionLaw` per species.

The material data live here, apart from the problem's spaces, boundary conditions and weak
form (as :mod:`femdiff.models.material_law` does for one species);
:mod:`femdiff.problems.multicomponent` re-exports both classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from femdiff.geometry.mesh import Domain
from femdiff.models.material_law import DiffusionLaw
from femdiff.models.materials import Material, MaterialFields, assign
from femdiff.models.mixtures import Onsager
from femdiff.models.thermodynamics import R_GAS, Units, gas_constant

__all__ = ["SPECIES_KEYS", "MixtureLaw", "MixtureMaterial"]

#: per-species material parameters (the single-species keys of Material)
SPECIES_KEYS = ("D0", "E_D", "S0", "E_S", "mu0")


@dataclass(frozen=True)
class MixtureMaterial:
    """One material of a multicomponent body, and the named volumes it fills.

    Attributes:
        name: a unique name (used in messages).
        regions: the Gmsh volume names it is assigned to (at least one).
        species: species name → its parameters in this material, with the keys of the
            single-species :class:`~femdiff.models.materials.Material`: a solubility ``S0`` (with
            ``E_S``; μ°_i = −R T ln S_i) or a reference potential ``mu0`` [J/mol], and a
            diffusivity ``D0`` (with ``E_D``) [m²/s] for the dilute transport
            L_ij = δ_ij D_i X_i/(R T). Each value is a number, an
            :class:`~femdiff.models.materials.Arrhenius` law of the model's T, a UFL expression
            or a callable of x.
        transport: this material's :class:`Onsager` transport (instead of ``D0``).

    Raises:
        ValueError: as :class:`~femdiff.models.materials.Material` for a bad value (the message
            names the species), an unknown key, or both ``transport`` and ``D0``.
    """

    name: str
    regions: tuple[str, ...]
    species: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    transport: Onsager | None = None

    def __post_init__(self) -> None:
        regions = Material(self.name, self.regions).regions  # the region checks
        object.__setattr__(self, "regions", regions)
        if not isinstance(self.species, Mapping):
            raise TypeError(f"material {self.name!r}: species must be a mapping species "
                            f"name -> parameters, got {type(self.species).__name__}")
        for s, params in self.species.items():
            if not isinstance(params, Mapping):
                raise TypeError(f"material {self.name!r}, species {s!r}: parameters must be "
                                f"a mapping with keys {', '.join(SPECIES_KEYS)}")
            unknown = sorted(set(params) - set(SPECIES_KEYS))
            if unknown:
                raise ValueError(f"material {self.name!r}, species {s!r}: unknown key(s) "
                                 f"{', '.join(unknown)}; allowed: {', '.join(SPECIES_KEYS)}")
            self.of(s)
            if self.transport is not None and params.get("D0") is not None:
                raise ValueError(f"material {self.name!r}: give either transport or D0 "
                                 f"(species {s!r}), not both")
        if self.transport is not None and not isinstance(self.transport, Onsager):
            raise TypeError(f"material {self.name!r}: transport must be an Onsager, got "
                            f"{type(self.transport).__name__}")

    def of(self, species: str) -> Material:
        """This material's parameters for one species (a single-species Material)."""
        try:
            return Material(self.name, self.regions, **dict(self.species.get(species, {})))
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"species {species!r}: {exc}") from None


class MixtureLaw:
    """The per-material laws of every species, on one assignment of the materials.

    Each species gets a :class:`~femdiff.models.material_law.DiffusionLaw` over its own
    single-species view of the materials (:meth:`MixtureMaterial.of`), sharing the
    indicators of one :func:`~femdiff.models.materials.assign`: μ°_i(x, T) and D_i(x, T) are the
    single-species fields.
    """

    def __init__(self, domain: Domain, materials: Sequence[MixtureMaterial],
                 species: Sequence[str]) -> None:
        materials = list(materials)
        for m in materials:
            if not isinstance(m, MixtureMaterial):
                raise TypeError("materials must be "
                                f"femdiff.problems.multicomponent.MixtureMaterial, "
                                f"got {type(m).__name__}")
            unknown = sorted(set(m.species) - set(species))
            if unknown:
                raise ValueError(f"material {m.name!r}: unknown species "
                                 f"{', '.join(map(repr, unknown))}; species: "
                                 f"{', '.join(map(repr, species))}")
        self.materials = materials
        self.fields = assign(domain, [Material(m.name, m.regions) for m in materials])
        self.laws: dict[str, DiffusionLaw] = {}
        for s in species:
            view = MaterialFields(domain, [m.of(s) for m in materials],
                                  self.fields.indicators)
            try:
                self.laws[s] = DiffusionLaw(domain, view)
            except ValueError as exc:
                raise ValueError(f"species {s!r}: {exc}") from None

    def distinct(self) -> bool:
        """Whether the fractions can jump between materials (two or more materials)."""
        return len(self.materials) > 1

    @property
    def has_reference(self) -> bool:
        """Whether some species has a per-material μ° (S0 or mu0)."""
        return any(law.has_reference for law in self.laws.values())

    def uses_solubility(self) -> bool:
        """Whether some material gives a solubility S0 (μ° = −R T ln S, molar units)."""
        return any(m.of(s).S0 is not None for m in self.materials for s in m.species)

    def check_model(self, kind: str, temperature: Any, units: Units) -> None:
        """Check that the model gives what the laws need: its T and, for S0, molar units.

        Args:
            kind: the :meth:`transport_kind` of the independent species.
            temperature: the model's T (its first term with one), or ``None``.
            units: the model's units (``"molar"`` unless a term sets them).

        Raises:
            ValueError: the laws depend on T and the model has none, or a material gives
                a solubility S0 (μ° = −R T ln S in J/mol) and the units are not molar.
        """
        needs_T = kind == "dilute" or any(law.needs_temperature for law in self.laws.values())
        if needs_T and temperature is None:
            raise ValueError("the materials' laws depend on T: the model needs a term "
                             "with a temperature (e.g. IdealMixing)")
        if self.uses_solubility() and gas_constant(units) != R_GAS:
            raise ValueError("a solubility S0 gives μ° = −R T ln S in J/mol: use a "
                             "model with units='molar' (or give mu0)")

    def reference_energy(self, X: Mapping[str, Any], T: Any) -> Any:
        """Σ_i μ°_i(x, T) X_i [J/mol]: the materials' part of g (0 without μ°)."""
        return sum(law.reference_potential(T) * X[s] for s, law in self.laws.items()
                   if law.has_reference and s in X)

    def transport_kind(self, species: Sequence[str]) -> str:
        """How the materials give L: ``"onsager"``, ``"dilute"`` or ``"none"``.

        ``"onsager"``: every material a transport; ``"dilute"``: every material D0 for
        every species in ``species``; ``"none"``: no material gives transport.
        """
        with_t = [m.name for m in self.materials if m.transport is not None]
        with_d = [m.name for m in self.materials
                  if any(m.of(s).D0 is not None for s in species)]
        if not with_t and not with_d:
            return "none"
        if len(with_t) == len(self.materials):
            return "onsager"
        missing = [(m.name, s) for m in self.materials for s in species
                   if m.transport is None and m.of(s).D0 is None]
        if with_t or missing:
            raise ValueError("every material needs its transport: either transport= in every "
                             "material or D0 for every independent species in every "
                             "material; missing: " + ", ".join(
                                 f"{n!r} (species {s!r})" for n, s in missing)
                             + (f"; with transport: {', '.join(map(repr, with_t))}"
                                if with_t else ""))
        return "dilute"

    def onsager(self, X: Mapping[str, Any], independent: Sequence[str], lattice: bool,
                hessian: Any, kT: float, T: Any) -> list[list[Any]]:
        """L(x, X) = Σ_m χ_m L_m(X): each material's transport, or δ_ij D_i(x, T) X_i/(RT)."""
        m = len(independent)
        if self.transport_kind(independent) == "dilute":
            return [[self.laws[a].diffusivity(T) * X[a] / kT if a == b else 0.0
                     for b in independent] for a in independent]
        chi = self.fields.indicators
        L = [[0.0] * m for _ in range(m)]
        for mat in self.materials:
            Lm = mat.transport.build(X, independent, lattice, hessian)  # type: ignore[union-attr]
            for i in range(m):
                for j in range(m):
                    L[i][j] = L[i][j] + chi[mat.name] * Lm[i][j]
        return L
