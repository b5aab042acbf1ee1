"""The problems.

The mixed μ–C base, the species problems, the components composed into them,
chemo-mechanical coupling and homogenisation.
"""
