"""The diffusion plug-in, ``model = "diffusion"``: one species in the mixed μ–C form.

Validation (:class:`DiffusionModel`) turns [physics], [[species]], [[boundary]] and
[mechanics] into checked tables and the objects they describe (:class:`DiffusionSetup`:
the μ terms, the mobility, the elastic material); :class:`DiffusionSimulation` binds them
to the mesh and σ_h and drives the :class:`~femdiff.problems.diffusion.DiffusionProblem`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from femdiff.case.expression import as_numpy, as_ufl
from femdiff.case.mechanics import solve_mechanics, validate_mechanics
from femdiff.case.registry import ProblemSimulation
from femdiff.case.schema import (
    CaseError,
    Context,
    Key,
    array_of_tables,
    check_value,
    construct,
    table,
    typed,
)
from femdiff.case.thermal import temperature_field
from femdiff.case.traps import on_mesh as traps_on_mesh
from femdiff.case.traps import validate_traps

if TYPE_CHECKING:
    from femdiff.case.loader import Case

#: μ terms: type -> its keys (built into femdiff.models.thermodynamics terms by validation)
TERM_KEYS: dict[str, dict[str, Key]] = {
    "ideal": {"T": Key("positive", doc="temperature [K]; default materials.T"),
              "mu0": Key("number", default=0.0), "c_ref": Key("positive", default=1.0)},
    "stress": {"omega": Key("number", doc="Ω; default materials.omega")},
    # Fermi–Dirac lattice hydrogen (Sofronis–McMeeking): μ = μ° + RT ln(θ/(1−θ)), θ = C/N_L
    "lattice_saturation": {"T": Key("positive", doc="temperature [K]; default materials.T"),
                           "n_sites": Key("positive", required=True,
                                          doc="lattice site density N_L [mol/m³]"),
                           "mu0": Key("number", default=0.0)},
    "regular_solution": {"T": Key("positive", doc="temperature [K]; default materials.T"),
                         "omega_mix": Key("number", required=True),
                         "c_sites": Key("positive", default=1.0)},
    "double_well": {"rho": Key("positive", required=True),
                    "c_alpha": Key("number", required=True),
                    "c_beta": Key("number", required=True)},
    "gradient_energy": {"kappa": Key("nonnegative", required=True)},
    "interaction": {"potential": Key("expr", required=True, doc="V_int(x) [J/mol]")},
}

MOBILITY_KEYS: dict[str, dict[str, Key]] = {
    "einstein": {"D": Key("positive", required=True, doc="diffusivity [m²/s]"),
                 "T": Key("positive", doc="default materials.T")},
    "lattice": {"D": Key("positive", required=True, doc="lattice diffusivity D_L [m²/s]"),
                "n_sites": Key("positive", required=True, doc="N_L, as the saturation term"),
                "T": Key("positive", doc="default materials.T")},
    "linear": {"M0": Key("positive", required=True)},
    "constant": {"M0": Key("positive", required=True)},
    "cahn_hilliard": {"M0": Key("positive", required=True)},
}

BC_TYPES = ("no_flux", "concentration", "potential", "flux")


@dataclass(frozen=True)
class DiffusionSetup:
    """What a diffusion case validates into, before meshing.

    Attributes:
        terms: the μ terms in [physics] order; a ``stress`` term holds σ_h = 0 and an
            ``interaction`` term its formula until :meth:`on_mesh` binds them.
        mobility: the :class:`~femdiff.models.thermodynamics.Mobility`.
        material: the :class:`~femdiff.physics.mechanics.ElasticMaterial` of [mechanics], or None.
    """

    terms: tuple[Any, ...]
    mobility: Any
    material: Any
    traps: tuple[Any, ...] = ()  # [[traps]] (femdiff.case.traps); formulas bound on mesh

    @property
    def material_stress(self) -> bool:
        """Whether the 'stress' term uses each material's Omega (``sigma_h=``)."""
        return MATERIAL_STRESS in self.terms

    def on_mesh(self, mesh: Any, sigma_h: Any) -> list[Any]:
        """The μ terms bound to the mesh (formulas as UFL) and to the solved σ_h."""
        from femdiff.models import thermodynamics as th

        out = []
        for term in self.terms:
            if term is MATERIAL_STRESS:  # the problem's sigma_h= (see material_stress)
                continue
            if isinstance(term, th.StressCoupling):
                term = dataclasses.replace(term, sigma_h=sigma_h)
            elif isinstance(term, th.Interaction):
                term = dataclasses.replace(term, potential=as_ufl(term.potential, mesh))
            out.append(term)
        return out


