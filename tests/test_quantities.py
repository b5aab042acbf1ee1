"""Derived quantities (femdiff.io.quantities, [[output.quantities]]) against exact values."""

import json
import math
from pathlib import Path

from mpi4py import MPI

import numpy as np
import pytest

from femdiff.cli import main
from femdiff.geometry import mesh
from femdiff.io import quantities as q
from femdiff.models.thermodynamics import ChemicalPotential, Ideal, Mobility
from femdiff.numerics.timestepping import TimeControl
from femdiff.physics import boundary as b
from femdiff.problems.diffusion import DiffusionProblem

CASES = Path(__file__).resolve().parent.parent / "cases"
T, D = 300.0, 1.0e-9
LX, LY, J_OUT = 1.0e-3, 0.5e-3, 1.0e-7
A, B = 1.0, 1000.0  # C0 = A + B x: P1 holds it exactly, so every quantity is exact


def plate(n=8):
    """The quickstart plate: fixed C on the left, outward flux J_OUT on the right."""
    return DiffusionProblem(
        mesh.rectangle(n, n // 2, LX, LY), ChemicalPotential([Ideal(T)]),
        Mobility.from_diffusivity(D, T), initial=lambda x: A + B * x[0],
        time=TimeControl(dt=5.0), bcs=[b.FixedConcentration("left", 1.0),
                                       b.Flux("right", J_OUT)])


@pytest.mark.mpi
def test_quantities_of_a_linear_field_are_exact(mpi_tmp_path):
    """Point, volume and surface quantities of C = A + B x (exact in P1) at t0.

    Exact values: C(0.3 mm) = 1.3; over the plate total = LY (A LX + B LX²/2), mean 1.5,
    max A + B LX = 2, min 1; on the right edge mean = max = 2, total = 2 LY. Tolerance
    1e-12: quadrature of a linear field is exact, only rounding remains (1 and 2 ranks).
    """
    p = plate()
    quantities = [q.PointValue("C", (0.3e-3, 0.1e-3), "p"),
                  q.VolumeQuantity("C", "total"), q.VolumeQuantity("C", "mean"),
                  q.VolumeQuantity("C", "max"), q.VolumeQuantity("C", "min"),
                  q.SurfaceQuantity("C", "mean", "right"), q.SurfaceQuantity("C", "max", "right"),
                  q.SurfaceQuantity("C", "min", "left"), q.SurfaceQuantity("C", "total", "right"),
                  q.LineProfile("C", (0.0, 0.25e-3), (LX, 0.25e-3), 11, "mid")]
    rec = q.Recorder(p, quantities, mpi_tmp_path / "quantities.csv")
    row = rec.record()
    exact = {"C_at_p": 1.3, "total_C_all": LY * (A * LX + B * LX**2 / 2), "mean_C_all": 1.5,
             "max_C_all": 2.0, "min_C_all": 1.0, "mean_C_right": 2.0, "max_C_right": 2.0,
             "min_C_left": 1.0, "total_C_right": 2.0 * LY}
    for key, value in exact.items():
        assert row[key] == pytest.approx(value, rel=1e-12), key
    rec.close()
    MPI.COMM_WORLD.Barrier()
    units = json.loads((mpi_tmp_path / "quantities.json").read_text())["columns"]
    assert units["total_C_all"]["unit"] == "mol/m"  # 2D: per metre of depth
    assert units["C_at_p"]["unit"] == "mol/m^3"
    from femdiff import io as fio

    prof = fio.read_csv(mpi_tmp_path / "profile_mid_times.csv")
    assert np.allclose(prof["C"], A + B * prof["x"], rtol=1e-12)


@pytest.mark.mpi
def test_surface_flux_density_equals_the_prescribed_flux():
    """On the Flux boundary the conservative total is ∫ j ds = J_OUT LY, its mean J_OUT.

    Exact at every step (the prescribed flux is the residual's own boundary term); 1e-12
    leaves room for rounding. The callback is called at t0 too (Recorder.at_start), and
    profiles are written only at t0 and the steps landing on output times.
    """
    p = plate()
    rec = q.Recorder(p, [q.SurfaceFlux("right"), q.SurfaceFluxDensity("right")])
    infos = p.run(20.0, times=[10.0], callback=rec)
    assert len(rec.rows) == len(infos) + 1 and rec.rows[0]["t"] == 0.0
    assert [i.at_output for i in infos].count(True) == 2  # t = 10 and t = 20
    for row in rec.rows:
        assert row["flux_density_right"] == pytest.approx(J_OUT, rel=1e-12)
        assert row["flux_right"] == pytest.approx(J_OUT * LY, rel=1e-12)


@pytest.mark.mpi
def test_probe_and_maximum_agree_on_any_number_of_ranks():
    """A point probe and a volume max after a few steps: 2 ranks equal the serial values.

    The serial values are computed on COMM_SELF beside the parallel run; they agree to
    the solver tolerance (1e-9 relative: LU on a different partition).
    """
    def values(comm):
        dom = mesh.rectangle(8, 4, LX, LY, comm=comm) if comm is not None else None
        p = DiffusionProblem(dom, ChemicalPotential([Ideal(T)]),
                             Mobility.from_diffusivity(D, T),
                             initial=lambda x: A + B * x[0] * (1 + x[1] / LY),
                             time=TimeControl(dt=5.0),
                             bcs=[b.FixedConcentration("left", 1.0), b.Flux("right", J_OUT)])
        rec = q.Recorder(p, [q.PointValue("C", (0.55e-3, 0.3e-3), "p"),
                             q.VolumeQuantity("C", "max"), q.SurfaceQuantity("C", "min",
                                                                              "right")])
        p.run(15.0, callback=rec)
        return rec.rows[-1]

    par = values(MPI.COMM_WORLD)
    ser = values(MPI.COMM_SELF)
    for key in ("C_at_p", "max_C_all", "min_C_right"):
        assert par[key] == pytest.approx(ser[key], rel=1e-9), key


def test_unknown_field_and_outside_point_are_named():
    p = plate()
    with pytest.raises(q.QuantityError, match="unknown field 'C_T'") as err:
        q.Recorder(p, [q.SurfaceFlux("right"), q.VolumeQuantity("C_T", "max")])
    assert err.value.index == 1
    with pytest.raises(q.QuantityError, match="outside the mesh"):
        q.Recorder(p, [q.PointValue("C", (2.0, 0.0))])


def test_bad_quantity_in_a_case_file_is_one_line(tmp_path, capsys):
    text = (CASES / "quickstart.toml").read_text().replace(
        "[output]", '[output]\nquantities = [{ type = "volume", field = "C", op = "median" }]')
    case = tmp_path / "bad.toml"
    case.write_text(text)
    assert main(["check", str(case)]) == 2
    err = capsys.readouterr().err
    assert "output.quantities[0].op" in err and "median" in err and "max" in err


@pytest.mark.mpi
def test_plate_with_hole_case_writes_hydrogen_at_the_hole_edge(mpi_tmp_path):
    """cases/plate_hole_hydrogen.toml: C_L and C_T at the hole edge vs time.

    At the end (t = 2000 s ≈ 7 L²/D_L; the inflow has decayed below 1e-15 of its start)
    μ is uniform, so at the edge θ_L/(1−θ_L) = θ₀/(1−θ₀) exp(V_H σ_h/RT) with the σ_h
    written beside it, and Oriani's law θ_T/(1−θ_T) = θ_L/(1−θ_L) exp(E_b/RT) (Oriani,
    Acta Metall. 18 (1970) 147) gives C_T; tolerance 1e-4 (the residual transient and
    the P1 Newton tolerance). The Kirsch concentration (σ_yy = 3σ∞, plane strain
    σ_h = (1+ν)σ∞ = 390 MPa in an infinite plate; a hole of 0.1 of the width raises it
    ~1 %) is checked to 5 % (the P1 projection of σ_h at a graded edge).
    """
    from femdiff import io as fio

    out = mpi_tmp_path / "plate"
    assert main(["-q", "run", str(CASES / "plate_hole_hydrogen.toml"), "-o", str(out),
                 "--set", "output.png=false"]) == 0
    MPI.COMM_WORLD.Barrier()
    s = fio.read_csv(out / "series.csv")
    units = json.loads((out / "series.json").read_text())["columns"]
    assert units["C_T_at_hole_edge"]["unit"] == "mol/m^3"
    assert units["sigma_h_at_hole_edge"]["unit"] == "Pa"
    R, TK, V, NL, NT, EB = 8.314462618, 293.0, 2.0e-6, 846874.9242586618, \
        0.0014114582070977697, 30.0e3
    theta0 = 0.0034605634159902967 / NL
    sigma = s["sigma_h_at_hole_edge"][-1]
    assert sigma == pytest.approx(390e6, rel=0.05)
    ratio = theta0 / (1 - theta0) * math.exp(V * sigma / (R * TK))
    CL = NL * ratio / (1 + ratio)
    assert s["C_at_hole_edge"][-1] == pytest.approx(CL, rel=1e-4)
    rt = CL / NL / (1 - CL / NL) * math.exp(EB / (R * TK))
    assert s["C_T_at_hole_edge"][-1] == pytest.approx(NT * rt / (1 + rt), rel=1e-4)
    # the edge fills over time; the most trapped hydrogen sits there
    assert np.all(np.diff(s["C_at_hole_edge"]) > -1e-12 * CL)
    assert s["max_C_T_all"][-1] == pytest.approx(s["C_T_at_hole_edge"][-1], rel=1e-9)
    prof = fio.read_csv(out / "profile_ligament_C_T_times.csv")
    assert sorted(set(prof["t"])) == [0.0, 10.0, 100.0, 1000.0, 2000.0]
    assert fio.bp_steps(out / "fields_P1.bp") == 5  # C, C_T in P1 at t0 and 4 times


# --- plots -----------------------------------------------------------------------------------


def _not_blank(png):
    """At least 2 % of the pixels differ from the background (white) colour."""
    import matplotlib.image as mimg

    img = mimg.imread(png)[..., :3]
    return float((np.abs(img - 1.0).sum(axis=2) > 0.05).mean()) > 0.02


@pytest.mark.mpi
def test_plots_are_drawn_and_cover_the_data(mpi_tmp_path):
    """series.png (grouped by unit), profiles, the field on the mesh (colour range = data
    range, a narrow peak included: the pixel-grid sampling missed it), and a spectrum."""
    from dolfinx import fem
    from PIL import Image

    from femdiff import io as fio

    comm = MPI.COMM_WORLD
    domain = mesh.rectangle(40, 20, 2.0, 1.0)
    V = fem.functionspace(domain.mesh, ("Lagrange", 1))
    f = fem.Function(V, name="C")
    # a peak of 1e3 confined to the node at (1, 0.5), over a background of 1..3
    f.interpolate(lambda x: 1 + x[0] + 1e3 * (np.hypot(x[0] - 1, x[1] - 0.5) < 1e-9))
    png = fio.plot_field_2d(f, mpi_tmp_path / "f.png", label="C [mol/m^3]")
    series = fio.TimeSeries(comm, mpi_tmp_path / "s.csv", ["t", "amount_H", "newton", "T",
                                                           "desorption_flux"])
    for t in np.linspace(0, 1, 20):
        series.append(t=t, amount_H=np.exp(-5 * t), newton=3, T=300 + t,
                      desorption_flux=np.exp(-((t - 0.5) / 0.1) ** 2))
    series.close()
    q.write_units(comm, mpi_tmp_path / "s.csv", q.series_columns(
        ["t", "amount_H", "newton", "T", "desorption_flux"], "molar", 2))
    pts = fio.line_points((1e-3, 0.0), (1.0, 0.0), 30)
    values = 1 / np.linalg.norm(pts, axis=1)  # five decades: log axes
    pngs = [png, fio.plot_series(comm, mpi_tmp_path / "s.csv", mpi_tmp_path / "s.png"),
            fio.plot_profiles(comm, mpi_tmp_path / "p.png", pts, {"C": values}),
            fio.plot_spectrum(comm, mpi_tmp_path / "s.csv", mpi_tmp_path / "tds.png")]
    if comm.rank != 0:
        assert pngs == [None] * 4
        return
    for p in pngs:
        assert _not_blank(p), p
    lo, hi = map(float, Image.open(png).text["Description"].split()[-2:])
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1e3 + 2.0)


