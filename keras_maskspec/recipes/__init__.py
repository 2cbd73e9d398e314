"""Recipes: the paper's downstream tasks and AudioSet, one per data set.

Each recipe reads its data set's official on-disk layout, carries the
paper's defaults (every one overridable) and wires the `tf.data` pipelines
to `keras_maskspec.training.finetune`:

>>> from keras_maskspec.recipes import get_recipe
>>> recipe = get_recipe("esc50")
>>> recipe.default_config().clip_seconds
5.0
>>> sorted(RECIPES)
['audioset', 'dcase2019_task1a', 'esc50', 'openmic2018', 'speechcommands']

`recipe.finetune(data, init=None, out=None, smoke=False, **overrides)` and
`recipe.evaluate(model, data, probe=None, **overrides)` return metric dicts;
`recipes/<name>/train.py` is the command-line front door.
"""

from keras_maskspec.recipes.audioset import AudioSet
from keras_maskspec.recipes.audioset import read_audioset
from keras_maskspec.recipes.audioset import read_segments
from keras_maskspec.recipes.base import Recipe
from keras_maskspec.recipes.dcase2019_task1a import DCASE2019Task1A
from keras_maskspec.recipes.dcase2019_task1a import read_dcase2019_task1a
from keras_maskspec.recipes.esc50 import ESC50
from keras_maskspec.recipes.esc50 import read_esc50
from keras_maskspec.recipes.layout import ClipSet
from keras_maskspec.recipes.layout import LayoutError
from keras_maskspec.recipes.openmic2018 import OpenMIC2018
from keras_maskspec.recipes.openmic2018 import read_openmic2018
from keras_maskspec.recipes.speechcommands import SpeechCommands
from keras_maskspec.recipes.speechcommands import read_speech_commands

RECIPES = {
    recipe.name: recipe
    for recipe in (
        AudioSet(),
        ESC50(),
        SpeechCommands(),
        DCASE2019Task1A(),
        OpenMIC2018(),
    )
}


def get_recipe(name):
    """The recipe registered under `name`.

    Args:
        name: str. One of `RECIPES` (`"audioset"`, `"esc50"`,
            `"speechcommands"`, `"dcase2019_task1a"`, `"openmic2018"`).

    Returns:
        A `Recipe`.

    Examples:
    >>> get_recipe("openmic2018").metric
    'map'
    >>> get_recipe("esc-50")
    Traceback (most recent call last):
    ...
    ValueError: Unknown recipe. Available: [...]. Received: name='esc-50'
    """
    if name not in RECIPES:
        raise ValueError(
            f"Unknown recipe. Available: {sorted(RECIPES)}. "
            f"Received: name={name!r}"
        )
    return RECIPES[name]


__all__ = [
    "RECIPES",
    "AudioSet",
    "ClipSet",
    "DCASE2019Task1A",
    "ESC50",
    "LayoutError",
    "OpenMIC2018",
    "Recipe",
    "SpeechCommands",
    "get_recipe",
    "read_audioset",
    "read_dcase2019_task1a",
    "read_esc50",
    "read_openmic2018",
    "read_segments",
    "read_speech_commands",
]
