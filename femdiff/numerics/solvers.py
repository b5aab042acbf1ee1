"""Default PETSc option sets, merged with the user's options.

All problems take a ``petsc_options`` dict; the user's keys win over the defaults here.
Direct solves pick MUMPS, else SuperLU_DIST, else PETSc's own LU (serial only).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

from petsc4py import PETSc


def direct_solver_package() -> str:
    """Return the best available parallel LU package."""
    for pkg in ("mumps", "superlu_dist"):
        if PETSc.Sys.hasExternalPackage(pkg):
            return pkg
    return "petsc"


def lu_options() -> dict[str, Any]:
    """KSP options for a direct LU solve."""
    return {"ksp_type": "preonly", "pc_type": "lu",
            "pc_factor_mat_solver_type": direct_solver_package()}


def elasticity_options() -> dict[str, Any]:
    """CG + GAMG; the caller attaches the rigid-body near-nullspace."""
    return {
        "ksp_type": "cg",
        "ksp_rtol": 1.0e-10,
        "ksp_atol": 1.0e-14,
        "ksp_max_it": 1000,
        "pc_type": "gamg",
        "pc_gamg_type": "agg",
        "pc_gamg_coarse_eq_limit": 1000,
        "mg_levels_ksp_type": "chebyshev",
        "mg_levels_pc_type": "jacobi",
        "ksp_error_if_not_converged": True,
    }


def newton_snes_options() -> dict[str, Any]:
    """Newton with a backtracking line search and tight tolerances (no inner solver)."""
    return {
        "snes_type": "newtonls",
        "snes_linesearch_type": "bt",
        "snes_rtol": 1.0e-10,
        "snes_atol": 1.0e-12,
        "snes_stol": 0.0,
        "snes_max_it": 25,
    }


def newton_options() -> dict[str, Any]:
    """Newton with a direct inner solve: the robust default for small/medium problems."""
    return {**newton_snes_options(), **lu_options()}


def lagged_newton_options(lag: int = 4) -> dict[str, Any]:
    """Modified Newton for nearly linear problems (dilute diffusion with fitted mobility).

    The Jacobian (and its LU factorisation) is rebuilt only every ``lag`` iterations,
    counted across time steps, and plain ``newtonls`` replaces the bound-constrained
    ``vinewtonrsls`` (whose active-set sub-solves defeat the lag): a step then costs a few
    residual assemblies and triangular solves instead of three assemblies and
    factorisations (issue #11, ``benchmarks/bench_permeation.py``: about 2× less time per
    step). Without the variable bounds a Newton update that leaves the domain of ln C
    gives a non-finite state, which fails the step and is retried smaller; use it where
    C stays well inside its domain.
    """
    return {**newton_options(), "snes_type": "newtonls", "snes_linesearch_type": "basic",
            "snes_lag_jacobian": lag, "snes_lag_jacobian_persists": True,
            "snes_max_it": 50}


def cahn_hilliard_options() -> dict[str, Any]:
    """Cahn–Hilliard's default: Newton–FGMRES on a reused LU factorisation.

    Newton with the backtracking line search and the residual tolerances of
    :func:`newton_snes_options`, plus (adaptive runs) a stop once Newton's remaining error
    in c is below κ = 0.05 × the time tolerance (``femdiff_newton_kappa``, below). The
    Jacobian is assembled at every iteration (cheap), but its LU factorisation (MUMPS;
    about all of the cost of an iteration) is kept across Newton iterations and time
    steps: FGMRES solves each Newton system to a relative 3e-2 (an inexact Newton step),
    preconditioned by the factorisation of an older Jacobian. femdiff rebuilds the
    factorisation (:meth:`femdiff.numerics.newton.SolverMixin._newton_reused`) when FGMRES needed
    more than ``femdiff_refactor_krylov`` = 4 iterations per Newton iteration in a step,
    and when a solve fails on a stale one (``ksp_max_it`` = 30 reached: the step is
    retried at once with a fresh one).

    Why 4: a MUMPS triangular solve is not free (measured ~1/8 of a factorisation at 7k
    dofs, less at larger sizes), so the factorisation should be rebuilt before GMRES needs
    many iterations. PFHub 1b on 120², serial, to t = 100 (same 103 adaptive steps and 277
    Newton iterations, F identical to 7 digits): fresh LU 278 factorisations, 134 s;
    threshold 10: 14 factorisations, 2042 GMRES iterations, 105 s; threshold 4: 52
    factorisations, 1055 GMRES iterations, 84 s (a loaded machine; ratios count).

    Why GMRES rtol 1e-3 (was 1e-6): PFHub 1b, 200² domain on 100² cells, serial, adaptive
    BDF2 tol 5e-3 to t = 1000 (``benchmarks/bench_pfhub_levers.py``): the same 218 steps,
    F(100) and F(1000) identical to 7 digits, Newton 648 → 680 iterations, GMRES 3024 →
    2342, factorisations 112 → 69.

    Why ``femdiff_newton_kappa`` = 0.05 (adaptive runs only): Newton also stops when the
    error it leaves in the concentrations is below 0.05 × the adaptive tolerance
    (:class:`femdiff.numerics.newton.ErrorControlledStop`: Hairer–Wanner's test, with CVODE's
    reuse of the last contraction rate at the first iteration), so the time error, not
    Newton's, sets the accuracy. PFHub 1b, 200², 2 ranks, tol 1e-2 to t = 1000, quiet
    machine: the same 178 ± 2 steps, Newton 589 → 324 iterations, 62.9 → 33.5 s, F(100)
    and F(1000) moved by 1e-5 and 1.4e-4 relative, below their time error (3e-4, 6e-4
    against a tol 1e-3 run); mass drift 1e-14. κ = 0.1 (CVODE's coefficient) saves 12 %
    more Newton iterations but lets the Newton error reach ~15 % of the time error
    (``tests/test_cahn_hilliard.py``). Without adaptivity the residual test alone decides.
    With this stop Newton starts from the quadratic extrapolation of the last states
    (``Adaptive.guess_degree`` default): a start closer to the solution reaches κ·tol in
    fewer iterations (PFHub 1b, 2 ranks, tol 2e-3 to t = 10⁴: Newton 1168 → 987 on 200²).

    Why Krylov rtol 3e-2 (was 1e-3, then 1e-2): with Newton's stop measured on the
    iterates, an inexact Newton step only costs an iteration when it matters, and a looser
    solve also rebuilds the factorisation less often (the rebuild follows the Krylov
    count). PFHub 1b to t = 100: 1e-3 → 1e-2 F equal to 3e-7, factorisations 20 → 12,
    time −14 %; 150², 2 ranks, tol 2e-3 to t = 10⁴: 1e-2 → 3e-2 factorisations 121 → 96,
    57.7 → 47.0 s, F(10³)/F(10⁴) moved by 7e-6/4e-6 relative (time error ≥ 1.5e-4); 5e-2
    moved F(10⁴) by 2.7e-5 and gained nothing more (46.0 s); 1e-1 moved F(10³) by 1.1e-4.

    Why FGMRES (was GMRES): left-preconditioned GMRES applies the preconditioner to the
    initial residual, FGMRES keeps the preconditioned vectors instead, so each Newton
    iteration costs one triangular solve fewer (a solve is ~1/10 of a factorisation).
    PFHub 1b, 200², 2 ranks, tol 2e-3 to t = 10⁴: the same Krylov iterations per Newton
    iteration (3.3), 121.0 → 102.1 s, F(10⁴) 38.94923 → 38.94952 (the tol 5e-4
    reference: 38.94925).
    """
    return {**newton_options(), "ksp_type": "fgmres", "ksp_rtol": 3.0e-2,
            "ksp_max_it": 30, "ksp_gmres_restart": 30, "femdiff_refactor_krylov": 4,
            "femdiff_newton_kappa": 0.05}


def dilute_mixed_options() -> dict[str, Any]:
    """A dilute model's mixed μ–C default (lumped P1, fitted mobility): a reused LU.

    As :func:`cahn_hilliard_options` (Newton–FGMRES on an LU factorisation kept across
    Newton iterations and steps, rebuilt when FGMRES needs more than
    ``femdiff_refactor_krylov`` = 4 iterations per Newton iteration or a solve fails), with
    the Krylov solve to 1e-3 and no Newton error stop (the residual tests decide, as with
    a fresh LU). ``benchmarks/bench_permeation.py``, NX = 32, backward Euler to t = 0.3:
    3.2 Newton iterations per step against 2.4 with a fresh LU, 29.8 against 63.6 ms
    (CPU) per iteration; Krylov rtol 1e-2 takes 4.7 iterations per step (to t = 0.1, 3.7
    with 1e-3), 1e-4 and 1e-5 fewer iterations but more time, Eisenstat–Walker 4.3. The
    mixed LU (interleaved C, μ: its factorisation 8× a scalar LU of the same mesh, 164
    against 21 ms) was about 60 % of a Newton iteration. Plain ``newtonls``: the
    bound-constrained Newton's active-set sub-solves change the system (a new symbolic
    factorisation every iteration); its backtracking line search rejects a step whose C
    leaves the domain of ln C (a non-finite residual).
    """
    return {**newton_options(), "ksp_type": "fgmres", "ksp_rtol": 1.0e-3,
            "ksp_max_it": 30, "ksp_gmres_restart": 30, "femdiff_refactor_krylov": 4}


def lag_preconditioner(snes: PETSc.SNES, lag: int) -> None:
    """Set SNES's preconditioner lag (``SNESSetLagPreconditioner``, not in petsc4py).

    −1: never rebuild the preconditioner (its factorisation), −2: rebuild it once, at the
    next Jacobian, then −1; k ≥ 1: every k-th Jacobian. Written to the options database
    under the solver's prefix and read back with ``setFromOptions``.
    """
    PETSc.Options()[f"{snes.getOptionsPrefix() or ''}snes_lag_preconditioner"] = lag
    snes.setFromOptions()


def cahn_hilliard_iterative_options() -> dict[str, Any]:
    """A scalable, hypre-free Newton–Krylov set for the mixed μ–C (Cahn–Hilliard) system.

    FGMRES on the whole Jacobian, preconditioned by a lower Schur-complement fieldsplit
    over (C, μ): the C block (a mass matrix × a₀/Δt) by Jacobi-CG, and the Schur
    complement by the Bosch–Kay–Stoll–Wathen approximation S⁻¹ ≈ H⁻¹ M H⁻¹,
    H = M + √(κΔtM₀/a₀) K, each H solve a few CG iterations preconditioned by GAMG
    (SOR smoothing) to a relative 1e-2 (:mod:`femdiff.numerics.preconditioners`; a single
    V-cycle, the textbook choice, lost h-robustness here, see the comments below).
    The split index sets come from ``W.sub(i).collapse()[1]``; ``femdiff_schur`` is
    read by femdiff, not PETSc.
    Use: ``petsc_options=solvers.cahn_hilliard_iterative_options()``.

    Robustness (``benchmarks/bench_ch_solvers.py``): the iteration count per Newton
    step stays bounded under mesh refinement when the linearised Schur complement is
    definite, i.e. for Δt·M₀·f″²/a₀ ≲ 4κ inside the spinodal (early-time steps of the
    fully implicit scheme), or at any Δt with ``energy_stable=True`` (convex splitting
    makes f″ + S ≥ 0). Large fully implicit steps while much of the domain is still
    inside the spinodal make the Jacobian indefinite and the iteration counts grow
    (hundreds at Δt = 20 from the PFHub initial data); use LU or the energy-stable
    scheme there.
    """
    return {
        "snes_type": "newtonls",
        "snes_linesearch_type": "bt",
        "snes_rtol": 1.0e-9,
        "snes_atol": 1.0e-12,
        "snes_max_it": 25,
        "ksp_type": "fgmres",
        "ksp_rtol": 1.0e-8,
        "ksp_max_it": 300,
        "ksp_gmres_restart": 100,
        "pc_type": "fieldsplit",
        "pc_fieldsplit_type": "schur",
        "pc_fieldsplit_schur_fact_type": "lower",
        "pc_fieldsplit_schur_precondition": "a11",
        # the C block is a mass matrix: Jacobi-CG to 1e-3 is cheap and h-independent
        "fieldsplit_c_ksp_type": "cg",
        "fieldsplit_c_pc_type": "jacobi",
        "fieldsplit_c_ksp_rtol": 1.0e-3,
        "fieldsplit_mu_ksp_type": "preonly",
        "femdiff_schur": "bksw",
        # H solves: CG + GAMG (SOR smoothing) to 1e-2. A single V-cycle is not h-robust:
        # 19 → 28 → 52 (Jacobi–Chebyshev, serial) and 22 → 45 → 252 (SOR, 2 ranks)
        # outer iterations per Newton step under 2×, 4× refinement; CG to 1e-2 gives
        # 21 → 22.5 → 27 (2D, 20k → 322k dofs) and 19 → 20.5 → 23.5 (3D, 4k → 235k)
        # on 2 ranks (benchmarks/bench_ch_solvers.py).
        "schur_H_ksp_type": "cg",
        "schur_H_ksp_rtol": 1.0e-2,
        "schur_H_ksp_max_it": 30,
        "schur_H_ksp_norm_type": "preconditioned",
        "schur_H_ksp_convergence_test": "default",
        "schur_H_mg_levels_pc_type": "sor",
    }


def merge(defaults: Mapping[str, Any], user: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``defaults`` updated with ``user`` (user keys win), validated.

    :func:`validate_options` checks them, so a misspelt solver type fails here, when the
    problem is made, not at its first solve.
    """
    opts = dict(defaults)
    if user:
        opts.update(user)
    validate_options(opts)
    return opts


