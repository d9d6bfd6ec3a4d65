"""What every page does for students who use a screen reader, a keyboard only, a phone or a pen
(WCAG 2.1 AA, checked with axe-core in tests/test_browser_a11y.py).

    apply()                  once per run (app.py): the page CSS and the small script below
    announce(text, key)      a polite live region: a screen reader says `text` when it changes (at most every min_s)
    SR_ONLY                  the CSS class of text for screen readers alone

The CSS: text contrast of at least 4.5:1 (Streamlit's captions are grey #828180 on white, 3.9:1, or faded to 2.9:1; its
code colours 2.5:1), a visible focus ring on everything focusable, touch targets of at least 44 px on
a touch screen (`pointer: coarse`), no transition or animation when the system asks for reduced motion.
The script (an `st.components.v2` component, no iframe, nothing drawn): each chart's text alternative
(ui.screen puts it in the figure's layout.meta.alt) becomes its aria-label, a formula wider than its
column can be scrolled from the keyboard, the navigation Streamlit moves into a phone's sidebar loses
its broken list markup, and on a phone the sidebar closes after a choice in it, so that it does not
stay over the page.
"""
from __future__ import annotations

import functools

import streamlit as st

SR_ONLY = "sr-only"
KEY = "access"
NARROW = 640  # px: Streamlit's own width below which the sidebar lies over the page

CSS = """<style>
.sr-only, .st-key-formula [data-testid="stCaptionContainer"] { position: absolute !important; width: 1px; height: 1px;
  margin: -1px; padding: 0; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.st-key-access { display: none; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p, [data-testid="stWidgetLabel"] small,
[data-testid="stFileUploaderDropzoneInstructions"] span, [data-testid="stFileUploaderDropzoneInstructions"] small
  { color: #555350; opacity: 1; }
[data-testid="stCode"] .token { color: #1b1b1b !important; }
[data-testid="stCode"] .token.comment { color: #555350 !important; }
[data-testid="stCode"] .token:is(.number, .boolean, .string, .keyword, .builtin, .function, .operator)
  { color: #8a1c5a !important; }
:focus-visible, [role="application"]:focus, .katex-display[tabindex]:focus
  { outline: 3px solid #1a5fb4 !important; outline-offset: 2px; }
.katex-display { overflow-y: hidden; }
@media (pointer: coarse) {
  /* Streamlit 1.67's React Aria widgets: a radio option, a toggle or checkbox is its label (the input
     itself is visually hidden); a slider takes the finger on its track (touch-action: none) */
  button, [role="menuitem"], [data-testid="stTopNavSection"], [data-testid="stSidebarNavLink"],
  [data-testid="stBaseLinkButton-secondary"], [data-testid="stBaseLinkButton-primary"],
  [data-testid="stRadioOption"], [data-testid="stCheckbox"] > label,
  :is([data-testid="stSelectbox"], [data-testid="stMultiSelect"]) :is([role="group"], input[role="combobox"]),
  [data-testid="stTextInputRootElement"], [data-testid="stTextInputField"],
  [data-testid="stNumberInputContainer"], [data-testid="stNumberInputField"],
  [data-testid="stSlider"] [role="group"] > [style*="touch-action"], [data-testid="stMultiSelectTagsContainer"] [data-tag]
    { min-height: 44px !important; }
  button, [data-testid="stMultiSelect"] input[role="combobox"] { min-width: 44px !important; }
  [data-testid="stRadioOption"], [data-testid="stCheckbox"] > label, [data-testid="stSidebarNavLink"],
  [data-testid="stMultiSelectTagsContainer"] [data-tag] { align-items: center; }
}
@media (pointer: coarse) and (max-width: 640px) {
  /* a phone: Plotly's tool bar, its buttons 44 px, would wrap over the chart's title; a finger zooms
     and pans the chart itself (the map: behind its pan / zoom switch), fullscreen is Streamlit's */
  .js-plotly-plot .modebar-container { display: none !important; }
}
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after { animation-duration: 0.01ms !important; animation-iteration-count: 1 !important;
    transition-duration: 0.01ms !important; scroll-behavior: auto !important; }
}
</style>"""

