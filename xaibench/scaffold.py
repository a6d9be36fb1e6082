"""``xaibench new-plugin``: write a ready-to-install plugin package from ``xaibench/templates``.

The package has a pyproject with the ``xaibench`` entry point, one component of the chosen
kind with typed Params, a test file using :mod:`xaibench.testing`, and a README.  Templates
are :class:`string.Template` files (``$name`` placeholders), so they stay valid-looking
Python and TOML without a template engine dependency.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import click

from . import __version__
from .errors import XaibenchError

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class KindTemplate:
    """What differs between kinds: the hook, the class suffix, the check, extra files, a usage snippet."""

    hook: str
    suffix: str
    check: str
    summary: str
    dependencies: tuple[str, ...]
    usage: str
    extra_files: tuple[str, ...] = ()


KINDS: dict[str, KindTemplate] = {
    "attribution": KindTemplate(
        "register_attributions", "Method", "check_attribution",
        "An attribution method for xaibench: gradient x input on the explained layer, every class at once.",
        ("torch",),
        "attributions:\n  mine: $name\n  gradcam: grad-cam\nmetrics:\n  randomization: model-randomization",
    ),
    "metric": KindTemplate(
        "register_metrics", "Metric", "check_metric",
        "A metric for xaibench: the share of attribution mass in each map's top positions.",
        (),
        "attributions:\n  gradcam: grad-cam\nmetrics:\n  mine: $name",
    ),
    "dataset": KindTemplate(
        "register_datasets", "Dataset", "check_dataset",
        "A dataset for xaibench: procedurally generated 13-band Sentinel-2-like land-cover patches.",
        (),
        "datasets:\n  mine: {component: $name, params: {n_train: 256}}\nmodels:\n  uhnet: uh-net",
    ),
    "model": KindTemplate(
        "register_models", "Model", "check_model",
        "A model for xaibench: a small CNN that any SplittableModel attribution method can explain.",
        ("torch",),
        "models:\n  mine: {component: $name, params: {epochs: 10}}\nattributions:\n  gradcam: grad-cam",
        ("net.py",),
    ),
    "postprocessor": KindTemplate(
        "register_postprocessors", "PostProcessor", "check_postprocessor",
        "A post-processor for xaibench: a box blur of every attribution map.",
        (),
        "postprocessors:\n  none: none\n  mine: {component: $name, params: {radius: 1}}",
    ),
}


def _templates():
    return resources.files("xaibench").joinpath("templates")


def names_for(name: str, kind: str) -> dict[str, str]:
    """The substitutions of the templates for plugin ``name`` of ``kind``."""
    if not NAME_RE.match(name):
        raise XaibenchError(f"invalid plugin name {name!r}: use lowercase letters, digits and single hyphens, "
                            "starting with a letter (e.g. 'my-method')")
    if kind not in KINDS:
        raise XaibenchError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    k = KINDS[kind]
    module = name.replace("-", "_")
    camel = "".join(part.capitalize() for part in name.split("-"))
    cls = camel if camel.endswith(k.suffix) else camel + k.suffix
    deps = ", ".join(f'"{d}"' for d in (f"xaibench>={__version__}", "numpy", *k.dependencies))
    return {
        "name": name,
        "kind": kind,
        "module": module,
        "package": f"xaibench_{module}",
        "dist": f"xaibench-{name}",
        "cls": cls,
        "hook": k.hook,
        "check": k.check,
        "summary": k.summary,
        # pip show / PyPI print this: it names the generated component, not only the template it started from
        "description": f"{name}: the {kind} component '{name}' for xaibench (from the `new-plugin` template: "
                       f"{k.summary.split(': ', 1)[-1].rstrip('.')})",
        "dependencies": deps,
        "usage": Template(k.usage).substitute(name=name),
    }


def render_plugin(name: str, kind: str) -> dict[str, str]:
    """Relative path -> content of every file of the package."""
    subs = names_for(name, kind)
    t = _templates()

    def render(template: str) -> str:
        return Template(t.joinpath(template).read_text()).substitute(subs)

    pkg = subs["package"]
    files = {
        "pyproject.toml": render("pyproject.toml.tmpl"),
        "README.md": render("README.md.tmpl"),
        f"{pkg}/__init__.py": render("__init__.py.tmpl"),
        f"{pkg}/plugin.py": render("plugin.py.tmpl"),
        f"{pkg}/components.py": render(f"components/{kind}.py.tmpl"),
        f"tests/test_{subs['module']}.py": render(f"tests/{kind}.py.tmpl"),
    }
    for extra in KINDS[kind].extra_files:
        files[f"{pkg}/{extra}"] = render(f"{extra}.tmpl")
    return files


def create_plugin(name: str, kind: str, directory: str | Path = ".") -> Path:
    """Write the package ``xaibench-<name>`` under ``directory``; return its root.

    Refuses to overwrite an existing non-empty directory.
    """
    files = render_plugin(name, kind)
    root = Path(directory) / f"xaibench-{name}"
    if root.exists() and any(root.iterdir()):
        raise XaibenchError(f"{root} already exists and is not empty; choose another name or --dir")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", "-k", required=True, type=click.Choice(list(KINDS)), help="The component kind to generate.")
@click.option("--dir", "directory", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where to create the package directory xaibench-NAME.")
def new_plugin(name: str, kind: str, directory: Path) -> None:
    """Create a ready-to-install plugin package xaibench-NAME with one KIND component.

    \b
    It contains a pyproject with the `xaibench` entry point, the component with typed
    Params, tests using xaibench's conformance kit, and a README:
        xaibench new-plugin my-method --kind attribution
        cd xaibench-my-method && pip install -e '.[test]' && pytest
        xaibench plugins                  # lists my-method
    """
    root = create_plugin(name, kind, directory)
    subs = names_for(name, kind)
    click.echo(f"created {root}/ with the {kind} {name!r} ({subs['package']}.components.{subs['cls']})")
    for rel in sorted(render_plugin(name, kind)):
        click.echo(f"  {rel}")
    click.echo(f"next: cd {root} && pip install -e '.[test]' && pytest && xaibench plugins")