# option-name suffix -> what it names, most specific first; a key matches when it is the
# suffix or ends with "_" + suffix (fieldsplit_c_ksp_type, mg_levels_pc_type)
_TYPED_OPTIONS: tuple[tuple[str, str], ...] = (
    ("snes_linesearch_type", "SNES line-search"),
    ("mat_solver_type", "matrix solver (LU/Cholesky package)"),
    ("snes_type", "SNES"),
    ("ksp_type", "KSP"),
    ("pc_type", "PC"),
)


def _enum_values(kind: str) -> list[str]:
    enum = {"SNES line-search": PETSc.SNESLineSearch.Type, "SNES": PETSc.SNES.Type,
            "KSP": PETSc.KSP.Type, "PC": PETSc.PC.Type,
            "matrix solver (LU/Cholesky package)": PETSc.Mat.SolverType}[kind]
    return [v for n, v in vars(enum).items() if not n.startswith("_") and isinstance(v, str)]


# types that exist only when PETSc was built with an external package (type -> package)
_EXTERNAL = {"hypre": "hypre", "pfmg": "hypre", "syspfmg": "hypre", "ml": "ml",
             "spai": "spai", "parms": "parms", "hpddm": "hpddm", "h2opus": "h2opus",
             "chowiluviennacl": "viennacl", "rowscalingviennacl": "viennacl",
             "saviennacl": "viennacl"}


