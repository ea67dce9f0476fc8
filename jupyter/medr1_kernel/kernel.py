"""medr1 as a Jupyter language.

The kernel starts `medr1-repl kernel` (the binary named by $MEDR1_REPL, else
`medr1-repl` on the PATH) in the notebook's folder and forwards each request
as one JSON line; the session answers with JSON lines (see
Sources/Runtime/Session/Kernel.swift). Outputs arrive as nbformat outputs
(stream, display_data with text/html, text/plain or image/png, error) and
are published as they come; a progress display (training steps, evaluation)
carries a display_id and is updated in place with update_display_data. An interrupt reaches this process as
KeyboardInterrupt and is passed on to the session as one SIGINT, which
behaves as Ctrl-C in the terminal: the first stops after the current
training step, a second aborts the step.
"""

import json
import os
import shutil
import signal
import subprocess

from ipykernel.kernelbase import Kernel

from . import __version__


def _binary():
    path = os.environ.get("MEDR1_REPL") or shutil.which("medr1-repl")
    if not path:
        raise RuntimeError("medr1-repl not found: set MEDR1_REPL to the built binary "
                           "(scripts/jupyter-kernel does) or put it on the PATH")
    return path


class Medr1Kernel(Kernel):
    implementation = "medr1"
    implementation_version = __version__
    language = "medr1"
    language_version = __version__
    language_info = {
        "name": "medr1",
        "mimetype": "text/x-medr1",
        "file_extension": ".medr1",
        "codemirror_mode": "python",
    }
    banner = "medr1: GRPO on a tiny vision-language model"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._next_id = 0
        # Its own session: a signal sent to this kernel's process group does
        # not reach it twice; interrupts are forwarded one at a time.
        self._proc = subprocess.Popen(
            [_binary(), "kernel"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=None, text=True, encoding="utf-8", bufsize=1, start_new_session=True)

    def _request(self, message):
        """Sends a request; yields the session's replies to it, the last one included."""
        self._next_id += 1
        message["id"] = self._next_id
        self._proc.stdin.write(json.dumps(message) + "\n")
        self._proc.stdin.flush()
        while True:
            try:
                line = self._proc.stdout.readline()
            except KeyboardInterrupt:
                self._proc.send_signal(signal.SIGINT)
                continue
            if not line:
                raise RuntimeError("medr1-repl kernel ended (exit status %s)" % self._proc.poll())
            reply = json.loads(line)
            if reply.get("id") != self._next_id:
                continue
            yield reply
            if reply["type"] != "output":
                return

    def do_execute(self, code, silent, store_history=True, user_expressions=None, allow_stdin=False):
        error = None
        done = {}
        for reply in self._request({"type": "execute", "code": code}):
            if reply["type"] == "output":
                output = reply["output"]
                kind = output["output_type"]
                if kind == "error":
                    error = output
                if silent:
                    continue
                if kind == "stream":
                    self.send_response(self.iopub_socket, "stream",
                                       {"name": output["name"], "text": "".join(output["text"])})
                elif kind == "display_data":
                    data = {k: "".join(v) for k, v in output["data"].items()}
                    content = {"data": data, "metadata": output.get("metadata", {})}
                    # A progress display: shown once, then updated in place.
                    if "display_id" in reply:
                        content["transient"] = {"display_id": reply["display_id"]}
                    self.send_response(self.iopub_socket,
                                       "update_display_data" if reply.get("update") else "display_data", content)
                elif kind == "error":
                    self.send_response(self.iopub_socket, "error", {
                        "ename": output["ename"], "evalue": output["evalue"], "traceback": output["traceback"]})
            else:
                done = reply
        if error is not None or not done.get("ok", False):
            error = error or {"ename": "Error", "evalue": "the cell failed", "traceback": []}
            return {"status": "error", "execution_count": self.execution_count,
                    "ename": error["ename"], "evalue": error["evalue"], "traceback": error["traceback"]}
        return {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}

    def do_complete(self, code, cursor_pos):
        reply = list(self._request({"type": "complete", "code": code, "cursor": cursor_pos}))[-1]
        return {"status": "ok", "matches": reply.get("matches", []),
                "cursor_start": reply.get("cursor_start", cursor_pos),
                "cursor_end": reply.get("cursor_end", cursor_pos), "metadata": {}}

    def do_inspect(self, code, cursor_pos, detail_level=0, omit_sections=()):
        reply = list(self._request({"type": "inspect", "code": code, "cursor": cursor_pos}))[-1]
        found = reply.get("found", False)
        return {"status": "ok", "found": found,
                "data": {"text/plain": reply["text"]} if found else {}, "metadata": {}}

    def do_shutdown(self, restart):
        try:
            list(self._request({"type": "shutdown"}))
        except Exception:
            pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
        return {"status": "ok", "restart": restart}
