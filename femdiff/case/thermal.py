"""The [thermal] section: the temperature field of a case, given or solved by conduction.

Two forms:

- a given temperature, ``T = 600.0`` or ``T = "500 + 1e5*x"`` (a number or a formula of
  x, y, z);
- a conduction solve, ``solve = "steady"`` or ``"transient"``, with the conductivity
  ``k`` (and for a transient ``rho_cp``) of every ``[[materials]]`` entry and boundary
  conditions by name::

      [thermal]
      solve = "steady"
      heat_of_transport = 5.0e3        # Soret Q* [J/mol] (optional)
      [[thermal.boundary]]
      name = "left"
      type = "temperature"             # T = value [K]
      value = 600.0
      [[thermal.boundary]]
      name = "right"
      type = "convection"              # −k ∇T·n = h (T − T_inf)
      h = 50.0
      T_inf = 300.0
      # type = "flux": k ∇T·n = value [W/m²] into the body

  A transient solve starts from ``initial`` and runs ``t_end`` seconds with steps ``dt``
  *before* the other physics; its final field is then frozen (diffusion and mechanics
  see one T(x); a T(x, t) stepped with the diffusion is not available from case files).

The field (:func:`temperature_field`) is what diffusion takes as ``temperature=`` (R T ln C,
Arrhenius D(T) and S(T), the Soret flux with Q*) and mechanics as the thermal strain
α (T − T_ref) (``[mechanics] T_ref``).
"""

from __future__ import annotations

from typing import Any

from femdiff.case.expression import as_numpy, as_ufl
from femdiff.case.schema import Context, Key, array_of_tables, construct, table

THERMAL = {
    "T": Key("expr", doc="temperature [K]: a number or a formula of x, y, z"),
    "heat_of_transport": Key("number", doc="Soret heat of transport Q* [J/mol]"),
    # a TDS ramp T(t) = T + heating_rate·t for the rate laws of [[traps]]
    "heating_rate": Key("number", doc="β [K/s]: the traps see T(t) = T + β t"),
    "solve": Key("choice", choices=("steady", "transient"),
                 doc="solve heat conduction for T instead of giving it"),
    "boundary": Key("table"),  # array, checked below
    "source": Key("expr", doc="volumetric heat source [W/m³]"),
    "initial": Key("expr", doc="initial temperature [K] of a transient solve"),
    "dt": Key("positive", doc="time step [s] of a transient solve"),
    "t_end": Key("positive", doc="duration [s] of a transient solve"),
    "degree": Key("integer", default=1, choices=(1, 2)),
    "solver": Key("choice", default="gamg", choices=("gamg", "lu")),
}

THERMAL_BC_TYPES = ("temperature", "flux", "convection")
THERMAL_BC = {
    "name": Key("string", required=True, doc="a boundary name"),
    "type": Key("choice", required=True, choices=THERMAL_BC_TYPES),
    "value": Key("expr", doc="T [K] ('temperature') or heat flux into the body [W/m²]"),
    "h": Key("positive", doc="heat-transfer coefficient [W/(m² K)] ('convection')"),
    "T_inf": Key("positive", doc="ambient temperature [K] ('convection')"),
}


def _positive_temperature(value: Any, where: str, ctx: Context) -> None:
    if isinstance(value, float) and not value > 0:
        raise ctx.error(where, f"temperature must be positive [K], got {value!r}")


def validate_thermal(raw: Any, data: dict[str, Any], ctx: Context) -> dict[str, Any] | None:
    """Check [thermal]; a uniform T also becomes the default materials.T of the terms."""
    if raw is None:
        return None
    raw = dict(raw) if isinstance(raw, dict) else raw
    bcs_raw = array_of_tables(raw.pop("boundary", None), "thermal.boundary", ctx) \
        if isinstance(raw, dict) else []
    th = table(raw, THERMAL, "thermal", ctx)
    th["boundary"] = []
    T = th["T"]
    if th["heating_rate"] is not None and not isinstance(T, float):
        raise ctx.error("thermal.T", "a ramp (heating_rate) starts from a uniform T₀: give "
                        "thermal.T as a number [K], not a formula or a conduction solve")
    if th["solve"] is None:
        if T is None:
            raise ctx.error("thermal.T", "missing required value: give T (a number or "
                            "formula [K]) or solve = \"steady\" | \"transient\" with "
                            "[[thermal.boundary]] conditions")
        for key in ("degree", "solver"):  # (they have defaults: given means set here)
            if isinstance(raw, dict) and key in raw:
                raise ctx.error(f"thermal.{key}", "is for a conduction solve (solve = "
                                "\"steady\" | \"transient\"); a given T is not solved for")
        for key in ("initial", "dt", "t_end", "source"):
            if th[key] is not None:
                raise ctx.error(f"thermal.{key}", "is for a conduction solve (solve = "
                                "\"steady\" | \"transient\")")
        if bcs_raw:
            raise ctx.error("thermal.boundary", "boundary conditions are for a conduction "
                            "solve: give solve = \"steady\" | \"transient\", or drop them")
        if th["heating_rate"] is not None and not T > 0:
            raise ctx.error("thermal.T", f"temperature must be positive [K] (the ramp's T₀ "
                            f"with heating_rate), got {T!r}")
        _positive_temperature(T, "thermal.T", ctx)
    else:
        _validate_solve(th, bcs_raw, data, ctx)
    if isinstance(T, float):
        if data["materials"]["T"] is None:
            data["materials"]["T"] = T
    elif data["materials"]["T"] is None:
        # a field: the μ terms are rebuilt with it by the problem (temperature=); their
        # own T only has to pass validation until then
        data["materials"]["T"] = 300.0
    if th["heat_of_transport"] is not None:
        from femdiff.models.materials import check_activation_energy

        if data["material_list"] is None:
            raise ctx.error("thermal.heat_of_transport", "needs the multi-material form "
                            "[[materials]] (Q* is applied per material)")
        construct("thermal.heat_of_transport", ctx, check_activation_energy,
                  "heat of transport Q*", th["heat_of_transport"])
    return th