# --- formulas of t in case files ---------------------------------------------------------------


@pytest.mark.mpi
def test_time_dependent_boundary_values_and_source(mpi_tmp_path):
    """Quickstart with C = 2 (1 + t/100) on the left, an outflux 1e-7 (1 + t/100) on the
    right and a source s = 1e-3 (1 + t/100): every step holds the values at its end time
    exactly (the held node, the flux density; 1e-12 for rounding) and the amount obeys the
    discrete balance ΔN/Δt = −Σ fluxes + ∫ s dx at t_{n+1} (BDF2: with its coefficients;
    checked on the first, backward-Euler step, to 1e-9 for the LU solve)."""
    from femdiff import io as fio

    text = (CASES / "quickstart.toml").read_text()
    text = text.replace("value = 2.0\n", 'value = "2*(1 + t/100)"\n').replace(
        "value = 1.0e-7\n", 'value = "1.0e-7*(1 + t/100)"\n').replace(
        "[output]", '[output]\nquantities = [{ type = "flux_density", boundary = "right" },'
        ' { type = "point", field = "C", point = [0.0, 0.25e-3], name = "left" }]').replace(
        'mobility = {', 'source = "1.0e-3*(1 + t/100)"\nmobility = {')
    case = mpi_tmp_path / "timed.toml"
    if MPI.COMM_WORLD.rank == 0:
        case.write_text(text)
    MPI.COMM_WORLD.Barrier()
    out = mpi_tmp_path / "out"
    assert main(["-q", "run", str(case), "-o", str(out), "--set", "time.t_end=40.0",
                 "--set", "output.times=[20.0]", "--set", "output.png=false",
                 "--set", 'output.fields="none"']) == 0
    MPI.COMM_WORLD.Barrier()
    s = fio.read_csv(out / "series.csv")
    ramp = 1 + s["t"] / 100
    assert np.allclose(s["C_at_left"], 2 * ramp, rtol=1e-12)
    assert np.allclose(s["flux_density_right"], 1e-7 * ramp, rtol=1e-12)
    fluxes = sum(s[f"flux_{b}"] for b in ("bottom", "left", "right", "top"))
    rate = (s["amount_H"][1] - s["amount_H"][0]) / s["dt"][1]
    assert rate == pytest.approx(-fluxes[1] + 1e-3 * ramp[1] * LX * LY, rel=1e-9)


