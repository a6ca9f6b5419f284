"""`python -m ems data ingest --download` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import threading

import duckdb
import pytest

from ems.cli import main
from ems.data.layouts import file_sha256

from conftest import DATA

SERVED = "cossmic_residential5_60min.csv.gz"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the server's access log out of stderr
        pass


@pytest.fixture
def server():
    handler = functools.partial(QuietHandler, directory=str(DATA))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_sha256_then_ingests(server, tmp_path, capsys):
    db = tmp_path / "dl.duckdb"
    sha = file_sha256(DATA / SERVED)
    code = main(["data", "ingest", "--download", "--url", f"{server}/{SERVED}", "--sha256", sha, "--db", str(db),
                 "--set", f"paths.output_dir={tmp_path}"])
    assert code == 0
    assert (tmp_path / "downloads" / SERVED).read_bytes() == (DATA / SERVED).read_bytes()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT building FROM buildings").fetchall() == [("residential5",)]
    assert "ingested 1 building(s) [residential5]" in capsys.readouterr().out


def test_download_with_wrong_sha256_keeps_nothing(server, tmp_path, capsys):
    db = tmp_path / "dl.duckdb"
    code = main(["data", "ingest", "--download", "--url", f"{server}/{SERVED}", "--sha256", "0" * 64,
                 "--db", str(db), "--set", f"paths.output_dir={tmp_path}"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{SERVED}: SHA-256 {file_sha256(DATA / SERVED)} does not match data.download.sha256 {'0' * 64}" in err
    assert list((tmp_path / "downloads").iterdir()) == []
    assert not db.exists()


def test_download_of_a_missing_file_is_a_one_line_error(server, tmp_path, capsys):
    code = main(["data", "ingest", "--download", "--url", f"{server}/nope.csv", "--sha256", "0" * 64,
                 "--set", f"paths.output_dir={tmp_path}"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: http://127.0.0.1:") and "nope.csv: download failed (HTTP Error 404" in err
