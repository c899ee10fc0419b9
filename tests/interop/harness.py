"""The interop tests' helper process, run *inside* the test's network namespace.

One aiohttp app, served on two sites:

* ``http://127.0.0.1:PORT`` (the namespace's loopback, for Chromium):
  ``GET /`` the page (``page.html``), ``GET /page.js``, ``GET /twilio-video.min.js`` (from
  ``node_modules``); ``POST /report`` appends the page's JSON report to ``REPORTS/<page>.jsonl``;
  ``GET /next?page=ID`` long-polls the next command the test queued for that page;
  ``GET /ws/<page>`` proxies the SDK's signaling WebSocket to confab-server's ``/signaling``
  (so the test can cut it like a network drop).
* a Unix socket (for the test, which lives in the host's namespace; Unix sockets are not
  namespaced): ``POST /ctl/cmd`` {page, do, ...} queues a command, ``POST /ctl/cut`` {page}
  aborts that page's WebSocket (both legs, no close frame), ``POST /ctl/rooms`` creates a
  room through confab-server's REST API (basic auth from its data dir).

Prints ``harness listening on http://127.0.0.1:PORT`` once both sites are up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

HERE = Path(__file__).resolve().parent
SDK = HERE / "node_modules" / "twilio-video" / "dist" / "twilio-video.min.js"
log = logging.getLogger("interop.harness")


class Harness:
    def __init__(self, upstream: str, data_dir: Path, reports: Path) -> None:
        self.upstream = upstream.rstrip("/")
        self.data_dir = data_dir
        self.reports = reports
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self.sockets: dict[str, list[tuple[web.Request, aiohttp.ClientWebSocketResponse]]] = defaultdict(list)
        self.ws_opened: dict[str, int] = defaultdict(int)
        self.http: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_get("/", self.static("page.html", "text/html"))
        app.router.add_get("/page.js", self.static("page.js", "text/javascript"))
        app.router.add_get("/twilio-video.min.js", self.sdk)
        app.router.add_post("/report", self.report)
        app.router.add_get("/next", self.next_command)
        app.router.add_get("/ws/{page}", self.ws_proxy)
        app.router.add_post("/ctl/cmd", self.ctl_cmd)
        app.router.add_post("/ctl/cut", self.ctl_cut)
        app.router.add_post("/ctl/rooms", self.ctl_rooms)
        app.on_startup.append(self._startup)
        app.on_cleanup.append(self._cleanup)
        return app

    async def _startup(self, app: web.Application) -> None:
        self.http = aiohttp.ClientSession()

    async def _cleanup(self, app: web.Application) -> None:
        if self.http is not None:
            await self.http.close()

    # -- the page ---------------------------------------------------------------------------

    @staticmethod
    def static(name: str, ctype: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=(HERE / name).read_bytes(), content_type=ctype,
                                headers={"Cache-Control": "no-store"})
        return handler

    async def sdk(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(SDK, headers={"Content-Type": "text/javascript"})

    async def report(self, request: web.Request) -> web.Response:
        body = await request.json()
        page = str(body.get("page", "unknown"))
        body["harness_wall"] = time.time()
        with open(self.reports / f"{page}.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(body) + "\n")
        return web.Response(status=204)

    async def next_command(self, request: web.Request) -> web.Response:
        queue = self.queues[request.query.get("page", "")]
        try:
            cmd = await asyncio.wait_for(queue.get(), 1.0)
        except TimeoutError:
            return web.Response(status=204)
        return web.json_response(cmd)

    # -- the signaling proxy ----------------------------------------------------------------

    async def ws_proxy(self, request: web.Request) -> web.StreamResponse:
        page = request.match_info["page"]
        assert self.http is not None
        up = await self.http.ws_connect(self.upstream.replace("http", "ws", 1) + "/signaling",
                                        autoping=False, max_msg_size=0)
        down = web.WebSocketResponse(autoping=False, max_msg_size=0)
        await down.prepare(request)
        pair = (request, up)
        self.sockets[page].append(pair)
        self.ws_opened[page] += 1
        log.info("ws %s opened (#%d)", page, self.ws_opened[page])

        async def pump(src: Any, dst: Any) -> None:
            async for msg in src:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await dst.send_str(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    await dst.send_bytes(msg.data)
                elif msg.type == aiohttp.WSMsgType.PING:
                    await dst.ping(msg.data)
                elif msg.type == aiohttp.WSMsgType.PONG:
                    await dst.pong(msg.data)
                else:
                    break

        tasks = [asyncio.ensure_future(pump(down, up)), asyncio.ensure_future(pump(up, down))]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if pair in self.sockets[page]:
            self.sockets[page].remove(pair)
            code_down, code_up = up.close_code, down.close_code
            await asyncio.gather(down.close(code=code_down or 1000), up.close(code=code_up or 1000),
                                 return_exceptions=True)
        log.info("ws %s closed", page)
        return down

    # -- the test's control socket ------------------------------------------------------------

    async def ctl_cmd(self, request: web.Request) -> web.Response:
        body = await request.json()
        await self.queues[str(body.pop("page"))].put(body)
        return web.json_response({"queued": True})

    async def ctl_cut(self, request: web.Request) -> web.Response:
        page = str((await request.json())["page"])
        pairs = self.sockets.pop(page, [])
        for req, up in pairs:
            transport = req.transport
            if transport is not None:
                transport.abort()  # the browser sees 1006, as on a network drop
            if up._writer.transport is not None:
                up._writer.transport.abort()
        return web.json_response({"cut": len(pairs), "wall": time.time(), "opened": self.ws_opened[page]})

    async def ctl_rooms(self, request: web.Request) -> web.Response:
        body = await request.json()
        creds = json.loads((self.data_dir / "credentials.json").read_text())
        auth = {"Authorization": aiohttp.encode_basic_auth(creds["api_key_sid"], creds["api_key_secret"])}
        assert self.http is not None
        async with self.http.post(self.upstream + "/v1/Rooms", data=body, headers=auth) as resp:
            return web.json_response({"status": resp.status, "body": await resp.json(content_type=None)})


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="confab-server URL inside the namespace")
    ap.add_argument("--data-dir", type=Path, required=True, help="confab-server's data dir (credentials)")
    ap.add_argument("--reports", type=Path, required=True)
    ap.add_argument("--unix", required=True, help="control socket path")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.reports.mkdir(parents=True, exist_ok=True)
    runner = web.AppRunner(Harness(args.upstream, args.data_dir, args.reports).app(), access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    await web.UnixSite(runner, args.unix).start()
    bound: Any = tcp._server  # port 0: read the port that was bound
    port = bound.sockets[0].getsockname()[1]
    print(f"harness listening on http://127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
