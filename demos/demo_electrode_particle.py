# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # A battery particle that stresses itself: two-way chemo-mechanics
#
# Lithium inserted into a LiMn₂O₄ cathode particle swells its lattice. A particle
# filled from its surface at constant current is therefore lithium-rich, and swollen,
# outside and lithium-poor inside: the shell is squeezed in hoop compression, the core
# pulled in tension. That is the diffusion-induced stress of Zhang, Shi & Sastry
# (J. Electrochem. Soc. 154 (2007) A910) and Cheng & Verbrugge (J. Power Sources 190
# (2009) 453).
#
# The stress acts back on the lithium (Larché & Cahn). The swelling is the
# compositional eigenstrain ε* = (Ω/3)(C − C_ref) I, and the chemical potential of the
# inserted lithium carries the work against the hydrostatic stress σ_h = tr σ/3:
#
# $$ \mu = RT\ln C - \Omega\,\sigma_h(u, C), \qquad
#    \nabla\cdot\sigma = 0,\quad \sigma = \mathbb{C} : (\varepsilon(u) - \varepsilon^*(C)),
#    \qquad \frac{\partial C}{\partial t} = \nabla\cdot\Big(\frac{DC}{RT}\nabla\mu\Big). $$
#
# In a free sphere σ_h = 2ΩE/(9(1−ν)) (C̄ − C): the lithium-poor core is in tension and
# pulls lithium in, so the stress *speeds up* the diffusion, by the factor 1 + θC with
# θ = 2Ω²E/(9(1−ν)RT). This demo charges the same particle twice, one-way (the stress
# follows C but does not act on it) and two-way (`femdiff.problems.coupled.Coupled`, one Newton
# for (C, μ, u)), and compares the concentration and hoop-stress histories at the centre
# and the surface. Run it with
#
#     mpirun -n 2 python demos/demo_electrode_particle.py
#
# Set `CI=1` (or pass `--small`) for a coarse, fast run.

# +
import time

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem

import femdiff  # noqa: F401  (loads MPI before PETSc for the wheel stack)
from femdiff import geometry
from femdiff import io as fio
from femdiff.models.thermodynamics import R_GAS, ChemicalPotential, Ideal, Mobility, StressCoupling
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics import mechanics
from femdiff.problems.coupled import Coupled
from femdiff.problems.diffusion import DiffusionProblem, Flux

comm = MPI.COMM_WORLD
args, out, say = fio.demo_setup("electrode_particle", "electrode-particle demo", comm)
# -

# ## Parameters (SI units)
#
# LiMn₂O₄ as in Zhang, Shi & Sastry (2007), Table 1 (the values reproduced by Cheng &
# Verbrugge 2009): E = 10 GPa, ν = 0.3, Ω = 3.497 cm³/mol, D = 7.08·10⁻¹⁵ m²/s,
# C_max = 2.29·10⁴ mol/m³, a sphere of radius 5 µm at 300 K. We insert lithium at a
# current density of 2 A/m² (flux j = i/F) from C₀ = 0.1 C_max for 1000 s, which brings
# the mean to ≈ 0.64 C_max while the surface stays below C_max.

# +
R = 5e-6
E, nu = 10e9, 0.3
omega = 3.497e-6
D = 7.08e-15
c_max = 2.29e4
T = 300.0
F = 96485.33212
current = 2.0  # A/m²
j = current / F  # mol/(m² s)
C0 = 0.1 * c_max
t_end = 1000.0
RT = R_GAS * T
theta = 2 * omega**2 * E / (9 * (1 - nu) * RT)
say(f"θ C0 = {theta * C0:.3f}, θ C_max = {theta * c_max:.3f}; R²/D = {R**2 / D:.0f} s, "
    f"jR/D = {j * R / D:.0f} mol/m³")
# -

# ## Geometry
#
# By symmetry one octant suffices: the planes x = 0, y = 0, z = 0 are rollers (the
# normal displacement is zero there, which also removes every rigid-body mode).

h = R / (3 if args.small else 6)
n_out = 10 if args.small else 40
times = list(np.linspace(0, t_end, n_out + 1)[1:])
probes = np.array([[0.0, 0.0, 0.0], [R, 0.0, 0.0]])  # centre, surface


def build(two_way: bool):
    """The particle: P2 displacements (σ_h piecewise linear), P1 (C, μ)."""
    d = geometry.build("sphere_octant", comm, radius=R, h=h)
    solid = mechanics.Elasticity(
        d, mechanics.ElasticMaterial(E=E, nu=nu),
        [mechanics.Displacement(n, {i: 0.0}) for i, n in enumerate(("x0", "y0", "z0"))],
        degree=2)
    terms = [Ideal(T)]
    if two_way:
        sigma_h = fem.Function(fem.functionspace(d.mesh, ("Discontinuous Lagrange", 1)),
                               name="sigma_h")
        terms.append(StressCoupling(omega, sigma_h))
    diffusion = DiffusionProblem(
        d, ChemicalPotential(terms), Mobility.from_diffusivity(D, T), initial=C0,
        time=TimeControl(dt=t_end / n_out / 2, scheme="bdf2"), bcs=[Flux("surface", -j)])
    if two_way:  # monolithic: (C, μ, u) in one Newton, Ω read from StressCoupling
        return d, Coupled(solid, diffusion)
    # one-way: the stress follows C; Ω is given here, as there is no StressCoupling term
    return d, Coupled(solid, diffusion, scheme="staggered", two_way=False, omega=omega)


# ## Running both models
#
# At each output time we record C and the hoop stress σ_θ at the centre and the surface
# (σ_θ = σ_yy at (R, 0, 0); at the centre every direction is a hoop direction), the
# largest von Mises stress, the elastic and the total free energy, and write the fields.

