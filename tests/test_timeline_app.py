"""AppTest of the timeline's server side (ui.timeline): what the page is sent (each run's snapshots once per
session, the stored codes themselves), the view of a wide latent, the Compare page's runs synced by
epoch, the Train page once a run ends, and the message for an upload whose timeline was dropped."""
from __future__ import annotations

import numpy as np

from test_app import open_app, texts, wait_for, workspace
from vae_core import checkpoint, zoo
from vae_core.timeline import project, web
from vae_core.webdecoder import unframe


def timelines(at) -> list[tuple[dict, bytes]]:
    """The timeline components on the page: (header, payload)."""
    return [unframe(e.proto.bytes) for e in at.get("bidi_component") if e.proto.component_name.endswith("timeline")]


def entry(name: str) -> zoo.ZooEntry:
    return next(e for e in zoo.load_manifest() if e.id == name)


def test_the_latent_page_sends_a_runs_snapshots_once_and_they_are_the_stored_codes():
    at = open_app("pages/latent.py")
    assert not timelines(at) and "73 snapshots" in at.toggle(key="latent.timeline").label  # off: nothing sent
    at.toggle(key="latent.timeline").set_value(True).run()
    assert not at.exception
    [(header, payload)] = timelines(at)
    [track] = header["tracks"]
    spec = track["spec"]
    tl = zoo.load_entry(entry("mnist-vae-2d")).timeline
    got = web.decode(spec, payload[spec["at"]:spec["at"] + spec["size"]])
    assert spec["steps"] == tl.steps and np.array_equal(got["xy"], np.stack([m.numpy() for m in tl.mu]))
    assert header["sync"] == "index" and len(header["colors"]) == 10
    assert [b.label for b in at.get("download_button")][:2] == ["GIF of the timeline", "PNG frames (zip)"]
    at.run()  # the page again: the same run is not sent twice
    [(header, payload)] = timelines(at)
    assert payload == b"" and "spec" not in header["tracks"][0] and header["tracks"][0]["key"] == track["key"]


def test_a_wide_latent_uses_the_final_steps_pca_or_two_chosen_dims():
    at = open_app()
    e = entry("mnist-betavae-16d")
    workspace(at).active = f"zoo.{e.id}"
    at.switch_page("pages/latent.py").run()
    at.toggle(key="latent.timeline").set_value(True).run()
    [(header, payload)] = timelines(at)
    spec = header["tracks"][0]["spec"]
    tl = zoo.load_entry(e).timeline
    assert spec["axes"] == ["PC1", "PC2"] and "fitted once" in spec["note"] and spec["D"] == 16
    xy = web.decode(spec, payload)["xy"].astype(np.float32)
    np.testing.assert_allclose(xy, project(tl, "pca")[0], atol=0.02 * np.abs(xy).max())  # float16 on the way
    at.radio(key="latent.timeline.view").set_value("dims").run()
    at.selectbox(key="latent.timeline.d0").set_value(3).run()
    [(header, _)] = timelines(at)
    spec = header["tracks"][0]["spec"]
    assert spec["axes"][0] == "z3" and header["tracks"][0]["key"].endswith(":dims:3:" + spec["axes"][1][1:])


def test_the_compare_page_replays_the_trio_synced_by_epoch():
    at = open_app("pages/compare.py")
    at.toggle(key="compare.timeline").set_value(True).run()
    assert not at.exception
    [(header, _)] = timelines(at)
    assert header["sync"] == "epoch" and len(header["tracks"]) == 3
    names = [t["name"] for t in header["tracks"]]
    assert any("autoencoder" in n for n in names) and any("VAE" in n for n in names)
    specs = [t["spec"] for t in header["tracks"]]
    assert len({tuple(s["epochs"]) for s in specs}) == 1  # the same plan: the same epochs


def test_the_train_page_shows_the_timeline_once_a_run_has_ended():
    at = open_app("pages/train.py")
    at.text_input(key="train.epochs").set_value("2").run()
    at.button(key="train.start").click().run()
    run_id = at.session_state["train.run"]
    wait_for(lambda: workspace(at).get(run_id).status == "done", at)
    wait_for(lambda: "Replay this run" in [h.value for h in at.subheader], at)
    [(header, payload)] = timelines(at)
    tl = checkpoint.from_bytes(workspace(at).blob(run_id)).timeline
    assert header["tracks"][0]["spec"]["steps"] == tl.steps and tl.epochs[-1] == 2 and len(payload) > 0


def test_an_upload_whose_timeline_is_bad_opens_and_says_why(tmp_path):
    from hostile import timeline_files

    name, blob, words = timeline_files()[1]  # NaN codes
    at = open_app("pages/latent.py")
    run = workspace(at).add_upload("with a NaN timeline", blob)
    workspace(at).active = run.id
    at.run()
    assert not at.exception and "timeline was not loaded" in texts(at) and words in texts(at)
    assert not timelines(at) and at.title[0].value == "Latent space"
