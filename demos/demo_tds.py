# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: light
#       format_version: '1.5'
#       jupytext_version: 1.16.0
# ---

# # Thermal desorption spectroscopy (TDS) and the Kissinger plot
#
# Every hydrogen lab runs this experiment: a sample is charged with hydrogen, then heated
# at a constant rate β while a mass spectrometer records the desorption flux. Trapped
# hydrogen leaves its traps at a rate that grows steeply with temperature,
#
# $$ \frac{\partial C_T}{\partial t} = k\,C_L\,(N_T - C_T) - p_0\,e^{-E_p/RT}\,C_T,
#    \qquad T(t) = T_0 + \beta t, $$
#
# (McNabb–Foster), diffuses through the lattice,
#
# $$ \frac{\partial C_L}{\partial t} + \frac{\partial C_T}{\partial t}
#    = \nabla\cdot(D\,\nabla C_L), \qquad C_L = 0 \text{ on both faces}, $$
#
# and leaves through the faces. When diffusion is fast compared with detrapping, the
# spectrum is a first-order desorption peak, and its maximum T_p moves with β as
# Kissinger (Anal. Chem. 29 (1957) 1702) showed:
#
# $$ \ln\frac{\beta}{T_p^2} = \ln\frac{p_0 R}{E_p} - \frac{E_p}{R\,T_p}, $$
#
# so the slope of ln(β/T_p²) against 1/T_p measures the detrapping energy E_p. Here three
# heating rates are simulated and E_p is read back from the Kissinger plot.
#
#     mpirun -n 2 python demos/demo_tds.py

# +
import argparse
import os
from pathlib import Path

from mpi4py import MPI

import numpy as np
from scipy import optimize

from femdiff import io as fio
from femdiff.geometry import mesh
from femdiff.models.thermodynamics import R_GAS, ChemicalPotential, Ideal, Mobility
from femdiff.models.trap_laws import McNabbFoster
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics.boundary import FixedConcentration
from femdiff.problems.trapping import TrappingProblem

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", default=bool(os.environ.get("CI")))
parser.add_argument("--out", type=Path, default=fio.demo_output("tds"))
args, _ = parser.parse_known_args()
comm = MPI.COMM_WORLD
args.out.mkdir(parents=True, exist_ok=True)
# -

# ## The sample and the trap
#
# A 0.1 mm thick slab (1D through the thickness) with N_T = 10 mol/m³ traps, full at the
# start (the charging and the room-temperature rest before the ramp are not modelled).
# Detrapping: p₀ = 1e13 /s, E_p = 100 kJ/mol; trapping is slow (k₀ = 1e-5 m³/(mol s)), so
# released hydrogen is not retrapped. Lattice diffusion D = 1e-8 m²/s empties the slab
# in L²/(π²D) ≈ 0.1 s, far faster than any peak (tens of seconds wide): the
# detrapping-limited regime. The lattice hydrogen is ideal, μ = RT₀ ln C_L; both faces
# hold a vanishing C_L (the vacuum chamber). The heating rates are 1, 5 and 20 K/min.

# +
thickness = 1.0e-4  # m
N_T, p0, E_p = 10.0, 1.0e13, 100.0e3
D, T0, T_end = 1.0e-8, 300.0, 420.0
betas = [1 / 60, 5 / 60, 20 / 60]  # K/s
n = 10 if args.small else 40
dT = 1.0 if args.small else 0.25  # K per time step
C_VAC = 1.0e-6 * N_T  # the faces: ~0 (ln C needs C > 0)
trap = McNabbFoster(N_T, k0=1.0e-5, E_k=0.0, p0=p0, E_p=E_p, initial=N_T)


