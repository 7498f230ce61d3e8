"""A listener started outside the sandbox that records every connection a sample makes to it:
the proof that a network or socket check can fail."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path


class Listener:
    """Accepts in a thread; `hits` holds what each connection sent, or b"<connected>"."""

    def __init__(self, srv: socket.socket, unix_path: Path | None = None):
        self.srv, self.unix_path = srv, unix_path
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        srv.listen(8)
        srv.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @classmethod
    def tcp(cls) -> Listener:
        return cls(socket.create_server(("127.0.0.1", 0)))

    @classmethod
    def unix(cls, path: Path, mode: int, owner: tuple[int, int] | None = None) -> Listener:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(str(path))
        if owner:
            os.chown(path, *owner)
        path.chmod(mode)
        return cls(srv, path)

    @property
    def port(self) -> int:
        return self.srv.getsockname()[1]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.srv.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.hits.append(conn.recv(100) or b"<connected>")
                except OSError:
                    self.hits.append(b"<connected>")

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.srv.close()
        if self.unix_path:
            self.unix_path.unlink(missing_ok=True)

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
