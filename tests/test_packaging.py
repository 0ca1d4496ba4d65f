"""The installed package cannot be shadowed by a user's own `models.py` or `reports/` (issue 17, point 1)."""

import subprocess
import sys
from pathlib import Path


def test_import_from_a_folder_with_models_py_and_reports_dir(tmp_path: Path):
    (tmp_path / "models.py").write_text("x = 1\n")
    (tmp_path / "hardware.py").write_text("y = 1\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "__init__.py").write_text("z = 1\n")
    code = (
        "import explorer, explorer.models.catalog as mc, explorer.hardware.catalog as hc\n"
        "import explorer.reports.render as rr\n"
        "import os\n"
        "here = os.getcwd()\n"
        "for m in (mc, hc, rr):\n"
        "    assert not m.__file__.startswith(here), m.__file__\n"
        "print(explorer.get_model('llama3_8b').layers)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "32"  # Llama 3 8B has 32 layers (Meta, arXiv 2407.21783, Table 3)


def test_every_shipped_data_file_is_in_the_package_data():
    # A non-editable install (pip install ., a wheel) carries only what setup.cfg's package_data globs match: a data
    # file they miss (accuracy.json was one) is a FileNotFoundError for every user who installs the package.
    import configparser
    import fnmatch

    root = Path(__file__).resolve().parent.parent
    cfg = configparser.ConfigParser()
    cfg.read(root / "setup.cfg")
    globs = {pkg: [g.strip() for g in v.split(",") if g.strip()] for pkg, v in cfg["options.package_data"].items()}
    for pkg, patterns in globs.items():
        # setup.py maps explorer.models / explorer.hardware to the repository's top-level models/ and hardware/
        base = root / (pkg.split(".", 1)[1] if pkg.count(".") else pkg)
        files = [p.relative_to(base).as_posix() for p in (base / "data").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts]
        assert files, f"{pkg}: no data files under {base / 'data'}"
        missing = [f for f in files
                   if not any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in patterns)]
        assert not missing, f"{pkg}: not in setup.cfg package_data: {missing}"