def _accepts(kind: str, value: str) -> bool:
    """Whether this PETSc build has ``value`` as a type of ``kind``.

    Read from petsc4py's type enums (which follow the PETSc version) and
    ``PETSc.Sys.hasExternalPackage`` for the types an external package provides: creating
    objects to ask ``setType`` is not safe (some types crash on a bare object).
    """
    if value not in _enum_values(kind):
        return False
    if kind.startswith("matrix solver"):
        return value == "petsc" or bool(PETSc.Sys.hasExternalPackage(value))
    package = _EXTERNAL.get(value)
    return package is None or bool(PETSc.Sys.hasExternalPackage(package))


_valid_cache: dict[str, list[str]] = {}


def valid_types(kind: str) -> list[str]:
    """The types of ``kind`` (``"SNES"``, ``"KSP"``, ``"PC"``, ...) this PETSc build has."""
    if kind not in _valid_cache:
        _valid_cache[kind] = [v for v in _enum_values(kind) if _accepts(kind, v)]
    return _valid_cache[kind]


def validate_options(options: Mapping[str, Any]) -> None:
    """Check the ``*_type`` options (SNES, KSP, PC, line search, LU package) against PETSc.

    Raises:
        ValueError: naming the option, its value and the valid types of this PETSc
            build, e.g. ``PETSc option snes_type = 'nosuchsolver' is not a SNES type of
            this PETSc; valid: newtonls, newtontr, ...``.
    """
    for key, value in options.items():
        check_option_value(key, value)
        if not isinstance(value, str):
            continue
        for suffix, kind in _TYPED_OPTIONS:
            if key == suffix or key.endswith("_" + suffix):
                if not _accepts(kind, value):
                    raise ValueError(f"PETSc option {key} = {value!r} is not a {kind} type of "
                                     f"this PETSc; valid: {', '.join(valid_types(kind))}")
                break


