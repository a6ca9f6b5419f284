"""The service's request-size limit: a body over ``max_bytes`` is refused with 413 before it is parsed.

Declared lengths (``Content-Length``) are checked up front; a chunked body is
counted as it arrives and refused once it passes the limit. Either way the rest
of the body is read and dropped (up to ``DRAIN_FACTOR`` times the limit) so
that a client still sending sees the 413 instead of a broken pipe.
"""

from __future__ import annotations

import json
from typing import Any

#: Default of ``service.max_body_bytes``: a 1,000-step request with ten devices and their PMFs is ~0.3 MB.
DEFAULT_MAX_BODY_BYTES = 2_000_000


#: A body over the limit is still read (and dropped) up to this multiple of it before the 413 is sent.
DRAIN_FACTOR = 8


class BodyLimit:
    """ASGI middleware: 413 with a one-line ``detail`` for a request body over ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._drain(receive)
            await self._refuse(send, f"{int(declared)} bytes")
            return
        chunks, received = [], 0
        while True:  # read the whole body first (FastAPI would hold it in memory anyway)
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_bytes:
                await self._drain(receive)
                await self._refuse(send, f"{received} bytes or more")
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _drain(self, receive: Any) -> None:
        """Read (and drop) the rest of the body, up to DRAIN_FACTOR x the limit, so that the client,
        still sending, can read the answer instead of seeing a broken pipe."""
        left = DRAIN_FACTOR * self.max_bytes
        while left > 0:
            message = await receive()
            if message["type"] != "http.request":
                return
            left -= len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _refuse(self, send: Any, size: str) -> None:
        body = json.dumps({"detail": f"request body: {size}, over the limit of {self.max_bytes} bytes "
                                     f"(service.max_body_bytes)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
