# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # A hot pipe wall: temperature → thermal stress → hydrogen
#
# A steel pipe carries a hot fluid: its inner face is at 600 K, its outer face at 400 K.
# We follow a slice of the wall (x across the thickness, plane strain) through the
# whole chain, each step a separate femdiff problem passed on as a coefficient:
#
# 1. **Heat conduction** gives T(x), linear across the wall.
# 2. **Thermal stress.** The wall may not bend or stretch along its length (y and z),
#    so the hot side is compressed and the cold side pulled:
#    σ_yy = σ_zz = −Eα(T − T_ref)/(1 − ν), σ_h = −2Eα(T − T_ref)/(3(1 − ν)).
# 3. **Hydrogen** already dissolved in the (closed) wall redistributes. Its flux is
#
# $$ J = -M\Big(\nabla_T\mu + Q^*\frac{\nabla T}{T}\Big), \qquad
#    \mu = \mu^\circ(T) + RT\ln C - \Omega\sigma_h, \qquad M = \frac{DC}{RT}, $$
#
# with ∇_T μ the isothermal gradient (:mod:`femdiff.models.material_law`). Two forces
# drive hydrogen to the cold outer side: the tensile stress there (Ω > 0), and the
# Soret effect with a heat of transport Q* > 0. Zero flux gives the closed form
#
# $$ C(x) \propto \Big(\frac{T}{T_\mathrm{in}}\Big)^{\Omega\,\sigma_h'/(R\,T')}
#    \exp\Big(\frac{Q^*}{RT}\Big) $$
#
# for T and σ_h linear in x. We run the stress alone, the Soret effect alone, and both.
#
#     mpirun -n 2 python demos/demo_hot_pipe_wall.py
#
# Set `CI=1` (or pass `--small`) for a coarse, fast run.

# +

from mpi4py import MPI

import numpy as np

import femdiff  # noqa: F401  (loads MPI before PETSc for the wheel stack)
from femdiff import geometry
from femdiff import io as fio
from femdiff.models.materials import Material
from femdiff.models.thermodynamics import R_GAS, ChemicalPotential, Ideal, StressCoupling
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics import mechanics
from femdiff.physics.heat import FixedTemperature, HeatConduction
from femdiff.problems.diffusion import DiffusionProblem

comm = MPI.COMM_WORLD
args, out, say = fio.demo_setup("hot_pipe_wall", "hot pipe wall demo", comm)
# -

# ## Steel and the wall (SI units)
#
# D = 7.23e-8 exp(−5.69 kJ/mol / RT) m²/s (Nagano et al. 1982), Ω = 2 cm³/mol, and an
# illustrative heat of transport Q* = 5 kJ/mol (its size and sign depend on the metal).

# +
w, height = 10e-3, 2e-3
T_in, T_out, T_ref = 600.0, 400.0, 500.0
omega, Q = 2.0e-6, 5.0e3
steel = Material("steel", ("domain",), D0=7.23e-8, E_D=5690.0, S0=1.0, E=200e9, nu=0.3,
                 alpha=12e-6, k=40.0)
wall = geometry.build("box", comm, lx=w, ly=height, dim=2, h=w / (10 if args.small else 40))
# -

# ## 1. Heat conduction, 2. thermal stress
#
# Steady conduction with fixed temperatures on the faces. Mechanics: P2 displacements
# (T linear gives a quadratic u, represented exactly), u_x = 0 on the inner face and
# u_y = 0 on the top and bottom cuts (the wall cannot stretch or bend along y).

# +
heat = HeatConduction(wall, [steel], [FixedTemperature("left", T_in),
                                      FixedTemperature("right", T_out)])
T = heat.solve()
solid = mechanics.Elasticity(
    wall, [steel], [mechanics.Displacement("left", {0: 0.0}),
                    mechanics.Displacement("bottom", {1: 0.0}),
                    mechanics.Displacement("top", {1: 0.0})],
    degree=2, model="plane_strain", temperature=T, T_ref=T_ref, solver="lu")
solid.solve()
sigma_h = solid.sigma_h()
line = np.column_stack([np.linspace(0, w, 201), np.full(201, height / 2), np.zeros(201)])
T_line = fio.sample_line(T, line)
s_line = fio.sample_line(sigma_h, line)
sh_expected = -2 * 200e9 * 12e-6 * (T_in - T_ref) / (3 * 0.7)
if comm.rank == 0:
    print(f"σ_h on the hot face {s_line[0] / 1e6:.1f} MPa (plane-strain formula "
          f"{sh_expected / 1e6:.1f} MPa)")