def _as_number(v: Any, integer: bool) -> float | None:
    """``v`` as PETSc would read a number (a TOML number or a numeric string), or None."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return None if integer and isinstance(v, float) and not v.is_integer() else v
    if isinstance(v, str):
        try:
            return int(v) if integer else float(v)
        except ValueError:
            return None
    return None


# option-name pattern -> (integer?, the smallest value (None: any), what it is); checked by
# :func:`check_option_value`: PETSc itself only says "error code 63" (or, for a MUMPS
# control, nothing) without the key
_NUMERIC_OPTIONS: tuple[tuple[re.Pattern[str], bool, float | None, str], ...] = tuple(
    (re.compile(pattern), integer, low, what) for pattern, integer, low, what in (
        (r"(^|_)(rtol|atol|stol|abstol|divtol|dtol)$", False, 0.0, "a tolerance ≥ 0"),
        (r"(^|_)max_(it|funcs|fail|linear_solve_fail|levels)$", True, 0.0,
         "an integer ≥ 0"),
        (r"(^|_)(gmres_restart|restart|levels|mg_levels)$", True, 1.0, "an integer ≥ 1"),
        (r"(^|_)lag_(jacobian|preconditioner)$", True, -2.0, "an integer ≥ -2"),
        (r"(^|_)gamg_threshold$", False, None, "a number"),
        (r"(^|_)(factor_shift_amount|damping|chebyshev_esteig_steps)$", False, 0.0,
         "a number ≥ 0"),
        (r"^(.*_)?mat_mumps_icntl_\d+$", True, None, "an integer (a MUMPS ICNTL value)"),
        (r"^(.*_)?mat_mumps_cntl_\d+$", False, None, "a number (a MUMPS CNTL value)"),
        (r"^(.*_)?mat_superlu_dist_(maxsup|nrhs)$", True, 1.0, "an integer ≥ 1"),
    ))


def check_option_value(key: str, value: Any) -> None:
    """Check the value of one PETSc option where PETSc needs a number or a name.

    Numbers (tolerances, iteration limits, MUMPS controls: :data:`_NUMERIC_OPTIONS`)
    must be numbers (or numeric strings) in range; ``*_type`` options must be names.

    Raises:
        ValueError: naming the option and what it must be.
    """
    if value is None:
        return
    if key == "type" or key.endswith("_type"):
        if not isinstance(value, str):
            raise ValueError(f"PETSc option {key} must be a type name (a string), got "
                             f"{value!r}")
        return
    for pattern, integer, low, what in _NUMERIC_OPTIONS:
        if pattern.search(key):
            number = _as_number(value, integer)
            if number is None or not math.isfinite(number) or (low is not None
                                                               and number < low):
                raise ValueError(f"PETSc option {key} must be {what}, got {value!r}")
            return


def _positive_integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _fraction(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1


#: the values of ``femdiff_split`` -> (the eliminated block, the Schur block)
MIXED_SPLITS: dict[str, tuple[str, str]] = {
    "mu_local": ("mu", "local"), "mutraps_c": ("mutraps", "c"), "local_mu": ("local", "mu")}


#: femdiff's own pseudo PETSc options: femdiff reads them (``SolverMixin._create_solver``
#: in :mod:`femdiff.numerics.newton`) and takes them out before the rest go to PETSc. Key ->
#: (whether a value is allowed, the rule said when it is not). None means unset.
FEMDIFF_OPTIONS: dict[str, tuple[Callable[[Any], bool], str]] = {
    # rebuild a reused LU after more Krylov iterations per Newton iteration
    "femdiff_refactor_krylov": (_positive_integer, "must be a positive integer"),
    # adaptive runs: Newton also stops once its error in C is ≤ κ × the time tolerance
    "femdiff_newton_kappa": (_fraction, "must be a number in [0, 1) (0: off)"),
    # the Bosch–Kay–Stoll–Wathen Schur preconditioner (femdiff.numerics.preconditioners)
    "femdiff_schur": (lambda v: v == "bksw", "must be 'bksw'"),
    # the index sets of the iterative mixed solver's fieldsplit (mixed_iterative_options)
    "femdiff_split": (lambda v: v in MIXED_SPLITS,
                      "must be 'local_mu', 'mu_local' or 'mutraps_c'"),
}


class OptionError(ValueError):
    """A bad option, with its ``key`` and the ``reason`` apart (a case file names its path).

    The message is ``f"{key} {reason}"``, e.g. ``femdiff_newton_kappa must be a number in
    [0, 1) (0: off), got 2``.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key} {reason}")
        self.key = key
        self.reason = reason