def _validate_solve(th: dict[str, Any], bcs_raw: list[dict], data: dict[str, Any],
                    ctx: Context) -> None:
    """The conduction form of [thermal]: materials' k (ρc_p), BCs, transient data."""
    if th["T"] is not None:
        raise ctx.error("thermal.T", "give either T or solve, not both (solve computes T)")
    listed = data["material_list"]
    if not listed:
        raise ctx.error("thermal.solve", "heat conduction needs [[materials]] entries with "
                        "the conductivity k (and rho_cp for a transient)")
    transient = th["solve"] == "transient"
    needed = ("k", "rho_cp") if transient else ("k",)
    for i, m in enumerate(listed):
        for key in needed:
            if getattr(m, key) is None:
                raise ctx.error(f"materials[{i}].{key}", f"missing required value: "
                                f"thermal.solve = {th['solve']!r} needs {key} of every "
                                f"material ({m.name!r} has none)")
    for key in ("initial", "dt", "t_end"):
        if transient and th[key] is None:
            raise ctx.error(f"thermal.{key}", "missing required value for a transient "
                            "conduction solve (initial [K], dt [s], t_end [s])")
        if not transient and th[key] is not None:
            raise ctx.error(f"thermal.{key}", "is for solve = \"transient\"")
    if transient:
        _positive_temperature(th["initial"], "thermal.initial", ctx)
    bcs = []
    for i, b in enumerate(bcs_raw):
        where = f"thermal.boundary[{i}]"
        bc = table(b, THERMAL_BC, where, ctx)
        ctx.check_boundary(bc["name"], f"{where}.name")
        kind = bc["type"]
        if kind == "convection":
            for key in ("h", "T_inf"):
                if bc[key] is None:
                    raise ctx.error(f"{where}.{key}", "missing required value for a "
                                    "'convection' condition (h [W/(m² K)], T_inf [K])")
            if bc["value"] is not None:
                raise ctx.error(f"{where}.value", "a 'convection' condition takes h and "
                                "T_inf, not value")
        else:
            if bc["value"] is None:
                raise ctx.error(f"{where}.value", f"missing required value for a {kind!r} "
                                "condition (a number or formula)")
            for key in ("h", "T_inf"):
                if bc[key] is not None:
                    raise ctx.error(f"{where}.{key}", "only 'convection' takes h and T_inf")
            if kind == "temperature":
                _positive_temperature(bc["value"], f"{where}.value", ctx)
        bcs.append(bc)
    names = [b["name"] for b in bcs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ctx.error("thermal.boundary", f"boundary {twice[0]!r} has "
                        f"{names.count(twice[0])} conditions; give one per boundary")
    if not transient and not any(b["type"] in ("temperature", "convection") for b in bcs):
        raise ctx.error("thermal.boundary", "steady conduction needs a 'temperature' or "
                        "'convection' boundary (else T is defined up to a constant)")
    th["boundary"] = bcs


def temperature_field(th: dict[str, Any] | None, materials: Any, domain: Any,
                      label: str = "") -> tuple[Any, Any]:
    """(the HeatConduction or None, T) for a validated [thermal] section.

    T is a number, a UFL formula or the solved P_k Function; ``(None, None)`` without
    [thermal].

    Raises:
        CaseError: a negative temperature found while solving (formula data, checked
            node by node by :class:`~femdiff.physics.heat.HeatConduction`), at the key of the
            data (``thermal.boundary[i].value``, ``thermal.initial``) of the case ``label``.
    """
    try:
        return _temperature_field(th, materials, domain)
    except ValueError as exc:
        from femdiff.case.schema import CaseError

        text = str(exc)
        key = "thermal.initial" if "initial temperature" in text else "thermal"
        for i, bc in enumerate(th["boundary"] if th else []):
            if text.startswith(f"FixedTemperature on {bc['name']!r}"):
                key = f"thermal.boundary[{i}].value"
        raise CaseError(label, key, text) from None


def _temperature_field(th: dict[str, Any] | None, materials: Any, domain: Any
                       ) -> tuple[Any, Any]:
    if th is None:
        return None, None
    mesh = domain.mesh
    if th["solve"] is None:
        return None, as_ufl(th["T"], mesh)
    from femdiff.physics import heat as thermal

    bcs: list[Any] = []
    for bc in th["boundary"]:
        if bc["type"] == "temperature":
            bcs.append(thermal.FixedTemperature(bc["name"], as_numpy(bc["value"])))
        elif bc["type"] == "flux":
            bcs.append(thermal.HeatFlux(bc["name"], as_ufl(bc["value"], mesh)))
        else:
            bcs.append(thermal.Convection(bc["name"], bc["h"], bc["T_inf"]))
    source = None if th["source"] is None else as_ufl(th["source"], mesh)
    transient = th["solve"] == "transient"
    heat = thermal.HeatConduction(
        domain, materials, bcs, source=source, degree=th["degree"], solver=th["solver"],
        initial=as_numpy(th["initial"]) if transient else None,
        dt=th["dt"] if transient else None)
    if transient:
        heat.run(th["t_end"])
        T = heat.T
    else:
        T = heat.solve()
    T.name = "T"
    return heat, T
