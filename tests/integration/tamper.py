"""A loopback proxy that changes one byte of a request's body on its way to the server.

``with TamperProxy(server.port, offset) as proxy:`` then point a client at
``proxy.url``: the byte at ``offset`` of the first request's body (counted
after the header block) is XOR-ed with 1; everything else passes as is, both
ways.  ``offset`` may be given later (``proxy.offset = n``), or be ``None``
to pass all unchanged.
"""
from __future__ import annotations

import socket
import threading


class TamperProxy:
    def __init__(self, upstream_port: int, offset: int | None = None) -> None:
        self.upstream_port, self.offset = upstream_port, offset
        self.flipped = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.netloc = f"127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._stop = False

    def __enter__(self) -> "TamperProxy":
        self._start(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        # (shutdown, not just close, wakes the threads blocked in accept/recv)
        for sock in [self.listener, *self._sockets]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(5)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, upstream]
            self._start(self._requests, client, upstream)
            self._start(self._pump, upstream, client)

    def _requests(self, source: socket.socket, sink: socket.socket) -> None:
        head = b""
        seen = None  # body bytes passed on so far (None: still in the header block)
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if seen is None:
                    head += data
                    end = head.find(b"\r\n\r\n")
                    if end < 0:
                        continue
                    sink.sendall(head[:end + 4])
                    data, seen = head[end + 4:], 0
                if self.offset is not None and seen <= self.offset < seen + len(data) \
                        and not self.flipped:
                    at = self.offset - seen
                    data = data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
                    self.flipped += 1
                seen += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shut(sink)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _shut(sink)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