# -

# ## 3. Hydrogen: three runs
#
# The wall is closed (no flux anywhere) and starts with a uniform C₀. The Soret term
# enters through ``heat_of_transport`` (per material); the stress through the
# StressCoupling term; R T ln C takes the field T. Δt grows geometrically to the steady
# state (τ = w²/(π²D) ≈ 10 min).

# +
C0 = 1.0
D_mid = steel.parameter("D", T_ref)
tau = w**2 / (np.pi**2 * D_mid)
t_end = (4.0 if args.small else 10.0) * tau
runs = {"stress": ([Ideal(T_ref), StressCoupling(omega, sigma_h)], None),
        "Soret": ([Ideal(T_ref)], Q),
        "stress + Soret": ([Ideal(T_ref), StressCoupling(omega, sigma_h)], Q)}
profiles, drift = {}, {}
series = fio.TimeSeries(comm, out / "hot_pipe_wall.csv",
                        ["t", "amount", "C_inner", "C_outer"])
fields = None
for label, (terms, heat_of_transport) in runs.items():
    problem = DiffusionProblem(
        wall, ChemicalPotential(terms), None, materials=[steel], temperature=T,
        heat_of_transport=heat_of_transport, initial=C0,
        time=TimeControl(dt=tau * 1e-3, growth=1.3, dt_max=tau / 2, scheme="bdf2"))
    problem.initialise()
    amount0 = problem.amount()
    ends = np.array([[0.0, height / 2, 0.0], [w, height / 2, 0.0]])

    def on_step(p, info, label=label, ends=ends):
        if label == "stress + Soret":
            amount = p.amount()  # collective: on every rank
            c_ends = fio.sample_line(p.C, ends)  # the values land on rank 0
            first, last = (c_ends[0], c_ends[1]) if comm.rank == 0 else (0.0, 0.0)
            series.append(t=p.current_time, amount=amount, C_inner=first, C_outer=last)

    problem.run(t_end, callback=on_step)
    drift[label] = abs(problem.amount() / amount0 - 1)
    profiles[label] = fio.sample_line(problem.C, line)
    if label == "stress + Soret":
        fields = fio.FieldWriter(comm, out / "fields", [problem.C, problem.mu, T, sigma_h])
        fields.write(problem.current_time)
        fields.close()
series.close()
# -

# ## Checks and plots
#
# The amount is conserved in each run, and each final profile is compared with the
# zero-flux closed form (normalised to the same amount, by the trapezoidal rule along
# the line: T and σ_h do not depend on y).

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = line[:, 0]
    slope = (s_line[-1] - s_line[0]) / (T_line[-1] - T_line[0])  # dσ_h/dT
    exponents = {"stress": (omega * slope / R_GAS, 0.0), "Soret": (0.0, Q),
                 "stress + Soret": (omega * slope / R_GAS, Q)}
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 8), sharex=True)
    ax1.plot(xs * 1e3, T_line, "r-", label="T [K]")
    ax1.set_ylabel("T [K]")
    ax1b = ax1.twinx()
    ax1b.plot(xs * 1e3, s_line / 1e6, "k--", label="σ_h")
    ax1b.set_ylabel("σ_h [MPa]")
    ax1.set_title("Temperature (red) and hydrostatic stress (dashed)")
    for label, prof in profiles.items():
        p_exp, q = exponents[label]
        shape = (T_line / T_in) ** p_exp * np.exp(q / (R_GAS * T_line))
        exact = shape * np.trapezoid(prof, xs) / np.trapezoid(shape, xs)
        err = np.max(np.abs(prof - exact)) / C0
        print(f"{label:15s}: C_outer/C_inner = {prof[-1] / prof[0]:.4f} (closed form "
              f"{exact[-1] / exact[0]:.4f}); max |C − C_exact|/C0 = {err:.2e}; mass "
              f"drift {drift[label]:.1e}")
        line_, = ax2.plot(xs * 1e3, prof, label=f"{label}")
        ax2.plot(xs * 1e3, exact, ls=":", color=line_.get_color())
    ax2.set_xlabel("x across the wall [mm] (hot inner face at 0)")
    ax2.set_ylabel("C / C₀ at steady state")
    ax2.set_title("Hydrogen: femdiff (solid) and the zero-flux closed form (dotted)")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out / "hot_pipe_wall.png", dpi=120)
    print(f"output in {out}")
# -
