"""gwt.py - helpers of the gateway's Python tests: free ports, starting
build/bin/amlrisk-gateway until it answers, and plain HTTP GETs (urllib).
A missing binary or tool fails the test; nothing here skips."""
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

BIN = os.environ.get("AMLRISK_BIN", "build/bin")
SRC = os.environ.get("AMLRISK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=30):
    """(status, headers, body bytes) of GET url; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Gateway:
    """amlrisk-gateway on a free port; rpc_url defaults to a port nobody serves."""

    def __init__(self, rpc_url=None, env=None, log=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rpc_url = rpc_url or f"tcp://127.0.0.1:{free_port()}"
        self.log = open(log or os.devnull, "ab")
        full_env = dict(os.environ, **(env or {}))
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "amlrisk-gateway"), "--listen", f"127.0.0.1:{self.port}",
             "--rpc-url", rpc_url], env=full_env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"amlrisk-gateway exited with {self.proc.returncode}")
            try:
                if get(self.url + "/openapi.json", timeout=2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("amlrisk-gateway did not answer within 10 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
