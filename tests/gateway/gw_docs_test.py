"""gw_docs_test.py - /docs renders in headless Chromium (Debian's package) from
the gateway's local Swagger UI files: a screenshot is taken, and the rendered
page shows the API title and every path of the OpenAPI document."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import gwt

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,4000",
         "--virtual-time-budget=15000"]
OUT = os.environ.get("GW_DOCS_SHOT", os.path.join(tempfile.gettempdir(), "amlrisk-docs.png"))


def chromium(url, *args):
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url],
                              capture_output=True, timeout=120)


class DocsTest(unittest.TestCase):
    def test_docs_render(self):
        with open(os.path.join(gwt.SRC, "gateway", "openapi.json")) as f:
            doc = json.load(f)
        with gwt.Gateway() as gw:
            dom = chromium(gw.url + "/docs", "--dump-dom").stdout.decode("utf-8", "replace")
            shot = chromium(gw.url + "/docs", f"--screenshot={OUT}")
        self.assertEqual(shot.returncode, 0, shot.stderr[-2000:])
        with open(OUT, "rb") as f:
            png = f.read()
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        self.assertGreater(len(png), 20000, "screenshot looks blank")
        # Swagger UI rendered the document: the title, and one block per path
        self.assertIn(doc["info"]["title"], dom)
        self.assertIn('class="swagger-ui"', dom)
        rendered = set(re.findall(r'data-path="([^"]+)"', dom))
        self.assertEqual(rendered, set(doc["paths"]), "paths shown on /docs")
        print(f"screenshot: {OUT} ({len(png)} bytes)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
