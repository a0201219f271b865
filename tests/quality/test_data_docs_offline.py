"""GX Data Docs pages lose every outside asset: CDN files map to the hub's vendored copies, the rest go."""

from __future__ import annotations

from quality.data_docs import external_links, offline_html

GX_HEAD = """<html><head>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link href="https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/dark.css" rel="stylesheet">
<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css">
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" integrity="sha384-x"
 crossorigin="anonymous"></script>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js"></script>
<style>.navbar-brand a { background: url('https://gx-assets.example.com/full_logo_dark.png') }</style>
</head><body><img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1&dataContextId=x">
<a href="https://greatexpectations.io/newsletter">Subscribe</a><a href="../index.html">Home</a></body></html>"""


def test_every_outside_asset_is_vendored_or_removed() -> None:
    page = offline_html(GX_HEAD, "/static/vendor/datadocs/")
    assert external_links(GX_HEAD) and external_links(page) == []
    for local in (
        "css/bootstrap.min.css",
        "css/fontawesome.min.css",
        "js/jquery.min.js",
        "js/bootstrap.bundle.min.js",
        "js/bootstrap-datepicker.min.js",
    ):
        assert f'"/static/vendor/datadocs/{local}"' in page, local
    assert "integrity" not in page and "vega" not in page and "popper" not in page and "dataContextId" not in page
    assert '<a href="../index.html">Home</a>' in page and "<a>Subscribe</a>" in page


def test_every_vendored_file_the_pages_name_is_served_by_the_hub() -> None:
    from pathlib import Path

    import quality.data_docs as docs

    vendor = Path(__file__).resolve().parents[2] / "web" / "static" / "vendor" / "datadocs"
    for _, local in docs._ASSETS:
        if local is not None:
            assert (vendor / local).is_file(), local
