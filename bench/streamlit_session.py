"""A Streamlit session without a browser, for load: the websocket protocol the page itself speaks
(protobuf BackMsg up, ForwardMsg down on /_stcore/stream). A class's browsers run on the students'
computers; on one 2-core machine eighteen Chromiums starve the server they are meant to measure, so
bench_classroom can drive the server with these instead, and keep a real browser or two for what a
student sees end to end.

    async with Session(url) as s:
        await s.open("latent")                          # the first page, as a new tab asks for it
        await s.switch("Manifold")                      # a sidebar link
        await s.select("latent.map", index=42)          # a click on a map point (customdata 42)
        await s.press("Start")                          # a button

Each call returns the seconds from the request until the server said that script run was done, every
message of it received: the server's share of what a student waits for. `errors` lists the
exceptions the last run put on the page (target: none).

Behind a load balancer (deploy/), a session first loads the page as a browser does, and keeps the
cookies it is given (nginx's sticky cookie sends its websocket to one replica). When its websocket
closes (its replica died, nginx restarted) it reconnects, as Streamlit's page does, and opens again
the page it was on with the address it had (`?ws=`: its workspace): `reconnects` counts those.
"""
from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@dataclass
class Widget:
    kind: str  # the element's type: "button", "number_input", "plotly_chart", ...
    id: str  # Streamlit's widget id; a widget with a key ends in "-<key>"
    label: str
    fragment: str  # the fragment it was drawn in ("" for the page itself)
    disabled: bool = False