def validate_femdiff_options(options: Mapping[str, Any]) -> None:
    """Check femdiff's own ``femdiff_*`` options (:data:`FEMDIFF_OPTIONS`); others pass.

    The single check of these keys: the problems call it when they create their solver,
    and the case files' ``femdiff check`` before anything is built.

    Raises:
        OptionError: a ValueError naming the key, e.g. ``femdiff_newton_kappa must be a
            number in [0, 1) (0: off), got 2``, or ``femdiff_foo is not a femdiff option;
            allowed femdiff options: femdiff_refactor_krylov, ...``.
    """
    for key, value in options.items():
        if not key.startswith("femdiff_"):
            continue
        if key not in FEMDIFF_OPTIONS:
            raise OptionError(key, f"is not a femdiff option; allowed femdiff options: "
                              f"{', '.join(FEMDIFF_OPTIONS)}")
        allowed, rule = FEMDIFF_OPTIONS[key]
        if value is not None and not allowed(value):
            raise OptionError(key, f"{rule}, got {value!r}")


def set_options(prefix: str, options: Mapping[str, Any]) -> None:
    """Write ``options`` into the global PETSc database under ``prefix``.

    The options are checked first (:func:`validate_options`): a bad type names the option.
    """
    validate_options(options)
    db = PETSc.Options()
    for key, value in options.items():
        if value is None:
            db[f"{prefix}{key}"] = ""
        elif isinstance(value, bool):
            db[f"{prefix}{key}"] = "true" if value else "false"
        else:
            db[f"{prefix}{key}"] = value


