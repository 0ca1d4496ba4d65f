"""Cost model: pure functions of (model, cluster, plan), SI units, every formula with its source."""