class Session:
    def __init__(self, url: str):
        self.url = url
        self.pages: dict[str, str] = {}  # page title -> script hash (the server's navigation message)
        self.page = ""  # the script hash of the page on screen
        self.widgets: list[Widget] = []  # drawn by the runs so far (a rerun of a fragment adds to them)
        self.auto_rerun: tuple[float, str] | None = None  # (seconds, fragment id) a page asked to be re-run at
        self.elements = 0  # elements received during the last run
        self.text: list[str] = []  # ... and the markdown among them
        self.models: list[str] = []  # the sidebar's list of models, as last drawn
        self.errors: list[str] = []
        self.query = ""  # the address's query the server last set (ws=<workspace>&...)
        self.page_name = ""  # the url path of the page on screen
        self.cookies = ""
        self.reconnects = 0

    async def __aenter__(self) -> Session:
        self.cookies = await asyncio.to_thread(_first_visit, self.url)
        await self._connect()
        return self

    async def _connect(self) -> None:
        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=120,
                                           ping_interval=None, proxy=None,
                                           additional_headers={"Cookie": self.cookies} if self.cookies else None)

    async def _reconnect(self, within_s: float = 120.0) -> None:
        """A new websocket (the load balancer picks a replica that answers), then the page it was on, at
        its address: what Streamlit's page does when its connection drops."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                await self._connect()
                break
            except (OSError, websockets.InvalidHandshake, asyncio.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)  # (a retry interval, as the page's)
        self.reconnects += 1
        self.widgets = []
        await self._rerun(page_name="" if self.page else self.page_name, page=self.page, query=self.query)

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def open(self, url_path: str, query: str = "") -> float:
        """A new tab on /<url_path>?<query>."""
        self.page_name = url_path
        return await self._rerun(page_name=url_path, query=query)

    async def switch(self, title: str) -> float:
        """The sidebar link to the page called `title`."""
        self.widgets = []
        self.page = self.pages[title]  # the address changes at the click, as in a browser (a reconnect opens it)
        return await self._rerun(page=self.page)

    async def press(self, label: str) -> float:
        """The button labelled `label`."""
        w = self._widget("button", lambda w: w.label == label)
        return await self._rerun(page=self.page, fragment=w.fragment, states=[(w.id, "trigger_value", True)])

    async def set_text(self, label: str, text: str) -> float:
        """The text field whose label starts with `label` (the Train form's numbers are text fields)."""
        w = self._widget("text_input", lambda w: w.label.startswith(label))
        return await self._rerun(page=self.page, fragment=w.fragment, states=[(w.id, "string_value", text)])

    async def select(self, key: str, index: int) -> float:
        """A click on the point whose customdata is `index` of the chart whose key starts with `key`,
        as Plotly reports it to Streamlit."""
        w = self._widget("plotly_chart", lambda w: ("-" + key) in w.id)
        selection = {"selection": {"points": [{"customdata": index, "point_index": 0, "curve_number": 0}],
                                   "point_indices": [0], "box": [], "lasso": []}}
        return await self._rerun(page=self.page, fragment=w.fragment,
                                 states=[(w.id, "string_value", json.dumps(selection))])

    async def tick(self) -> float:
        """What the page's timer does: re-run the fragment that asked for it (st.fragment(run_every))."""
        _, fragment = self.auto_rerun
        return await self._rerun(page=self.page, fragment=fragment, auto=True)

    def _widget(self, kind: str, match) -> Widget:
        found = [w for w in self.widgets if w.kind == kind and match(w)]
        if not found:
            title = next((t for t, h in self.pages.items() if h == self.page), self.page)
            raise LookupError(f"no {kind} like that on the page {title!r} (reconnects: {self.reconnects}; it has "
                              f"{[(w.kind, w.label) for w in self.widgets]})")
        return found[-1]

    async def _rerun(self, page_name: str = "", page: str = "", query: str = "", fragment: str = "",
                     states=(), auto: bool = False) -> float:
        """Send one rerun request and read the run's messages; -> its seconds. A connection that drops
        meanwhile is made again (`_reconnect`, the page opened anew) and the request dropped: -> 0."""
        try:
            return await self._send_rerun(page_name, page, query, fragment, states, auto)
        except websockets.ConnectionClosed:
            await self._reconnect()
            return 0.0

    async def _send_rerun(self, page_name: str, page: str, query: str, fragment: str, states, auto: bool) -> float:
        msg = BackMsg()
        client = msg.rerun_script
        client.query_string, client.page_name, client.page_script_hash = query, page_name, page
        client.fragment_id, client.is_auto_rerun = fragment, auto
        client.context_info.url = f"{self.url}/{page_name}"
        client.context_info.timezone, client.context_info.locale = "UTC", "en-GB"
        for wid, field, value in states:
            state = client.widget_states.widgets.add()
            state.id = wid
            setattr(state, field, value)
        t = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        self.elements, self.text, self.errors = 0, [], []
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "navigation":
                self.pages = {p.page_name: p.page_script_hash for p in fwd.navigation.app_pages}
                self.page = fwd.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query = fwd.page_info_changed.query_string
            elif kind == "auto_rerun":
                self.auto_rerun = (fwd.auto_rerun.interval, fwd.auto_rerun.fragment_id)
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self.elements += 1
                element = fwd.delta.new_element
                body = getattr(element, element.WhichOneof("type"))
                if element.WhichOneof("type") == "exception":
                    self.errors.append(body.message[:200])
                elif element.WhichOneof("type") == "markdown":
                    self.text.append(body.body)
                elif element.WhichOneof("type") == "radio" and body.label == "Active model":
                    self.models = list(body.options)
                if getattr(body, "id", ""):
                    self.widgets.append(Widget(element.WhichOneof("type"), body.id, getattr(body, "label", ""),
                                               fwd.delta.fragment_id, getattr(body, "disabled", False)))
            elif kind == "script_finished":
                if fwd.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    continue  # the script called st.rerun: the run it asked for follows, part of this answer
                return time.perf_counter() - t


def _first_visit(url: str) -> str:
    """Load the page as a browser does first; -> the cookies it was given ("name=value; ..."), e.g. a
    load balancer's sticky-session cookie."""
    with urllib.request.urlopen(url + "/", timeout=120) as r:
        return "; ".join(c.split(";", 1)[0] for c in r.headers.get_all("Set-Cookie") or [])
