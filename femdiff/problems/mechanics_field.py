"""The displacement as a component of any mixed problem: monolithic chemo-mechanics.

:class:`MechanicsField` composes an :class:`~femdiff.physics.mechanics.Elasticity` into a
diffusion problem (``problem.attach``): the mixed space gains the displacement, the
StressCoupling term's σ_h becomes the UFL σ_h(u, C), and the residual gains the
equilibrium with the compositional eigenstrain ε*(C) = (Ω/3)(C − C_ref) I. It is what
:class:`femdiff.problems.coupled.Coupled` attaches for ``scheme="monolithic"``; a
trapping problem carries it like a plain one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from mpi4py import MPI
from petsc4py import PETSc

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem

from femdiff.models.thermodynamics import ChemicalPotential, StressCoupling
from femdiff.numerics import solvers
from femdiff.numerics.fem_utils import owned
from femdiff.physics.mechanics import Displacement, Elasticity, Fixed
from femdiff.problems.component import Component

__all__ = ["MechanicsField", "coupled_options", "free_rigid_modes"]


def coupled_options() -> dict[str, Any]:
    """Newton–Krylov options of the monolithic (C, μ, u) problem.

    FGMRES on the whole Jacobian with a multiplicative fieldsplit: the displacement
    block by one GAMG V-cycle (the rigid-body near-nullspace is attached by femdiff),
    the diffusion block (C, μ) by LU, the solver of :class:`DiffusionProblem`.
    """
    return {
        **solvers.newton_snes_options(),
        "ksp_type": "fgmres",
        "ksp_rtol": 1.0e-10,
        "ksp_atol": 1.0e-14,
        "ksp_max_it": 200,
        "ksp_gmres_restart": 100,
        "pc_type": "fieldsplit",
        "pc_fieldsplit_type": "multiplicative",
        # one GAMG V-cycle: CG to 1e-4 inside took 2× the time for 3× fewer outer
        # iterations (benchmarks/bench_coupled.py)
        "fieldsplit_u_ksp_type": "preonly",
        "fieldsplit_u_pc_type": "gamg",
        "fieldsplit_u_pc_gamg_type": "agg",
        "fieldsplit_u_pc_gamg_coarse_eq_limit": 1000,
        "fieldsplit_u_mg_levels_ksp_type": "chebyshev",
        "fieldsplit_u_mg_levels_pc_type": "jacobi",
        "fieldsplit_diffusion_ksp_type": "preonly",
        "fieldsplit_diffusion_pc_type": "lu",
        "fieldsplit_diffusion_pc_factor_mat_solver_type": solvers.direct_solver_package(),
    }


# --- rigid-body modes ------------------------------------------------------------------


def _rigid_modes(x: np.ndarray, comp: np.ndarray, gdim: int) -> np.ndarray:
    """Rigid-body modes at dofs with coordinates x (n × 3) and components ``comp``."""
    n = len(comp)
    modes = []
    for i in range(gdim):  # translations
        modes.append((comp == i).astype(float))
    rotations = [(0, 1)] if gdim == 2 else [(0, 1), (0, 2), (1, 2)]
    for a, b in rotations:  # rotation in the (a, b) plane: u_a = −x_b, u_b = x_a
        m = np.zeros(n)
        m[comp == a] = -x[comp == a, b]
        m[comp == b] = x[comp == b, a]
        modes.append(m)
    return np.array(modes).T  # n × n_modes


def free_rigid_modes(V: fem.FunctionSpace, bcs: list[fem.DirichletBC]) -> int:
    """How many rigid-body modes of ``V`` no Dirichlet condition in ``bcs`` removes.

    A rigid mode r is removed when r vanishes nowhere on the constrained dofs; the count
    is the dimension of the null space of R (rows: constrained dofs, columns: modes).
    """
    gdim = V.mesh.geometry.dim
    bs = V.dofmap.index_map_bs
    dofs = owned(np.unique(np.concatenate(
        [bc.dof_indices()[0] for bc in bcs] or [np.zeros(0, dtype=np.int32)])), V)
    x = V.tabulate_dof_coordinates()
    R = _rigid_modes(x[dofs // bs], dofs % bs, gdim)
    L = V.mesh.comm.allreduce(
        float(np.abs(x).max()) if x.size else 0.0, op=MPI.MAX) or 1.0
    R[:, gdim:] /= L
    gram = V.mesh.comm.allreduce(R.T @ R, op=MPI.SUM)
    eig = np.linalg.eigvalsh(gram)
    scale = max(float(np.trace(gram)), 1e-300)
    return int(np.sum(eig <= 1e-10 * scale))


# --- the displacement as a field of any mixed problem ---------------------------------------


class MechanicsField(Component):
    """The displacement and its equilibrium, composed into a mixed problem's Newton.

    Attached by :class:`Coupled` to the diffusion problem it is given, whatever its terms
    (traps, materials, temperature): the mixed space gains the displacement, the
    StressCoupling term's σ_h becomes the UFL σ_h(u, C) (so Newton sees the full
    Jacobian: the monolithic Larché–Cahn problem), and the residual gains the
    equilibrium ∫ σ(u, C) : ε(v) dx − loads. The displacement is stored scaled,
    û = u/L (L the domain size), and its equation is divided by E L^(d−1), so every block
    of the residual is O(h^d/L^d).
    """

    def __init__(self, mechanics: Elasticity, C_mech: fem.Function, two_way: bool,
                 sigma_h: fem.Function | None = None) -> None:
        self.mechanics = mechanics
        self.C_mech = C_mech
        self.two_way = two_way
        self.sigma_h_function = sigma_h

    def check(self, problem: Any) -> None:
        """Monolithic mechanics needs the mixed form, continuous C and a plain solve."""
        name = type(problem).__name__
        if getattr(problem, "formulation", "mixed") == "activity":
            raise ValueError(f"monolithic mechanics needs {name}(formulation='mixed' or "
                             "'auto'); the activity formulation has no displacement field")
        if getattr(problem, "formulation", None) == "auto":
            problem.formulation = "mixed"  # σ_h(u, C) enters μ: the mixed Newton
        if getattr(problem, "broken", False):
            raise ValueError(f"monolithic mechanics with {name} whose C jumps at material "
                             "interfaces (materials with different solubilities) is not "
                             "supported; use scheme='staggered'")
        if getattr(problem, "condense_traps", False):
            raise ValueError(f"monolithic mechanics with {name}(condense_traps=True) is not "
                             "supported (both need their own fieldsplit); drop "
                             "condense_traps")

    def elements(self, problem: Any) -> list[Any]:
        """A vector Lagrange element of the mechanics' degree."""
        mesh = problem.domain.mesh
        return [basix.ufl.element("Lagrange", mesh.basix_cell(), self.mechanics.degree,
                                  shape=(problem.domain.gdim,))]

    def bind(self, problem: Any, index: int) -> None:
        """The displacement space, its dofs and scales; σ_h of the mixed state as UFL."""
        self.index = index
        self.V_u, dofs_u = problem.W.sub(index).collapse()
        self.dofs_u = np.asarray(dofs_u).ravel()  # unrolled: node * gdim + component
        self.displacement = fem.Function(self.V_u, name="displacement")
        self.u_scale = problem.domain.characteristic_length()
        mech = self.mechanics
        self.e_scale = float(mech._parameter("E")) if mech.fields is None else 1.0e9
        parts = ufl.split(problem.u)
        self._u_phys = self.u_scale * parts[index]
        self._c_hat = parts[0]

    def _sigma_h_ufl(self, C: Any) -> Any:
        mech = self.mechanics
        return ufl.replace(mech.trace_sigma(mech.u) / 3,
                           {mech.u: self._u_phys, self.C_mech: C})

    def initial_state(self, problem: Any) -> None:
        """Equilibrium with ε*(C₀), then μ(t₀) consistent with its σ_h."""
        C = problem.c_scale * self._c_hat
        self.sigma_h_ufl = self._sigma_h_ufl(C)
        if self.two_way:
            terms = [dataclasses.replace(t, sigma_h=self.sigma_h_ufl)
                     if isinstance(t, StressCoupling) else t for t in problem.potential.terms]
            problem.potential = ChemicalPotential(terms, problem.potential.energy_scale)
        self.C_mech.interpolate(problem.C)
        self.mechanics.solve()
        self.displacement.interpolate(self.mechanics.u)
        problem.u.x.array[self.dofs_u] = self.displacement.x.array / self.u_scale
        problem._project_initial_potential()
        problem._start_from_current()

    def dirichlet_bcs(self, problem: Any) -> list[fem.DirichletBC]:
        """The mechanics' Fixed and Displacement conditions on û."""
        out = []
        fdim = problem.domain.tdim - 1
        sub = problem.W.sub(self.index)
        for bc in self.mechanics.bcs:
            facets = (problem.domain.facets(bc.boundary)
                      if isinstance(bc, Fixed | Displacement) else None)
            if isinstance(bc, Fixed):
                g = fem.Function(self.V_u)
                dofs = fem.locate_dofs_topological((sub, self.V_u), fdim, facets)
                out.append(fem.dirichletbc(g, dofs, sub))
            elif isinstance(bc, Displacement):
                for comp, value in bc.components.items():
                    Vi, _ = sub.sub(comp).collapse()
                    g = fem.Function(Vi)
                    if callable(value):
                        g.interpolate(value)
                    else:
                        g.x.array[:] = float(value)
                    g.x.array[:] /= self.u_scale
                    dofs = fem.locate_dofs_topological((sub.sub(comp), Vi), fdim, facets)
                    out.append(fem.dirichletbc(g, dofs, sub.sub(comp)))
        return out

    def residual(self, problem: Any) -> Any:
        """The mechanics' equilibrium, divided by E L^(d−1).

        Its bilinear form at u and its loads, the eigenstress C : ε*(C) included.
        """
        mech = self.mechanics
        v = ufl.TestFunctions(problem.W)[self.index]
        a_args = mech.a.arguments()
        test = next(a for a in a_args if a.number() == 0)
        trial = next(a for a in a_args if a.number() == 1)
        C = problem.c_scale * self._c_hat
        w = v / (self.e_scale * problem.length ** (problem.domain.tdim - 1))
        F_u = (ufl.replace(mech.a, {trial: self._u_phys, test: w})
               - ufl.replace(mech.L, {test: w, self.C_mech: C}))
        return self._plain_cells(F_u, problem.dx)

    @staticmethod
    def _plain_cells(form: ufl.Form, dx: ufl.Measure) -> ufl.Form:
        """The form with its whole-domain cell integrals over the problem's ``dx``.

        UFL forms may not mix measures with different subdomain data; the mechanics
        integrates over the tagged ``domain.dx()``, the diffusion over a plain one.
        """
        out = None
        for itg in form.integrals():
            if itg.integral_type() == "cell":
                if itg.subdomain_id() not in ("everywhere", "otherwise"):
                    raise NotImplementedError("monolithic coupling: the mechanics has cell "
                                              "integrals over subdomains")
                part = itg.integrand() * dx(metadata=itg.metadata())
            else:
                part = ufl.Form([itg])
            out = part if out is None else out + part
        return out

    def solver_created(self, problem: Any) -> None:
        """PCFieldSplit attaches a near-nullspace composed on the u block's IS."""
        if problem.petsc_options.get("pc_type") == "fieldsplit" and problem._split_sets:
            name, is_u = problem._split_sets[0]
            if name == "u":
                self._nullspace = self._near_nullspace(problem, is_u)
                is_u.compose("nearnullspace", self._nullspace)

    def _near_nullspace(self, problem: Any, is_u: PETSc.IS) -> PETSc.NullSpace:
        """The rigid-body modes in the ordering of the u block of the fieldsplit."""
        n_owned = problem.W.dofmap.index_map.size_local
        dofs_u = np.asarray(self.dofs_u)
        bs = self.V_u.dofmap.index_map_bs
        k = np.arange(len(dofs_u))
        owned_ = dofs_u < n_owned
        order = np.argsort(dofs_u[owned_])  # the IS holds the owned W dofs sorted
        k = k[owned_][order]
        x = self.V_u.tabulate_dof_coordinates()[k // bs]
        modes = _rigid_modes(x, k % bs, problem.domain.gdim)
        vecs = []
        for j in range(modes.shape[1]):
            vec = PETSc.Vec().createMPI((len(k), PETSc.DETERMINE), comm=problem.domain.comm)
            vec.array[:] = modes[:, j]
            vecs.append(vec)
        for i, vi in enumerate(vecs):  # modified Gram–Schmidt
            for vj in vecs[:i]:
                vi.axpy(-vi.dot(vj), vj)
            vi.normalize()
        return PETSc.NullSpace().create(vectors=vecs, comm=problem.domain.comm)

    def blocks(self, problem: Any) -> list[tuple[str, Any]]:
        """The displacement block ``u`` (``fieldsplit_u_*``)."""
        return [("u", self.dofs_u)]

    def scaled_blocks(self, problem: Any) -> list[tuple[str, float, Any]]:
        """û = u/L."""
        return [("u_scale", self.u_scale, self.dofs_u)]

    def sync(self, problem: Any) -> None:
        """The displacement, and the mechanics' own fields on the current state."""
        self.displacement.x.array[:] = problem.u.x.array[self.dofs_u] * self.u_scale
        self.mechanics.u.interpolate(self.displacement)
        self.C_mech.interpolate(problem.C)
        if self.sigma_h_function is not None:  # the StressCoupling's Function, for output
            mech, V = self.mechanics, self.sigma_h_function.function_space
            self.sigma_h_function.interpolate(fem.Expression(
                mech.trace_sigma(mech.u) / 3, V.element.interpolation_points))

    def elastic_energy(self, problem: Any) -> float:
        """∫ ½ σ : (ε(u) − ε*) dx [J] of the current state."""
        mech = self.mechanics
        eig = mech.eigenstrain()
        eps = mech.epsilon(mech.u)
        return problem.integrate(0.5 * ufl.inner(mech.sigma(mech.u),
                                                 eps - eig if eig is not None else eps)
                                 * problem.dx)

    def free_energy(self, problem: Any, potential: Any) -> tuple[Any, float]:
        """The elastic energy; the StressCoupling term is its derivative, not an energy."""
        terms = [t for t in potential.terms if not isinstance(t, StressCoupling)]
        return (ChemicalPotential(terms, potential.energy_scale),
                self.elastic_energy(problem))
