"""TMAP8 ver-1d (permeation with trapping) with femdiff's defaults, beside a plain solve.

The case (Longhurst et al., TMAP4/TMAP7 V&V 1d; TMAP8 ``ver-1d``): a slab 0 < x < l = 1 m,
D = 1 m²/s, T = 1000 K, host density N = 3.1622e22 m⁻³, C = C₀ = 1e-4 N at x = 0 and
C = 0 at x = l, initially empty; one McNabb–Foster trap with N_T = 0.1 N,
∂C_T/∂t = α_t C_M (N_T − C_T)/N − α_r e^{−ε/kT} C_T, α_t = D/λ² = 1e15 /s,
α_r = 1e13 /s, and ε/k = 100 K (diffusion-limited) or 1e4 K (trap-limited).

Analytic values (TMAP8 doc/content/verification_and_validation/ver-1d.md):

* ζ = α_r e^{−ε/kT}/(α_t ρ) + c/ρ (ρ = N_T/N = 0.1, c = C₀/N = 1e-4): 91.47 c/ρ and
  1.00454 c/ρ;
* diffusion-limited: D_eff = D/(1 + 1/ζ), breakthrough (the steepest tangent's
  intercept with the t axis) τ_be = l²/(2π² D_eff) = 0.6045 s, J_p(t) = (C₀ D/l)
  {1 + 2 Σ (−1)^m exp(−m² t/(2τ_be))};
* trap-limited: τ_bd = l² ρ/(2 c D) = 500 s (TMAP8's own run: 50 % flux at 481 s,
  tangent intercept 469 s; the analytic value neglects the diffusion through the
  filled region behind the front).

femdiff runs the natural model (Ideal: μ = kT ln C, M = D C/kT) with no PETSc options:
the default ``formulation="auto"`` picks the activity formulation with the trap ODE
eliminated node by node (:mod:`femdiff.problems.trap_activity`). The plain solve is what FESTIM
does: the concentration form in raw units, mobile and trapped P1 fields in one mixed
space, one monolithic Newton (SNES newtonls) with MUMPS, its tolerances hand-set for these
magnitudes. Same mesh, Δt (backward Euler) and steps; the flux of the plain solve is
−D ∂C/∂x at x = l (its gradient, as FESTIM's SurfaceFlux), femdiff's the reaction flux.

    python benchmarks/bench_tmap8_ver1d.py [--nx 200] [--regime diffusion trapping] [--mixed]
    python benchmarks/bench_tmap8_ver1d.py --plate --nx 32 --regime diffusion --t-end 3

This session (issue #24; serial, times on a quiet machine):

* diffusion-limited, slab nx = 200, Δt = 0.01 s to 12 s: tangent intercept 0.60158 s
  (−0.47 % of l²/(2π² D_eff) = 0.6045 s, −0.17 % of the analytic curve's own intercept
  0.6026 s), J(12 s)/J_ss − 1 = −1.0e-4 (the transient's 2e^{−t/2τ} = 9e-5); Newton
  1.11/step (max 3); 0.533 against 0.872 ms/step, 0.61× the plain solve (the same flux:
  the same discrete system; at 200 cells both are per-step overhead). The mixed μ–C
  Newton on f = C²/2 (no user tolerance now): 2.6/step, max 33 on the first step.
* trap-limited, slab nx = 200, Δt = 1 s to 1000 s: 50 % flux at 479.3 s, tangent
  intercept 468.1 s (TMAP8: 481 s, 469 s); Newton 1.92/step (max 9, the first steps,
  when the front crosses several cells per step); 0.66 ms/step. The plain solve
  converges to the spurious root of the bilinear trap law (C_T up to 4e4 N_T, C_M < 0)
  and shows no breakthrough; the bounded mixed Newton on f = C²/2 needs 109 its/step.
* plate 32 × 8 × 8, diffusion-limited to 3 s: 34.0 against 89.3 ms/step, 0.38× the
  plain solve, the same flux (tangent 0.5975 s at this h = 1/32).
"""

