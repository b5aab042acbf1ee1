"""femdiff: chemical-potential-driven diffusion coupled to mechanics on FEniCSx.

Importing femdiff imports ``dolfinx_solver`` first when it is installed (the PyPI wheel
stack), so that MPI is loaded ahead of DOLFINx and petsc4py. Conda, Docker and Spack
installs of DOLFINx >= 0.10 do not have it and work unchanged.
"""

try:  # the wheel stack must order MPI before the compiled bindings
    import dolfinx_solver  # noqa: F401
except ImportError:  # conda/Docker/Spack DOLFINx
    pass

__version__ = "0.1.0"

__all__ = ["__version__"]

from femdiff import _moved

_moved.install()  # femdiff 0.1's flat module paths, with a DeprecationWarning
