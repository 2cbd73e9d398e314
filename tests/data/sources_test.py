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


def test_awkward_names_are_taken_literally(tmp_path):
    names = ["take [1].wav", "with space.flac", "été ♪ 音.wav", "#hash.wav"]
    paths = [_touch(tmp_path / "odd" / n) for n in names]
    # A path that exists is not a glob pattern, even with `[ ]` in it.
    assert sources.resolve_sources(paths[0]) == ("files", [paths[0]])
    # In a folder, every name is a file (`#` starts no comment there).
    _, found = sources.resolve_sources(str(tmp_path / "odd"))
    assert sorted(found) == sorted(paths)
    # In a .txt manifest `#` starts a comment; `./#...` lists such a file.
    manifest = tmp_path / "odd" / "list.txt"
    manifest.write_text(
        "\ufeff# my clips\n\n  take [1].wav  \r\n./#hash.wav\n#hash.wav\n"
        "été ♪ 音.wav\n",
        encoding="utf-8",
    )
    _, listed = sources.resolve_sources(str(manifest))
    assert listed == [paths[0], paths[3], paths[2]]
    csv_manifest = tmp_path / "odd" / "list.csv"
    csv_manifest.write_text("path\n#hash.wav\nwith space.flac\n")
    assert sources.read_manifest(str(csv_manifest))[0] == [paths[3], paths[1]]


def test_symlink_loops_neither_hang_nor_repeat(tmp_path):
    root = tmp_path / "root"
    a = _touch(root / "a.wav")
    b = _touch(root / "sub" / "b.wav")
    os.symlink(root, root / "sub" / "loop")  # sub/loop -> root
    os.symlink(root / "sub", root / "again")  # a second name for sub
    os.symlink(root / "a.wav", root / "sub" / "alias.wav")
    _, found = sources.resolve_sources(str(root))
    assert len(found) == 2
    assert sorted(os.path.realpath(p) for p in found) == sorted([a, b])


def test_undecodable_manifest_names_the_file(tmp_path):
    manifest = tmp_path / "latin1.txt"
    manifest.write_bytes("caf\xe9.wav\n".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt"):
        sources.read_manifest(str(manifest))
