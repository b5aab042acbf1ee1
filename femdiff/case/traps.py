"""``[[traps]]`` of a diffusion case: McNabb–Foster and Oriani hydrogen traps.

Each entry has ``type = "mcnabb_foster" | "oriani"``; every key is checked here, and the
trap laws' own checks (:mod:`femdiff.models.trap_laws`: N_T ≥ 0, positive prefactors, plausible
energies for the units, initial C_T in [0, N_T]) become one-line errors at the entry's
key path. With traps, the diffusion plug-in builds a
:class:`~femdiff.problems.trapping.TrappingProblem` instead of a DiffusionProblem::

    [[traps]]
    type = "oriani"
    density = 1.0e-1          # N_T [mol/m³] (number or formula of x, y, z)
    binding_energy = 60.0e3   # E_b [J/mol]
    region = "steel"          # optional volume name

    [[traps]]
    type = "mcnabb_foster"
    density = 0.5
    k0 = 1.0e5                # see rate_units
    E_k = 0.0
    p0 = 1.0e13               # [1/s]
    E_p = 100.0e3
    rate_units = "per_volume" # or "per_site" (then n_sites)
    initial = 0.0

[physics] gains ``n_sites`` (N_L for Oriani when no lattice-saturation term holds it) and
``trap_initial = "given" | "equilibrium"``; the temperature of the trap laws is
``materials.T``, a [thermal] ``T`` (a number or a formula of x), or the TDS ramp
T(t) = T₀ + β (t − t0) of ``[thermal] T = T₀, heating_rate = β`` (then series.csv has the
columns ``T`` and ``desorption_flux``; see ``cases/tds.toml``). A trap's error names the
key its law complains about (``traps[0].E_p``, ...).
"""

from __future__ import annotations

from typing import Any

from femdiff.case.expression import as_ufl
from femdiff.case.schema import Context, Key, array_of_tables, typed

TRAP_KEYS: dict[str, dict[str, Key]] = {
    "oriani": {
        "density": Key("expr", required=True, doc="N_T [mol/m³ or m⁻³], ≥ 0"),
        "binding_energy": Key("nonnegative", required=True, doc="E_b [J/mol or J]"),
        "region": Key("string", doc="a volume name (default: everywhere)"),
    },
    "mcnabb_foster": {
        "density": Key("expr", required=True, doc="N_T [mol/m³ or m⁻³], ≥ 0"),
        "k0": Key("positive", required=True, doc="trapping prefactor (rate_units)"),
        "E_k": Key("nonnegative", default=0.0, doc="trapping activation energy"),
        "p0": Key("positive", required=True, doc="detrapping prefactor [1/s]"),
        "E_p": Key("nonnegative", required=True, doc="detrapping activation energy"),
        "rate_units": Key("choice", default="per_volume", choices=("per_volume", "per_site")),
        "n_sites": Key("positive", doc="N_L for rate_units = 'per_site'"),
        "initial": Key("nonnegative", default=0.0, doc="initial C_T in [0, N_T]"),
        "region": Key("string", doc="a volume name (default: everywhere)"),
    },
}


#: the trap classes' messages (femdiff.models.trap_laws) -> the key they are about, first match
_MESSAGE_KEYS = (
    ("trap density", "density"), ("initial trapped", "initial"),
    ("detrapping rate p0 activation", "E_p"), ("detrapping rate p0 prefactor", "p0"),
    ("trapping rate k0 activation", "E_k"), ("trapping rate k0 prefactor", "k0"),
    ("trapping prefactor k0", "k0"), ("trap binding energy", "binding_energy"),
    ("n_sites", "n_sites"), ("rate_units", "rate_units"),
)


def _build(where: str, ctx: Context, fn: Any, *args: Any) -> Any:
    """``construct`` with the error at the key the trap class complains about."""
    try:
        return fn(*args)
    except (ValueError, TypeError) as exc:
        text = str(exc)
        key = next((k for phrase, k in _MESSAGE_KEYS if phrase in text), None)
        raise ctx.error(f"{where}.{key}" if key else where, text) from None


def validate_traps(raw: Any, units: str, ctx: Context) -> tuple[list[dict], list[Any]]:
    """Check ``[[traps]]``: (the checked tables, the trap objects; formulas not yet bound).

    A formula density is kept as its Expression (bound to the mesh by :func:`on_mesh`);
    a number is checked now by the trap class.
    """
    from femdiff.models import trap_laws as tr

    tables, traps = [], []
    for i, t in enumerate(array_of_tables(raw, "traps", ctx)):
        where = f"traps[{i}]"
        entry = typed(t, TRAP_KEYS, where, ctx)
        if entry["region"] is not None and ctx.volumes is not None \
                and entry["region"] not in ctx.volumes:
            raise ctx.error(f"{where}.region", f"unknown volume {entry['region']!r} (a trap "
                            f"needs a material there); volumes: "
                            f"{', '.join(ctx.volumes) or '(none named)'}")
        density = entry["density"]
        number = isinstance(density, int | float)
        N_T = float(density) if number else 0.0  # formulas: checked ≥ 0 on the mesh
        if entry["type"] == "oriani":
            trap = _build(where, ctx, tr.Oriani, N_T, entry["binding_energy"], units,
                             entry["region"])
        else:
            if not number and entry["initial"] > 0:
                raise ctx.error(f"{where}.initial", "a nonzero initial C_T needs a number "
                                "density (it must lie in [0, N_T])")
            trap = _build(where, ctx, tr.McNabbFoster, N_T, entry["k0"], entry["E_k"],
                             entry["p0"], entry["E_p"], units, entry["rate_units"],
                             entry["n_sites"],
                             entry["initial"] if number else 0.0, entry["region"])
        tables.append(entry)
        traps.append(trap)
    return tables, traps


def on_mesh(tables: list[dict], traps: list[Any], mesh: Any) -> list[Any]:
    """The traps with formula densities bound to the mesh (UFL of x)."""
    import dataclasses

    out = []
    for entry, trap in zip(tables, traps, strict=True):
        density = entry["density"]
        if not isinstance(density, int | float):
            trap = dataclasses.replace(trap, density=as_ufl(density, mesh))
        out.append(trap)
    return out
