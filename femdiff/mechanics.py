"""Small-strain linear elasticity: the stress field that drives diffusion.

Isotropic (E, ν) in 3D, and plane strain / plane stress in 2D. Boundary conditions are
given by boundary name. The default solver is CG + GAMG with the rigid-body
near-nullspace (3 modes in 2D, 6 in 3D); LU is optional.

Hydrostatic stress σ_h = tr(σ)/3 with tension positive. In plane strain the
out-of-plane stress σ_zz = ν(σ_xx + σ_yy) is part of tr(σ): σ_h is that of the 3D body
whose section is modelled. In plane stress σ_zz = 0.

Which space σ_h lives in. For displacements of degree k, σ is a discontinuous
polynomial of degree k − 1, so :meth:`Elasticity.sigma_h` returns by default the exact
discrete field in DG(k−1) (DG0 for P1 displacements). The mixed μ–C diffusion problem
uses σ_h only inside the constitutive law, undifferentiated, so a DG field is right
there. When ∇σ_h itself is needed (e.g. plotting fluxes of a primal formulation), ask
for ``space="CG"``: the L2 projection onto continuous P_max(k−1,1).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
import ufl
from dolfinx import fem, io, la
from dolfinx.fem.petsc import LinearProblem

from femdiff import solvers
from femdiff.mesh import Domain

Model = Literal["3d", "plane_strain", "plane_stress"]


def _is_real(value: Any) -> bool:
    """A real number (numpy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


@dataclass(frozen=True)
class ElasticMaterial:
    """Isotropic linear-elastic material.

    Attributes:
        E: Young's modulus [Pa].
        nu: Poisson's ratio [-], in (−1, 0.5).
        model: ``"3d"``, ``"plane_strain"`` or ``"plane_stress"`` (the last two for 2D
            meshes; a 2D mesh with ``"3d"`` is treated as plane strain).
    """

    E: float
    nu: float
    model: Model = "3d"

    def __post_init__(self) -> None:
        if not _is_real(self.E) or not math.isfinite(self.E) or self.E <= 0:
            raise ValueError(f"Young's modulus E must be positive, got {self.E!r}")
        if not _is_real(self.nu) or not -1.0 < self.nu < 0.5:
            raise ValueError(f"Poisson's ratio nu must lie in (-1, 0.5), got {self.nu!r}")
        if self.model not in ("3d", "plane_strain", "plane_stress"):
            raise ValueError(
                f"model must be '3d', 'plane_strain' or 'plane_stress', got {self.model!r}")

    @property
    def mu(self) -> float:
        """Shear modulus [Pa]."""
        return self.E / (2 * (1 + self.nu))

    @property
    def lmbda(self) -> float:
        """First Lamé parameter [Pa] (3D / plane strain)."""
        return self.E * self.nu / ((1 + self.nu) * (1 - 2 * self.nu))


# --- boundary conditions ---------------------------------------------------------------

Load = float | Sequence[float] | Any | Callable[[Any], Any]


@dataclass(frozen=True)
class Fixed:
    """u = 0 on ``boundary``."""

    boundary: str


@dataclass(frozen=True)
class Displacement:
    """Prescribed displacement components on ``boundary``: ``{component: value}``.

    A value is a number or a callable ``x -> values`` (numpy, for interpolation).
    """

    boundary: str
    components: dict[int, float | Callable[[np.ndarray], np.ndarray]]


@dataclass(frozen=True)
class Traction:
    """Surface traction t [Pa] on ``boundary``.

    A vector, a UFL expression, or a callable ``x -> UFL vector`` of the coordinate.
    """

    boundary: str
    value: Load


@dataclass(frozen=True)
class Pressure:
    """Normal pressure p [Pa] on ``boundary`` (t = −p n; positive p pushes inward).

    ``p`` is a number, a UFL expression, or a callable ``x -> UFL scalar``.
    """

    boundary: str
    p: Load


@dataclass(frozen=True)
class BodyForce:
    """Body force f [N/m³] (vector, UFL expression or callable ``x -> UFL vector``)."""

    value: Load


BC = Fixed | Displacement | Traction | Pressure | BodyForce


def _as_ufl(value: Load, x: Any, shape: tuple[int, ...], what: str) -> Any:
    """A load as a UFL expression of ``shape``, checked before any form is compiled."""
    if callable(value) and not isinstance(value, ufl.core.expr.Expr):
        value = value(x)
    if _is_real(value):
        if shape:
            raise ValueError(f"{what}: expected a vector of length {shape[0]}, "
                             f"got the number {value}")
        return value
    if isinstance(value, list | tuple | np.ndarray):
        if not shape or len(value) != shape[0]:
            expected = f"a vector of length {shape[0]}" if shape else "a scalar"
            raise ValueError(f"{what}: expected {expected}, got {len(value)} values")
        return ufl.as_vector([float(v) if _is_real(v) else v for v in value])
    value_shape = getattr(value, "ufl_shape", None)
    if value_shape is None:
        raise TypeError(f"{what}: expected a number, vector, UFL expression or callable, "
                        f"got {type(value).__name__}")
    if value_shape != shape:
        raise ValueError(f"{what}: expected a UFL expression of shape {shape}, "
                         f"got shape {value_shape}")
    return value


_KSP_REASONS = {v: k for k, v in vars(PETSc.KSP.ConvergedReason).items() if isinstance(v, int)}


def _check_converged(ksp: PETSc.KSP, what: str) -> None:
    """Raise :class:`RuntimeError` naming the KSP's reason unless it converged."""
    reason = cast(int, ksp.getConvergedReason())  # petsc4py's stubs say ConvergedReason
    if reason <= 0:
        raise RuntimeError(
            f"{what} did not converge: KSP reason {_KSP_REASONS.get(reason, reason)} "
            f"after {ksp.getIterationNumber()} iterations (options prefix "
            f"{ksp.getOptionsPrefix()!r})")


def rigid_body_modes(V: fem.FunctionSpace) -> PETSc.NullSpace:
    """The orthonormalised rigid-body modes of a vector space (3 in 2D, 6 in 3D)."""
    gdim = V.mesh.geometry.dim
    n_modes = 3 if gdim == 2 else 6
    index_map = V.dofmap.index_map
    bs = V.dofmap.index_map_bs
    vecs = [la.vector(index_map, bs=bs, dtype=PETSc.ScalarType) for _ in range(n_modes)]
    x = V.tabulate_dof_coordinates()[: index_map.size_local]
    basis = [v.array.reshape(-1, bs)[: index_map.size_local] for v in vecs]
    for i in range(gdim):  # translations
        basis[i][:, i] = 1.0
    if gdim == 2:  # rotation about z
        basis[2][:, 0], basis[2][:, 1] = -x[:, 1], x[:, 0]
    else:
        basis[3][:, 0], basis[3][:, 1] = -x[:, 1], x[:, 0]
        basis[4][:, 0], basis[4][:, 2] = x[:, 2], -x[:, 0]
        basis[5][:, 2], basis[5][:, 1] = x[:, 1], -x[:, 2]
    la.orthonormalize(vecs)
    return PETSc.NullSpace().create(vectors=[v.petsc_vec for v in vecs], comm=V.mesh.comm)


class Elasticity:
    """Linear elasticity on a :class:`Domain`.

    Args:
        domain: mesh with named boundaries.
        material: the elastic constants.
        bcs: boundary conditions and loads (Fixed, Displacement, Traction, Pressure,
            BodyForce).
        degree: displacement degree (1 or 2).
        solver: ``"gamg"`` (CG + GAMG + near-nullspace, default) or ``"lu"``.
        petsc_options: KSP/PC options overriding the defaults.

    Lifecycle: :meth:`initialise` (spaces → BCs → forms → solver), then :meth:`solve`.
    """

    def __init__(self, domain: Domain, material: ElasticMaterial, bcs: Sequence[BC], *,
                 degree: int = 1, solver: Literal["gamg", "lu"] = "gamg",
                 petsc_options: dict[str, Any] | None = None) -> None:
        if degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, got {degree!r}")
        if solver not in ("gamg", "lu"):
            raise ValueError(f"solver must be 'gamg' or 'lu', got {solver!r}")
        if not isinstance(material, ElasticMaterial):
            raise TypeError("material must be a femdiff.mechanics.ElasticMaterial")
        for bc in bcs:
            if not isinstance(bc, Fixed | Displacement | Traction | Pressure | BodyForce):
                raise TypeError(f"unknown mechanics boundary condition {bc!r}")
        domain.check_boundaries([bc.boundary for bc in bcs if hasattr(bc, "boundary")])
        if domain.gdim == 1:
            raise ValueError("mechanics needs a 2D or 3D mesh")
        if domain.gdim == 3 and material.model != "3d":
            raise ValueError(f"model {material.model!r} is for 2D meshes; use '3d'")
        self.domain = domain
        self.material = material
        self.bcs = list(bcs)
        self.degree = degree
        self.solver_kind = solver
        defaults = solvers.elasticity_options() if solver == "gamg" else solvers.lu_options()
        self.petsc_options = solvers.merge(defaults, petsc_options)
        self.prefix = solvers.unique_prefix("elasticity")
        self._initialised = False
        self.iterations = 0

    # -- constitutive law ------------------------------------------------------------------

    @property
    def plane_stress(self) -> bool:
        """True for a 2D plane-stress model."""
        return self.domain.gdim == 2 and self.material.model == "plane_stress"

    def epsilon(self, u: Any) -> Any:
        """Small strain."""
        return ufl.sym(ufl.grad(u))

    def sigma(self, u: Any) -> Any:
        """In-plane (or 3D) Cauchy stress."""
        m = self.material
        lmbda = m.lmbda
        if self.plane_stress:  # σ_zz = 0 gives the reduced λ* = 2λμ/(λ + 2μ)
            lmbda = 2 * m.lmbda * m.mu / (m.lmbda + 2 * m.mu)
        eps = self.epsilon(u)
        return 2 * m.mu * eps + lmbda * ufl.tr(eps) * ufl.Identity(self.domain.gdim)

    def trace_sigma(self, u: Any) -> Any:
        """tr(σ) of the 3D body, including σ_zz in plane strain."""
        tr = ufl.tr(self.sigma(u))
        if self.domain.gdim == 2 and not self.plane_stress:
            tr = (1 + self.material.nu) * tr  # σ_zz = ν(σ_xx + σ_yy)
        return tr

    # -- lifecycle ---------------------------------------------------------------------------

    def initialise(self) -> None:
        """Build spaces, BCs, forms and solver (idempotent)."""
        if self._initialised:
            return
        self._create_function_space()
        self._create_dirichlet_bcs()
        self._create_forms()
        self._create_solver()
        self._initialised = True

    def _create_function_space(self) -> None:
        gdim = self.domain.gdim
        self.V = fem.functionspace(self.domain.mesh, ("Lagrange", self.degree, (gdim,)))
        self.u = fem.Function(self.V, name="displacement")

    def _create_dirichlet_bcs(self) -> None:
        fdim = self.domain.tdim - 1
        self.dirichlet: list[fem.DirichletBC] = []
        for bc in self.bcs:
            if isinstance(bc, Fixed):
                facets = self.domain.facets(bc.boundary)
                dofs = fem.locate_dofs_topological(self.V, fdim, facets)
                zero = np.zeros(self.domain.gdim, dtype=PETSc.ScalarType)
                self.dirichlet.append(fem.dirichletbc(zero, dofs, self.V))
            elif isinstance(bc, Displacement):
                facets = self.domain.facets(bc.boundary)
                for comp, value in bc.components.items():
                    if comp not in range(self.domain.gdim):
                        raise ValueError(f"displacement component {comp} on {bc.boundary!r} "
                                         f"must be in 0..{self.domain.gdim - 1}")
                    Vi, _ = self.V.sub(comp).collapse()
                    g = fem.Function(Vi)
                    if callable(value):
                        g.interpolate(value)
                    else:
                        g.x.array[:] = float(value)
                    dofs = fem.locate_dofs_topological((self.V.sub(comp), Vi), fdim, facets)
                    self.dirichlet.append(fem.dirichletbc(g, dofs, self.V.sub(comp)))

    def _create_forms(self) -> None:
        mesh = self.domain.mesh
        u, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        x = ufl.SpatialCoordinate(mesh)
        n = ufl.FacetNormal(mesh)
        gdim = self.domain.gdim
        dx = self.domain.dx()
        self.a = ufl.inner(self.sigma(u), self.epsilon(v)) * dx
        L = ufl.inner(fem.Constant(mesh, np.zeros(gdim)), v) * dx
        for bc in self.bcs:
            if isinstance(bc, Traction):
                t = _as_ufl(bc.value, x, (gdim,), f"Traction on {bc.boundary!r}")
                L += ufl.inner(t, v) * self.domain.ds(bc.boundary)
            elif isinstance(bc, Pressure):
                p = _as_ufl(bc.p, x, (), f"Pressure on {bc.boundary!r}")
                L -= p * ufl.inner(n, v) * self.domain.ds(bc.boundary)
            elif isinstance(bc, BodyForce):
                f = _as_ufl(bc.value, x, (gdim,), "BodyForce")
                L += ufl.inner(f, v) * dx
        self.L = L

    def _create_solver(self) -> None:
        self.problem = LinearProblem(
            self.a, self.L, u=self.u, bcs=self.dirichlet,
            petsc_options_prefix=self.prefix, petsc_options=self.petsc_options)
        if self.solver_kind == "gamg":
            self.problem.A.setNearNullSpace(rigid_body_modes(self.V))

    def solve(self) -> fem.Function:
        """Solve for the displacement; raise if the Krylov solver did not converge."""
        self.initialise()
        ksp = self.problem.solver
        try:
            self.problem.solve()
        except PETSc.Error as exc:  # ksp_error_if_not_converged (a default) lands here
            _check_converged(ksp, "elasticity solve")
            raise RuntimeError(f"elasticity solve failed: {exc}") from exc
        _check_converged(ksp, "elasticity solve")
        self.iterations = ksp.getIterationNumber()
        self.u.x.scatter_forward()
        return self.u

    # -- derived fields ---------------------------------------------------------------------

    def _dg_space(self, shape: tuple[int, ...] = (), degree: int | None = None):
        k = max(self.degree - 1, 0) if degree is None else degree
        return fem.functionspace(self.domain.mesh, ("Discontinuous Lagrange", k, shape))

    def _interpolate(self, expr: Any, V: fem.FunctionSpace, name: str) -> fem.Function:
        f = fem.Function(V, name=name)
        f.interpolate(fem.Expression(expr, V.element.interpolation_points))
        return f

    def stress(self) -> fem.Function:
        """The (in-plane) stress tensor in DG(k−1) [Pa]."""
        gdim = self.domain.gdim
        return self._interpolate(self.sigma(self.u), self._dg_space((gdim, gdim)), "stress")

    def sigma_h(self, space: Literal["DG", "CG"] = "DG", degree: int | None = None
                ) -> fem.Function:
        """Hydrostatic stress σ_h = tr(σ)/3 [Pa], tension positive (see the module doc).

        In plane strain tr(σ) includes σ_zz = ν(σ_xx + σ_yy); in plane stress σ_zz = 0.

        Args:
            space: ``"DG"``: the discrete σ_h interpolated, exact at every point, in
                DG(k−1) (DG0 for P1 displacements). ``"CG"``: its L2 projection onto
                continuous Lagrange, for when ∇σ_h is needed.
            degree: the degree of that space (default k−1 for DG, max(k−1, 1) for CG).

        Returns:
            A new Function named ``"sigma_h"``.
        """
        expr = self.trace_sigma(self.u) / 3
        if space == "DG":
            return self._interpolate(expr, self._dg_space(degree=degree), "sigma_h")
        if space != "CG":
            raise ValueError(f"space must be 'DG' or 'CG', got {space!r}")
        k = max(self.degree - 1, 1) if degree is None else degree
        V = fem.functionspace(self.domain.mesh, ("Lagrange", k))
        s, w = ufl.TrialFunction(V), ufl.TestFunction(V)
        out = fem.Function(V, name="sigma_h")
        proj = LinearProblem(s * w * ufl.dx, expr * w * ufl.dx, u=out,
                             petsc_options_prefix=self.prefix + "proj_",
                             petsc_options={"ksp_type": "cg", "pc_type": "jacobi",
                                            "ksp_rtol": 1e-12, "ksp_max_it": 1000})
        proj.solve()
        _check_converged(proj.solver, "σ_h projection")
        return out

    def von_mises(self) -> fem.Function:
        """Von Mises stress in DG(k−1) [Pa] (with σ_zz in plane strain)."""
        s = self.sigma(self.u)
        gdim = self.domain.gdim
        if gdim == 2:
            szz = 0 if self.plane_stress else self.material.nu * ufl.tr(s)
            s = ufl.as_matrix([[s[0, 0], s[0, 1], 0], [s[1, 0], s[1, 1], 0], [0, 0, szz]])
        dev = s - ufl.tr(s) / 3 * ufl.Identity(3)
        return self._interpolate(ufl.sqrt(1.5 * ufl.inner(dev, dev)), self._dg_space(),
                                 "von_mises")

    def write(self, stem: str | Path) -> list[Path]:
        """Write VTX files for ParaView, one per element family.

        ``stem_u.bp``: the displacement (P_k); ``stem_stress.bp``: σ_h, von Mises and the
        stress tensor, all in DG(k−1) (cell data for P1 displacements).

        Returns:
            The two paths.
        """
        stem = Path(stem)
        comm: MPI.Comm = self.domain.comm
        if comm.rank == 0:
            stem.parent.mkdir(parents=True, exist_ok=True)
        comm.Barrier()
        paths = [stem.with_name(stem.name + "_u.bp"), stem.with_name(stem.name + "_stress.bp")]
        with io.VTXWriter(comm, paths[0], [self.u], engine="BP4") as w:
            w.write(0.0)
        fields = [self.sigma_h(), self.von_mises(), self.stress()]
        with io.VTXWriter(comm, paths[1], fields, engine="BP4") as w:
            w.write(0.0)
        return paths