def tds(beta, fields=None):
    """Run one ramp; return (T, desorption flux through both faces) per step."""
    domain = mesh.interval(n, thickness, comm=comm)
    problem = TrappingProblem(
        domain, ChemicalPotential([Ideal(T0)]), Mobility.from_diffusivity(D, T0),
        traps=[trap], temperature=lambda t: T0 + beta * t, initial=C_VAC,
        concentration_scale=N_T, time=TimeControl(dt=dT / beta, scheme="bdf2"),
        bcs=[FixedConcentration("left", C_VAC), FixedConcentration("right", C_VAC)])
    k = betas.index(beta)
    series = fio.TimeSeries(comm, args.out / f"tds_{k}.csv",
                            ["t", "T", "flux", "mobile", "trapped"])
    writer = None
    if fields:
        problem.initialise()
        writer = fio.FieldWriter(comm, args.out / "fields",
                                 [problem.C, problem.trapped_fields[0]])
        writer.write(0.0)

    def record(p, info):
        inventory = p.inventory()
        flux = p.desorption_flux("left") + p.desorption_flux("right")
        series.append(t=info.t, T=p.temperature(), flux=flux,
                      mobile=inventory["mobile"], trapped=inventory["trapped"])
        if writer is not None and round(p.temperature() / dT) % 20 == 0:
            writer.write(info.t)

    problem.run((T_end - T0) / beta, callback=record)
    series.close()
    if writer is not None:
        writer.close()
    data = fio.read_csv(args.out / f"tds_{k}.csv")
    return data["T"], data["flux"]
# -

# ## Three heating rates
#
# The desorption flux is the reaction of the discrete mobile balance at the held faces
# (`desorption_flux`), so the spectrum integrates exactly to the hydrogen that left.
# The peak temperature is the vertex of the parabola through the largest sample and its
# neighbours.

# +
def peak(T, J):
    i = int(np.argmax(J))
    a, b, _ = np.polyfit(T[i - 1:i + 2], J[i - 1:i + 2], 2)
    return -b / (2 * a)


def kissinger_peak(beta):
    """The root of β E/(R T²) = p₀ exp(−E/(R T)) (first-order desorption)."""
    return optimize.brentq(lambda T: np.log(beta * E_p / (R_GAS * T**2)) - np.log(p0)
                           + E_p / (R_GAS * T), 200.0, 1000.0)


spectra, peaks = [], []
for beta in betas:
    T, J = tds(beta, fields=beta == betas[-1])
    spectra.append((T, J))
    peaks.append(peak(T, J))
slope, icpt = np.polyfit(1 / np.array(peaks), np.log(np.array(betas) / np.array(peaks)**2), 1)
E_fit = -slope * R_GAS
kiss = fio.TimeSeries(comm, args.out / "kissinger.csv",
                      ["beta", "T_peak", "T_peak_kissinger", "desorbed", "charged"])
for beta, Tp, (T, J) in zip(betas, peaks, spectra, strict=True):
    kiss.append(beta=beta, T_peak=Tp, T_peak_kissinger=kissinger_peak(beta),
                desorbed=float(np.trapezoid(J, T) / beta), charged=N_T * thickness)
kiss.close()
# -

# ## Plots: the spectra, and E_p read back from the Kissinger plot

# +
if comm.rank == 0:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for beta, (T, J), Tp in zip(betas, spectra, peaks, strict=True):
        ax.plot(T, J * 1e6, label=f"β = {beta * 60:g} K/min, T_p = {Tp:.1f} K")
    ax.set_xlabel("T [K]")
    ax.set_ylabel("desorption flux [μmol/(m² s)]")
    ax.set_title("TDS spectra of one trap (E_p = 100 kJ/mol)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "tds_spectra.png", dpi=120)

    fig, ax = plt.subplots(figsize=(5, 4))
    inv = 1 / np.array(peaks)
    ax.plot(1e3 * inv, np.log(np.array(betas) / np.array(peaks)**2), "o", label="simulated")
    ax.plot(1e3 * inv, slope * inv + icpt, "-",
            label=f"fit: E_p = {E_fit / 1e3:.2f} kJ/mol")
    ax.set_xlabel("1000/T_p [1/K]")
    ax.set_ylabel("ln(β/T_p²) [ln(1/(K s))]")
    ax.set_title("Kissinger plot")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "kissinger.png", dpi=120)
    for beta, Tp in zip(betas, peaks, strict=True):
        print(f"β = {beta * 60:4.0f} K/min: T_p = {Tp:.2f} K (Kissinger {kissinger_peak(beta):.2f} K)")
    print(f"E_p from the Kissinger slope: {E_fit / 1e3:.2f} kJ/mol (input 100 kJ/mol)")
# -
