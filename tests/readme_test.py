"""The README's Python example runs as written."""

import pathlib
import re

import pytest

README = pathlib.Path(__file__).parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_starts_with_install_and_test_commands():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    lines = [line for line in first_block.splitlines() if line.strip()]
    assert lines[0].startswith("pip install -e . && maskspec pretrain")
    assert "pytest" in lines[1] and "pip install" in lines[1]


@pytest.mark.large
def test_readme_python_example_runs(capsys):
    block = python_blocks()[0]  # "In Python": the quick start
    assert "MaskSpecPretrainer" in block
    namespace = {}
    exec(compile(block, str(README), "exec"), namespace)
    classifier = namespace["classifier"]
    assert classifier.num_classes == len(namespace["class_names"])
