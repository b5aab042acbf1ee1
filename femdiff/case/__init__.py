"""TOML case files: schema, validation and the model registry.

A case file describes a whole simulation (see ``docs/cli.md`` and ``cases/*.toml``)::

    [case]        name, description
    [geometry]    builder + params + h  |  file (.msh/.geo);  transform = {x = ...}
    [materials]   T, units, E, nu, elastic_model, omega
    [physics]     model, terms (the μ terms), mobility, degree, lumped, energy_stable,
                  source (diffusion: a formula of x, y, z, t)
                  (multicomponent: species, lattice, degree, lumped, thermodynamics =
                  {type, T, mu0, omega, epsilon, ln_gamma0, kappa, volumes},
                  transport = {type, L | M | D, T})
    [[species]]   name, initial, concentration_scale
    [[boundary]]  name, type, value (a formula of x, y, z, t), species   (diffusion BCs)
    [mechanics]   degree, solver, sigma_h, petsc_options, [[mechanics.boundary]]
                  (a periodic cell: mean_strain, effective_stiffness)
    [time]        t_end, dt, t0, scheme, growth, dt_max, dt_min, shrink, max_retries,
                  adaptive = {tol, ...}
    [solver]      petsc_options, linear (auto | lu | iterative)
    [output]      folder, fields (a format, or [names]), format, every, times, boundaries,
                  profiles, png, [[output.quantities]] (femdiff.case.outputs)
    [checkpoint]  every_steps, every_seconds, keep, final

:func:`load` parses and validates a file without building anything: every unknown key,
wrong type, missing or non-physical value, and unknown boundary or species name raises a
:class:`CaseError` whose message names the file, the key path and the allowed values.
Boundary names are known before meshing: from the builder's table below, the
``$PhysicalNames`` of a ``.msh`` file, or the ``Physical`` statements of a ``.geo`` file.

Models plug in through :data:`MODELS` (:func:`register_model`): a model validates its
part of the case into typed objects (:meth:`Model.validate`, kept as :attr:`Case.setup`)
and builds a :class:`Simulation` from a mesh (:meth:`Model.build`); the runner
(:mod:`femdiff.cli`) only drives the :class:`Simulation` protocol (step, series row,
fields, state for checkpoints).

Modules (each imports only those above it)::

    expression      the formula language (Expression)
    schema          the generic checker: Key, table, Context, CaseError
    geometry        [geometry]: names before meshing, build_domain
    registry        Model / Simulation protocols, MODELS, register_model
    mechanics       [mechanics] and model "mechanics"
    diffusion       model "diffusion"
    multicomponent  model "multicomponent"
    loader          the generic sections, Case, load, validate
"""


from femdiff.case.diffusion import DiffusionModel, DiffusionSetup, DiffusionSimulation
from femdiff.case.expression import FUNCTIONS, Expression
from femdiff.case.geometry import STRUCTURED, GeometryError, build_domain, builder_names, file_names
from femdiff.case.loader import TOP, Case, TimeSetup, load, parse_override, validate
from femdiff.case.mechanics import (
                                   MechanicsModel,
                                   MechanicsSimulation,
                                   PeriodicCellSimulation,
                                   build_mechanics,
                                   solve_mechanics,
)
from femdiff.case.multicomponent import (
                                   MulticomponentModel,
                                   MulticomponentSetup,
                                   MulticomponentSimulation,
)
from femdiff.case.registry import MODELS, Model, ProblemSimulation, Simulation, register_model
from femdiff.case.schema import CaseError, Context, Key

register_model("diffusion", DiffusionModel())
register_model("mechanics", MechanicsModel())
register_model("multicomponent", MulticomponentModel())

__all__ = [
    "FUNCTIONS", "MODELS", "STRUCTURED", "TOP", "Case", "CaseError", "Context",
    "DiffusionModel", "DiffusionSetup", "DiffusionSimulation", "Expression", "GeometryError",
    "Key", "MechanicsModel", "MechanicsSimulation", "Model", "MulticomponentModel",
    "MulticomponentSetup", "MulticomponentSimulation", "PeriodicCellSimulation",
    "ProblemSimulation", "Simulation",
    "TimeSetup", "build_domain", "build_mechanics", "builder_names", "file_names", "load",
    "parse_override", "register_model", "solve_mechanics", "validate",
]