import argparse
import math
import time
from dataclasses import dataclass

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem

import femdiff  # noqa: F401  (MPI before PETSc for the wheel stack)
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import ChemicalPotential, Ideal, Mobility
from femdiff.models.trap_laws import McNabbFoster
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics.boundary import FixedConcentration
from femdiff.problems.trapping import TrappingProblem

KB = 1.380649e-23  # J/K
N, T, D, LENGTH = 3.1622e22, 1000.0, 1.0, 1.0
C0, RHO, ALPHA_T, ALPHA_R = 1.0e-4 * N, 0.1, 1.0e15, 1.0e13
#: ε/k [K], end time [s], Δt [s] of each regime
REGIMES = {"diffusion": (100.0, 12.0, 0.01), "trapping": (1.0e4, 1000.0, 1.0)}


def analytic(eps):
    """ζ, D_eff, τ_be and τ_bd of TMAP8's ver-1d doc."""
    c = C0 / N
    zeta = ALPHA_R * math.exp(-eps / T) / (ALPHA_T * RHO) + c / RHO
    d_eff = D / (1 + 1 / zeta)
    tau_be = LENGTH**2 / (2 * math.pi**2 * d_eff)
    tau_bd = LENGTH**2 * RHO / (2 * c * D)
    return zeta, d_eff, tau_be, tau_bd


def series_flux(t, tau_be, terms=200):
    """J_p/(C₀D/l) of the effective-diffusivity regime (TMAP8 ver-1d eq. J_p)."""
    m = np.arange(1, terms + 1)[:, None]
    return 1 + 2 * np.sum((-1.0) ** m * np.exp(-(m**2) * t[None, :] / (2 * tau_be)), axis=0)


def breakthrough(ts, J):
    """(steepest tangent's t-intercept, first time J ≥ 1/2) of a flux history J(t)/J_ss."""
    slope = np.gradient(J, ts)
    i = int(np.argmax(slope))
    k = np.flatnonzero(J >= 0.5)
    t50 = np.nan
    if k.size and k[0] > 0:  # linear interpolation between the steps around J = 1/2
        a, b = k[0] - 1, k[0]
        t50 = ts[a] + (0.5 - J[a]) * (ts[b] - ts[a]) / (J[b] - J[a])
    return ts[i] - J[i] / slope[i], t50