# +
histories: dict[str, dict[str, list[float]]] = {}
timings = {}
for label, two_way in (("one_way", False), ("two_way", True)):
    t0 = time.perf_counter()
    d, cp = build(two_way)
    cp.initialise()
    mech = cp.mechanics
    V_dg = fem.functionspace(d.mesh, ("Discontinuous Lagrange", 1))
    hoop = fem.Function(V_dg, name="sigma_yy")
    hoop_expr = fem.Expression(mech.sigma(mech.u)[1, 1], V_dg.element.interpolation_points)
    radial = fem.Function(V_dg, name="sigma_xx")
    radial_expr = fem.Expression(mech.sigma(mech.u)[0, 0], V_dg.element.interpolation_points)
    vm = fem.Function(V_dg, name="von_mises")
    s = mech.sigma(mech.u)
    dev = s - ufl.tr(s) / 3 * ufl.Identity(3)
    vm_expr = fem.Expression(ufl.sqrt(1.5 * ufl.inner(dev, dev)),
                             V_dg.element.interpolation_points)
    sh = fem.Function(V_dg, name="sigma_h")
    sh_expr = fem.Expression(mech.trace_sigma(mech.u) / 3, V_dg.element.interpolation_points)
    fields = fio.FieldWriter(comm, out / f"fields_{label}",
                             [cp.C, cp.mu, mech.u, sh, vm])
    series = fio.TimeSeries(comm, out / f"{label}.csv",
                            ["t", "C_centre", "C_surface", "hoop_centre", "hoop_surface",
                             "sigma_h_centre", "von_mises_max", "elastic_energy",
                             "free_energy", "amount", "newton", "krylov"])
    hist: dict[str, list[float]] = {k: [] for k in series.columns}

    def record(info=None, cp=cp, mech=mech, fields=fields, series=series, hist=hist,
               hoop=hoop, radial=radial, vm=vm, sh=sh, hoop_expr=hoop_expr,
               radial_expr=radial_expr, vm_expr=vm_expr, sh_expr=sh_expr):
        cp.displacement  # noqa: B018  (solves a stale one-way mechanics)
        for f, e in ((hoop, hoop_expr), (radial, radial_expr), (vm, vm_expr), (sh, sh_expr)):
            f.interpolate(e)
        c = fio.sample_line(cp.C, probes)
        st = fio.sample_line(hoop, probes)
        sr = fio.sample_line(radial, probes)
        shv = fio.sample_line(sh, probes)
        vmax = comm.allreduce(float(vm.x.array.max()) if vm.x.array.size else 0.0,
                              op=MPI.MAX)
        row = {"t": cp.current_time, "von_mises_max": vmax,
               "elastic_energy": cp.elastic_energy(), "free_energy": cp.free_energy(),
               "amount": cp.amount(),
               "newton": 0 if info is None else info.newton_iterations,
               "krylov": 0 if info is None else info.krylov_iterations}
        if comm.rank == 0:
            row.update(C_centre=c[0], C_surface=c[1], hoop_centre=0.5 * (st[0] + sr[0]),
                       hoop_surface=st[1], sigma_h_centre=shv[0])
        else:
            row.update(C_centre=0.0, C_surface=0.0, hoop_centre=0.0, hoop_surface=0.0,
                       sigma_h_centre=0.0)
        series.append(**row)
        for k, v in row.items():
            hist[k].append(v)
        fields.write(cp.current_time)

    record()
    cp.run(t_end, times=times, callback=lambda p, info, record=record: (
        record(info) if any(abs(p.current_time - t) < 1e-9 * t_end for t in times) else None))
    fields.close()
    series.close()
    timings[label] = time.perf_counter() - t0
    histories[label] = hist
    say(f"{label}: {timings[label]:.1f} s, final C(centre) = {hist['C_centre'][-1]:.0f}, "
        f"C(surface) = {hist['C_surface'][-1]:.0f} mol/m³, hoop stress surface "
        f"{hist['hoop_surface'][-1] / 1e6:.1f} MPa, centre {hist['hoop_centre'][-1] / 1e6:.1f}"
        " MPa")
# -

# ## What the coupling does
#
# Two-way, the tensile core draws lithium in: the centre fills faster, the surface
# less, the gradient and therefore the stresses are smaller. Charging the same amount
# (the amount only depends on the current), the two-way particle is less stressed.

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 8), sharex=True)
    for label, style in (("one_way", "--"), ("two_way", "-")):
        hist = histories[label]
        t = np.array(hist["t"])
        ax1.plot(t, np.array(hist["C_surface"]) / c_max, "r" + style,
                 label=f"surface, {label.replace('_', '-')}")
        ax1.plot(t, np.array(hist["C_centre"]) / c_max, "b" + style,
                 label=f"centre, {label.replace('_', '-')}")
        ax2.plot(t, np.array(hist["hoop_surface"]) / 1e6, "r" + style,
                 label=f"surface, {label.replace('_', '-')}")
        ax2.plot(t, np.array(hist["hoop_centre"]) / 1e6, "b" + style,
                 label=f"centre, {label.replace('_', '-')}")
    ax1.set_ylabel("C / C_max")
    ax1.legend()
    ax1.set_title("LiMn₂O₄ particle, R = 5 µm, 2 A/m² insertion")
    ax2.set_ylabel("hoop stress σ_θ [MPa]")
    ax2.set_xlabel("t [s]")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out / "electrode_particle.png", dpi=120)
    plt.close(fig)
    one, two = histories["one_way"], histories["two_way"]
    say(f"surface hoop stress at t = {t_end:g} s: one-way {one['hoop_surface'][-1] / 1e6:.1f}"
        f" MPa, two-way {two['hoop_surface'][-1] / 1e6:.1f} MPa")
# -
