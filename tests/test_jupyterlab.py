"""JupyterLab as an entry point: the ``junk-dna`` kernel, and a real JupyterLab server on
loopback that opens a notebook through its REST API and executes it on that kernel."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest

from junk_dna.runs.notebook import KERNEL_DISPLAY_NAME, KERNEL_NAME, kernel_spec

ROOT = Path(__file__).resolve().parents[1]
SERVER_START_TIMEOUT_S = 180.0
REPLY_TIMEOUT_S = 180.0


def test_make_setup_installed_the_junk_dna_kernel_of_this_environment() -> None:
    """The kernelspec JupyterLab and ``papermill`` find (installed by ``make setup``) runs
    this interpreter exactly as the sweep's own kernel manager does."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        pytest.fail(f"no kernelspec {KERNEL_NAME!r}: run `make setup` (it runs `python -m "
                    f"ipykernel install --sys-prefix --name {KERNEL_NAME}`)")
    assert Path(spec.resource_dir).is_relative_to(Path(sys.prefix)), spec.resource_dir
    assert spec.argv == kernel_spec()["argv"]
    assert spec.argv[0] == sys.executable
    assert spec.display_name == KERNEL_DISPLAY_NAME


def test_the_sweeps_kernel_manager_knows_only_the_junk_dna_kernel() -> None:
    from jupyter_client.kernelspec import NoSuchKernel

    from junk_dna.runs.notebook import native_kernel_manager_class

    manager = native_kernel_manager_class()(kernel_name=KERNEL_NAME)
    assert manager.kernel_spec.argv == kernel_spec()["argv"]
    with pytest.raises(NoSuchKernel):
        manager.kernel_spec_manager.get_kernel_spec("python3")


def test_every_notebook_runs_on_the_junk_dna_kernel() -> None:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        spec = nbformat.read(path, as_version=4).metadata.kernelspec
        assert (spec.name, spec.display_name) == (KERNEL_NAME, KERNEL_DISPLAY_NAME), path.name


# --------------------------------------------------------------------------- loopback server


