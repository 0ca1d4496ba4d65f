"""Seeded numpy simulations that the closed-form cost model cannot answer alone."""
