"""The mechanics plug-in: the [mechanics] section, the Elasticity solve, ``model = "mechanics"``.

Diffusion models use the same section for their σ_h (:func:`validate_mechanics`,
:func:`solve_mechanics`): mechanics couples to them by composition, as a coefficient.

A periodic cell under a prescribed mean strain (``model = "mechanics"`` on a geometry
periodic in every direction, ``[mechanics] mean_strain = [[exx, exy], [exy, eyy]]``)
solves :class:`femdiff.problems.homogenisation.PeriodicElasticity` instead
(:class:`PeriodicCellSimulation`): the series gets the mean stress, and
``homogenisation.json`` the mean strain, the mean stress and, with
``effective_stiffness = true``, the effective stiffness in Voigt notation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from femdiff.case.expression import as_numpy, as_ufl
from femdiff.case.schema import (
    Context,
    Key,
    array_of_tables,
    check_petsc_options,
    check_value,
    construct,
    table,
    type_name,
)

if TYPE_CHECKING:
    from femdiff.case.loader import Case

MECH_BC_TYPES = ("fixed", "displacement", "traction", "pressure", "body_force", "k_field")

MECHANICS = {
    "degree": Key("integer", default=1, choices=(1, 2)),
    "solver": Key("choice", default="gamg", choices=("gamg", "lu")),
    "sigma_h": Key("choice", default="DG", choices=("DG", "CG")),
    "petsc_options": Key("options", default={}),
    "boundary": Key("table"),  # array, checked below
    # two-way chemo-mechanics (femdiff.problems.coupled, monolithic): ε* = (Ω/3)(C − c_ref) I
    "two_way": Key("bool", default=False),
    "c_ref": Key("number", doc="stress-free concentration; default: the initial one"),
    # with [[materials]] (per-material E, nu, alpha) and a [thermal] temperature
    "elastic_model": Key("choice", choices=("3d", "plane_strain", "plane_stress"),
                         doc="for [[materials]] (default 3d; [materials] has its own)"),
    "T_ref": Key("positive", doc="stress-free temperature [K]: thermal strain "
                 "alpha (T − T_ref) with the [thermal] T and [[materials]] alpha"),
    # a periodic cell (model "mechanics"): femdiff.problems.homogenisation.PeriodicElasticity
    "mean_strain": Key("table", doc="the cell's mean strain, a symmetric gdim × gdim "
                       "array (tensor strain, ε_xy = γ_xy/2)"),  # array, checked below
    "effective_stiffness": Key("bool", default=False, doc="also compute the effective "
                               "stiffness (Voigt) of a cell with mean_strain"),
}
MECH_BC = {
    "name": Key("string", doc="a boundary name"),
    "type": Key("choice", required=True, choices=MECH_BC_TYPES),
    "value": Key("table"),  # number / formula / array, checked below
    "components": Key("table", doc="{x = ..., y = ..., z = ...} for 'displacement'"),
    # 'k_field': the mode-I crack-tip displacements of femdiff.physics.fracture.KField (2D)
    "K_I": Key("number", doc="mode-I stress intensity [Pa·√m], ≥ 0, for 'k_field'"),
    "tip": Key("point", doc="crack-tip position [x, y] for 'k_field' (default [0, 0])"),
}


def validate_mechanics(raw: Any, mat: dict[str, Any], ctx: Context,
                       materials: list[Any] | None = None, thermal: Any = None,
                       cell: bool = False) -> tuple[dict[str, Any] | None, Any]:
    """Check a [mechanics] section: (the section, its material), or (None, None).

    The material is the ElasticMaterial of [materials], or the list of ``[[materials]]``
    (``materials``: per-material E, nu and, for a thermal strain, alpha). ``cell``: the
    caller (``model = "mechanics"``) accepts a periodic cell's ``mean_strain``.
    """
    from femdiff.physics import mechanics

    if raw is None:
        return None, None
    raw = dict(raw) if isinstance(raw, dict) else raw
    if not isinstance(raw, dict):
        raise ctx.error("mechanics", f"expected a table, got {type_name(raw)}")
    bcs_raw = array_of_tables(raw.pop("boundary", None), "mechanics.boundary", ctx)
    mean_strain = raw.pop("mean_strain", None)
    mech = table(raw, MECHANICS, "mechanics", ctx)
    # the elasticity solve's KSP/PC options: types checked now; femdiff_* keys belong to
    # [solver] (read by the diffusion Newton solver)
    check_petsc_options(mech["petsc_options"], "mechanics.petsc_options", ctx,
                        femdiff_keys=False)
    mech["mean_strain"] = _validate_mean_strain(mean_strain, mech, ctx, cell)
    if materials:
        material = _material_list(mech, materials, thermal, ctx)
    else:
        for key in ("E", "nu"):
            if mat[key] is None:
                raise ctx.error(f"materials.{key}", "missing required value (elastic "
                                "constants are needed by [mechanics])")
        for key in ("elastic_model", "T_ref"):
            if mech[key] is not None:
                raise ctx.error(f"mechanics.{key}", "is for [[materials]] entries (the "
                                "[materials] table has elastic_model and no alpha)")
        material = construct("materials.nu" if not -1 < mat["nu"] < 0.5 else "materials",
                             ctx, mechanics.ElasticMaterial, mat["E"], mat["nu"],
                             mat["elastic_model"])
    if ctx.gdim == 1:
        raise ctx.error("mechanics", "mechanics needs a 2D or 3D geometry")
    model = mech["elastic_model"] if materials else mat["elastic_model"]
    if ctx.gdim == 3 and model in ("plane_strain", "plane_stress"):  # else ignored in 3D
        raise ctx.error("mechanics.elastic_model" if materials else "materials.elastic_model",
                        f"{model!r} is a 2D model; the mesh is 3D: use '3d' (the default)")
    bcs = []
    for i, b in enumerate(bcs_raw):
        where = f"mechanics.boundary[{i}]"
        value = b.get("value")
        bc = table({k: v for k, v in b.items() if k != "value"}, MECH_BC, where, ctx)
        kind = bc["type"]
        if kind != "body_force":
            if bc["name"] is None:
                raise ctx.error(f"{where}.name", "missing required value (a boundary name)")
            ctx.check_boundary(bc["name"], f"{where}.name")
        if kind in ("pressure",):
            if value is None:
                raise ctx.error(f"{where}.value", "missing required value (pressure [Pa])")
            bc["value"] = check_value(value, Key("expr"), f"{where}.value", ctx)
        elif kind in ("traction", "body_force"):
            if not isinstance(value, list) or len(value) != (ctx.gdim or len(value)):
                raise ctx.error(f"{where}.value", f"expected an array of {ctx.gdim} numbers "
                                "or formulas (one per component)")
            bc["value"] = [check_value(v, Key("expr"), f"{where}.value[{j}]", ctx)
                           for j, v in enumerate(value)]
        elif value is not None:
            raise ctx.error(f"{where}.value", f"a {kind!r} condition takes no value"
                            + ("; use components = {x = ..., y = ...}"
                               if kind == "displacement" else ""))
        if kind == "displacement":
            comps = bc["components"] or {}
            if not comps:
                raise ctx.error(f"{where}.components", "missing required value, e.g. "
                                "components = {x = 0.0}")
            allowed = "xyz"[: ctx.gdim or 3]
            checked = {}
            for axis, v in comps.items():
                # "x" or "0" (the index, as femdiff.physics.mechanics.Displacement takes it)
                name = allowed[int(axis)] if axis.isdigit() and int(axis) < len(allowed) \
                    else axis
                if name not in allowed:
                    raise ctx.error(f"{where}.components.{axis}", f"unknown component "
                                    f"{axis!r}; allowed keys: {', '.join(allowed)} (or "
                                    f"{', '.join(str(i) for i in range(len(allowed)))})")
                if allowed.index(name) in checked:
                    raise ctx.error(f"{where}.components.{axis}", f"component {name!r} is "
                                    "given twice")
                checked[allowed.index(name)] = check_value(
                    v, Key("expr"), f"{where}.components.{axis}", ctx)
            bc["components"] = checked
        elif bc["components"] is not None:
            raise ctx.error(f"{where}.components", "only 'displacement' takes components")
        _validate_k_field(bc, material, where, ctx)
        if mech["mean_strain"] is not None:
            raise ctx.error(where, f"a periodic cell under mechanics.mean_strain takes no "
                            f"[[mechanics.boundary]] (here {kind!r}): every boundary is "
                            "glued and the mean strain is its only load")
        bcs.append(bc)
    _check_duplicates(bcs, ctx)
    if mech["c_ref"] is not None and not mech["two_way"]:
        raise ctx.error("mechanics.c_ref", "is the stress-free concentration of two-way "
                        "coupling (mechanics.two_way = true); without it, it is not used")
    mech["boundary"] = bcs
    return mech, material


def _check_duplicates(bcs: list[dict[str, Any]], ctx: Context) -> None:
    """One condition of a kind per boundary, each displacement component once.

    Two 'pressure' (or 'traction', 'fixed', 'k_field') entries on a boundary would add or
    override each other silently; a 'fixed' boundary takes no other displacement.
    """
    seen: dict[tuple[str, str], int] = {}
    components: dict[tuple[str, int], int] = {}
    for i, bc in enumerate(bcs):
        where = f"mechanics.boundary[{i}]"
        name, kind = bc["name"], bc["type"]
        key = (name or "", kind)
        if kind != "displacement" and key in seen:
            what = "a body force" if kind == "body_force" else f"a {kind!r} condition"
            raise ctx.error(where, f"{what} on {name or 'the body'!r} is given twice "
                            f"(also mechanics.boundary[{seen[key]}]): give one")
        seen.setdefault(key, i)
        if kind in ("fixed", "displacement", "k_field"):
            for other in ("fixed", "displacement", "k_field"):
                j = seen.get((name, other))
                if other != kind and j is not None:
                    raise ctx.error(where, f"boundary {name!r} has a {other!r} condition "
                                    f"(mechanics.boundary[{j}]) and a {kind!r} one: its "
                                    "displacement is prescribed twice")
        if kind == "displacement":
            for axis in bc["components"]:
                j = components.get((name, axis))
                if j is not None:
                    raise ctx.error(f"{where}.components.{'xyz'[axis]}", f"the {'xyz'[axis]} "
                                    f"displacement of {name!r} is given twice (also "
                                    f"mechanics.boundary[{j}])")
                components[(name, axis)] = i


def _validate_mean_strain(value: Any, mech: dict[str, Any], ctx: Context, cell: bool
                          ) -> list[list[float]] | None:
    """Check ``mean_strain`` (and ``effective_stiffness``): the symmetric Ē, or None.

    Ē selects :class:`femdiff.problems.homogenisation.PeriodicElasticity`: the geometry must be
    periodic in every direction (``[geometry] periodic``), with no mechanics boundary
    conditions (checked with the boundaries) and, for ``effective_stiffness``, no thermal
    strain (the unit-strain columns would include the thermal stress).
    """
    where = "mechanics.mean_strain"
    if value is None:
        if mech["effective_stiffness"]:
            raise ctx.error("mechanics.effective_stiffness", "needs mechanics.mean_strain "
                            "(a periodic cell; [[0.0, 0.0], [0.0, 0.0]] for the stiffness "
                            "alone)")
        return None
    if not cell:
        raise ctx.error(where, "a periodic cell under a mean strain is physics.model = "
                        "'mechanics' (the σ_h of a diffusion model comes from an ordinary "
                        "solve)")
    gdim = ctx.gdim or 3
    if not ctx.periodic:
        raise ctx.error(where, "needs a periodic cell: the geometry has no periodic pairs; "
                        "add [geometry] periodic = [[\"left\", \"right\"], ...] (one pair "
                        "per direction)")
    pairs = len(ctx.periodic) // 2
    if pairs < gdim:
        raise ctx.error(where, f"needs a cell periodic in every direction: geometry.periodic "
                        f"glues {pairs} pair(s), a {gdim}D cell needs {gdim} (a free or "
                        "loaded side would make the mean strain differ from Ē)")
    example = ("[[exx, exy], [exy, eyy]]" if gdim == 2 else
               "[[exx, exy, exz], [exy, eyy, eyz], [exz, eyz, ezz]]")
    if not isinstance(value, list) or len(value) != gdim or not all(
            isinstance(row, list) and len(row) == gdim for row in value):
        raise ctx.error(where, f"expected a {gdim}×{gdim} array {example} (the mesh is "
                        f"{gdim}D), got {type_name(value)} {value!r}")
    E = [[check_value(v, Key("number"), f"{where}[{i}][{j}]", ctx)
          for j, v in enumerate(row)] for i, row in enumerate(value)]
    scale = max(1.0, max(abs(v) for row in E for v in row))
    for i in range(gdim):
        for j in range(i + 1, gdim):
            if abs(E[i][j] - E[j][i]) > 1e-14 * scale:
                raise ctx.error(where, f"must be symmetric (the tensor strain, ε_xy = "
                                f"γ_xy/2), got [{i}][{j}] = {E[i][j]!r} but [{j}][{i}] = "
                                f"{E[j][i]!r}: a rotation is not periodic")
    if mech["effective_stiffness"] and mech["T_ref"] is not None:
        raise ctx.error("mechanics.effective_stiffness", "needs a cell loaded by its mean "
                        "strain alone: remove mechanics.T_ref (a thermal strain would enter "
                        "every unit-strain column)")
    return E


def _validate_k_field(bc: dict[str, Any], material: Any, where: str, ctx: Context) -> None:
    """Check the keys of a ``k_field`` condition (K_I ≥ 0, a 2D tip); others take none."""
    if bc["type"] != "k_field":
        for key in ("K_I", "tip"):
            if bc[key] is not None:
                raise ctx.error(f"{where}.{key}", "only 'k_field' takes K_I and tip")
        return
    if bc["K_I"] is None:
        raise ctx.error(f"{where}.K_I", "missing required value (mode-I stress intensity "
                        "[Pa·√m], ≥ 0)")
    if bc["K_I"] < 0:
        raise ctx.error(f"{where}.K_I", f"must be ≥ 0, got {bc['K_I']!r}: a negative K_I "
                        "closes the crack faces into each other, which the linear "
                        "boundary-layer model (no contact) cannot represent")
    if ctx.gdim is not None and ctx.gdim != 2:
        raise ctx.error(f"{where}.type", f"'k_field' is a 2D boundary-layer load (plane "
                        f"strain or plane stress); the mesh is {ctx.gdim}D")
    if isinstance(material, list):
        raise ctx.error(f"{where}.type", "'k_field' is the field of one homogeneous elastic "
                        "material: give E, nu in [materials], not several [[materials]]")
    tip = bc["tip"] if bc["tip"] is not None else [0.0, 0.0]
    if len(tip) != 2:
        raise ctx.error(f"{where}.tip", f"expected two coordinates [x, y], got {tip!r}")
    from femdiff.physics.fracture import KField

    bc["k_field"] = construct(where, ctx, KField, bc["K_I"], material, tuple(tip))


def _material_list(mech: dict[str, Any], materials: list[Any], thermal: Any,
                   ctx: Context) -> list[Any]:
    """``[[materials]]`` as the elastic material.

    Every entry must set E and nu (and alpha for a thermal strain, which needs [thermal]
    and mechanics.T_ref).
    """
    if mech["T_ref"] is not None and thermal is None:
        raise ctx.error("mechanics.T_ref", "a thermal strain needs the temperature of a "
                        "[thermal] section")
    needed = ["E", "nu"] + (["alpha"] if mech["T_ref"] is not None else [])
    for i, m in enumerate(materials):
        for key in needed:
            if getattr(m, key) is None:
                why = ("thermal strain (mechanics.T_ref)" if key == "alpha"
                       else "[mechanics]")
                raise ctx.error(f"materials[{i}].{key}", f"missing required value: "
                                f"{why} needs {key} of every material ({m.name!r} has none)")
    if mech["elastic_model"] is None:
        mech["elastic_model"] = "3d"
    return list(materials)


def build_mechanics(mech: dict[str, Any], material: Any, domain: Any,
                    temperature: Any = None) -> Any:
    """The Elasticity problem of a validated [mechanics] section (not yet solved).

    ``temperature``: the [thermal] T, used for the thermal strain when ``T_ref`` is set.
    """
    from femdiff.physics import mechanics as m

    mesh = domain.mesh
    bcs: list[Any] = []
    for bc in mech["boundary"]:
        kind = bc["type"]
        if kind == "fixed":
            bcs.append(m.Fixed(bc["name"]))
        elif kind == "pressure":
            bcs.append(m.Pressure(bc["name"], as_ufl(bc["value"], mesh)))
        elif kind in ("traction", "body_force"):
            import ufl

            load = ufl.as_vector([as_ufl(v, mesh) for v in bc["value"]])
            bcs.append(m.Traction(bc["name"], load) if kind == "traction"
                       else m.BodyForce(load))
        elif kind == "k_field":
            bcs.append(bc["k_field"].boundary_condition(bc["name"]))
        else:
            bcs.append(m.Displacement(bc["name"], {
                i: as_numpy(v) for i, v in bc["components"].items()}))
    thermal = {}
    if mech.get("T_ref") is not None:
        thermal = {"temperature": temperature, "T_ref": mech["T_ref"]}
    if mech.get("mean_strain") is not None:  # a periodic cell: no boundary conditions
        from femdiff.problems.homogenisation import PeriodicElasticity

        return PeriodicElasticity(domain, material, mech["mean_strain"], degree=mech["degree"],
                                  solver=mech["solver"],
                                  petsc_options=mech["petsc_options"] or None,
                                  model=mech.get("elastic_model"), **thermal)
    return m.Elasticity(domain, material, bcs, degree=mech["degree"], solver=mech["solver"],
                        petsc_options=mech["petsc_options"] or None,
                        model=mech.get("elastic_model"), **thermal)


def solve_mechanics(mech: dict[str, Any] | None, material: Any, domain: Any,
                    temperature: Any = None) -> tuple[Any, Any]:
    """(the solved Elasticity, its σ_h) for a [mechanics] section; (None, None) without."""
    if mech is None:
        return None, None
    solid = build_mechanics(mech, material, domain, temperature)
    if mech.get("two_way"):  # solved with the diffusion by femdiff.problems.coupled.Coupled
        from dolfinx import fem

        k = max(mech["degree"] - 1, 0)
        V = fem.functionspace(domain.mesh, ("Discontinuous Lagrange", k))
        return solid, fem.Function(V, name="sigma_h")
    solid.solve()
    return solid, solid.sigma_h(mech["sigma_h"])


class MechanicsModel:
    """``model = "mechanics"``: a stationary elasticity solve (σ_h, von Mises)."""

    PHYSICS = {"model": Key("string")}
    time_dependent = False
    sections = ("physics", "mechanics", "thermal")
    refused = {"species": "diffusion input", "boundary": "diffusion input (the "
               "mechanics boundary conditions are [[mechanics.boundary]])",
               "traps": "diffusion input",
               "solver": "the elasticity solve takes mechanics.petsc_options",
               "checkpoint": "a stationary solve writes no checkpoints"}

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> Any:
        """Check [physics] and [mechanics]; no species or diffusion BCs. Returns the material."""
        data["physics"] = table(raw.get("physics", {}), self.PHYSICS, "physics", ctx)
        if raw.get("mechanics") is None:
            raise ctx.error("mechanics", "missing required section [mechanics]")
        data["mechanics"], material = validate_mechanics(
            raw["mechanics"], data["materials"], ctx, data.get("material_list"),
            data.get("thermal"), cell=True)
        if data["mechanics"]["two_way"]:
            raise ctx.error("mechanics.two_way", "two-way coupling needs a diffusion model "
                            "(physics.model = 'diffusion' with a 'stress' term)")
        thermal = data.get("thermal")
        if thermal is not None and thermal["solve"] is None \
                and data["mechanics"]["T_ref"] is None:  # (a solved T is an output field)
            raise ctx.error("thermal.T", "model 'mechanics' reads a given temperature only "
                            "for a thermal strain (mechanics.T_ref with [[materials]] "
                            "alpha): without T_ref it would be ignored")
        if thermal is not None:
            for key in ("heat_of_transport", "heating_rate"):
                if thermal[key] is not None:
                    raise ctx.error(f"thermal.{key}", "is for diffusion (model = "
                                    "'diffusion'); model 'mechanics' reads only the "
                                    "temperature")
        return material

    def build(self, case: Case, domain: Any) -> MechanicsSimulation:
        """Set up and solve the elasticity problem (a periodic cell with mean_strain)."""
        if case.data["mechanics"]["mean_strain"] is not None:
            return PeriodicCellSimulation(case, domain)
        return MechanicsSimulation(case, domain)


class MechanicsSimulation:
    """A solved elasticity case."""

    time_dependent = False
    current_time = 0.0

    def __init__(self, case: Case, domain: Any) -> None:
        from femdiff.case.thermal import temperature_field

        self.domain = domain
        self.heat, self.T = temperature_field(case.data.get("thermal"),
                                              case.data.get("material_list"), domain,
                                              case.path)
        self._solve(case)
        self.von_mises = self.solid.von_mises()
        self.flux_boundaries: list[str] = []

    def _solve(self, case: Case) -> None:
        """Solve the elasticity problem: ``solid`` and its ``sigma_h``."""
        self.solid, self.sigma_h = solve_mechanics(case.data["mechanics"], case.setup,
                                                   self.domain, self.T)

    def columns(self) -> list[str]:
        """CSV columns: the solve's iterations."""
        return ["t", "krylov"]

    def row(self, info: Any) -> dict[str, float]:
        """The single row."""
        return {"t": 0.0, "krylov": float(self.solid.iterations)}

    def fields(self) -> list[Any]:
        """The displacement (P_k), σ_h and von Mises (DG)."""
        u = self.solid.u
        u.name = "u"
        heat = [self.T] if self.heat is not None else []  # a solved T: a P_k Function
        return [u, self.sigma_h, self.von_mises, *heat]

    def refresh(self) -> None:
        """Nothing to update."""

    def profile_fields(self) -> list[Any]:
        """σ_h and von Mises."""
        return [self.sigma_h, self.von_mises]

    def plot_field(self) -> Any:
        """σ_h."""
        return self.sigma_h


