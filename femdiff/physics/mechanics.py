"""Small-strain linear elasticity: the stress field that drives diffusion.

Isotropic (E, ν) in 3D, and plane strain / plane stress in 2D. Boundary conditions are
given by boundary name. The default solver is CG + GAMG with the rigid-body
near-nullspace (3 modes in 2D, 6 in 3D); LU is optional.

Eigenstrains. An optional stress-free strain ε* (thermal expansion α(T − T_ref) I from a
temperature field, and/or any UFL scalar or tensor given as ``eigenstrain=``, e.g. a
compositional expansion) enters as σ = C : (ε(u) − ε*). A scalar e means the isotropic
ε* = e I of the 3D body; a gdim × gdim tensor is the in-plane part (ε*_zz = 0), and in 2D
a 3 × 3 tensor gives ε*_zz as well. In plane strain the out-of-plane strain is zero, so
σ_zz = λ tr(ε − ε*) − 2μ ε*_zz (= ν(σ_xx + σ_yy) − Eε*_zz for an isotropic ε*); in plane
stress σ_zz = 0 and ε*_zz does not matter.

Materials. Instead of one :class:`ElasticMaterial`, a list of
:class:`femdiff.models.materials.Material` (E, ν, and α when a temperature is given) assigned to
the named volumes: the Lamé parameters become piecewise fields.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mpi4py import MPI
from petsc4py import PETSc

import numpy as np
import ufl
from dolfinx import fem, io, la
from dolfinx.fem.petsc import LinearProblem

from femdiff.geometry.mesh import Domain
from femdiff.models.materials import Material, MaterialFields, assign
from femdiff.numerics import solvers
from femdiff.numerics.fem_utils import is_real

Model = Literal["3d", "plane_strain", "plane_stress"]


@dataclass(frozen=True)
class ElasticMaterial:
    """Isotropic linear-elastic material.

    Attributes:
        E: Young's modulus [Pa].
        nu: Poisson's ratio [-], in (−1, 0.5).
        model: ``"3d"``, ``"plane_strain"`` or ``"plane_stress"`` (the last two for 2D
            meshes; a 2D mesh with ``"3d"`` is treated as plane strain).
        alpha: linear thermal-expansion coefficient [1/K] (used when
            :class:`Elasticity` is given a ``temperature``).
    """

    E: float
    nu: float
    model: Model = "3d"
    alpha: float = 0.0

    def __post_init__(self) -> None:
        if not is_real(self.E) or not math.isfinite(self.E) or self.E <= 0:
            raise ValueError(f"Young's modulus E must be positive, got {self.E!r}")
        if not is_real(self.nu) or not -1.0 < self.nu < 0.5:
            raise ValueError(f"Poisson's ratio nu must lie in (-1, 0.5), got {self.nu!r}"
                             + (" (ν = 0.5 makes the bulk modulus E/(3(1 − 2ν)) infinite: "
                                "incompressible, not supported)" if self.nu == 0.5 else ""))
        if self.model not in ("3d", "plane_strain", "plane_stress"):
            raise ValueError(
                f"model must be '3d', 'plane_strain' or 'plane_stress', got {self.model!r}")
        if not is_real(self.alpha) or not math.isfinite(self.alpha):
            raise ValueError(f"thermal expansion alpha must be a finite number, "
                             f"got {self.alpha!r}")

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

    A component is an index (0, 1, 2) or its name (``"x"``, ``"y"``, ``"z"``, as in case
    files); the keys are stored as indices. A value is a number or a callable
    ``x -> values`` (numpy, for interpolation).
    """

    boundary: str
    components: dict[int, float | Callable[[np.ndarray], np.ndarray]]

    def __post_init__(self) -> None:
        comps: dict[int, Any] = {}
        for key, value in dict(self.components).items():
            index = "xyz".index(key) if isinstance(key, str) and key in ("x", "y", "z") \
                else key
            if not isinstance(index, int | np.integer) or not 0 <= int(index) <= 2:
                raise ValueError(f"Displacement on {self.boundary!r}: unknown component "
                                 f"{key!r}; use 0, 1, 2 or 'x', 'y', 'z'")
            if int(index) in comps:
                raise ValueError(f"Displacement on {self.boundary!r}: component {key!r} is "
                                 "given twice")
            comps[int(index)] = value
        object.__setattr__(self, "components", comps)


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
    if is_real(value):
        if shape:
            raise ValueError(f"{what}: expected a vector of length {shape[0]}, "
                             f"got the number {value}")
        return value
    if isinstance(value, list | tuple | np.ndarray):
        if not shape or len(value) != shape[0]:
            expected = f"a vector of length {shape[0]}" if shape else "a scalar"
            raise ValueError(f"{what}: expected {expected}, got {len(value)} values")
        return ufl.as_vector([float(v) if is_real(v) else v for v in value])
    value_shape = getattr(value, "ufl_shape", None)
    if value_shape is None:
        raise TypeError(f"{what}: expected a number, vector, UFL expression or callable, "
                        f"got {type(value).__name__}")
    if value_shape != shape:
        raise ValueError(f"{what}: expected a UFL expression of shape {shape}, "
                         f"got shape {value_shape}")
    return value


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
        domain: mesh with named boundaries (and named volumes for ``materials``).
        material: the elastic constants: an :class:`ElasticMaterial`, or a list of
            :class:`femdiff.models.materials.Material` (each setting E and ν, and α when
            ``temperature`` is given) assigned to the named volumes, or the
            :class:`femdiff.models.materials.MaterialFields` of such an assignment.
        bcs: boundary conditions and loads (Fixed, Displacement, Traction, Pressure,
            BodyForce).
        degree: displacement degree (1 or 2).
        solver: ``"gamg"`` (CG + GAMG + near-nullspace, default) or ``"lu"``.
        petsc_options: KSP/PC options overriding the defaults.
        model: ``"3d"``, ``"plane_strain"`` or ``"plane_stress"`` for ``materials``
            (default ``"3d"``, i.e. plane strain on a 2D mesh); an ElasticMaterial
            carries its own.
        temperature: a temperature field T [K] (number, Constant, Function, e.g. from
            :class:`femdiff.physics.heat.HeatConduction`, or UFL): adds the thermal
            eigenstrain α(T − T_ref) I.
        T_ref: the stress-free temperature [K]; required with ``temperature``.
        eigenstrain: a further stress-free strain ε* (UFL scalar for ε* I, or tensor; see
            the module doc), added to the thermal one.

    Lifecycle: :meth:`initialise` (spaces → BCs → forms → solver), then :meth:`solve`.
    """

    def __init__(self, domain: Domain, material: Any, bcs: Sequence[BC], *,
                 degree: int = 1, solver: Literal["gamg", "lu"] = "gamg",
                 petsc_options: dict[str, Any] | None = None, model: Model | None = None,
                 temperature: Any = None, T_ref: float | None = None,
                 eigenstrain: Any = None) -> None:
        if degree not in (1, 2):
            raise ValueError(f"degree must be 1 or 2, got {degree!r}")
        if solver not in ("gamg", "lu"):
            raise ValueError(f"solver must be 'gamg' or 'lu', got {solver!r}")
        self.fields: MaterialFields | None = None
        if isinstance(material, ElasticMaterial):
            if model is not None and model != material.model:
                raise ValueError(f"model {model!r} conflicts with the material's "
                                 f"{material.model!r}")
            model = material.model
        elif isinstance(material, MaterialFields) or (
                isinstance(material, Sequence) and material
                and all(isinstance(m, Material) for m in material)):
            self.fields = (material if isinstance(material, MaterialFields)
                           else assign(domain, material))
            model = "3d" if model is None else model
            if model not in ("3d", "plane_strain", "plane_stress"):
                raise ValueError("model must be '3d', 'plane_strain' or 'plane_stress', "
                                 f"got {model!r}")
            needed = ["E", "nu"] + (["alpha"] if temperature is not None else [])
            for key in needed:
                missing = self.fields.missing(key)
                if missing:
                    raise ValueError(f"material(s) {', '.join(repr(n) for n in missing)} "
                                     f"do not set {key}, needed for elasticity")
        else:
            raise TypeError("material must be a "
                            "femdiff.physics.mechanics.ElasticMaterial or a list "
                            "of femdiff.models.materials.Material")
        for bc in bcs:
            if not isinstance(bc, Fixed | Displacement | Traction | Pressure | BodyForce):
                raise TypeError(f"unknown mechanics boundary condition {bc!r}")
        domain.check_boundaries([bc.boundary for bc in bcs if hasattr(bc, "boundary")])
        if domain.gdim == 1:
            raise ValueError("mechanics needs a 2D or 3D mesh")
        if domain.gdim == 3 and model != "3d":
            raise ValueError(f"model {model!r} is for 2D meshes; use '3d'")
        if temperature is not None:
            if T_ref is None:
                raise ValueError("a temperature needs T_ref, the stress-free temperature [K]")
            if not is_real(T_ref) or not math.isfinite(T_ref) or T_ref < 0:
                raise ValueError(f"T_ref must be a temperature ≥ 0 K, got {T_ref!r}")
            if is_real(temperature) and temperature < 0:
                raise ValueError(f"temperature must be ≥ 0 K, got {temperature!r}")
            if isinstance(material, ElasticMaterial) and material.alpha == 0:
                raise ValueError("a temperature is given but ElasticMaterial.alpha is 0: "
                                 "set the thermal-expansion coefficient alpha [1/K]")
        elif T_ref is not None:
            raise ValueError("T_ref is given without a temperature")
        self.domain = domain
        self.material = material
        self.model: Model = model
        self.bcs = list(bcs)
        self.degree = degree
        self.solver_kind = solver
        self.temperature = temperature
        self.T_ref = T_ref
        self._extra_eigenstrain = eigenstrain
        defaults = solvers.elasticity_options() if solver == "gamg" else solvers.lu_options()
        self.petsc_options = solvers.merge(defaults, petsc_options)
        self.prefix = solvers.unique_prefix("elasticity")
        self._initialised = False
        self.iterations = 0
        self._eig = self._eigenstrain_parts()  # checks the eigenstrain's shape early

    # -- constitutive law ------------------------------------------------------------------

    @property
    def plane_stress(self) -> bool:
        """True for a 2D plane-stress model."""
        return self.domain.gdim == 2 and self.model == "plane_stress"

    @property
    def plane_strain(self) -> bool:
        """True for a 2D plane-strain model (``"plane_strain"`` or ``"3d"`` on 2D)."""
        return self.domain.gdim == 2 and not self.plane_stress

    def _parameter(self, key: str) -> Any:
        """E, nu or alpha: a number (ElasticMaterial) or a piecewise field (materials)."""
        if self.fields is None:
            return getattr(self.material, key)
        return self.fields.get(key, self.temperature)

    @property
    def lame(self) -> tuple[Any, Any]:
        """(μ, λ) [Pa]: numbers, or UFL fields for materials."""
        if self.fields is None:
            return self.material.mu, self.material.lmbda
        E, nu = self._parameter("E"), self._parameter("nu")
        return E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))

    def _eigenstrain_parts(self) -> tuple[Any, Any] | None:
        """(in-plane ε* as a gdim × gdim tensor, ε*_zz) or ``None`` without eigenstrain."""
        gdim = self.domain.gdim
        I = ufl.Identity(gdim)
        parts = []
        if self.temperature is not None:
            theta = self._parameter("alpha") * (self.temperature - self.T_ref)
            parts.append((theta * I, theta))
        extra = self._extra_eigenstrain
        if extra is not None:
            shape = () if is_real(extra) else getattr(extra, "ufl_shape", None)
            if shape == ():
                parts.append((extra * I, extra))
            elif shape == (gdim, gdim):
                parts.append((extra, 0.0))
            elif gdim == 2 and shape == (3, 3):
                parts.append((ufl.as_matrix([[extra[i, j] for j in range(2)]
                                             for i in range(2)]), extra[2, 2]))
            else:
                raise ValueError(f"eigenstrain: expected a UFL scalar or a {gdim}×{gdim} "
                                 f"tensor, got {type(extra).__name__} of shape {shape}")
        if not parts:
            return None
        return sum(p[0] for p in parts), sum(p[1] for p in parts)

    def add_eigenstrain(self, extra: Any) -> None:
        """Add a further stress-free strain (as ``eigenstrain=``) before :meth:`initialise`.

        Used by :class:`femdiff.problems.coupled.Coupled` for the compositional ε*(C), which needs
        a concentration Function that exists only after the mechanics was built.

        Raises:
            RuntimeError: the forms were already built.
        """
        if self._initialised:
            raise RuntimeError("add_eigenstrain must be called before initialise()/solve()")
        old = self._extra_eigenstrain
        if old is None:
            self._extra_eigenstrain = extra
        else:  # a scalar stands for e I: bring both to tensors if the shapes differ
            I = ufl.Identity(self.domain.gdim)
            def as_tensor(e: Any) -> Any:
                shape = () if is_real(e) else getattr(e, "ufl_shape", ())
                return e * I if shape == () else e
            same = (getattr(old, "ufl_shape", ()) == getattr(extra, "ufl_shape", ()))
            self._extra_eigenstrain = old + extra if same else as_tensor(old) + as_tensor(extra)
        self._eig = self._eigenstrain_parts()

    def eigenstrain(self) -> Any:
        """The in-plane (or 3D) stress-free strain ε* as a UFL tensor, or ``None``."""
        return None if self._eig is None else self._eig[0]

    def epsilon(self, u: Any) -> Any:
        """Small strain."""
        return ufl.sym(ufl.grad(u))

    def _stiffness(self, eps: Any, ezz: Any = 0.0) -> Any:
        """C : ε for the in-plane (or 3D) strain ``eps`` and out-of-plane ``ezz``.

        ``ezz`` (the out-of-plane strain) only matters in plane strain, where it enters
        tr(ε); in 3D ``eps`` is the whole tensor.
        """
        mu, lmbda = self.lame
        I = ufl.Identity(self.domain.gdim)
        if self.plane_stress:  # σ_zz = 0 gives the reduced λ* = 2λμ/(λ + 2μ)
            return 2 * mu * eps + 2 * lmbda * mu / (lmbda + 2 * mu) * ufl.tr(eps) * I
        if self.plane_strain:
            return 2 * mu * eps + lmbda * (ufl.tr(eps) + ezz) * I
        return 2 * mu * eps + lmbda * ufl.tr(eps) * I  # 3D: tr(eps) has the zz part

    def sigma(self, u: Any) -> Any:
        """In-plane (or 3D) Cauchy stress C : (ε(u) − ε*)."""
        if self._eig is None:
            return self._stiffness(self.epsilon(u))
        eig, ezz = self._eig
        return self._stiffness(self.epsilon(u) - eig, -ezz)

    def sigma_zz(self, u: Any) -> Any:
        """The out-of-plane stress of a 2D model (0 in plane stress)."""
        if self.plane_stress:
            return 0.0
        mu, lmbda = self.lame
        eps, ezz = self.epsilon(u), 0.0
        if self._eig is not None:
            eps, ezz = eps - self._eig[0], self._eig[1]
        return lmbda * (ufl.tr(eps) - ezz) - 2 * mu * ezz

    def trace_sigma(self, u: Any) -> Any:
        """tr(σ) of the 3D body, including σ_zz in plane strain."""
        tr = ufl.tr(self.sigma(u))
        if self.plane_strain:
            tr = tr + self.sigma_zz(u)
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
        self.a = ufl.inner(self._stiffness(self.epsilon(u)), self.epsilon(v)) * dx
        L = ufl.inner(fem.Constant(mesh, np.zeros(gdim)), v) * dx
        if self._eig is not None:  # the eigenstress C : ε* is a load
            eig, ezz = self._eig
            L += ufl.inner(self._stiffness(eig, ezz), self.epsilon(v)) * dx
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
            solvers.check_converged(ksp, "elasticity solve")
            raise RuntimeError(f"elasticity solve failed: {exc}") from exc
        solvers.check_converged(ksp, "elasticity solve")
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
        dx = self.domain.measure("dx", tagged=False)
        proj = LinearProblem(s * w * dx, expr * w * dx, u=out,
                             petsc_options_prefix=self.prefix + "proj_",
                             petsc_options={"ksp_type": "cg", "pc_type": "jacobi",
                                            "ksp_rtol": 1e-12, "ksp_max_it": 1000})
        proj.solve()
        solvers.check_converged(proj.solver, "σ_h projection")
        return out

    def stress_component(self, i: int | str, j: int | str) -> fem.Function:
        """σ_ij in DG(k−1) [Pa]; components by index or name (``"x"``, ``"y"``, ``"z"``).

        In 2D, ``("z", "z")`` is σ_zz (ν(σ_xx + σ_yy) in plane strain, 0 in plane stress).
        """
        a, b = ("xyz".index(c) if isinstance(c, str) else int(c) for c in (i, j))
        gdim = self.domain.gdim
        if max(a, b) >= gdim and not (a == b == 2 and gdim == 2):
            raise ValueError(f"stress component ({i!r}, {j!r}) does not exist in {gdim}D")
        expr = self.sigma_zz(self.u) if a == b == 2 and gdim == 2 else self.sigma(self.u)[a, b]
        return self._interpolate(expr, self._dg_space(), f"sigma_{'xyz'[a]}{'xyz'[b]}")

    def polar_stress(self, centre: tuple[float, ...] = (0.0, 0.0, 0.0)
                     ) -> tuple[fem.Function, fem.Function, fem.Function]:
        """(σ_rr, σ_θθ, σ_rθ) in DG(k−1) [Pa] about an axis along z through ``centre``.

        Radial and hoop (circumferential) stress of a hole, a pipe or a particle seen in
        cross-section: σ_rr = e_r·σ·e_r, σ_θθ = e_θ·σ·e_θ with e_r the in-plane unit
        vector from the axis.
        """
        x = ufl.SpatialCoordinate(self.domain.mesh)
        c = [float(v) for v in centre] + [0.0] * (3 - len(centre))
        dx, dy = x[0] - c[0], x[1] - c[1]
        r = ufl.sqrt(dx * dx + dy * dy)
        s = self.sigma(self.u)
        zero = [0.0] * (self.domain.gdim - 2)
        er = ufl.as_vector([dx / r, dy / r, *zero])
        et = ufl.as_vector([-dy / r, dx / r, *zero])
        V = self._dg_space()
        return (self._interpolate(ufl.dot(er, s * er), V, "sigma_rr"),
                self._interpolate(ufl.dot(et, s * et), V, "sigma_tt"),
                self._interpolate(ufl.dot(er, s * et), V, "sigma_rt"))

    def von_mises(self) -> fem.Function:
        """Von Mises stress in DG(k−1) [Pa] (with σ_zz in plane strain)."""
        s = self.sigma(self.u)
        gdim = self.domain.gdim
        if gdim == 2:
            szz = self.sigma_zz(self.u)
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