# --- API: read-back, component keys, stress helpers, Coupled's own σ_h --------------------------


@pytest.mark.mpi
def test_xdmf_fields_read_back_from_python(mpi_tmp_path):
    """FieldWriter(format="xdmf") → io.read_fields: the node values of C = x + 2y (exact
    in P1) at both times, the vector u with its components (1 and 2 ranks)."""
    from dolfinx import fem

    from femdiff import io as fio

    d = mesh.rectangle(6, 3, 2.0, 1.0)
    f = fem.Function(fem.functionspace(d.mesh, ("Lagrange", 1)), name="C")
    f.interpolate(lambda x: x[0] + 2 * x[1])
    u = fem.Function(fem.functionspace(d.mesh, ("Lagrange", 1, (2,))), name="u")
    u.interpolate(lambda x: np.vstack([x[1], -x[0]]))
    with fio.FieldWriter(d.comm, mpi_tmp_path / "fields", [f, u], format="xdmf") as w:
        w.write(0.0)
        f.x.array[:] *= 2
        w.write(1.5)
    MPI.COMM_WORLD.Barrier()
    data = fio.read_fields(mpi_tmp_path / "fields.xdmf")
    x, y = data["points"][:, 0], data["points"][:, 1]
    assert data["times"] == [0.0, 1.5] and len(x) == 7 * 4
    C = data["fields"]["C"]
    assert np.allclose(C[0], x + 2 * y, rtol=1e-12) and np.allclose(C[1], 2 * (x + 2 * y))
    assert np.allclose(data["fields"]["u"][0][:, :2], np.column_stack([y, -x]))


