"""``GET /join/{room}``: the small page an invite link opens in a browser.

An invite link is ``http(s)://SERVER/join/ROOM[?token=…]`` (``confab-server invite`` prints
one, the app's "Copy invite link" copies one). The page offers to open the Confab app through
its ``confab://join?server=…&room=…[&token=…]`` link (registered by resources/confab.desktop),
and says how to install the app or to paste the link into it.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlencode

from aiohttp import web

__all__ = ["invite_page"]

_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Join {room} · Confab</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #202124; color: #e8eaed; margin: 0;
       display: flex; min-height: 100vh; align-items: center; justify-content: center; }}
main {{ background: #2d2e31; border-radius: 12px; padding: 32px 40px; max-width: 34em; }}
h1 {{ font-size: 1.5em; margin-top: 0; }}
a.open {{ display: inline-block; background: #1a73e8; color: #fff; padding: 10px 22px;
         border-radius: 6px; text-decoration: none; font-weight: bold; }}
code {{ background: #202124; padding: 2px 6px; border-radius: 4px; word-break: break-all; }}
p.small {{ color: #9aa0a6; font-size: 0.9em; }}
</style></head>
<body><main>
<h1>You're invited to <span id="room">{room}</span></h1>
<p><a class="open" id="open" href="{app_link}">Open in Confab</a></p>
<p>Don't have Confab yet? Install it with <code>pip install 'confab[ui]'</code>, then run
<code>confab open '{link}'</code>, or paste this page's address into the
<em>Invite / token</em> field of Confab's join screen.</p>
<p class="small">{token_note}</p>
</main></body></html>
"""


async def invite_page(request: web.Request) -> web.Response:
    room = request.match_info["room"].strip()
    if not room:
        raise web.HTTPNotFound(text="no room in this invite link")
    token = request.query.get("token") or None
    if token is not None and not _JWT.fullmatch(token):
        raise web.HTTPBadRequest(text="this invite link's token is damaged: ask for a new link")
    server = f"{request.scheme}://{request.host}"
    params = {"server": server, "room": room}
    if token:
        params["token"] = token
    app_link = "confab://join?" + urlencode(params, quote_via=quote)
    link = f"{server}/join/{quote(room, safe='')}" + (f"?token={token}" if token else "")
    note = ("This link is personal: it joins as the guest it was made for."
            if token else "You will choose your name when you join.")
    body = _PAGE.format(room=html.escape(room), app_link=html.escape(app_link, quote=True),
                        link=html.escape(link), token_note=note)
    return web.Response(text=body, content_type="text/html",
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})
