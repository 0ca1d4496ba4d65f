"""Package layout: the repository keeps `models/`, `hardware/` and `reports/` at its top (the project's layout),
but they install as `explorer.models`, `explorer.hardware` and `explorer.reports`, so a `models.py` or a
`reports/` folder beside a user's notebook can never shadow them. Everything else is in setup.cfg."""

from setuptools import find_packages, setup

MAPPED = ("models", "hardware", "reports")

packages = find_packages(include=["explorer", "explorer.*"])
for top in MAPPED:
    packages += [f"explorer.{p}" for p in find_packages(include=[top, f"{top}.*"])]

setup(packages=packages, package_dir={f"explorer.{top}": top for top in MAPPED})
