"""Numerics.

Newton and its options, solver choice, preconditioners, time stepping, the
activity formulation, conservative fluxes and FE helpers.
"""
