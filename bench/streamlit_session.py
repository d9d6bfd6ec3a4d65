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
"""
from __future__ import annotations

import json
import time
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

    async def __aenter__(self) -> Session:
        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None,
                                           open_timeout=120, ping_interval=None)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def open(self, url_path: str, query: str = "") -> float:
        """A new tab on /<url_path>?<query>."""
        return await self._rerun(page_name=url_path, query=query)

    async def switch(self, title: str) -> float:
        """The sidebar link to the page called `title`."""
        self.widgets = []
        return await self._rerun(page=self.pages[title])

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
            raise LookupError(f"no {kind} like that on the page (it has {[(w.kind, w.label) for w in self.widgets]})")
        return found[-1]

    async def _rerun(self, page_name: str = "", page: str = "", query: str = "", fragment: str = "",
                     states=(), auto: bool = False) -> float:
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
                                               fwd.delta.fragment_id))
            elif kind == "script_finished":
                return time.perf_counter() - t