def make_domain(nx, plate):
    """The slab: an interval of nx cells, or the plate 1 × 0.25 × 0.25 (nx × nx/4²)."""
    if plate:
        return mesh.box(nx, nx // 4, nx // 4, LENGTH, 0.25, 0.25), 0.0625
    return mesh.interval(nx, LENGTH), 1.0


def trap(eps):
    return McNabbFoster(RHO * N, k0=ALPHA_T, E_k=0.0, p0=ALPHA_R, E_p=eps * KB,
                        units="atomic", rate_units="per_site", n_sites=N)


@dataclass(frozen=True)
class HalfSquare:
    """f = a C²/2 (μ = a C): with M = D/a the linear Fick form in the mixed μ–C Newton."""

    a: object  # a fem.Constant

    def energy(self, c):
        return 0.5 * self.a * c**2

    def gradient_energy(self, g):
        return None

    @property
    def domain(self):
        return (-math.inf, math.inf)


def run_femdiff(eps, nx, dt, t_end, condense=False, plate=False, fick=False):
    """TrappingProblem with the defaults; (t, J/J_ss, s/step, its).

    The natural model (Ideal), or with ``fick`` the linear form f = C²/2, M = D on the
    mixed μ–C Newton (the model the issue needed snes_atol for).
    """
    domain, area = make_domain(nx, plate)
    if fick:
        potential = ChemicalPotential([HalfSquare(fem.Constant(domain.mesh, 1.0))])
        mobility = Mobility.constant(D)
    else:
        potential = ChemicalPotential([Ideal(T, units="atomic")])
        mobility = Mobility.from_diffusivity(D, T, units="atomic")
    p = TrappingProblem(
        domain, potential, mobility, traps=[trap(eps)], temperature=T,
        initial=0.0, bcs=[FixedConcentration("left", C0), FixedConcentration("right", 0.0)],
        time=TimeControl(dt=dt, scheme="backward_euler"), condense_traps=condense)
    ts, J, its = [0.0], [0.0], []
    steps = int(round(t_end / dt))
    t0 = None
    for n in range(steps):
        info = p.step()
        if n == 0:  # JIT and first factorisation out of the timing
            t0 = time.perf_counter()
        ts.append(info.t)
        J.append(p.flux_through("right") / (D * C0 * area / LENGTH))
        its.append(info.newton_iterations)
    elapsed = time.perf_counter() - t0
    return np.array(ts), np.array(J), elapsed / (steps - 1), its, p.formulation


def run_plain(eps, nx, dt, t_end, extra=None, plate=False):
    """Concentration form, mobile + trapped P1, monolithic Newton with MUMPS (raw units)."""
    domain, area = make_domain(nx, plate)
    msh = domain.mesh
    el = basix.ufl.element("Lagrange", msh.basix_cell(), 1)
    W = fem.functionspace(msh, basix.ufl.mixed_element([el, el]))
    u, u_n = fem.Function(W), fem.Function(W)
    cm, ct = ufl.split(u)
    cm_n, ct_n = ufl.split(u_n)
    v, w = ufl.TestFunctions(W)
    dtc = fem.Constant(msh, PETSc.ScalarType(dt))
    k, p_rate = ALPHA_T / N, ALPHA_R * math.exp(-eps / T)
    # storage and trap exchange at the vertices (lumped), as femdiff's: the same discrete
    # system, so the two differ in the solver only
    dxl = ufl.Measure("dx", domain=msh, metadata={"quadrature_rule": "vertex",
                                                  "quadrature_degree": 1})
    F = ((cm - cm_n) / dtc * v + (ct - ct_n) / dtc * v) * dxl
    F += D * ufl.inner(ufl.grad(cm), ufl.grad(v)) * ufl.dx
    F += ((ct - ct_n) / dtc - k * cm * (RHO * N - ct) + p_rate * ct) * w * dxl
    V0, _ = W.sub(0).collapse()
    fdim = msh.topology.dim - 1
    bcs = []
    for name, value in (("left", C0), ("right", 0.0)):
        dofs = fem.locate_dofs_topological((W.sub(0), V0), fdim, domain.facets(name))
        g = fem.Function(V0)
        g.x.array[:] = value
        bcs.append(fem.dirichletbc(g, dofs, W.sub(0)))
    # FESTIM-style: tolerances hand-set for the raw magnitudes (C₀ = 3e18 m⁻³; the trap
    # rows' round-off is ~1e14), full Newton steps (backtracking stalls at step 2)
    opts = {"snes_type": "newtonls", "snes_linesearch_type": "basic",
            "snes_rtol": 1.0e-10, "snes_atol": 1.0e-10 * C0 / nx, "snes_max_it": 30,
            "ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
    opts.update(extra or {})
    problem = NonlinearProblem(F, u, bcs=bcs, petsc_options_prefix="plain_ver1d_",
                               petsc_options=opts)
    problem.solver.setDivergenceTolerance(1.0e300)  # full steps may first raise ‖F‖
    n_ = ufl.FacetNormal(msh)
    flux = fem.form(-D * ufl.inner(ufl.grad(cm), n_) * domain.ds("right"))
    ts, J, its = [0.0], [0.0], []
    steps = int(round(t_end / dt))
    t0 = None
    for n in range(steps):
        for bc in bcs:
            bc.set(u.x.array)
        problem.solve()
        snes = problem.solver
        if snes.getConvergedReason() <= 0:
            raise RuntimeError(f"plain Newton failed at step {n}: {snes.getConvergedReason()}")
        if n == 0:
            t0 = time.perf_counter()
        u_n.x.array[:] = u.x.array
        ts.append((n + 1) * dt)
        J.append(fem.assemble_scalar(flux) / (D * C0 * area / LENGTH))
        its.append(snes.getIterationNumber())
    elapsed = time.perf_counter() - t0
    cm_h, ct_h = u.sub(0).collapse().x.array, u.sub(1).collapse().x.array
    print(f"    plain end state: min C_M/C₀ {cm_h.min() / C0:.3g}, C_T/N_T in "
          f"[{ct_h.min() / (RHO * N):.3g}, {ct_h.max() / (RHO * N):.3g}]")
    return np.array(ts), np.array(J), elapsed / (steps - 1), its


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nx", type=int, default=200)
    parser.add_argument("--regime", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    parser.add_argument("--no-plain", action="store_true")
    parser.add_argument("--mixed", action="store_true",
                        help="also the mixed μ–C Newton on f = C²/2 (plain and condensed)")
    parser.add_argument("--plate", action="store_true",
                        help="the 3D plate 1 x 0.25 x 0.25 with nx x nx/4 x nx/4 cells")
    parser.add_argument("--t-end", type=float, help="end time [s] (default per regime)")
    args = parser.parse_args()
    rows = []
    for regime in args.regime:
        eps, t_end, dt = REGIMES[regime]
        t_end = args.t_end or t_end
        zeta, d_eff, tau_be, tau_bd = analytic(eps)
        if regime == "diffusion":
            tt = np.linspace(1e-4, 12 * tau_be, 200001)
            expected, what = breakthrough(tt, series_flux(tt, tau_be))[0], "tangent τ_be"
            ref = tau_be
        else:
            expected, what, ref = tau_bd, "τ_bd (50 %)", tau_bd
        print(f"{regime}: ζ = {zeta * RHO * N / C0:.4g} c/ρ, D_eff = {d_eff:.5g}, "
              f"{what} = {ref:.5g} s (tangent intercept of the analytic curve: "
              f"{expected:.5g} s)" if regime == "diffusion" else
              f"{regime}: ζ = {zeta * RHO * N / C0:.5g} c/ρ, τ_bd = {tau_bd:.5g} s "
              "(TMAP8: 481 s at 50 % flux, tangent intercept 469 s)")
        runs = [("femdiff", *run_femdiff(eps, args.nx, dt, t_end, plate=args.plate)[:4])]
        if not args.plate:
            runs.append(("femdiff condense_traps", *run_femdiff(eps, args.nx, dt, t_end,
                                                                 condense=True)[:4]))
        if args.mixed:
            for condense in (False, True):
                label = "mixed C²/2" + (", condensed" if condense else "")
                runs.append((label, *run_femdiff(eps, args.nx, dt, t_end, condense=condense,
                                                 plate=args.plate, fick=True)[:4]))
        if not args.no_plain:
            runs.append(("plain DOLFINx (C form)", *run_plain(eps, args.nx, dt, t_end,
                                                              plate=args.plate)))
        base = None
        for label, ts, J, sps, its in runs:
            tan, t50 = breakthrough(ts, J)
            base = base or sps
            rows.append((regime, label, tan, t50, J[-1] - 1, sps, np.mean(its), max(its),
                         sps / runs[-1][3]))
            err = tan / ref - 1 if regime == "diffusion" else t50 / ref - 1
            print(f"  {label:24s} tangent {tan:9.5g} s  t50 {t50:9.5g} s  "
                  f"(vs analytic {err:+.2%})  J_end/J_ss-1 {J[-1] - 1:+.1e}  "
                  f"{sps * 1e3:7.3f} ms/step  Newton {np.mean(its):.2f}/step "
                  f"(max {max(its)})  time ratio to last row {sps / runs[-1][3]:.2f}")
    if MPI.COMM_WORLD.rank == 0:
        shape = f"plate {args.nx}x{args.nx // 4}x{args.nx // 4}" if args.plate else "slab"
        print(f"\n{shape}, nx = {args.nx}, backward Euler, Δt: " + ", ".join(
            f"{r} {REGIMES[r][2]:g} s" for r in args.regime))


if __name__ == "__main__":
    main()
