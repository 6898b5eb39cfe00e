"""Run ogctests' features/filtering classes (0.1.15) against a server: `python ogctests_filtering.py URL JUNIT`.

Two helpers of the suite are corrected here, so that its queryables tests can reach the server at all
(layers/README.md names them): `utils.parse_link_header` keeps the quotes RFC 8288 requires around a URI
`rel` and never sets `href` (so test_ct2 can find no Link header link, whatever the server sends), and
test_ct2 hands test_ct3 a list of hrefs where test_ct3 requests one URL (a TypeError for every server).
The wrong tests that remain are deselected by the caller (WRONG_FILTERING_TESTS in test_ogc_interop.py).
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import ogctests
import ogctests.features.filtering.utils as utils
import pytest
from ogctests.main import ClientOverridePlugin

LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,=\s]+\s*=\s*(?:"[^"]*"|[^;,]*))*)')
PARAM = re.compile(r';\s*([^;,=\s]+)\s*=\s*("[^"]*"|[^;,]*)')


def parse_link_header(raw: str) -> list[dict]:
    """RFC 8288 Link header → [{"href", "rel", "type", …}] with quoted values unquoted."""
    links = []
    for m in LINK.finditer(raw or ""):
        link = {"href": m.group(1)}
        link.update({k: v.strip().strip('"') for k, v in PARAM.findall(m.group(2))})
        links.append(link)
    return links


class HandOffQueryablesUri:
    """After test_ct2: each resource's queryables URI as the one URL test_ct3 requests."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        yield
        if item.name == "test_ct2":
            for resource in item.funcargs["filterable_resources"]:
                if isinstance(resource.get("queryables_uri"), list):
                    resource["queryables_uri"] = resource["queryables_uri"][0]


if __name__ == "__main__":
    url, junit, *deselect = sys.argv[1:]
    utils.parse_link_header = parse_link_header   # before the test modules import it
    os.environ["INSTANCE_URL"] = url
    folder = Path(ogctests.__file__).parent / "features" / "filtering"
    args = [str(folder), "-q", "-p", "no:cacheprovider", "--junitxml", junit]
    if deselect:
        args += ["-k", " and ".join(f"not {name}" for name in deselect)]
    sys.exit(pytest.main(args, plugins=[ClientOverridePlugin(None), HandOffQueryablesUri()]))