def test_displacement_components_by_index_or_name():
    from femdiff.physics.mechanics import Displacement

    assert Displacement("left", {"x": 0.0, 1: 2.0}).components == {0: 0.0, 1: 2.0}
    with pytest.raises(ValueError, match="given twice"):
        Displacement("left", {"x": 0.0, 0: 1.0})
    with pytest.raises(ValueError, match="unknown component 'w'"):
        Displacement("left", {"w": 0.0})


def test_case_file_takes_component_indices_too(tmp_path, capsys):
    text = (CASES / "plate_hole_hydrogen.toml").read_text().replace(
        "components = { x = 0.0 }", 'components = { "0" = 0.0 }')
    case = tmp_path / "c.toml"
    case.write_text(text)
    assert main(["check", str(case)]) == 0
    case.write_text(text.replace('{ "0" = 0.0 }', '{ "0" = 0.0, x = 1.0 }'))
    assert main(["check", str(case)]) == 2
    assert "given twice" in capsys.readouterr().err


@pytest.mark.mpi
def test_hoop_stress_at_a_pressurised_hole_is_lame():
    """A hole of radius a under pressure p in an infinite plate (Lamé, b → ∞; Timoshenko
    & Goodier, Theory of Elasticity, §28): σ_rr = −p a²/r², σ_θθ = +p a²/r², σ_zz = 0 in
    plane strain (ν(σ_rr + σ_θθ) = 0). A quarter plate [0, 3a]² with the exact traction
    σ·n on its outer edges and symmetry planes holds the exact field; P2 on h = a/8 near
    the hole: at r = 1.5 a (on the x axis and at 45°) to 1 % (the polygonal hole's error),
    σ_zz below 1 % of p."""
    import ufl

    from femdiff import geometry
    from femdiff.physics.mechanics import (
        Displacement,
        Elasticity,
        ElasticMaterial,
        Pressure,
        Traction,
    )

    a, p = 1.0, 1.0e6
    d = geometry.build("plate_with_hole", width=3 * a, height=3 * a, radius=a, h=0.5)

    def exact_traction(normal):
        def t(x):
            r2 = x[0] ** 2 + x[1] ** 2
            k = p * a**2 / r2**2  # σ = p a²/r⁴ [[y² − x², −2xy], [−2xy, x² − y²]]
            s = k * ufl.as_matrix([[x[1] ** 2 - x[0] ** 2, -2 * x[0] * x[1]],
                                   [-2 * x[0] * x[1], x[0] ** 2 - x[1] ** 2]])
            return s * ufl.as_vector(normal)
        return t

    mech = Elasticity(d, ElasticMaterial(200e9, 0.3, model="plane_strain"),
                      [Displacement("left", {"x": 0.0}), Displacement("bottom", {"y": 0.0}),
                       Pressure("hole", p), Traction("right", exact_traction((1.0, 0.0))),
                       Traction("top", exact_traction((0.0, 1.0)))], degree=2)
    mech.solve()
    srr, stt, _ = mech.polar_stress()
    szz = mech.stress_component("z", "z")
    r = 1.5 * a
    points = {"axis": (r, 0.0), "diag": (r / 2**0.5, r / 2**0.5)}
    rec = q.Recorder(None, [q.PointValue(f, xy, where) for f in (srr, stt, szz)
                            for where, xy in points.items()], domain=d)
    row = rec.record()
    for where in points:
        assert row[f"sigma_rr_at_{where}"] == pytest.approx(-p * a**2 / r**2, rel=0.01)
        assert row[f"sigma_tt_at_{where}"] == pytest.approx(p * a**2 / r**2, rel=0.01)
        assert abs(row[f"sigma_zz_at_{where}"]) < 0.01 * p


