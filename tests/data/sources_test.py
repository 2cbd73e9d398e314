import os

import pytest

from keras_maskspec.data import sources


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return str(path)


def test_folder_is_searched_recursively_for_audio(tmp_path):
    for name in ("b/c.FLAC", "a.wav", "b/d.mp3", "readme.md", "e.ogg"):
        _touch(tmp_path / name)
    kind, paths = sources.resolve_sources(str(tmp_path))
    assert kind == "files"
    names = [os.path.relpath(p, tmp_path) for p in paths]
    assert names == ["a.wav", "e.ogg", "b/c.FLAC", "b/d.mp3"]


def test_manifests_resolve_relative_paths(tmp_path):
    _touch(tmp_path / "audio" / "x.wav")
    txt = tmp_path / "list.txt"
    txt.write_text("# comment\n\naudio/x.wav\n/abs/y.flac\n")
    _, paths = sources.resolve_sources(txt)
    assert paths == [str(tmp_path / "audio" / "x.wav"), "/abs/y.flac"]
    csv_path = tmp_path / "list.csv"
    csv_path.write_text("File,label\naudio/x.wav,1\n")
    paths, rows = sources.read_manifest(str(csv_path))
    assert paths == [str(tmp_path / "audio" / "x.wav")]
    assert rows == [{"file": "audio/x.wav", "label": "1"}]


def test_lists_patterns_and_shards(tmp_path):
    a = _touch(tmp_path / "a.wav")
    b = _touch(tmp_path / "b.wav")
    assert sources.resolve_sources([a, b]) == ("files", [a, b])
    assert sources.resolve_sources(str(tmp_path / "*.wav"))[1] == [a, b]
    s = _touch(tmp_path / "s" / "shard-00000-of-00001.tfrecord")
    assert sources.resolve_sources(str(tmp_path / "s" / "*.tfrecord")) == (
        "shards",
        [s],
    )
    with pytest.raises(ValueError, match="not both"):
        sources.resolve_sources([a, s])


def test_missing_and_empty_sources_fail_early_naming_the_path(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=f"source={missing}"):
        sources.resolve_sources(missing)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(ValueError, match="No audio files"):
        sources.resolve_sources(str(empty_dir))
    manifest = tmp_path / "m.txt"
    manifest.write_text("\n# nothing\n")
    with pytest.raises(ValueError, match=f"Manifest is empty.*{manifest}"):
        sources.resolve_sources(str(manifest))
    no_column = tmp_path / "m.csv"
    no_column.write_text("name,label\nx.wav,1\n")
    with pytest.raises(ValueError, match="no path column"):
        sources.resolve_sources(str(no_column))
    with pytest.raises(FileNotFoundError, match="pattern"):
        sources.resolve_sources(str(tmp_path / "*.flac"))
    with pytest.raises(ValueError, match="No sources"):
        sources.resolve_sources([])
