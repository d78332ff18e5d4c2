"""A regular (non-editable) install carries every package and every shipped resource: the
package-data globs in pyproject.toml match every file under resources/."""

from pathlib import Path

from setuptools.config.pyprojecttoml import read_configuration

ROOT = Path(__file__).resolve().parents[1]


def test_package_data_covers_every_resource_file():
    config = read_configuration(ROOT / "pyproject.toml")["tool"]["setuptools"]
    packages = set(config["packages"])  # what `find` gives, as setuptools resolves it
    assert {"resources", "engine.importers.onnx_mapping", "gui.workbench"} <= packages
    folder = ROOT / "resources"
    shipped = {path for pattern in config["package-data"]["resources"] for path in folder.glob(pattern)}
    files = {path for path in folder.rglob("*")
             if path.is_file() and path.suffix != ".pyc" and path.name != "__init__.py"}
    assert files and files - shipped == set()
