"""The mechanics plug-in: the [mechanics] section, the Elasticity solve, ``model = "mechanics"``.

Diffusion models use the same section for their σ_h (:func:`validate_mechanics`,
:func:`solve_mechanics`): mechanics couples to them by composition, as a coefficient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from femdiff.case.expression import as_numpy, as_ufl
from femdiff.case.schema import (
    Context,
    Key,
    array_of_tables,
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
    # two-way chemo-mechanics (femdiff.coupled, monolithic): ε* = (Ω/3)(C − c_ref) I
    "two_way": Key("bool", default=False),
    "c_ref": Key("number", doc="stress-free concentration; default: the initial one"),
    # with [[materials]] (per-material E, nu, alpha) and a [thermal] temperature
    "elastic_model": Key("choice", choices=("3d", "plane_strain", "plane_stress"),
                         doc="for [[materials]] (default 3d; [materials] has its own)"),
    "T_ref": Key("positive", doc="stress-free temperature [K]: thermal strain "
                 "alpha (T − T_ref) with the [thermal] T and [[materials]] alpha"),
}
MECH_BC = {
    "name": Key("string", doc="a boundary name"),
    "type": Key("choice", required=True, choices=MECH_BC_TYPES),
    "value": Key("table"),  # number / formula / array, checked below
    "components": Key("table", doc="{x = ..., y = ..., z = ...} for 'displacement'"),
    # 'k_field': the mode-I crack-tip displacements of femdiff.fracture.KField (2D)
    "K_I": Key("number", doc="mode-I stress intensity [Pa·√m], ≥ 0, for 'k_field'"),
    "tip": Key("point", doc="crack-tip position [x, y] for 'k_field' (default [0, 0])"),
}


def validate_mechanics(raw: Any, mat: dict[str, Any], ctx: Context,
                       materials: list[Any] | None = None, thermal: Any = None
                       ) -> tuple[dict[str, Any] | None, Any]:
    """Check a [mechanics] section: (the section, its material), or (None, None).

    The material is the ElasticMaterial of [materials], or the list of ``[[materials]]``
    (``materials``: per-material E, nu and, for a thermal strain, alpha).
    """
    from femdiff import mechanics

    if raw is None:
        return None, None
    raw = dict(raw) if isinstance(raw, dict) else raw
    if not isinstance(raw, dict):
        raise ctx.error("mechanics", f"expected a table, got {type_name(raw)}")
    bcs_raw = array_of_tables(raw.pop("boundary", None), "mechanics.boundary", ctx)
    mech = table(raw, MECHANICS, "mechanics", ctx)
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
                if axis not in allowed:
                    raise ctx.error(f"{where}.components.{axis}", f"unknown component "
                                    f"{axis!r}; allowed keys: {', '.join(allowed)}")
                checked[allowed.index(axis)] = check_value(
                    v, Key("expr"), f"{where}.components.{axis}", ctx)
            bc["components"] = checked
        elif bc["components"] is not None:
            raise ctx.error(f"{where}.components", "only 'displacement' takes components")
        _validate_k_field(bc, material, where, ctx)
        bcs.append(bc)
    mech["boundary"] = bcs
    return mech, material


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
    from femdiff.fracture import KField

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
    from femdiff import mechanics as m

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
    return m.Elasticity(domain, material, bcs, degree=mech["degree"], solver=mech["solver"],
                        petsc_options=mech["petsc_options"] or None,
                        model=mech.get("elastic_model"), **thermal)


def solve_mechanics(mech: dict[str, Any] | None, material: Any, domain: Any,
                    temperature: Any = None) -> tuple[Any, Any]:
    """(the solved Elasticity, its σ_h) for a [mechanics] section; (None, None) without."""
    if mech is None:
        return None, None
    solid = build_mechanics(mech, material, domain, temperature)
    if mech.get("two_way"):  # solved with the diffusion by femdiff.coupled.Coupled
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

    def validate(self, raw: dict[str, Any], data: dict[str, Any], ctx: Context) -> Any:
        """Check [physics] and [mechanics]; no species or diffusion BCs. Returns the material."""
        data["physics"] = table(raw.get("physics", {}), self.PHYSICS, "physics", ctx)
        for key in ("species", "boundary"):
            if key in raw:
                raise ctx.error(key, f"model 'mechanics' takes no [{key}] (diffusion input)")
        if raw.get("mechanics") is None:
            raise ctx.error("mechanics", "missing required section [mechanics]")
        data["mechanics"], material = validate_mechanics(
            raw["mechanics"], data["materials"], ctx, data.get("material_list"),
            data.get("thermal"))
        if data["mechanics"]["two_way"]:
            raise ctx.error("mechanics.two_way", "two-way coupling needs a diffusion model "
                            "(physics.model = 'diffusion' with a 'stress' term)")
        return material

    def build(self, case: Case, domain: Any) -> MechanicsSimulation:
        """Set up and solve the elasticity problem."""
        return MechanicsSimulation(case, domain)


class MechanicsSimulation:
    """A solved elasticity case."""

    time_dependent = False
    current_time = 0.0

    def __init__(self, case: Case, domain: Any) -> None:
        from femdiff.case.thermal import temperature_field

        self.domain = domain
        self.heat, self.T = temperature_field(case.data.get("thermal"),
                                              case.data.get("material_list"), domain)
        self.solid, self.sigma_h = solve_mechanics(case.data["mechanics"], case.setup, domain,
                                                   self.T)
        self.von_mises = self.solid.von_mises()
        self.flux_boundaries: list[str] = []

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


