"""Packaging: environment.yml mirrors pyproject.toml; `import workbench` stays light."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tests.helpers import ROOT


def _pyproject_deps() -> list[str]:
    """The runtime dependencies, then each extra's (without the extras that name the project itself)."""
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    extras = project["optional-dependencies"]
    return project["dependencies"] + [d for name in ("lab", "test") for d in extras[name]
                                      if not d.startswith("kimi-workbench")]


def _environment_deps() -> list[str]:
    lines = (ROOT / "environment.yml").read_text(encoding="utf-8").splitlines()
    start = lines.index("  - pip:")
    deps = [ln.strip()[2:] for ln in lines[start + 1:] if re.match(r"^\s{6}- ", ln)]
    return [d for d in deps if d != "-e ."]


def test_environment_yml_lists_the_same_dependencies():
    assert _environment_deps() == _pyproject_deps()


def test_llama_cpp_python_is_pinned():
    assert "llama-cpp-python[server]==0.3.36" in _pyproject_deps()


def test_import_is_light():
    code = ("import sys, workbench, workbench.pretok, workbench.tokenizer, workbench.chat, workbench.cli; "
            "print(sorted(m for m in ('llama_cpp', 'transformers', 'ipywidgets', 'pandas', 'tokenizers', 'tiktoken', "
            "'matplotlib', 'jinja2') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.index("make lab") < readme.index("make test") < readme.index("## Command line") < readme.index("## Python API")


def test_the_test_tools_are_extras_not_runtime_dependencies():
    runtime = {re.split(r"[<>=\[]", d)[0] for d in _pyproject_deps()[:_pyproject_deps().index("jupyterlab>=4.2")]}
    assert not runtime & {"pytest", "hypothesis", "playwright", "nbclient", "nbformat", "ruff", "jupyterlab"}


def test_there_is_a_licence_and_the_python_floor_is_tested():
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert project["requires-python"] == ">=3.11" and sys.version_info >= (3, 11)


def test_the_vllm_pin_is_one():
    """make vllm installs what workbench.run.vllm_server documents."""
    import re

    from tests.helpers import ROOT
    from workbench.run.vllm_server import VLLM_PIN

    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^VLLM_PIN\s*:=\s*(\S+)$", makefile, re.M)[1] == VLLM_PIN
    assert re.search(r"^test:.*\bvllm\b", makefile, re.M), "make test must build the vLLM environment"
