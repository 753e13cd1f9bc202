"""The QR code really scans back to the URL: terminal text, coloured terminal cells, PNG.

Decoding uses zxing-cpp (a real QR reader), so a wrong module layout cannot pass.
"""

from __future__ import annotations

from pathlib import Path

import png
import pytest
import zxingcpp

from tests.gateway_proc import running_gateway
from tubedemo.audience.audience_url import (
    discovered,
    from_ingress,
    from_service,
    phones_cannot_reach,
)
from tubedemo.audience.qr import QrError, half_block_lines, half_block_text, qr_matrix, write_png

from .conftest import Tubedemo

URL = "https://tube.example.org/?talk=kubecon-2026"


def _scan(grid: list[list[bool]], scale: int = 4) -> list[str]:
    """Decode a grid of modules (True = dark) with a real QR reader."""
    height, width = len(grid) * scale, len(grid[0]) * scale
    pixels = bytearray(width * height)
    for y in range(height):
        row = grid[y // scale]
        for x in range(width):
            pixels[y * width + x] = 0 if row[x // scale] else 255
    data = bytes(pixels)
    view = zxingcpp.ImageView(data, width, height, zxingcpp.ImageFormat.Lum)
    return [b.text for b in zxingcpp.read_barcodes(view)]


def _grid_from_text(lines: list[str]) -> list[list[bool]]:
    """Undo the half-block packing: each character is a top and a bottom module."""
    top = {" ": False, "▄": False, "▀": True, "█": True}
    bottom = {" ": False, "▀": False, "▄": True, "█": True}
    grid: list[list[bool]] = []
    for line in lines:
        grid.append([top[c] for c in line])
        grid.append([bottom[c] for c in line])
    return grid


def test_terminal_text_scans_back_to_the_url() -> None:
    lines = half_block_lines(qr_matrix(URL))
    assert len({len(line) for line in lines}) == 1
    # Two module rows per text row: about square on a terminal's 1:2 cells.
    assert len(lines) == (len(lines[0]) + 1) // 2
    # The scanner needs a quiet zone; the terminal's own background is not guaranteed.
    assert _scan(_grid_from_text(lines)) == [URL]


def test_coloured_terminal_cells_scan_back_to_the_url() -> None:
    text = half_block_text(qr_matrix(URL))
    grid: list[list[bool]] = []
    top_row: list[bool] = []
    bottom_row: list[bool] = []
    for span_text, style in ((text.plain[s.start : s.end], s.style) for s in text.spans):
        assert span_text == "▀"
        assert not isinstance(style, str) and style.color and style.bgcolor
        top_row.append(style.color.name == "black")
        bottom_row.append(style.bgcolor.name == "black")
        if len(top_row) == len(text.plain.split("\n")[0]):
            grid += [top_row, bottom_row]
            top_row, bottom_row = [], []
    assert _scan(grid) == [URL]


def test_png_for_the_slides_scans_back_to_the_url(tmp_path: Path) -> None:
    target = write_png(URL, tmp_path / "qr.png")
    width, height, rows, info = png.Reader(filename=str(target)).asDirect()
    pixels = [list(r) for r in rows]
    planes = len(pixels[0]) // width
    white = 2 ** info["bitdepth"] - 1
    grid = [[row[x * planes] * 2 < white for x in range(width)] for row in pixels]
    assert width == height >= 400  # big enough for a 4K slide without upscaling
    assert _scan(grid, scale=1) == [URL]
    assert [p.name for p in tmp_path.iterdir()] == ["qr.png"]  # no temp file left behind


def test_png_into_a_missing_folder_makes_the_folder(tmp_path: Path) -> None:
    written = write_png(URL, tmp_path / "slides" / "deck" / "qr.png")
    assert written.is_file()


def test_png_where_a_file_stands_in_for_the_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "slides").write_text("not a folder")
    with pytest.raises(QrError, match="cannot write"):
        write_png(URL, tmp_path / "slides" / "qr.png")


def test_qr_command_encodes_the_demo_yaml_url(tubedemo: Tubedemo, tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    (cwd / "demo.yaml").write_text(f"talk:\n  audience_url: {URL}\n")
    run = tubedemo("qr", "--png", str(tmp_path / "slide.png"))
    assert run.code == 0, run.err
    lines = [line for line in run.out.splitlines() if line and set(line) <= set(" ▀▄█")]
    assert _scan(_grid_from_text(lines)) == [URL]
    assert f"{URL}  (from talk.audience_url)" in run.out
    assert (tmp_path / "slide.png").is_file()


@pytest.mark.integration
def test_qr_command_asks_a_rehearsal_gateway_for_its_address(
    tubedemo: Tubedemo, tmp_path: Path
) -> None:
    with running_gateway(tmp_path / "store", audience_url="http://192.0.2.10:8080/") as gw:
        run = tubedemo("qr", "--gateway-url", gw.url)
    assert run.code == 0, run.err
    lines = [line for line in run.out.splitlines() if line and set(line) <= set(" ▀▄█")]
    assert _scan(_grid_from_text(lines)) == ["http://192.0.2.10:8080/"]


@pytest.mark.integration
def test_a_rehearsals_lan_address_beats_a_localhost_audience_url_in_demo_yaml(
    tubedemo: Tubedemo, tmp_path: Path
) -> None:
    # `init --profile local` writes the port-forward's http://localhost:8080; phones cannot
    # open it, so the address the rehearsal's gateway advertises goes on the code.
    (tmp_path / "cwd" / "demo.yaml").write_text("talk:\n  audience_url: http://localhost:8080\n")
    with running_gateway(tmp_path / "store", audience_url="http://192.0.2.10:8080/") as gw:
        run = tubedemo("qr", "--gateway-url", gw.url)
    assert run.code == 0, run.err
    lines = [line for line in run.out.splitlines() if line and set(line) <= set(" ▀▄█")]
    assert _scan(_grid_from_text(lines)) == ["http://192.0.2.10:8080/"]
    assert "http://192.0.2.10:8080/  (from the gateway's /config)" in run.out
    assert "warning" not in run.err
    # a gateway that only knows a localhost address itself: demo.yaml's stays, with its warning
    with running_gateway(tmp_path / "store2", audience_url="http://127.0.0.1:8080/") as gw:
        local = tubedemo("qr", "--gateway-url", gw.url)
    assert local.code == 0, local.err
    assert "http://localhost:8080  (from talk.audience_url)" in local.out
    assert "phones cannot open a localhost address" in local.err


def test_qr_command_writes_its_png_into_a_relative_folder_it_makes(
    tubedemo: Tubedemo, tmp_path: Path
) -> None:
    run = tubedemo("qr", "--url", URL, "--png", "slides/qr.png")
    assert run.code == 0, run.err
    assert (tmp_path / "cwd" / "slides" / "qr.png").is_file()


def test_qr_command_with_a_file_in_place_of_the_png_folder_fails_in_one_line(
    tubedemo: Tubedemo, tmp_path: Path
) -> None:
    (tmp_path / "taken").write_text("a file")
    run = tubedemo("qr", "--url", URL, "--png", str(tmp_path / "taken" / "qr.png"))
    assert run.code != 0
    assert len(run.err_lines) == 1 and "cannot write" in run.err


# -- where the URL comes from after `up` (pure) -------------------------------------------


def _ingress(status: list[dict[str, str]], **spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "gateway", "annotations": spec.pop("annotations", {})},
        "spec": {"rules": [{"http": {}}], **spec},
        "status": {"loadBalancer": {"ingress": status}},
    }


def test_ingress_without_an_address_yet_gives_nothing() -> None:
    assert from_ingress(_ingress([])) is None
    assert discovered(_ingress([]), None) is None


def test_ingress_alb_host_name_becomes_the_url() -> None:
    ingress = _ingress([{"hostname": "k8s-tubedemo-abc.us-west-2.elb.amazonaws.com"}])
    assert from_ingress(ingress) == "http://k8s-tubedemo-abc.us-west-2.elb.amazonaws.com/"


def test_ingress_with_a_certificate_and_host_is_https_on_that_host() -> None:
    ingress = _ingress(
        [{"hostname": "k8s-x.elb.amazonaws.com"}],
        rules=[{"host": "tube.example.org", "http": {}}],
        annotations={"alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:cert"},
    )
    assert from_ingress(ingress) == "https://tube.example.org/"


def test_the_cloudfront_name_up_put_on_the_ingress_wins_over_the_albs_own() -> None:
    ingress = _ingress(
        [{"hostname": "k8s-x.elb.amazonaws.com"}],
        annotations={"tubedemo.io/audience-url": "https://d111111abcdef8.cloudfront.net/"},
    )
    assert from_ingress(ingress) == "https://d111111abcdef8.cloudfront.net/"


def test_load_balancer_service_is_used_when_there_is_no_ingress() -> None:
    service = {
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 8080}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}},
    }
    assert from_service(service) == "http://203.0.113.7:8080/"
    assert discovered(None, service) == "http://203.0.113.7:8080/"


def test_cluster_ip_service_has_no_public_url() -> None:
    assert from_service({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}}) is None


def test_an_empty_url_is_refused() -> None:
    with pytest.raises(QrError, match="empty"):
        qr_matrix("")


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8080/", True),
        ("http://127.0.0.1:8080", True),
        ("http://[::1]:8080/", True),
        ("http://192.168.1.20:8080/", False),
        ("https://tube.example.org/", False),
    ],
)
def test_a_localhost_url_is_flagged_as_unreachable_for_phones(url: str, local: bool) -> None:
    assert phones_cannot_reach(url) is local