#: the 'stress' term with each material's Omega (Ω_m σ_h region by region): not a μ term
#: object of its own, the DiffusionProblem's ``sigma_h=`` with the materials
MATERIAL_STRESS = "material_stress"


def _check_in_domain(value: Any, where: str, lo: float, hi: float, ctx: Context) -> None:
    """A constant concentration must be finite and inside the μ model's open domain."""
    if not isinstance(value, float):
        return
    if not math.isfinite(value):
        raise ctx.error(where, f"must be a finite number, got {value}")
    if not lo < value < hi:
        why = " (ln C needs C > 0)" if lo == 0 and value <= lo else ""
        if value >= hi and math.isfinite(hi):  # lattice saturation: θ = C/N_L < 1
            why = f" (site saturation needs C below the site density {hi:g})"
        raise ctx.error(where, f"concentration {value:g} is outside the domain ({lo:g}, "
                        f"{hi:g}) of the chemical-potential model{why}")


class DiffusionModel:
    """``model = "diffusion"``: one species, mixed μ–C, optional mechanics (σ_h)."""

    time_dependent = True
    sections = ("physics", "species", "boundary", "traps", "mechanics", "thermal", "solver",
                "checkpoint")
    PHYSICS = {
        "model": Key("string"),
        "terms": Key("table"),  # array, checked below
        "mobility": Key("table", doc="type = " + " | ".join(MOBILITY_KEYS)
                        + "; omit it when every [[materials]] entry gives D0"),
        "degree": Key("integer", default=1, choices=(1, 2)),
        "lumped": Key("bool", default=True),
        "energy_stable": Key("bool", default=False),
        "n_sites": Key("positive", doc="N_L for Oriani [[traps]] (default: from a term)"),
        "trap_initial": Key("choice", default="given", choices=("given", "equilibrium")),
        "source": Key("texpr", doc="volume source s in ∂C/∂t + ∇·J = s [C units/s], a "
                      "number or formula of x, y, z and t"),
    }
    SPECIES = {
        "name": Key("string", required=True),
        "initial": Key("expr", required=True, doc="initial concentration"),
        "concentration_scale": Key("positive"),
    }
    BOUNDARY = {
        "name": Key("string", required=True, doc="a boundary name"),
        "type": Key("choice", required=True, choices=BC_TYPES),
        "value": Key("texpr", doc="a number or formula of x, y, z and t"),
        "species": Key("string"),
    }

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context
                 ) -> DiffusionSetup:
        """Check [physics], [[species]], [[boundary]], [mechanics]; build the μ terms."""
        from femdiff.models import thermodynamics as th

        phys_raw = dict(raw.get("physics", {}))
        terms_raw = array_of_tables(phys_raw.pop("terms", None), "physics.terms", ctx)
        phys = table(phys_raw, self.PHYSICS, "physics", ctx)
        mat = data["materials"]
        units = mat["units"]
        if not terms_raw:
            raise ctx.error("physics.terms", "missing required value: at least one μ term; "
                            f"allowed types: {', '.join(TERM_KEYS)}")
        terms, built = [], []
        for i, t in enumerate(terms_raw):
            where = f"physics.terms[{i}]"
            term = typed(t, TERM_KEYS, where, ctx)
            if "T" in TERM_KEYS[term["type"]] and term["T"] is None:
                if mat["T"] is None:
                    raise ctx.error(f"{where}.T", "missing required value (temperature [K]); "
                                    "give it here or as materials.T")
                term["T"] = mat["T"]
            if term["type"] == "ideal":
                obj = construct(where, ctx, th.Ideal, term["T"], term["mu0"], term["c_ref"],
                                units)
            elif term["type"] == "lattice_saturation":  # T checked: the error is N_L's
                obj = construct(f"{where}.n_sites", ctx, th.LatticeSaturation, term["T"],
                                term["n_sites"], term["mu0"], units)
            elif term["type"] == "regular_solution":
                obj = construct(where, ctx, th.RegularSolution, term["T"], term["omega_mix"],
                                units, term["c_sites"])
            elif term["type"] == "double_well":
                obj = construct(where, ctx, th.DoubleWell, term["rho"], term["c_alpha"],
                                term["c_beta"])
            elif term["type"] == "gradient_energy":
                obj = construct(where, ctx, th.GradientEnergy, term["kappa"])
            elif term["type"] == "interaction":  # V_int(x): made UFL on the mesh by build
                obj = th.Interaction(term["potential"])
            else:  # stress
                if raw.get("mechanics") is None:
                    raise ctx.error(where, "the 'stress' term needs a [mechanics] section "
                                    "(σ_h comes from the elasticity solve)")
                listed = data.get("material_list") or []
                with_omega = [m.name for m in listed if m.Omega is not None]
                if with_omega and (term["omega"] is not None or mat["omega"] is not None):
                    raise ctx.error(f"{where}.omega", "Ω is given twice: here and as Omega "
                                    "of [[materials]]; give one of them")
                if with_omega:  # each material's own Ω: bound to σ_h by the simulation
                    without = [m.name for m in listed if m.Omega is None]
                    if without:
                        raise ctx.error("materials", f"the 'stress' term uses each "
                                        f"material's Omega; not set by "
                                        f"{', '.join(repr(n) for n in without)}")
                    terms.append(term)
                    built.append(MATERIAL_STRESS)
                    continue
                if term["omega"] is None:
                    term["omega"] = mat["omega"]
                if term["omega"] is None:
                    raise ctx.error(f"{where}.omega", "missing required value (partial molar "
                                    "volume Ω); give it here, as materials.omega or as "
                                    "Omega of every [[materials]] entry")
                # σ_h comes from the elasticity solve: bound to it by build
                obj = construct(f"{where}.omega", ctx, th.StressCoupling, term["omega"], 0.0,
                                units)
            terms.append(term)
            built.append(obj)
        phys["terms"] = terms
        listed = data.get("material_list")
        if phys["mobility"] is None:
            if not listed or any(m.D0 is None for m in listed):
                raise ctx.error("physics.mobility", "missing required value; allowed types: "
                                f"{', '.join(MOBILITY_KEYS)} (or D0 in every [[materials]])")
            data["physics"] = phys
            return self._finish(raw, data, ctx, built, None)
        if listed and any(m.D0 is not None for m in listed):
            raise ctx.error("physics.mobility", "give either [physics.mobility] or D0 in "
                            "[[materials]], not both")
        thermal = data.get("thermal")
        if thermal is not None and not isinstance(thermal["T"], float) \
                and phys["mobility"].get("type") == "einstein":
            raise ctx.error("physics.mobility", "an 'einstein' mobility takes one T; with "
                            "a [thermal] temperature field give D0 (and E_D) in [[materials]]")
        mob = typed(phys["mobility"], MOBILITY_KEYS, "physics.mobility", ctx)
        if mob["type"] in ("einstein", "lattice") and mob["T"] is None:
            if mat["T"] is None:
                raise ctx.error("physics.mobility.T", "missing required value (temperature "
                                "[K]); give it here or as materials.T")
            mob["T"] = mat["T"]
        phys["mobility"] = mob
        if mob["type"] == "einstein":
            mobility = construct("physics.mobility", ctx, th.Mobility.from_diffusivity,
                                 mob["D"], mob["T"], units)
        elif mob["type"] == "lattice":
            mobility = construct("physics.mobility", ctx, th.Mobility.lattice, mob["D"],
                                 mob["T"], mob["n_sites"], units)
        else:
            mobility = construct("physics.mobility", ctx, getattr(th.Mobility, mob["type"]),
                                 mob["M0"])
        data["physics"] = phys
        return self._finish(raw, data, ctx, built, mobility)

    def _finish(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context,
                built: list[Any], mobility: Any) -> DiffusionSetup:
        """Check [[species]], [[boundary]] and [mechanics] (after [physics])."""
        from femdiff.models import thermodynamics as th

        mat = data["materials"]
        species = [self._species(s, i, data, ctx)
                   for i, s in enumerate(array_of_tables(raw.get("species"), "species", ctx))]
        if len(species) != 1:
            raise ctx.error("species", f"model 'diffusion' needs exactly one [[species]], got "
                            f"{len(species)} (several species: a multicomponent model)")
        ctx.species = [s["name"] for s in species]
        data["species"] = species
        # constant data are checked against the model's domain here, before meshing;
        # formulas are checked node by node when the problem is set up
        lo, hi = th.ChemicalPotential([t for t in built if t is not MATERIAL_STRESS]).domain
        initial = species[0]["initial"]
        for name, value in (initial.items() if isinstance(initial, dict)
                            else [(None, initial)]):
            where = "species[0].initial" + ("" if name is None else f".{name}")
            _check_in_domain(value, where, lo, hi, ctx)

        bcs = []
        for i, b in enumerate(array_of_tables(raw.get("boundary"), "boundary", ctx)):
            where = f"boundary[{i}]"
            bc = table(b, self.BOUNDARY, where, ctx)
            ctx.check_boundary(bc["name"], f"{where}.name")
            if bc["species"] is not None:  # one species: the key would change nothing
                ctx.check_species(bc["species"], f"{where}.species")
                raise ctx.error(f"{where}.species", "model 'diffusion' has one species: "
                                "every condition is for it (species is for "
                                "model = 'multicomponent'); remove it")
            if bc["type"] != "no_flux" and bc["value"] is None:
                raise ctx.error(f"{where}.value", f"missing required value for a "
                                f"{bc['type']!r} boundary condition (a number or formula)")
            if bc["type"] == "no_flux" and bc["value"] is not None:
                raise ctx.error(f"{where}.value", "a 'no_flux' boundary takes no value")
            if isinstance(bc["value"], float) and not math.isfinite(bc["value"]):
                raise ctx.error(f"{where}.value", f"must be a finite number, got {bc['value']}")
            if bc["type"] == "concentration":
                _check_in_domain(bc["value"], f"{where}.value", lo, hi, ctx)
            bcs.append(bc)
        names = [b["name"] for b in bcs]
        for n in set(names):
            if names.count(n) > 1:
                raise ctx.error("boundary", f"boundary {n!r} has {names.count(n)} conditions; "
                                "give one per boundary")
        data["boundary"] = bcs
        data["mechanics"], material = validate_mechanics(
            raw.get("mechanics"), mat, ctx, data.get("material_list"), data.get("thermal"))
        if data["mechanics"] is not None and data["mechanics"]["two_way"]:
            from femdiff.models import thermodynamics as th

            if MATERIAL_STRESS in built:
                raise ctx.error("mechanics.two_way", "two-way coupling takes one Ω (a "
                                "'stress' term with omega), not each material's Omega")
            if not any(isinstance(t, th.StressCoupling) for t in built):
                raise ctx.error("mechanics.two_way", "two-way coupling needs a 'stress' term "
                                "in physics.terms (it gives Ω once, for both directions)")
            if data["mechanics"]["c_ref"] is None \
                    and not isinstance(species[0]["initial"], float):
                raise ctx.error("mechanics.c_ref", "missing required value: the stress-free "
                                "concentration of two-way coupling defaults to the initial "
                                "one, which here is not a number")
        data["traps"], traps = validate_traps(raw.get("traps"), data["materials"]["units"],
                                              ctx)
        several = len(data.get("material_list") or []) > 1  # C broken at the interfaces
        if traps and several:
            raise ctx.error("traps", "[[traps]] with two or more [[materials]] (C jumps at "
                            "the interfaces) are not supported yet; give one material")
        if several and data["mechanics"] is not None and data["mechanics"]["two_way"]:
            raise ctx.error("mechanics.two_way", "two-way coupling with two or more "
                            "[[materials]] (C jumps at the interfaces) is not supported yet; "
                            "give one material or use one-way mechanics")
        if traps and mat["T"] is None:
            raise ctx.error("materials.T", "missing required value: [[traps]] need the "
                            "temperature [K] of their rate laws")
        saturation = any(isinstance(t, th.LatticeSaturation) for t in built)
        if traps and data["physics"]["n_sites"] is None and not saturation \
                and any(t["type"] == "oriani" for t in data["traps"]):
            raise ctx.error("physics.n_sites", "missing required value: Oriani [[traps]] "
                            "need the lattice site density N_L (or a 'lattice_saturation' "
                            "term)")
        phys_raw = raw.get("physics", {})
        for key in ("n_sites", "trap_initial"):
            if key in phys_raw and not traps:
                raise ctx.error(f"physics.{key}", "is for [[traps]] (Oriani traps' N_L, the "
                                "traps' initial state); this case has none")
        self._check_sites(data, built, mobility, ctx)
        n_sites = data["physics"]["n_sites"]
        initial = species[0]["initial"]
        if n_sites is not None and isinstance(initial, float) and initial >= n_sites \
                and any(t["type"] == "oriani" for t in data["traps"]):
            raise ctx.error("species[0].initial", f"concentration {initial:g} ≥ N_L = "
                            f"{n_sites:g} (physics.n_sites): Oriani traps need C_L < N_L")
        thermal = data.get("thermal")
        if thermal is not None and thermal["heating_rate"] is not None and not traps:
            raise ctx.error("thermal.heating_rate", "a temperature ramp drives the rate laws "
                            "of [[traps]] (TDS); this case has none")
        return DiffusionSetup(tuple(built), mobility, material, tuple(traps))

    @staticmethod
    def _check_sites(data: dict[str, Any], built: list[Any], mobility: Any, ctx: Context
                     ) -> None:
        """One lattice site density N_L, and trap densities not above it.

        N_L may be given by a 'lattice_saturation' term, a 'lattice' mobility, physics.n_sites
        and a per-site McNabb–Foster trap: each must be the same number (they are the
        same sites), and a number N_T of trap sites cannot exceed it.
        """
        phys = data["physics"]
        given = [(f"physics.terms[{i}].n_sites", t["n_sites"])
                 for i, t in enumerate(phys["terms"]) if t["type"] == "lattice_saturation"]
        mob = phys["mobility"]
        if isinstance(mob, dict) and mob.get("type") == "lattice":
            given.append(("physics.mobility.n_sites", mob["n_sites"]))
        if phys["n_sites"] is not None:
            given.append(("physics.n_sites", phys["n_sites"]))
        for i, t in enumerate(data["traps"]):
            if t["type"] == "mcnabb_foster" and t.get("n_sites") is not None:
                given.append((f"traps[{i}].n_sites", t["n_sites"]))
        for key, value in given[1:]:
            first, ref = given[0]
            if not math.isclose(value, ref, rel_tol=1e-12):
                raise ctx.error(key, f"lattice site density {value:g} differs from {first} = "
                                f"{ref:g}: both are N_L of the same lattice; give one value")
        if not given:
            return
        key_NL, N_L = given[0]
        for i, t in enumerate(data["traps"]):
            if isinstance(t["density"], float) and t["density"] > N_L:
                raise ctx.error(f"traps[{i}].density", f"trap density {t['density']:g} is "
                                f"above the lattice site density N_L = {N_L:g} ({key_NL}): "
                                "trap sites are a fraction of the sites (N_T ≤ N_L)")

    def check_solver(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> None:
        """What the solver can run (after [time] and [solver]).

        femdiff_schur, two-way mechanics with 'iterative', convex splitting with the time
        scheme.
        """
        solver = data["solver"]
        schur = solver["petsc_options"].get("femdiff_schur")
        where = "solver.petsc_options.femdiff_schur"
        if schur is not None:
            if not any(t["type"] == "gradient_energy" for t in data["physics"]["terms"]):
                raise ctx.error(where, "the BKSW Schur preconditioner is for Cahn–Hilliard "
                                "(a 'gradient_energy' term in physics.terms); this case has "
                                "none: remove it")
            if solver["linear"] != "iterative":
                raise ctx.error(where, "the BKSW Schur preconditioner needs the iterative "
                                "fieldsplit solver: set solver.linear = \"iterative\" (it "
                                "is the default there)")
            if data["traps"] or (data["mechanics"] or {}).get("two_way"):
                raise ctx.error(where, "the BKSW Schur preconditioner is for the (C, μ) "
                                "system of Cahn–Hilliard alone (no traps, no two-way "
                                "mechanics)")
        if data["physics"]["energy_stable"] and data["time"]["scheme"] != "backward_euler":
            raise ctx.error("physics.energy_stable", "convex splitting is energy stable "
                            "for backward Euler only: set time.scheme = \"backward_euler\" "
                            f"(got {data['time']['scheme']!r})")
        mech = data["mechanics"]
        if mech is not None and mech["two_way"] and solver["linear"] == "iterative":
            raise ctx.error("solver.linear", "two-way mechanics solves (C, μ, u) together "
                            "with LU only (the iterative fieldsplit has no block for u): "
                            "use \"auto\" or \"lu\"")

    def _species(self, raw: Any, i: int, data: dict[str, Any], ctx: Context
                 ) -> dict[str, Any]:
        """One [[species]] table; ``initial`` may be a table material name → value."""
        where = f"species[{i}]"
        initial = raw.get("initial") if isinstance(raw, dict) else None
        if not isinstance(initial, dict):
            return table(raw, self.SPECIES, where, ctx)
        names = [m.name for m in data.get("material_list") or []]
        if not names:
            raise ctx.error(f"{where}.initial", "an initial value per material needs "
                            "[[materials]]; give a number or formula")
        if set(initial) != set(names):
            raise ctx.error(f"{where}.initial", f"must name exactly the materials "
                            f"{', '.join(names)}; got {', '.join(initial) or '(none)'}")
        sp = table({k: v for k, v in raw.items() if k != "initial"},
                   {**self.SPECIES, "initial": Key("expr")}, where, ctx)
        sp["initial"] = {n: check_value(initial[n], Key("expr"), f"{where}.initial.{n}", ctx)
                         for n in names}
        return sp

    def build(self, case: Case, domain: Any) -> DiffusionSimulation:
        """Solve the mechanics (if any) and set up the DiffusionProblem."""
        return DiffusionSimulation(case, domain)


def _uses_t(value: Any) -> bool:
    return not isinstance(value, float) and value.uses_time


class _AtTime:
    """A formula of x, y, z, t frozen at one t: ``numpy(x)`` as the Dirichlet data want."""

    def __init__(self, expr: Any, t: float) -> None:
        self.expr, self.t = expr, float(t)

    def numpy(self, x: Any) -> Any:
        return self.expr.numpy(x, self.t)


def _at_time(value: Any, t: float) -> Any:
    return value if not _uses_t(value) else _AtTime(value, t)


def _source(value: Any) -> Any:
    """[physics] source as the problem's callable ``(x, t) -> UFL``."""
    if isinstance(value, float):
        return lambda X, t: value

    def source(X: Any, t: Any) -> Any:
        env = {"xyz"[i]: X[i] for i in range(X.ufl_shape[0])}
        env["t"] = t
        return value.evaluate(env, "ufl")

    return source


class DiffusionSimulation(ProblemSimulation):
    """A built diffusion case: the DiffusionProblem and what the runner records."""

    def __init__(self, case: Case, domain: Any) -> None:
        from petsc4py import PETSc

        from dolfinx import fem

        from femdiff.models import thermodynamics as th
        from femdiff.physics import boundary as b
        from femdiff.problems import diffusion as d

        data, setup, time = case.data, case.setup, case.time
        assert time is not None  # a time-dependent model: validation built it
        self.case, self.domain = case, domain
        mesh = domain.mesh
        self.heat, self.T = temperature_field(data.get("thermal"),
                                              data.get("material_list"), domain, case.path)
        self.solid, self.sigma_h = solve_mechanics(data["mechanics"], setup.material, domain,
                                                   self.T)
        bcs: list[Any] = []
        t0 = data["time"]["t0"]
        # formulas of t: a Constant in the forms (Flux, source), Dirichlet values
        # re-interpolated; both updated to t_{n+1} before each solve (never recompiled)
        self._t = fem.Constant(mesh, PETSc.ScalarType(t0))  # type: ignore[operator]
        timed: list[tuple[int, Any]] = []  # (index among the held conditions, bc)
        held = 0
        for bc in data["boundary"]:
            kind, name = bc["type"], bc["name"]
            value = bc["value"]
            if kind in ("concentration", "potential") and _uses_t(value):
                timed.append((held, bc))
                value = _at_time(value, t0)
            held += kind in ("concentration", "potential")
            if kind == "no_flux":
                bcs.append(b.NoFlux(name))
            elif kind == "concentration":  # Dirichlet data are interpolated: NumPy
                bcs.append(b.FixedConcentration(name, as_numpy(value)))
            elif kind == "potential":
                bcs.append(b.FixedPotential(name, as_numpy(value)))
            else:
                bcs.append(b.Flux(name, as_ufl(value, mesh, self._t)))
        sp = data["species"][0]
        self.species = sp["name"]
        thermal = data.get("thermal") or {}
        extra: dict[str, Any] = {}
        problem_class: Any = d.DiffusionProblem
        if data.get("material_list"):
            extra["materials"] = data["material_list"]
            if thermal.get("heat_of_transport") is not None:
                extra["heat_of_transport"] = thermal["heat_of_transport"]
        if thermal:
            extra["temperature"] = self.T
        if setup.material_stress:  # Ω_m σ_h with each material's Omega
            extra["sigma_h"] = self.sigma_h
        source = data["physics"].get("source")
        if source is not None:  # the problem's own t (the midpoint for Crank–Nicolson)
            extra["source"] = _source(source)
        if setup.traps:  # hydrogen with traps (femdiff.problems.trapping)
            from femdiff.problems.trapping import TrappingProblem

            problem_class = TrappingProblem
            extra.update(traps=traps_on_mesh(data["traps"], list(setup.traps), mesh),
                         n_sites=data["physics"]["n_sites"],
                         trap_initial=data["physics"]["trap_initial"])
            extra.setdefault("temperature", data["materials"]["T"])
            if thermal.get("heating_rate") is not None:  # TDS: T(t) = T₀ + β (t − t₀)
                T0, beta, t0 = thermal["T"], thermal["heating_rate"], data["time"]["t0"]
                extra["temperature"] = lambda t: T0 + beta * (t - t0)
        self.problem = problem_class(
            domain, th.ChemicalPotential(setup.on_mesh(mesh, self.sigma_h)), setup.mobility,
            initial=({n: self._initial(v, domain) for n, v in sp["initial"].items()}
                     if isinstance(sp["initial"], dict) else self._initial(sp["initial"],
                                                                           domain)),
            **extra,
            time=time.control, bcs=bcs, degree=data["physics"]["degree"],
            petsc_options=data["solver"]["petsc_options"] or None,
            solver=data["solver"]["linear"],
            concentration_scale=sp["concentration_scale"], lumped=data["physics"]["lumped"],
            energy_stable=data["physics"]["energy_stable"], adaptive=time.adaptive)
        mech = data["mechanics"]
        # (C, μ, u) in one Newton: femdiff.problems.coupled
        if mech is not None and mech["two_way"]:
            from femdiff.problems.coupled import Coupled

            self.coupled = Coupled(self.solid, self.problem, c_ref=mech["c_ref"],
                                   petsc_options=data["solver"]["petsc_options"] or None)
            self.coupled.initialise()
            self.problem = self.coupled.problem  # a MixedProblem: steps, restarts as before
        try:
            self.problem.initialise()
        except ValueError as exc:  # formula data, checked node by node
            text = str(exc)
            key = next((f"boundary[{i}].value" for i, bc in enumerate(data["boundary"])
                        if text.startswith(f"FixedConcentration on {bc['name']!r}")),
                       "species[0].initial" if "initial concentration" in text
                       or "initial lattice concentration" in text else "")
            trap = re.match(r"traps\[(\d+)\]: (.*)", text)
            if trap:  # a formula N_T below 0, or an initial C_T above it, somewhere
                which = "density" if "trap density" in text else "initial"
                key, text = f"traps[{trap.group(1)}].{which}", trap.group(2)
            raise CaseError(case.path, key, text) from None
        self.problem.before_solve.append(self._set_time)
        self._timed = timed
        if timed and getattr(self.problem, "broken", False):
            raise CaseError(case.path, "boundary", "time-dependent concentration or potential "
                            "values are not available with several [[materials]] yet")
        self.flux_boundaries = self._flux_boundaries(data, domain)
        #: a TDS ramp ([thermal] heating_rate): the CSV gets T and the desorption flux
        self.ramp = bool(setup.traps) and thermal.get("heating_rate") is not None

    def _set_time(self, t: float) -> None:
        """Boundary data at the new time t_{n+1} (a ``before_solve`` hook)."""
        self._t.value = t  # type: ignore[assignment]
        if not self._timed:
            return
        from dolfinx import fem

        from femdiff.numerics.fem_utils import interpolate_into

        p = self.problem
        for index, bc in self._timed:
            fn = _at_time(bc["value"], t).numpy
            if bc["type"] == "concentration":
                value = fem.Function(p.V_c)
                interpolate_into(value, fn)
            else:
                value = p.invert_potential(fn, bc["name"], p.V_c, p.chemical_potential_law,
                                           p.C, p.potential.domain)
            # the condition's own values (C/C_s in C's space; DirichletBC.g is the C++ one)
            p.dirichlet[index].g.x.array[:] = value.x.array / p.c_scale
        p.dirichlet_changed()

    def columns(self) -> list[str]:
        """CSV columns."""
        # amount_<species>, amount_trapped, amount_total: one name pattern for amounts
        traps = ["amount_trapped", "amount_total"] if self.case.setup.traps else []
        if self.ramp:
            traps += ["T", "desorption_flux"]
        return (["t", "dt", f"amount_{self.species}", "free_energy", *traps]
                + [f"flux_{b}" for b in self.flux_boundaries]
                + ["newton", "krylov", "retries"])

    def row(self, info: Any) -> dict[str, float]:
        """The CSV row after a step (``info`` None: the initial state)."""
        p = self.problem
        row = {"t": p.current_time, "dt": 0.0 if info is None else info.dt,
               f"amount_{self.species}": p.amount(), "free_energy": p.free_energy()}
        if self.case.setup.traps:
            inventory = p.inventory()
            row["amount_trapped"], row["amount_total"] = (inventory["trapped"],
                                                          inventory["total"])
        for b in self.flux_boundaries:
            row[f"flux_{b}"] = p.flux_through(b)  # conservative: traps' storage included
        if self.ramp:  # the TDS spectrum: the outward flux summed over the boundaries
            row["T"] = p.temperature()
            row["desorption_flux"] = sum(row[f"flux_{b}"] for b in self.flux_boundaries)
        row.update(self._iterations(info))
        return row

    def fields(self) -> list[Any]:
        """Functions for the field files (refreshed by :meth:`refresh`)."""
        out = [self.problem.C, self.problem.mu, self.problem.flux()]
        if self.sigma_h is not None:
            out.append(self.sigma_h)
        if self.heat is not None:  # the solved temperature
            out.append(self.T)
        return out

    def refresh(self) -> None:
        """Update derived fields before writing them."""
        self.problem.flux()

    def profile_fields(self) -> list[Any]:
        """Scalar Functions sampled along the profiles."""
        out = [self.problem.C, self.problem.mu]
        if self.sigma_h is not None:
            out.append(self.sigma_h)
        if self.heat is not None:
            out.append(self.T)
        return out

    def plot_field(self) -> Any:
        """The field of the final 2D plot."""
        return self.problem.C
