"""Answers of any size: rows made on demand agree with the pairs, and output is written in
bounded chunks that survive a closed pipe and report a failed write."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import typer
from hypothesis import HealthCheck, given, settings

from netpolicy.analysis.connectivity import compute_connectivity
from netpolicy.analysis.connlist import ConnectionRows, endpoint_name
from netpolicy.cli._common import CHUNK, CLOSED_PIPE, THREADED_AFTER, write_chunks
from netpolicy.model import Cluster
from netpolicy.render.connlist import connlist_chunks
from netpolicy.semantics import ConnectionSet
from tests.cli._helpers import DEMO, env
from tests.strategies import clusters


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters())
def test_rows_list_exactly_the_pairs_of_the_engine(cluster: Cluster) -> None:
    result = compute_connectivity(cluster)
    expected: dict[tuple[str, str], ConnectionSet] = {}
    for src, dst, conns in result.pod_pairs():
        key = (endpoint_name(src, False), endpoint_name(dst, False))
        if key[0] != key[1]:
            expected[key] = expected.get(key, ConnectionSet.none()) | conns
    rows = ConnectionRows(result)
    got = {(c.src, c.dst): c.connections for c in rows.connections()}
    assert got == expected
    # and in (src, dst) order, as the contract lists them
    listed = [(c.src, c.dst) for c in ConnectionRows(result).connections()]
    assert listed == sorted(listed)


class Recorder(io.RawIOBase):
    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
        self.sizes.append(len(b))
        self.data += b
        return len(b)


def test_no_write_is_larger_than_a_chunk() -> None:
    text = ["x" * (3 * CHUNK + 17), "é" * CHUNK, "tail\n"]
    stream = Recorder()
    write_chunks(iter(text), stream)  # type: ignore[arg-type]
    assert max(stream.sizes) <= CHUNK
    assert stream.data.decode() == "".join(text)


def test_a_long_output_goes_out_whole_in_order_from_the_writer_thread() -> None:
    # past THREADED_AFTER the writes come from a second thread: still in order, still bounded
    pieces = [bytes([65 + i % 26]) * (CHUNK // 3 + i) for i in range(9 * THREADED_AFTER // CHUNK)]
    stream = Recorder()
    write_chunks(iter(pieces), stream)  # type: ignore[arg-type]
    assert sum(len(p) for p in pieces) > 2 * THREADED_AFTER
    assert max(stream.sizes) <= CHUNK
    assert bytes(stream.data) == b"".join(pieces)


class Failing(Recorder):
    """Accepts `limit` bytes, then fails every write with `error`."""

    def __init__(self, limit: int, error: OSError) -> None:
        super().__init__()
        self.limit, self.error = limit, error

    def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
        if len(self.data) + len(b) > self.limit:
            raise self.error
        return super().write(b)


def _long(chunks: int) -> list[bytes]:
    return [b"x" * CHUNK] * chunks


@pytest.mark.parametrize("limit", [THREADED_AFTER // 2, 2 * THREADED_AFTER])
def test_a_closed_pipe_in_a_long_output_ends_quietly(limit: int) -> None:
    # before and after the writer thread took over
    stream = Failing(limit, BrokenPipeError(32, "Broken pipe"))
    with pytest.raises(typer.Exit) as ended:
        write_chunks(iter(_long(4 * THREADED_AFTER // CHUNK)), stream)  # type: ignore[arg-type]
    assert ended.value.exit_code == CLOSED_PIPE
    assert len(stream.data) <= limit


@pytest.mark.parametrize("limit", [THREADED_AFTER // 2, 2 * THREADED_AFTER])
def test_a_failed_write_in_a_long_output_is_an_error(limit: int) -> None:
    stream = Failing(limit, OSError(28, "No space left on device"))
    with pytest.raises(typer.Exit) as ended:
        write_chunks(iter(_long(4 * THREADED_AFTER // CHUNK)), stream)  # type: ignore[arg-type]
    assert ended.value.exit_code == 2


def test_the_renderer_hands_out_bounded_chunks() -> None:
    from netpolicy import api

    cluster = api.load_demo().cluster
    rows = ConnectionRows(compute_connectivity(cluster))
    chunks = list(connlist_chunks(rows, "json"))
    assert all(len(c) <= 2 * CHUNK for c in chunks)


def _connlist(*args: str, stdout: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "netpolicy", "connlist", str(DEMO), *args],
        stdout=stdout,  # type: ignore[arg-type]
        stderr=subprocess.PIPE,
        env=env(),
    )


@pytest.mark.parametrize("fmt", ["txt", "json", "csv", "md", "dot"])
def test_a_closed_pipe_ends_quietly(fmt: str) -> None:
    proc = _connlist("-o", fmt, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before the first write (`| head -0`)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == CLOSED_PIPE
    assert stderr.decode() == ""


def test_a_failed_write_is_an_error_never_a_short_output() -> None:
    with open("/dev/full", "wb") as full:
        proc = _connlist("-o", "json", stdout=full)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "cannot write the output: No space left on device" in stderr.decode()
    assert "Traceback" not in stderr.decode()


def test_focus_that_matches_nothing_is_an_error() -> None:
    proc = _connlist("--focus", "shop/nothing-here", stdout=subprocess.PIPE)
    out, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert out == b""
    assert "--focus shop/nothing-here matches no pod" in stderr.decode()


@pytest.mark.parametrize(
    "args",
    [
        ["analyze"],
        ["explain", "shop/frontend", "shop/backend", "--port", "8080"],
        ["explain", "shop/frontend", "shop/backend", "--port", "8080", "-o", "json"],
        ["lint"],
        ["coverage"],
        ["blast-radius", "shop/frontend"],
    ],
    ids=lambda args: " ".join(args),
)
def test_every_command_says_when_its_output_cannot_be_written(args: list[str]) -> None:
    """Commands that print through rich or in one piece (not only the streamed ones): a full
    disk is "cannot write the output" and exit 2, not an internal error."""
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "netpolicy", *args],
            stdout=full,
            stderr=subprocess.PIPE,
            env=env(),
            timeout=60,
            check=False,
        )
    stderr = proc.stderr.decode()
    assert proc.returncode == 2, stderr
    assert "cannot write the output: No space left on device" in stderr
    assert "internal error" not in stderr
    assert "Traceback" not in stderr


def test_the_guarded_stdout_is_written_as_text() -> None:
    """A command handing the program's stdout itself (a rich console's file) to
    `write_chunks` gets text written, bytes decoded, as to any text stream."""
    from netpolicy.cli._common import GuardedStdout

    buffer = io.StringIO()
    write_chunks([b"first, ", "then ", "the rest\n"], GuardedStdout(buffer))
    assert buffer.getvalue() == "first, then the rest\n"