_counter: dict[str, int] = {}


def unique_prefix(stem: str) -> str:
    """Return ``stem_N_``: every problem gets its own options prefix."""
    n = _counter.get(stem, 0)
    _counter[stem] = n + 1
    return f"{stem}_{n}_"


def conduction_options() -> dict[str, Any]:
    """CG + GAMG for the symmetric positive-definite heat-conduction system.

    rtol 1e-12: the temperature feeds exponentials (Arrhenius laws) and thermal strains,
    and the verification tests compare nodal values to exact piecewise-linear profiles.
    """
    return {
        "ksp_type": "cg",
        "ksp_rtol": 1.0e-12,
        "ksp_atol": 1.0e-30,
        "ksp_max_it": 1000,
        "pc_type": "gamg",
        "pc_gamg_type": "agg",
        "mg_levels_ksp_type": "chebyshev",
        "mg_levels_pc_type": "jacobi",
        "ksp_error_if_not_converged": True,
    }


_KSP_REASONS = {v: k for k, v in vars(PETSc.KSP.ConvergedReason).items() if isinstance(v, int)}


def check_converged(ksp: PETSc.KSP, what: str) -> None:
    """Raise :class:`RuntimeError` naming the KSP's reason unless it converged."""
    reason = cast(int, ksp.getConvergedReason())  # petsc4py's stubs say ConvergedReason
    if reason <= 0:
        raise RuntimeError(
            f"{what} did not converge: KSP reason {_KSP_REASONS.get(reason, reason)} "
            f"after {ksp.getIterationNumber()} iterations (options prefix "
            f"{ksp.getOptionsPrefix()!r})")


# --- problem-dependent linear solver of the mixed μ–C problems (LU or iterative) -------

#: ``solver="auto"`` switches a 3D mixed μ–C problem (lumped P1) to
#: :func:`mixed_iterative_options` from this many global dofs of its mixed space on.
#: Below it LU costs seconds per step and keeps Newton's variable bounds (the iterative
#: split runs plain Newton); above it LU's fill (∝ N^{4/3} memory, ∝ N² work in 3D)
#: loses: ``benchmarks/bench_3d_scaling.py`` (2 ranks) measured LU 2× slower per step
#: at 53k and 107k mixed dofs, with 1.3–1.5× the peak memory, growing with N.
ITERATIVE_MIN_DOFS_3D = 100_000

#: the values of ``solver=`` (and of ``linear`` in a case file's ``[solver]`` table)
SOLVER_CHOICES = ("auto", "lu", "iterative")


def check_solver_choice(solver: Any) -> str:
    """Return ``solver`` if it is one of :data:`SOLVER_CHOICES`.

    Raises:
        ValueError: naming the value and the allowed ones.
    """
    if not isinstance(solver, str) or solver not in SOLVER_CHOICES:
        raise ValueError(f"solver must be one of {', '.join(map(repr, SOLVER_CHOICES))}, "
                         f"got {solver!r}")
    return solver