@dataclass
class LabServer:
    """A running JupyterLab server: where it listens, its token, its log."""

    url: str
    token: str
    root: Path
    log: Path

    def api(self, method: str, path: str, body: Any = None, timeout: float = 60.0) -> Any:
        """One REST call with the token; the decoded JSON reply (``None`` when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            text = reply.read()
        return json.loads(text) if text else None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def lab_server(tmp_path: Path) -> Iterator[LabServer]:
    """Start ``python -m jupyterlab`` on 127.0.0.1 (random free port, random token, its own
    config, runtime and data folders, root ``tmp_path/root``); wait until ``/api/status``
    answers; always shut it down (REST shutdown, then SIGTERM, then SIGKILL of its group)."""
    root, home = tmp_path / "root", tmp_path / "jupyter"
    root.mkdir()
    port, token = free_port(), secrets.token_hex(24)
    env = {**os.environ,
           # nothing from the user's Jupyter set-up: kernels come from this environment only
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "IPYTHONDIR": str(home / "ipython"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=", "--ServerApp.open_browser=False"]
    if os.geteuid() == 0:  # CI and containers run as root, which jupyter_server refuses
        cmd.append("--allow-root")
    log = tmp_path / "jupyterlab.log"
    server = LabServer(f"http://127.0.0.1:{port}", token, root, log)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyterlab exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                status = server.api("GET", "/api/status", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"jupyterlab did not answer in {SERVER_START_TIMEOUT_S:.0f} s:"
                                f"\n{server.log_tail()}")
                time.sleep(0.5)
        assert "started" in status
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.api("POST", "/api/shutdown", timeout=10)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


class KernelChannel:
    """The kernel's websocket channel (``/api/kernels/<id>/channels``) of a server."""

    def __init__(self, server: LabServer, kernel_id: str) -> None:
        import websocket  # websocket-client (dev dependency)

        self.session = uuid.uuid4().hex
        url = server.url.replace("http://", "ws://")
        self.ws = websocket.create_connection(
            f"{url}/api/kernels/{kernel_id}/channels?session_id={self.session}",
            header=[f"Authorization: token {server.token}"], timeout=REPLY_TIMEOUT_S)

    def close(self) -> None:
        self.ws.close()

    def request(self, msg_type: str, content: dict[str, Any]) -> tuple[dict, list[dict]]:
        """Send one shell request; its reply and the iopub messages it caused (until idle)."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "session": self.session,
                       "username": "test", "version": "5.3",
                       "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "parent_header": {}, "metadata": {}, "content": content, "channel": "shell",
            "buffers": []}))
        reply, iopub, idle = None, [], False
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while reply is None or not idle:
            assert time.monotonic() < deadline, f"no answer to {msg_type} in time"
            msg = json.loads(self.ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["channel"] == "shell":
                reply = msg
            elif msg["channel"] == "iopub":
                if msg["msg_type"] == "status":
                    idle = msg["content"]["execution_state"] == "idle"
                else:
                    iopub.append(msg)
        return reply, iopub

    def execute(self, code: str) -> tuple[str, list[dict]]:
        """Run ``code``; its status and outputs as nbformat output dicts."""
        reply, iopub = self.request("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})
        outputs = [nbformat.v4.output_from_msg(m) for m in iopub
                   if m["msg_type"] in ("stream", "display_data", "execute_result", "error")]
        return reply["content"]["status"], outputs


CELLS = [
    "import sys\nimport junk_dna\nprint(sys.prefix)\nprint(junk_dna.__name__)",
    # tqdm picks the notebook widget bar (ipywidgets present): no "IProgress not found"
    "from tqdm.auto import tqdm\nfrom tqdm.notebook import tqdm_notebook\nbar = tqdm(range(3))\n"
    "print(sum(bar), isinstance(bar, tqdm_notebook))",
    "from junk_dna.experiments.true_gem import TrueGemConfig\nTrueGemConfig().mode",
]


def text_of(outputs: list[dict], stream: str) -> str:
    return "".join(o["text"] for o in outputs
                   if o["output_type"] == "stream" and o["name"] == stream)


@pytest.mark.slow
def test_jupyterlab_on_loopback_executes_a_notebook_on_the_junk_dna_kernel(
        tmp_path: Path) -> None:
    """Start JupyterLab, open a notebook through the REST API (contents, sessions), execute
    its cells over the kernel's websocket channel, save it with its outputs, read it back."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(code) for code in CELLS],
        metadata={"kernelspec": {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY_NAME,
                                 "language": "python"}})
    with lab_server(tmp_path) as server:
        nbformat.write(nb, server.root / "check.ipynb")
        specs = server.api("GET", "/api/kernelspecs")["kernelspecs"]
        assert specs[KERNEL_NAME]["spec"]["argv"] == kernel_spec()["argv"], server.log_tail()

        opened = server.api("GET", "/api/contents/check.ipynb?content=1")
        assert opened["type"] == "notebook"
        name = opened["content"]["metadata"]["kernelspec"]["name"]
        session = server.api("POST", "/api/sessions", {
            "path": "check.ipynb", "name": "check.ipynb", "type": "notebook",
            "kernel": {"name": name}})
        assert session["kernel"]["name"] == KERNEL_NAME
        channel = KernelChannel(server, session["kernel"]["id"])
        try:
            info, _ = channel.request("kernel_info_request", {})
            assert info["content"]["language_info"]["name"] == "python"
            executed = nbformat.from_dict(opened["content"])
            for cell in executed.cells:
                status, cell.outputs = channel.execute(cell.source)
                assert status == "ok", (cell.source, cell.outputs)
        finally:
            channel.close()
        server.api("PUT", "/api/contents/check.ipynb",
                   {"type": "notebook", "format": "json", "content": executed})
        server.api("DELETE", f"/api/sessions/{session['id']}")
        saved = server.api("GET", "/api/contents/check.ipynb?content=1")["content"]

    first, bar, config = (cell["outputs"] for cell in saved["cells"])
    assert text_of(first, "stdout").split() == [sys.prefix, "junk_dna"]
    assert text_of(bar, "stdout").split() == ["3", "True"]
    assert "IProgress" not in text_of(bar, "stderr")
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in bar)
    assert [o["data"]["text/plain"] for o in config if o["output_type"] == "execute_result"] \
        == ["'sparse'"]
    assert not any(o["output_type"] == "error" for o in first + bar + config)
