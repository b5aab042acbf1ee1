"""The physics beside diffusion.

Elasticity, heat conduction, crack-tip fields and the boundary conditions.
"""