def mixed_iterative_options(local_fields: int = 1, trap_split: str = "c",
                            split: str | None = None) -> dict[str, Any]:
    """Newton–Krylov options of a lumped mixed μ–C problem (with or without traps).

    FGMRES on the whole Jacobian, preconditioned by a full Schur factorisation whose
    eliminated block is diagonal (or node-wise block diagonal), so that the Schur
    complement formed by ``selfp`` is exact and one GAMG V-cycle on it is the only
    approximation. The unknowns split into the *local* fields (C and any
    McNabb–Foster C_T: no gradient acts on them) and μ:

    * ``local_fields == 1`` (C only; its storage may be a consistent mass): μ is
      eliminated. Its block, the lumped constitutive law's M_L, is diagonal, and the
      Schur complement on C is S = a₀M + Δt K_M diag(f″(C_i)), a mass plus a
      (column-scaled) weighted Laplacian: GAMG.
    * ``local_fields > 1`` (C_L with McNabb–Foster traps; lumped storage), default
      ``trap_split="c"``: μ *and* every C_T are eliminated (block ``mutraps``, Jacobi).
      The constitutive rows (μ) have a diagonal μμ block and no C_T column, the trap
      rows a diagonal C_T C_T block and no μ column, so that block is diagonal and
      ``selfp`` forms the exact Schur complement on C_L (block ``c``): the trap-free
      a₀M_L + Δt K_M diag(f″(C_i)) plus the positive diagonal of the condensed trap
      exchange, a₀ Δt k(N_T − C_T)/(a₀ + Δt(kC_L + p)) per node and trap. GAMG on it
      keeps the trap-free counts (3.6, 4.1, 6.0, 7.1 Krylov per Newton at 8³, 16³, 24³,
      32³ cells, two traps, serial, ``benchmarks/bench_traps_3d.py``). Oriani traps add
      no unknown (a diagonal C_L storage term) and the bounded potentials keep the
      constitutive law nodal, so the structure holds for them too (from the form, not
      measured).
    * ``trap_split="mu"`` (the former default): C_L and the C_T eliminated (point-block
      Jacobi on the node-wise local block, ``ainv_type blockdiag``), μ kept: the Schur
      complement M_L + Δt D M_L⁻¹ K_M is a Laplacian with rows scaled over decades,
      which spoils GAMG's aggregation (8.9, 12.6 Krylov per Newton at 8³, 16³; 28.5
      at 36³ on 2 ranks).

    Newton runs without variable bounds (plain ``newtonls``, set by femdiff): the
    reduced-space VI solver restricts the index sets to the inactive rows, which breaks
    the node-wise blocks. ``femdiff_split`` is read by femdiff (it builds the index
    sets), not by PETSc.

    A problem chooses the split from its ``petsc_options``: a ``femdiff_split`` there is
    passed here as ``split`` (it names no ``ksp_type``/``pc_type``, so the solver stays
    ``"iterative"``), e.g. ``petsc_options={"femdiff_split": "local_mu"}`` for the former
    trap split (``benchmarks/bench_traps_3d.py --trap-split mu``).

    Args:
        local_fields: the number of fields without a gradient term (C, or C_L and the
            McNabb–Foster C_T).
        trap_split: with traps, the Schur block: ``"c"`` (C_L, default) or ``"mu"``.
        split: the blocks by their ``femdiff_split`` name (:data:`MIXED_SPLITS`),
            instead of the choice above: ``"mu_local"`` (μ eliminated, the local fields
            the Schur block: the default without traps), ``"mutraps_c"`` (the
            ``trap_split="c"`` one) or ``"local_mu"`` (the ``trap_split="mu"`` one).

    Raises:
        ValueError: ``local_fields < 1``, or an unknown ``trap_split`` or ``split``.
    """
    if local_fields < 1:
        raise ValueError(f"local_fields must be at least 1, got {local_fields!r}")
    if trap_split not in ("c", "mu"):
        raise ValueError(f"trap_split must be 'c' or 'mu', got {trap_split!r}")
    if split is not None and split not in MIXED_SPLITS:
        raise ValueError(f"femdiff_split must be one of {', '.join(map(repr, MIXED_SPLITS))}, "
                         f"got {split!r}")
    if split is None:
        split = ("mu_local" if local_fields == 1
                 else "mutraps_c" if trap_split == "c" else "local_mu")
    first, schur = MIXED_SPLITS[split]
    blockwise = first == "local"
    return {
        **newton_snes_options(),
        "ksp_type": "fgmres",
        "ksp_rtol": 1.0e-8,
        "ksp_atol": 1.0e-14,
        "ksp_max_it": 300,
        "ksp_gmres_restart": 100,
        "pc_type": "fieldsplit",
        "pc_fieldsplit_type": "schur",
        "pc_fieldsplit_schur_fact_type": "full",
        "pc_fieldsplit_schur_precondition": "selfp",
        f"fieldsplit_{first}_ksp_type": "preonly",
        f"fieldsplit_{first}_pc_type": "pbjacobi" if blockwise else "jacobi",
        f"fieldsplit_{schur}_mat_schur_complement_ainv_type":
            "blockdiag" if blockwise else "diag",
        f"fieldsplit_{schur}_ksp_type": "preonly",
        f"fieldsplit_{schur}_pc_type": "gamg",
        f"fieldsplit_{schur}_pc_gamg_type": "agg",
        f"fieldsplit_{schur}_pc_gamg_coarse_eq_limit": 1000,
        f"fieldsplit_{schur}_mg_levels_ksp_type": "chebyshev",
        # SOR smoothing: 12.5 against 17 Krylov iterations per Newton iteration with
        # Jacobi (3D box, two traps, 16³ cells, serial, with trap_split="mu")
        f"fieldsplit_{schur}_mg_levels_pc_type": "sor",
        "femdiff_split": f"{first}_{schur}",
    }