class PeriodicCellSimulation(MechanicsSimulation):
    """A periodic cell under a mean strain.

    The problem is :class:`~femdiff.problems.homogenisation.PeriodicElasticity`.

    The series row gets Ē and σ̄ in Voigt order (``eps_xx, ..., sigma_xx, ...``; tensor
    strains, as given), the fields the total displacement ``u`` = Ē·x + ũ and the periodic
    fluctuation ``u_fluctuation`` (both on the unglued mesh), and ``homogenisation.json``
    (:meth:`write_results`) Ē, σ̄ and, with ``effective_stiffness``, C̄ (σ̄ = C̄ ε̄ with
    engineering shear strains).
    """

    def _solve(self, case: Case) -> None:
        mech = case.data["mechanics"]
        self.solid = build_mechanics(mech, case.setup, self.domain, self.T)
        # C̄ first: its unit solves overwrite u (and then restore Ē for the solve below)
        self.stiffness = (self.solid.effective_stiffness() if mech["effective_stiffness"]
                          else None)
        self.solid.solve()
        self.sigma_h = self.solid.sigma_h(mech["sigma_h"])
        self.mean_stress = self.solid.mean_stress()
        self.total = self.solid.total_displacement()
        self.total.name = "u"

    def _voigt(self) -> list[tuple[str, int, int]]:
        from femdiff.problems.homogenisation import voigt_pairs

        return [("xyz"[i] + "xyz"[j], i, j) for i, j in voigt_pairs(self.domain.gdim)]

    def columns(self) -> list[str]:
        """CSV columns: the iterations of the solve, Ē and σ̄ (Voigt order)."""
        names = [n for n, _, _ in self._voigt()]
        return ["t", "krylov", *(f"eps_{n}" for n in names), *(f"sigma_{n}" for n in names)]

    def row(self, info: Any) -> dict[str, float]:
        """The single row: Ē and σ̄."""
        E = self.solid.mean_strain
        out = {"t": 0.0, "krylov": float(self.solid.iterations)}
        for n, i, j in self._voigt():
            out[f"eps_{n}"] = float(E[i, j])
            out[f"sigma_{n}"] = float(self.mean_stress[i, j])
        return out

    def fields(self) -> list[Any]:
        """The total displacement ``u``, the fluctuation, σ_h and von Mises."""
        u = self.solid.u
        u.name = "u_fluctuation"
        heat = [self.T] if self.heat is not None else []
        return [self.total, u, self.sigma_h, self.von_mises, *heat]

    def results(self) -> dict[str, Any]:
        """Ē, σ̄ (gdim × gdim) and C̄ (Voigt, or None), as written to homogenisation.json."""
        names = [n for n, _, _ in self._voigt()]
        return {"voigt_order": names, "shear_strain": "engineering (gamma = 2 eps) in C",
                "mean_strain": self.solid.mean_strain.tolist(),
                "mean_stress": self.mean_stress.tolist(),
                "effective_stiffness": None if self.stiffness is None
                else self.stiffness.tolist()}

    def write_results(self, out: Any) -> None:
        """Write ``homogenisation.json`` into the folder ``out`` (rank 0; collective)."""
        import json
        from pathlib import Path

        from femdiff import io as fio

        path = Path(out) / "homogenisation.json"
        text = json.dumps(self.results(), indent=2) + "\n"
        fio.on_root(self.domain.comm, lambda: fio.atomic_write(path, text), path)