JS = """
const A = (window.__latentExplorerAccess ??= { on: false });
const NARROW = %NARROW%;

function label() {
  A.frame = 0;
  // each chart: its text alternative (ui.screen: layout.meta.alt) as the figure's name
  for (const gd of document.querySelectorAll(".js-plotly-plot")) {
    const alt = gd.layout?.meta?.alt, box = gd.closest('[data-testid="stPlotlyChart"]');
    if (!alt || !box || box.getAttribute("aria-label") === alt) continue;
    box.setAttribute("role", "figure");
    box.setAttribute("aria-label", alt);
  }
  // on a narrow screen Streamlit moves the top navigation into the sidebar as a <ul> whose children are
  // sections (<div>: a header and the pages' <li>): no list semantics there (axe: list, listitem), each
  // section a group named by its header; the links stay
  for (const ul of document.querySelectorAll('[data-testid="stSidebarNavItems"]')) {
    if (![...ul.children].some((c) => c.tagName !== "LI")) continue;
    ul.setAttribute("role", "none");
    for (const li of ul.querySelectorAll("li")) if (li.getAttribute("role") !== "none") li.setAttribute("role", "none");
    for (const section of ul.children) {
      const name = section.querySelector('[data-testid="stNavSectionHeader"] [data-testid="stMarkdownContainer"]')?.textContent.trim();
      if (section.tagName === "LI" || !name || section.getAttribute("aria-label") === name) continue;
      section.setAttribute("role", "group");
      section.setAttribute("aria-label", name);
    }
  }
  // a formula wider than its column scrolls: from the keyboard too
  for (const k of document.querySelectorAll(".katex-display")) {
    const wide = k.scrollWidth > k.clientWidth + 1;
    if (wide && !k.hasAttribute("tabindex")) k.setAttribute("tabindex", "0");
    else if (!wide && k.getAttribute("tabindex") === "0") k.removeAttribute("tabindex");
  }
}

function later() { if (!A.frame) A.frame = requestAnimationFrame(label); }

function closeSidebar(e) {
  // on a phone the sidebar lies over the page: a choice made in it (a tap or click on a radio option)
  // closes it. (React Aria's radios send no native change event; the arrow keys move on without closing.)
  if (window.innerWidth >= NARROW || A.closing || !e.target.closest?.('[data-testid="stRadioOption"], input[type="radio"]')) return;
  const side = e.target.closest('[data-testid="stSidebar"]');
  if (!side) return;
  A.closing = setTimeout(() => {
    A.closing = 0;
    side.querySelector('[data-testid="stSidebarCollapseButton"] button, [data-testid="stSidebarHeader"] button')?.click();
  }, 150);
}

export default function () {
  if (!A.on) {
    A.on = true;
    new MutationObserver(later).observe(document.body, { subtree: true, childList: true });
    window.addEventListener("resize", later);
    document.addEventListener("click", closeSidebar, true);
  }
  later();
}
""".replace("%NARROW%", str(NARROW))

ANNOUNCE_JS = """
export default function ({ data, parentElement }) {
  let region = parentElement.querySelector('[role="status"]');
  if (!region) {
    region = document.createElement("div");
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    region.className = "sr-only";
    region.style.cssText = "position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap";
    parentElement.appendChild(region);
  }
  // at most one change every data.min_ms, timed here, where it is heard: a rerun delivered late
  // would otherwise bring two changes closer than the server spaced them. A newer text replaces a
  // held one; data.now says it at once (a run's end).
  const say = () => {
    if (region.textContent !== region.__next) { region.textContent = region.__next; region.__at = performance.now(); }
  };
  region.__next = data.text;
  clearTimeout(region.__timer);
  const wait = (region.__at ?? -Infinity) + (data.min_ms || 0) - performance.now();
  if (data.now || wait <= 0) say(); else region.__timer = setTimeout(say, wait);
}
"""


@functools.cache
def _script():
    return st.components.v2.component("latent_explorer.access", js=JS)


@functools.cache
def _region():
    return st.components.v2.component("latent_explorer.announce", js=ANNOUNCE_JS)


def apply() -> None:
    """Once per run, before the page: the CSS and the script (an element hidden by the CSS)."""
    st.html(CSS)
    _script()(key=KEY, height=0)


def announce(text: str, key: str, min_s: float = 0.0, now: bool = False) -> None:
    """A polite live region (role status): a screen reader says `text` when it differs from the last,
    without moving the focus, at most every `min_s` seconds in the browser (a newer text waits its
    turn; `now`: at once). The caller decides how often it changes."""
    _region()(data={"text": text, "min_ms": min_s * 1000, "now": now}, key=key, height=0)