def activity_iterative_options() -> dict[str, Any]:
    """CG + GAMG for the (symmetric positive-definite) dilute activity formulation."""
    return {**conduction_options(), "ksp_rtol": 1.0e-10, "ksp_error_if_not_converged": False}


def choose_linear_solver(solver: str, *, tdim: int, n_dofs: int, lumped: bool,
                         has_potential_block: bool, custom: str | None = None
                         ) -> tuple[str, str]:
    """The linear solver of a mixed μ–C problem: ``("lu" | "iterative", why)``.

    Args:
        solver: ``"auto"``, ``"lu"`` or ``"iterative"`` (:data:`SOLVER_CHOICES`).
        tdim: the mesh's topological dimension.
        n_dofs: global dofs of the mixed space.
        lumped: whether the constitutive law (and the storage, with traps) is lumped P1.
        has_potential_block: whether the problem has a μ block to split off.
        custom: why the problem's own options rule (user ``ksp_type``/``pc_type``, a
            fieldsplit of its own), or None.

    Returns:
        The choice and a one-line reason (for the run log and ``femdiff info``).

    Raises:
        ValueError: a bad ``solver``, or ``"iterative"`` where it does not apply.
    """
    check_solver_choice(solver)
    if custom is not None:
        if solver == "iterative":
            raise ValueError(f"solver='iterative' cannot be combined with {custom}")
        return "custom", f"{custom} (solver={solver!r} left them alone)"
    usable = lumped and has_potential_block
    if solver == "iterative":
        if not usable:
            raise ValueError("solver='iterative' needs lumped P1 (degree=1, lumped=True) and "
                             "a mixed μ–C problem: the Schur complement on μ is then exact")
        return "iterative", ("solver='iterative': exact Schur fieldsplit, GAMG on the "
                             "Schur complement")
    if solver == "lu":
        return "lu", f"solver='lu': {direct_solver_package()} LU"
    if tdim == 3 and usable and n_dofs >= ITERATIVE_MIN_DOFS_3D:
        return "iterative", (f"solver='auto': 3D, {n_dofs} dofs >= {ITERATIVE_MIN_DOFS_3D}, "
                             "lumped P1: exact Schur fieldsplit, GAMG on the Schur complement")
    reason = (f"{tdim}D" if tdim != 3 else f"{n_dofs} dofs < {ITERATIVE_MIN_DOFS_3D}") \
        if usable else "not lumped P1"
    return "lu", f"solver='auto': {reason}: {direct_solver_package()} LU"


def cahn_hilliard_choice(choice: str, petsc_options: dict[str, Any] | None
                         ) -> tuple[dict[str, Any], str]:
    """(options, why) of a Cahn–Hilliard problem under the solver ``choice``.

    Cahn–Hilliard has its own solvers: the μ-first Schur split of the dilute models would
    leave GAMG a fourth-order operator. ``"iterative"`` is the BKSW fieldsplit
    (:func:`cahn_hilliard_iterative_options`), otherwise LU reused across iterations and
    steps (:func:`cahn_hilliard_options`).
    """
    if choice == "iterative":
        return merge(cahn_hilliard_iterative_options(), petsc_options), (
            "solver='iterative' with Cahn–Hilliard (a gradient-energy term): "
            "solvers.cahn_hilliard_iterative_options, the BKSW Schur fieldsplit")
    return merge(cahn_hilliard_options(), petsc_options), (
        f"solver={choice!r} with Cahn–Hilliard (a gradient-energy term): "
        "solvers.cahn_hilliard_options, the LU factorisation dominates the cost of a Newton "
        "iteration, so it is reused across iterations and steps")
