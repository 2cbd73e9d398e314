import os
import shutil

import numpy as np
import pytest

from keras_maskspec import recipes
from keras_maskspec.recipes import LayoutError
from keras_maskspec.recipes import audioset
from tests.recipes import fake_layouts


def test_esc50_layout(tmp_path):
    root = fake_layouts.make_esc50(str(tmp_path))
    clips, folds = recipes.read_esc50(root)
    assert len(clips) == 10 and clips.num_classes == 50
    assert sorted(set(folds.tolist())) == [1, 2, 3, 4, 5]
    assert clips.class_names[:3] == ["dog", "rooster", "pig"]
    assert all(os.path.isfile(f) for f in clips.files)
    os.remove(clips.files[0])
    assert recipes.read_esc50(root)[0].missing == 1
    runs = list(recipes.get_recipe("esc50").runs(root, {"folds": [1, 3]}))
    assert [r[0] for r in runs] == ["fold1", "fold3"]
    train, test = runs[1][1], runs[1][2]
    assert len(test) == 2 and not set(train.files) & set(test.files)


def test_speechcommands_layout(tmp_path):
    root = fake_layouts.make_speechcommands(str(tmp_path))
    splits = recipes.read_speech_commands(root)
    assert splits["train"].class_names == ["down", "go", "yes"]
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [
        6,
        3,
        3,
    ]
    assert not set(splits["train"].files) & set(splits["test"].files)
    assert splits["test"].keys[0] == "down/3bfd30e6_nohash_0.wav"
    assert len(splits["background_noise"]) == 1
    assert "_background_noise_" not in splits["train"].class_names


def test_dcase_layout(tmp_path):
    root = fake_layouts.make_dcase2019(str(tmp_path))
    splits = recipes.read_dcase2019_task1a(root)
    assert len(splits["train"]) == 6 and len(splits["evaluate"]) == 6
    assert splits["train"].num_classes == 10
    assert set(splits["train"].labels.tolist()) == {0, 1, 4}  # airport/bus/park


def test_dcase_comma_separated_is_a_clear_error(tmp_path):
    root = fake_layouts.make_dcase2019(str(tmp_path))
    path = os.path.join(root, "evaluation_setup", "fold1_train.csv")
    with open(path) as f:
        text = f.read().replace("\t", ",")
    with open(path, "w") as f:
        f.write(text)
    with pytest.raises(LayoutError, match="tab-separated"):
        recipes.read_dcase2019_task1a(root)


def test_openmic_layout(tmp_path):
    root = fake_layouts.make_openmic2018(str(tmp_path))
    parts = recipes.read_openmic2018(root)
    train, test = parts["train"], parts["test"]
    assert len(train) == 6 and len(test) == 2 and train.num_classes == 20
    assert train.class_names[9] == "mallet_percussion"
    mask = parts["y_mask"]["train"]
    # Unknown -> -1; known -> y_true >= 0.5.
    np.testing.assert_array_equal(train.labels < 0, ~mask)
    expected = (parts["y_true"]["train"] >= 0.5).astype(np.float32)
    np.testing.assert_array_equal(train.labels[mask], expected[mask])
    assert train.files[0].endswith(
        os.path.join("audio", "000", "000100_3840.ogg")
    )


def test_audioset_segments_and_naming_conventions(tmp_path):
    root, expected = fake_layouts.make_audioset(str(tmp_path))
    parsed = recipes.read_audioset(root)
    assert parsed["mids"][1] == "/m/05zppz"
    assert parsed["class_names"][1] == "Male speech, man speaking"
    for split, count in expected.items():
        assert len(parsed[split]) == count
        assert parsed[split].missing == 1
        assert all(os.path.isfile(f) for f in parsed[split].files)
    bal = parsed["balanced_train"]
    row = bal.keys.index("-0RWZT-miFs")
    np.testing.assert_array_equal(bal.labels[row], [1, 1, 0, 0])
    assert bal.files[bal.keys.index("a_b_c_d_e_f")].endswith("_10000.flac")
    unb = parsed["unbalanced_train"]
    assert unb.files[unb.keys.index("Yk3mP0o9dXw")].endswith("YYk3mP0o9dXw.wav")


def test_audioset_csvs_at_root_and_separate_audio_dir(tmp_path):
    root, _ = fake_layouts.make_audioset(str(tmp_path))
    flat = tmp_path / "flat"
    flat.mkdir()
    for name in os.listdir(os.path.join(root, "metadata")):
        shutil.copy(os.path.join(root, "metadata", name), flat / name)
    parsed = recipes.read_audioset(str(flat), audio_dir=root, splits=["eval"])
    assert len(parsed["eval"]) == 4


@pytest.mark.parametrize(
    "stem, ytid",
    [
        ("Y-0RWZT-miFs", "-0RWZT-miFs"),
        ("-0RWZT-miFs_420.000_430.000", "-0RWZT-miFs"),
        ("_abcdEFG_ij_30", "_abcdEFG_ij"),
        ("YYk3mP0o9dXw", "Yk3mP0o9dXw"),
        ("Yk3mP0o9dXw_20.000_30.000", "Yk3mP0o9dXw"),
    ],
)
def test_ytid_candidates(stem, ytid):
    assert audioset.ytid_candidates(stem)[0] == ytid


@pytest.mark.parametrize(
    "builder, reader, remove, match",
    [
        ("make_esc50", "read_esc50", "meta/esc50.csv", "meta/esc50.csv"),
        (
            "make_speechcommands",
            "read_speech_commands",
            "testing_list.txt",
            "testing_list.txt",
        ),
        (
            "make_dcase2019",
            "read_dcase2019_task1a",
            "evaluation_setup/fold1_evaluate.csv",
            "fold1_evaluate.csv",
        ),
        (
            "make_openmic2018",
            "read_openmic2018",
            "openmic-2018.npz",
            "openmic-2018.npz",
        ),
        (
            "make_openmic2018",
            "read_openmic2018",
            "partitions/split01_test.csv",
            "split01_test.csv",
        ),
        (
            "make_audioset",
            "read_audioset",
            "metadata/class_labels_indices.csv",
            "class_labels_indices.csv",
        ),
    ],
)
def test_missing_file_errors_name_the_file(
    tmp_path, builder, reader, remove, match
):
    root = getattr(fake_layouts, builder)(str(tmp_path))
    root = root[0] if isinstance(root, tuple) else root
    os.remove(os.path.join(root, *remove.split("/")))
    with pytest.raises(LayoutError, match=match):
        getattr(recipes, reader)(root)


def test_wrong_folder_and_empty_audio_errors(tmp_path):
    with pytest.raises(LayoutError, match="not found"):
        recipes.read_esc50(str(tmp_path / "nope"))
    root = fake_layouts.make_esc50(str(tmp_path))
    shutil.rmtree(os.path.join(root, "audio"))
    with pytest.raises(LayoutError, match="none of the 10 clips"):
        recipes.read_esc50(root)


def test_openmic_npz_without_arrays_is_a_clear_error(tmp_path):
    root = fake_layouts.make_openmic2018(str(tmp_path))
    np.savez(os.path.join(root, "openmic-2018.npz"), X=np.zeros(3))
    with pytest.raises(LayoutError, match="lacks arrays"):
        recipes.read_openmic2018(root)


def test_get_recipe_lists_names():
    with pytest.raises(ValueError, match="esc50"):
        recipes.get_recipe("nope")
    assert set(recipes.RECIPES) == {
        "audioset",
        "esc50",
        "speechcommands",
        "dcase2019_task1a",
        "openmic2018",
    }