@pytest.mark.mpi
def test_coupled_builds_its_own_sigma_h_space(comm):
    """StressCoupling(Ω, None): Coupled makes σ_h in DG(k−1); the run equals one with a
    user-built DG1 Function to the last digits (same forms). Coupled.run passes the start
    to a Recorder as problem.run does."""
    import ufl

    from femdiff import geometry
    from femdiff.models.thermodynamics import StressCoupling
    from femdiff.physics.mechanics import Displacement, Elasticity, ElasticMaterial
    from femdiff.problems.coupled import Coupled

    def run(own):
        d = geometry.build("sphere_octant", comm, radius=1.0, h=0.5)
        bcs = [Displacement(n, {i: 0.0}) for i, n in enumerate(("x0", "y0", "z0"))]
        mech = Elasticity(d, ElasticMaterial(50e9, 0.3), bcs, degree=2)
        s = None if own else fem_function(d)
        x = ufl.SpatialCoordinate(d.mesh)
        diff = DiffusionProblem(d, ChemicalPotential([Ideal(T), StressCoupling(3.5e-6, s)]),
                                Mobility.from_diffusivity(1.0, T),
                                initial=1e4 * (1 + 0.5 * x[0] ** 2 * x[1]),
                                time=TimeControl(dt=0.01, scheme="backward_euler"))
        cp = Coupled(mech, diff, c_ref=1e4)
        cp.initialise()
        rec = q.Recorder(cp.problem, [q.VolumeQuantity("C", "total")])
        cp.run(0.01, callback=rec)  # one step; the recorder also gets the start
        assert [r["t"] for r in rec.rows] == [0.0, 0.01]
        return cp

    def fem_function(d):
        from dolfinx import fem

        return fem.Function(fem.functionspace(d.mesh, ("Discontinuous Lagrange", 1)))

    own, given = run(True), run(False)
    assert own.sigma_h.function_space.ufl_element().embedded_superdegree == 1
    assert np.allclose(own.C.x.array, given.C.x.array, rtol=1e-12)
    assert np.allclose(own.sigma_h.x.array, given.sigma_h.x.array, rtol=1e-10, atol=1e-3)


