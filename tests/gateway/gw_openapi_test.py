"""gw_openapi_test.py - gateway/openapi.json is a valid OpenAPI 3.1 document
(openapi-spec-validator), lists exactly the routes amlrisk-gateway answers
(its --list-routes table) with the tokens each needs (security and 401 as the
table says: open, read or write), and is what GET /openapi.json serves, byte
for byte."""
import json
import os
import subprocess
import unittest

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError  # noqa: F401

import gwt

DOC = os.path.join(gwt.SRC, "gateway", "openapi.json")
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class OpenApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DOC, "rb") as f:
            cls.raw = f.read()
        cls.doc = json.loads(cls.raw)

    def test_valid_openapi_31(self):
        self.assertEqual(self.doc["openapi"], "3.1.0")
        validate(self.doc)  # raises on any violation

    @staticmethod
    def routes():
        """(METHOD, PATH, ACCESS) of every route the gateway answers."""
        out = subprocess.run([os.path.join(gwt.BIN, "amlrisk-gateway"), "--list-routes"],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(line.split(" ")) for line in out.splitlines() if line]

    def test_routes_match_the_routing_table(self):
        served = {(m, p) for m, p, _ in self.routes()}
        documented = {(m.upper(), p) for p, item in self.doc["paths"].items()
                      for m in item if m in METHODS}
        self.assertEqual(served, documented)

    def test_security_matches_the_routing_table(self):
        schemes = self.doc["components"]["securitySchemes"]
        self.assertEqual(schemes["bearer"]["scheme"], "bearer")
        self.assertEqual(schemes["readBearer"]["scheme"], "bearer")
        want = {"open": None,
                "read": [{"readBearer": []}, {"bearer": []}, {}],
                "write": [{"bearer": []}, {}]}
        for method, path, access in self.routes():
            with self.subTest(route=f"{method} {path}"):
                op = self.doc["paths"][path][method.lower()]
                self.assertIn(access, want)
                self.assertEqual(op.get("security"), want[access])
                self.assertEqual("401" in op["responses"], access != "open")

    def test_every_operation_documents_its_answers(self):
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if method not in METHODS:
                    continue
                with self.subTest(route=f"{method.upper()} {path}"):
                    self.assertIn("operationId", op)
                    self.assertIn("200", op["responses"])
                    self.assertIn("400", op["responses"])  # a malformed query string
                    params = {p["$ref"].rsplit("/", 1)[-1] if "$ref" in p else p["name"]
                              for p in op.get("parameters", [])}
                    for seg in path.split("/"):
                        if seg.startswith("{"):
                            name = seg[1:-1]
                            self.assertTrue(name in params or name.capitalize() in params,
                                            f"path parameter {name} undocumented")
                    if path.startswith(("/scores", "/graph", "/runs")):
                        for code in ("404", "422", "503", "504"):
                            self.assertIn(code, op["responses"])

    def test_served_as_is(self):
        with gwt.Gateway() as gw:
            status, headers, body = gwt.get(gw.url + "/openapi.json")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(body, self.raw)


if __name__ == "__main__":
    unittest.main(verbosity=2)
