"""Periodic cells under a prescribed mean strain: effective elastic properties.

On a periodic domain (:func:`femdiff.geometry.mesh.periodic`) the displacement of a cell in a
periodic microstructure under a macroscopic strain Ē is

    u(x) = Ē · x + ũ(x),   ũ periodic,

so ε(u) = Ē + ε(ũ) and the mean strain over the cell is exactly Ē (the periodic ũ adds
nothing: ∫ ε(ũ) = ∮ sym(ũ ⊗ n) = 0, the contributions of opposite sides cancel). The
affine part is not periodic and cannot live on the glued mesh, but it does not need to:
it enters the weak form only through ε(u), as a uniform strain, i.e. as the eigenstrain
ε* = −Ē of :class:`femdiff.physics.mechanics.Elasticity` (σ = C : (ε(ũ) − ε*)). So
:class:`PeriodicElasticity` solves for ũ with the ordinary elasticity assembly and
solvers. ũ is defined up to a translation; one vertex (the cell's lowest corner, a single
vertex of the glued mesh) is pinned, which removes the translations exactly and changes
no stress or strain. The mean stress σ̄ = ⟨σ⟩ and, from gdim(gdim+1)/2 unit strains, the
effective stiffness C̄ (σ̄ = C̄ ε̄ in Voigt form) follow (:meth:`mean_stress`,
:meth:`effective_stiffness`).

Limits: small strain, linear elasticity; the mean strain is in-plane (Ē_zz = 0 in plane
strain); rigid rotations are excluded by the symmetric Ē (they are not periodic).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mpi4py import MPI

import numpy as np
import ufl
from dolfinx import fem

from femdiff.geometry.mesh import Domain
from femdiff.geometry.periodic import is_periodic, transfer_to_parent, wrap_coordinates
from femdiff.physics.mechanics import BC, Elasticity, Fixed

__all__ = ["PeriodicElasticity", "voigt_pairs"]


def voigt_pairs(gdim: int) -> list[tuple[int, int]]:
    """Voigt order of the strain components: (xx, yy, xy) in 2D; (xx, yy, zz, yz, xz, xy)."""
    if gdim == 2:
        return [(0, 0), (1, 1), (0, 1)]
    return [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


class PeriodicElasticity(Elasticity):
    """Linear elasticity of a periodic cell with a prescribed mean strain Ē.

    Args:
        domain: a periodic domain (:func:`femdiff.geometry.mesh.periodic`); boundaries that were
            not glued keep their conditions (``bcs``).
        material: as for :class:`~femdiff.physics.mechanics.Elasticity` (an ElasticMaterial or
            Materials assigned to named volumes, e.g. :func:`femdiff.geometry.mesh.with_volumes`).
        mean_strain: Ē, a symmetric gdim × gdim array (tensor strain, ε_xy = γ_xy/2);
            can be changed later with :meth:`set_mean_strain` (no recompilation).
        bcs: conditions on the boundaries that are not glued (none for a fully periodic
            cell).
        **kwargs: the other arguments of :class:`~femdiff.physics.mechanics.Elasticity`
            (degree, solver, petsc_options, model, temperature, T_ref, eigenstrain).

    After :meth:`solve`, ``u`` is the periodic fluctuation ũ; :meth:`total_displacement`
    gives Ē · x + ũ on the original (unglued) mesh.
    """

    def __init__(self, domain: Domain, material: Any, mean_strain: Any = None,
                 bcs: Sequence[BC] = (), **kwargs: Any) -> None:
        if not is_periodic(domain.mesh):
            raise ValueError("PeriodicElasticity needs a periodic domain "
                             "(femdiff.geometry.mesh.periodic(domain, pairs))")
        gdim = domain.gdim
        self.mean_strain_constant = fem.Constant(domain.mesh, np.zeros((gdim, gdim)))
        self.set_mean_strain(np.zeros((gdim, gdim)) if mean_strain is None else mean_strain)
        extra = kwargs.pop("eigenstrain", None)
        minus_mean = -self.mean_strain_constant
        if extra is not None:  # a scalar e stands for e I
            shape = getattr(extra, "ufl_shape", ())
            extra = extra * ufl.Identity(gdim) if shape == () else extra
        super().__init__(domain, material, bcs,
                         eigenstrain=minus_mean if extra is None else minus_mean + extra,
                         **kwargs)

    def set_mean_strain(self, mean_strain: Any) -> None:
        """Set Ē (a symmetric gdim × gdim array); the next :meth:`solve` uses it."""
        gdim = self.mean_strain_constant.value.shape[0]
        E = np.asarray(mean_strain, dtype=np.float64)
        if E.shape != (gdim, gdim) or not np.all(np.isfinite(E)):
            raise ValueError(f"mean_strain must be a finite {gdim}×{gdim} array, got shape "
                             f"{E.shape}")
        if not np.allclose(E, E.T, rtol=0.0, atol=1e-14 * max(1.0, np.abs(E).max())):
            raise ValueError("mean_strain must be symmetric (a rotation is not periodic)")
        self.mean_strain_constant.value[:] = E

    @property
    def mean_strain(self) -> np.ndarray:
        """Ē (a copy)."""
        return np.array(self.mean_strain_constant.value)

    def _create_dirichlet_bcs(self) -> None:
        super()._create_dirichlet_bcs()
        if any(isinstance(bc, Fixed) for bc in self.bcs) or self.dirichlet:
            return  # the given conditions already fix the translations
        # pin ũ at the cell's lowest corner: one vertex of the glued mesh, whichever side's
        # coordinates its dofs carry (wrap_coordinates maps the image sides back)
        msh = self.domain.mesh
        x = msh.geometry.x[:, : self.domain.gdim]
        gdim = self.domain.gdim
        lo, hi = np.empty(gdim), np.empty(gdim)
        msh.comm.Allreduce(x.min(axis=0) if len(x) else np.full(gdim, np.inf), lo, op=MPI.MIN)
        msh.comm.Allreduce(x.max(axis=0) if len(x) else np.full(gdim, -np.inf), hi,
                           op=MPI.MAX)
        tol = 1e-10 * float(np.max(hi - lo))

        def corner(p: np.ndarray) -> np.ndarray:
            w = wrap_coordinates(msh, p.T).T
            return np.all(np.abs(w[:gdim] - lo[:, None]) <= tol, axis=0)

        found = 0
        for i in range(gdim):
            Vi, _ = self.V.sub(i).collapse()
            dofs = fem.locate_dofs_geometrical((self.V.sub(i), Vi), corner)
            found += len(dofs[1])
            zero = fem.Function(Vi)
            self.dirichlet.append(fem.dirichletbc(zero, dofs, self.V.sub(i)))
        if msh.comm.allreduce(found, op=MPI.SUM) == 0:
            raise RuntimeError("PeriodicElasticity: no dof at the lowest corner to pin "
                               f"(corner {lo}); is the mesh a box?")

    def strain(self) -> Any:
        """The total strain Ē + ε(ũ) (UFL)."""
        return self.mean_strain_constant + self.epsilon(self.u)

    def mean_stress(self) -> np.ndarray:
        """σ̄ = (1/|Ω|) ∫ σ dx, a gdim × gdim array (after :meth:`solve`)."""
        gdim = self.domain.gdim
        sigma = self.sigma(self.u)
        dx = self.domain.dx()
        comm = self.domain.comm
        vol = comm.allreduce(fem.assemble_scalar(fem.form(1.0 * dx)), op=MPI.SUM)
        out = np.zeros((gdim, gdim))
        for i in range(gdim):
            for j in range(i, gdim):
                out[i, j] = out[j, i] = comm.allreduce(
                    fem.assemble_scalar(fem.form(sigma[i, j] * dx)), op=MPI.SUM) / vol
        return out

    def effective_stiffness(self) -> np.ndarray:
        """The effective stiffness C̄ in Voigt form (σ̄ = C̄ ε̄, engineering shear strains).

        One solve per unit mean strain (3 in 2D, 6 in 3D); the matrix is assembled once.
        Without other loads or eigenstrains its column k is σ̄ for ε̄ = e_k. The mean
        strain set before is restored afterwards (``u`` holds the last unit solve).
        """
        gdim = self.domain.gdim
        pairs = voigt_pairs(gdim)
        saved = self.mean_strain
        C = np.zeros((len(pairs), len(pairs)))
        for k, (i, j) in enumerate(pairs):
            E = np.zeros((gdim, gdim))
            if i == j:
                E[i, i] = 1.0
            else:  # engineering shear γ = 1: ε_ij = ε_ji = 1/2
                E[i, j] = E[j, i] = 0.5
            self.set_mean_strain(E)
            self.solve()
            S = self.mean_stress()
            C[:, k] = [S[a, b] for a, b in pairs]
        self.set_mean_strain(saved)
        return C

    def total_displacement(self) -> fem.Function:
        """The total displacement Ē · x + ũ on the original (unglued) mesh."""
        parent_u = transfer_to_parent(self.u)
        V = parent_u.function_space
        E = self.mean_strain
        affine = fem.Function(V)
        affine.interpolate(lambda x: E @ x[: self.domain.gdim])
        parent_u.x.array[:] += affine.x.array
        parent_u.name = "total displacement"
        return parent_u
