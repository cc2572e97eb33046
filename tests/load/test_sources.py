"""Inputs: files, directories, stdin, missing paths."""

from __future__ import annotations

import io

from netpolicy.load import load_manifests
from netpolicy.load.sources import manifest_files

from ._helpers import DATA, of


def test_directory_is_read_recursively_sorted_and_by_extension() -> None:
    files = manifest_files(DATA / "nested")
    assert [f.relative_to(DATA).as_posix() for f in files] == ["nested/sub/c.yaml", "nested/z.yaml"]
    names = [ns.name for ns in load_manifests([DATA / "dir"]).cluster.namespaces]
    assert names == ["a", "b"]  # notes.txt is ignored


def test_missing_path_is_an_error() -> None:
    result = load_manifests([DATA / "nope.yaml", DATA / "dir"])
    [error] = of(result, "error")
    assert error.message == f"{DATA / 'nope.yaml'}: does not exist"
    assert len(result.cluster.namespaces) == 2


def test_directory_without_manifests_is_an_error() -> None:
    [error] = of(load_manifests([DATA / "empty"]), "error")
    assert "recognized file extensions are [.json .yaml .yml]" in error.message


def test_stdin_yaml_and_json() -> None:
    text = "kind: Namespace\nmetadata: {name: fromstdin}\n"
    result = load_manifests(["-"], stdin=io.StringIO(text))
    assert result.cluster.namespaces[0].name == "fromstdin"
    assert result.cluster.namespaces[0].source.file == "<stdin>"
    json_text = '{"kind": "Namespace", "metadata": {"name": "j"}}'
    assert load_manifests(["-"], stdin=io.StringIO(json_text)).cluster.namespaces[0].name == "j"


def test_explicit_file_with_any_extension_is_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "manifest.txt"
    path.write_text("kind: Namespace\nmetadata: {name: t}\n")
    assert load_manifests([path]).cluster.namespaces[0].name == "t"


def test_undecodable_file_is_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    [error] = of(load_manifests([path]), "error")
    assert error.message.startswith("cannot read file")


def test_cluster_name() -> None:
    assert load_manifests([], cluster_name="prod").cluster.name == "prod"