# --- progress ----------------------------------------------------------------------------------


def test_progress_log_lines_and_smoothed_eta(monkeypatch):
    """Outside a terminal: a log line every `every` s with t, dt, steps and ETA; the ETA
    follows the recent wall time per unit simulated time (moving average), not the mean
    since the start: after a slow phase (10 s per unit) then a fast one (0.1 s per unit),
    the ETA drops to near 0.1 s/unit, where the run-mean would stay near 5 s/unit."""
    import io as pyio

    from femdiff.io import progress as fp
    from femdiff.numerics.timestepping import StepInfo

    clock = [0.0]
    monkeypatch.setattr(fp.time, "perf_counter", lambda: clock[0])
    out = pyio.StringIO()
    monkeypatch.setattr(fp.log, "hasHandlers", lambda: False)  # as in an API run
    bar = fp.RunProgress(MPI.COMM_SELF, 0.0, 100.0, mode="auto", every=30.0, stream=out)
    assert bar.mode == "log"  # a StringIO is no terminal
    t = 0.0
    for wall_per_unit in [10.0] * 5 + [0.1] * 20:
        t += 1.0
        clock[0] += wall_per_unit
        bar.update(StepInfo(t, 1.0, 2, 5, 0))
    lines = out.getvalue().splitlines()
    # one line: at 30 s of wall time (after 3 steps); the run ends at 52 s
    assert len(lines) == 1
    assert "t = 3 (3.0 %), dt = 1, steps 3 (Newton 6, Krylov 15), ETA 16:10" in lines[0]
    # weight 0.3 per step: the slow phase still counts 0.7²⁰ × 10 s = 0.008 s per unit;
    # the mean since the start (52 s for 25 units) would give 2.08 s per unit
    assert bar.eta(t) == pytest.approx(0.108 * (100 - t), rel=0.01)
    assert fp.format_eta(3725) == "1:02:05" and fp.format_eta(float("nan")) == "--:--"


def test_run_progress_bar_in_python():
    """problem.run(progress="bar") draws a tqdm bar and leaves the results unchanged."""
    a, b = plate(), plate()
    ha = a.run(10.0, progress="bar")
    hb = b.run(10.0)
    assert [i.dt for i in ha] == [i.dt for i in hb]
    assert np.array_equal(a.u.x.array, b.u.x.array)


def test_multicomponent_species_quantities(tmp_path):
    """Per-species quantities of a multicomponent case (onsager_drag, small): the volume
    total of C_A is the model's own amount_A column, and the flux of A through the left
    edge is its flux_A_left column (the same integrals; 1e-12 for rounding)."""
    from femdiff import io as fio

    text = (CASES / "onsager_drag.toml").read_text().replace(
        "[output]", '[output]\nquantities = [{ type = "volume", field = "C_A", op = "total" },'
        ' { type = "flux", boundary = "left", species = "A", name = "A_left" },'
        ' { type = "point", field = "X_B", point = [0.5] }]')
    case = tmp_path / "od.toml"
    case.write_text(text)
    out = tmp_path / "out"
    assert main(["-q", "run", str(case), "-o", str(out), "--set", "geometry.params.n=50",
                 "--set", "time.dt=0.5", "--set", "time.t_end=2.0", "--set",
                 "output.times=[1.0]", "--set", "output.png=false", "--set",
                 'output.fields="none"']) == 0
    s = fio.read_csv(out / "series.csv")
    assert np.allclose(s["total_C_A_all"], s["amount_A"], rtol=1e-12)
    assert np.allclose(s["A_left"], s["flux_A_left"], rtol=1e-12, atol=1e-300)
    assert np.isfinite(s["X_B_at_0_5"]).all()
