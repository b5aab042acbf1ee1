"""Constitutive models.

Free-energy terms and mobilities, mixtures and Onsager forms, trap laws,
materials and their per-material laws.
"""
