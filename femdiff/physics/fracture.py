"""Linear-elastic crack-tip fields: the mode-I K-field for boundary-layer models.

A boundary-layer (small-scale yielding) model is a disc of radius R around the crack tip
(:func:`femdiff.geometry.crack_tip`) whose outer circle is displaced as the leading,
singular term of the Williams expansion. In polar coordinates (r, θ) centred on the tip,
with the crack along θ = ±π (Anderson, *Fracture Mechanics*, 3rd ed., Table 2.1 and
eq. 2.44; Kanninen & Popelar, *Advanced Fracture Mechanics*, 1985, §3.2):

    u_x = K_I/(2μ) √(r/2π) cos(θ/2) [κ − 1 + 2 sin²(θ/2)]
    u_y = K_I/(2μ) √(r/2π) sin(θ/2) [κ + 1 − 2 cos²(θ/2)]

    σ_xx = K_I/√(2πr) cos(θ/2) [1 − sin(θ/2) sin(3θ/2)]
    σ_yy = K_I/√(2πr) cos(θ/2) [1 + sin(θ/2) sin(3θ/2)]
    σ_xy = K_I/√(2πr) cos(θ/2) sin(θ/2) cos(3θ/2)

with μ the shear modulus and κ = 3 − 4ν (plane strain) or (3 − ν)/(1 + ν) (plane
stress). In plane strain σ_zz = ν(σ_xx + σ_yy), so the hydrostatic stress that drives
hydrogen to the tip is σ_h = (2/3)(1 + ν) K_I cos(θ/2)/√(2πr) (plane stress: without the
factor (1 + ν)).

These displacements satisfy equilibrium and leave the crack faces traction free, so a
linear-elastic solve with them on the outer circle reproduces the K-field everywhere (up
to discretisation): a check of the mesh and solver, and the load of the crack-tip
hydrogen demo. Units: K_I in Pa·√m with lengths in m (MPa·√m = 1e6 Pa·√m).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
import ufl

from femdiff.physics.mechanics import Displacement, ElasticMaterial


@dataclass(frozen=True)
class KField:
    """The mode-I crack-tip field of stress intensity K_I, tip at ``tip``, crack along −x.

    Attributes:
        K_I: mode-I stress intensity factor [Pa·√m], ≥ 0.
        material: the elastic constants; ``model`` ``"plane_strain"`` (or ``"3d"``, which
            a 2D mesh treats as plane strain, as in :mod:`femdiff.physics.mechanics`) or
            ``"plane_stress"``.
        tip: the crack-tip position (x, y) [m].

    A negative K_I is rejected: it would close the crack, and the linear-elastic K-field
    (which knows no contact) would make the two faces interpenetrate.
    """

    K_I: float
    material: ElasticMaterial
    tip: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        K = self.K_I
        if isinstance(K, bool) or not isinstance(K, numbers.Real) or not math.isfinite(K):
            raise ValueError(f"K_I must be a finite number [Pa·√m], got {K!r}")
        if K < 0:
            raise ValueError(
                f"K_I must be ≥ 0, got {K!r}: a negative mode-I intensity closes the crack, "
                "and the linear-elastic K-field (no contact) would make its faces "
                "interpenetrate")
        if not isinstance(self.material, ElasticMaterial):
            raise TypeError("material must be a femdiff.physics.mechanics.ElasticMaterial")
        try:
            tip = tuple(float(c) for c in self.tip)
        except (TypeError, ValueError):
            raise ValueError(f"tip must be two coordinates (x, y), got {self.tip!r}") from None
        if len(tip) != 2 or not all(math.isfinite(c) for c in tip):
            raise ValueError(f"tip must be two finite coordinates (x, y), got {self.tip!r}")
        object.__setattr__(self, "tip", tip)

    @property
    def plane_stress(self) -> bool:
        """True for plane stress (κ = (3 − ν)/(1 + ν), σ_zz = 0)."""
        return self.material.model == "plane_stress"

    @property
    def kappa(self) -> float:
        """Kolosov's constant κ: 3 − 4ν (plane strain) or (3 − ν)/(1 + ν) (plane stress)."""
        nu = self.material.nu
        return (3 - nu) / (1 + nu) if self.plane_stress else 3 - 4 * nu

    def _polar(self, x: Any, mod: Any) -> tuple[Any, Any]:
        dx, dy = x[0] - self.tip[0], x[1] - self.tip[1]
        r = mod.sqrt(dx**2 + dy**2)
        if mod is ufl:  # quadrature points are inside cells, never on the crack line
            return r, ufl.atan2(dy, dx)
        # interpolation points on the crack line carry round-off y ~ ±1e-18, and
        # atan2(−0.0…, x < 0) = −π would load the upper face as the lower one
        dy = np.where(np.abs(dy) <= 1e-10 * r, 0.0, dy)
        return r, np.arctan2(dy, dx)

    def displacement(self, x: Any, mod: Any = np) -> tuple[Any, Any]:
        """(u_x, u_y) [m] at points ``x``: numpy arrays (``mod=np``) or UFL (``mod=ufl``).

        θ ∈ (−π, π]. A point on the crack line (|y| ≤ 1e-10 r, x < 0, round-off
        included) is on the upper face, θ = π: right for the half disc of
        :func:`femdiff.geometry.crack_tip` (the default). On a full disc the lower
        face's node at the slit mouth (−R, 0) has the same coordinates and gets the upper
        face's value too, so use the symmetric model for K-field loading.
        """
        r, th = self._polar(x, mod)
        k, mu = self.kappa, self.material.mu
        amp = self.K_I / (2 * mu) * mod.sqrt(r / (2 * math.pi))
        c, s = mod.cos(th / 2), mod.sin(th / 2)
        return amp * c * (k - 1 + 2 * s**2), amp * s * (k + 1 - 2 * c**2)

    def stress(self, x: Any, mod: Any = np) -> tuple[Any, Any, Any]:
        """In-plane (σ_xx, σ_yy, σ_xy) [Pa] at ``x`` (numpy or UFL, as :meth:`displacement`)."""
        r, th = self._polar(x, mod)
        amp = self.K_I / mod.sqrt(2 * math.pi * r)
        c, s = mod.cos(th / 2), mod.sin(th / 2)
        s3, c3 = mod.sin(3 * th / 2), mod.cos(3 * th / 2)
        return amp * c * (1 - s * s3), amp * c * (1 + s * s3), amp * c * s * c3

    def sigma_h(self, x: Any, mod: Any = np) -> Any:
        """Hydrostatic stress [Pa]: (2/3)(1 + ν) K_I cos(θ/2)/√(2πr) in plane strain.

        Plane stress: (2/3) K_I cos(θ/2)/√(2πr) (σ_zz = 0).
        """
        r, th = self._polar(x, mod)
        factor = 1.0 if self.plane_stress else 1 + self.material.nu
        return 2 / 3 * factor * self.K_I * mod.cos(th / 2) / mod.sqrt(2 * math.pi * r)

    def boundary_condition(self, boundary: str = "outer") -> Displacement:
        """Both K-field displacement components on ``boundary`` (for Elasticity)."""
        return Displacement(boundary, {0: lambda x: self.displacement(x)[0],
                                       1: lambda x: self.displacement(x)[1]})
