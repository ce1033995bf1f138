"""`opentrade update` against a simple repository on 127.0.0.1: a newer release, up to date,
and an index that cannot be reached or does not answer."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

import pytest

from cli.main import main
from tests.plugins.conftest import on_path, write_package

INSTALLED = version("opentrade-terminal")


def json_page(files: list[dict[str, object]]) -> tuple[str, bytes]:
    """PEP 691: what PyPI answers when asked for JSON."""
    document = {"meta": {"api-version": "1.1"}, "name": "opentrade-terminal", "files": files}
    return "application/vnd.pypi.simple.v1+json", json.dumps(document).encode()


def html_page(links: list[str]) -> tuple[str, bytes]:
    """PEP 503: the HTML page an index without JSON serves."""
    anchors = "".join(f'<a href="../../files/{name}#sha256=00"{extra}>{name}</a><br/>\n' for name, extra in
                      (link.split("|") if "|" in link else (link, "") for link in links))
    return "text/html", f"<!DOCTYPE html><html><body>\n{anchors}</body></html>".encode()


@pytest.fixture
def index() -> Iterator[tuple[str, dict[str, tuple[str, bytes]]]]:
    """A simple repository on 127.0.0.1: tests fill ``pages`` (project -> content type, body);
    other projects are not found (404), as on PyPI."""
    pages: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            project = self.path.strip("/").split("/")[-1]
            found = pages.get(project)
            if found is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", found[0])
            self.end_headers()
            self.wfile.write(found[1])

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/", pages
    finally:
        server.shutdown()
        server.server_close()


def update(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Mapping[str, object], str]:
    code = main(["update", *args, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def project(report: Mapping[str, object]) -> Mapping[str, object]:
    packages = report["packages"]
    assert isinstance(packages, list)
    return next(p for p in packages if p["package"] == "opentrade-terminal")


def test_a_newer_release_is_found_through_the_json_api(index: tuple[str, dict[str, tuple[str, bytes]]],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    url, pages = index
    pages["opentrade-terminal"] = json_page([
        {"filename": f"opentrade_terminal-{INSTALLED}-py3-none-any.whl"},
        {"filename": "opentrade_terminal-9.1.0.tar.gz"},
        {"filename": "opentrade_terminal-9.2.0-py3-none-any.whl", "yanked": "broken build"},
        {"filename": "opentrade_terminal-10.0.0rc1-py3-none-any.whl"},
        {"filename": "other_project-99.0-py3-none-any.whl"},
    ])
    code, report, _ = update(capsys, "--index-url", url)
    assert code == 0 and report["error"] is None
    assert project(report) == {"package": "opentrade-terminal", "installed": INSTALLED, "latest": "9.1.0",
                               "status": "update available"}
    code, report, _ = update(capsys, "--index-url", url, "--pre")
    assert project(report)["latest"] == "10.0.0rc1"
    assert main(["update", "--index-url", url]) == 0
    out = capsys.readouterr().out
    assert f"opentrade-terminal  {INSTALLED:<10} 9.1.0      update available (pip install --upgrade opentrade-terminal)" in out
    assert f"checked {url}" in out


def test_up_to_date_through_the_html_page_and_pip_index_url(index: tuple[str, dict[str, tuple[str, bytes]]],
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    url, pages = index
    pages["opentrade-terminal"] = html_page([
        "opentrade_terminal-0.0.9.tar.gz", f"opentrade_terminal-{INSTALLED}.tar.gz",
        'opentrade_terminal-9.0.0.tar.gz| data-yanked="withdrawn"',
    ])
    monkeypatch.setenv("PIP_INDEX_URL", url.rstrip("/"))
    code, report, _ = update(capsys)
    assert code == 0 and report["index"] == url
    assert project(report) == {"package": "opentrade-terminal", "installed": INSTALLED, "latest": INSTALLED,
                               "status": "up to date"}
    pages.clear()
    code, report, _ = update(capsys)
    assert code == 0 and project(report)["status"] == "not on the index"


def test_an_index_that_refuses_the_connection(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["update", "--index-url", f"http://127.0.0.1:{port}/simple"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"opentrade update: cannot reach the package index http://127.0.0.1:{port}/simple/: the connection was refused; "
        "nothing was checked (try again online, or give another index with --index-url or PIP_INDEX_URL)\n"
    )


def test_an_index_that_does_not_answer_in_time(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections (the kernel does), never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/simple/"
        code, report, _ = update(capsys, "--index-url", url, "--timeout", "0.3")
    assert code == 1 and project(report)["status"] == "not checked"
    assert report["error"] == (f"cannot reach the package index {url}: no answer within 0.3 s; nothing was checked "
                               "(try again online, or give another index with --index-url or PIP_INDEX_URL)")


def test_an_index_url_that_is_not_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["update", "--index-url", "pypi.org/simple"]) == 2
    assert "expected the http:// or https:// URL of a simple repository" in capsys.readouterr().err


def test_installed_plugins_are_checked_too(index: tuple[str, dict[str, tuple[str, bytes]]], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    url, pages = index
    pages["opentrade-terminal"] = html_page([f"opentrade_terminal-{INSTALLED}.tar.gz"])
    pages["moon-strategies"] = html_page(["moon_strategies-1.0.tar.gz", "Moon_Strategies-1.2-py3-none-any.whl"])
    root = write_package(tmp_path / "site", "Moon_Strategies", {"opentrade.strategies": {"moon": "moon:Moon"}}, {})
    with on_path(root):
        code, report, _ = update(capsys, "--index-url", url)
    assert code == 0 and report["packages"] == [
        {"package": "opentrade-terminal", "installed": INSTALLED, "latest": INSTALLED, "status": "up to date"},
        {"package": "Moon_Strategies", "installed": "1.0", "latest": "1.2", "status": "update available"},
    ]
