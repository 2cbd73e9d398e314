"""MaskSpec recipe: esc50. See README.md next to this file.

Thin front door: the protocol, defaults (`config.json`, generated
from the recipe class) and training live in
`keras_maskspec.recipes.get_recipe("esc50")`. Run with `--help`.
Settings are `--set KEY=VALUE`, as in `maskspec finetune`; `--smoke`
runs a tiny model for a few steps.
"""

import sys

from keras_maskspec.cli.recipe import main

if __name__ == "__main__":
    sys.exit(main("esc50"))
