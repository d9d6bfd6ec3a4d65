"""Tests for the shipped model zoo (checkpoints/) and its reader, vae_core.zoo."""
import json
import shutil
from pathlib import Path

import pytest

from vae_core import checkpoint
from vae_core.data import load_split
from vae_core.latent import encode
from vae_core.metrics import evaluate
from vae_core.zoo import ZOO_DIR, ZooEntry, ZooError, default_entry, load_entry, load_manifest

MNIST_IDS = {"mnist-vae-2d", "mnist-ae-2d", "mnist-cvae-2d", "mnist-betavae-16d"}
REQUIRED_IDS = {"digits-vae-2d", "digits-ae-2d", "sprites-betavae"} | MNIST_IDS


@pytest.fixture(scope="module")
def entries() -> list[ZooEntry]:
    return load_manifest()


def by_id(entries) -> dict[str, ZooEntry]:
    return {e.id: e for e in entries}


def test_the_default_folder_is_the_repo_checkpoints():
    assert ZOO_DIR == Path(__file__).resolve().parents[1] / "checkpoints"
    assert (ZOO_DIR / "manifest.json").is_file()


def test_manifest_lists_the_required_models_all_usable(entries):
    assert REQUIRED_IDS <= set(by_id(entries))
    assert [e.problem for e in entries if not e.ok] == []
    for e in entries:
        assert e.path.name == f"{e.id}.safetensors"
        assert e.title and e.description
        assert "val_loss" in e.metrics


def test_every_sha256_matches_and_files_are_small(entries):
    import hashlib

    from vae_core.checkpoint import from_bytes
    from vae_core.timeline import MAX_BYTES

    total = timelines = 0
    for e in entries:
        blob = e.path.read_bytes()
        assert hashlib.sha256(blob).hexdigest() == e.sha256
        kept = from_bytes(blob).timeline  # every shipped model keeps its timeline (vae_core.timeline), bounded
        assert kept is not None and 0 < kept.nbytes() <= MAX_BYTES, e.id
        assert len(blob) - kept.nbytes() < 2.5 * 2**20, f"{e.id} is {len(blob) - kept.nbytes()} bytes besides its timeline"
        total += len(blob) - kept.nbytes()
        timelines += kept.nbytes()
    assert total < 12 * 10**6  # the models, histories and metrics stay under 12 MB ...
    assert timelines < 14 * 10**6  # ... and their timelines under 14 MB (13.0 MB for the 19 of them)


def test_default_is_the_mnist_vae(entries):
    assert [e.id for e in entries if e.default] == ["mnist-vae-2d"]
    assert default_entry(entries).id == "mnist-vae-2d"
    assert by_id(entries)["mnist-vae-2d"].dataset == "mnist10k"


@pytest.mark.parametrize("ident", sorted(MNIST_IDS))
def test_mnist_models_score_what_make_py_recorded_with_no_data_folder(entries, ident, tmp_path, monkeypatch):
    """Rebuilt from the file alone, on the built-in mnist10k (no data folder, no network), each
    model's validation loss is within 1 nat of the manifest's."""
    monkeypatch.setenv("VAE_CORE_DATA", str(tmp_path / "absent"))
    e = by_id(entries)[ident]
    ckpt = load_entry(e)
    assert ckpt.config.dataset == "mnist10k"
    _, val = load_split(ckpt.config)
    assert len(val) == ckpt.data["n_val"] == 1000
    got = evaluate(ckpt.build_model(), val.x, val.y, ckpt.config)
    assert abs(got["val_loss"] - e.metrics["val_loss"]) < 1.0, (got["val_loss"], e.metrics["val_loss"])
    assert not (tmp_path / "absent").exists()


def test_every_checkpoint_loads_and_matches_its_entry(entries):
    for e in entries:
        ckpt = load_entry(e)
        same = checkpoint.load(e.path)  # the public loader agrees
        assert same.config == ckpt.config
        cfg = ckpt.config
        assert (cfg.model, cfg.dataset, cfg.latent_dim, cfg.beta, cfg.epochs) == \
               (e.model, e.dataset, e.latent_dim, e.beta, e.epochs)
        assert cfg.to_dict() == e.config
        assert ckpt.optimizer_state is None and ckpt.rng == {}  # stripped for shipping
        assert ckpt.metrics["val_loss"] == pytest.approx(e.metrics["val_loss"])
        assert ckpt.progress["epoch"] == cfg.epochs
        ckpt.build_model()  # the weights fit the architecture


@pytest.mark.parametrize("ident", ["digits-vae-2d", "mnist-vae-2d"])
def test_vae_latent_map_separates_classes(entries, ident):
    from sklearn.neighbors import KNeighborsClassifier

    ckpt = load_entry(by_id(entries)[ident])
    assert ckpt.config.model == "vae" and ckpt.config.latent_dim == 2
    model = ckpt.build_model()
    train, val = load_split(ckpt.config)
    assert (len(train), len(val)) == (ckpt.data["n_train"], ckpt.data["n_val"])
    mu_train, _ = encode(model, train.x)
    mu_val, _ = encode(model, val.x)
    assert mu_val.shape == (len(val), 2)
    acc = KNeighborsClassifier(n_neighbors=5).fit(mu_train.numpy(), train.y.numpy()).score(
        mu_val.numpy(), val.y.numpy())
    assert acc > 0.5, f"2-D latent kNN accuracy {acc:.2f} is near chance (0.1)"


# --- broken zoos are reported, not crashed on ---------------------------------------------------


@pytest.fixture
def zoo_copy(tmp_path) -> Path:
    """A copy of the manifest and the two small digits files (the others are then missing)."""
    for name in ("manifest.json", "digits-vae-2d.safetensors", "digits-ae-2d.safetensors"):
        shutil.copy(ZOO_DIR / name, tmp_path / name)
    return tmp_path


def test_a_tampered_file_is_reported_broken(zoo_copy):
    path = zoo_copy / "digits-vae-2d.safetensors"
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # one flipped byte in the tensor data
    path.write_bytes(bytes(blob))

    found = by_id(load_manifest(zoo_copy))
    vae = found["digits-vae-2d"]
    assert not vae.ok and "sha256" in vae.problem and "damaged" in vae.problem
    with pytest.raises(ZooError, match="sha256"):
        load_entry(vae)
    assert found["digits-ae-2d"].ok
    assert not found["sprites-betavae"].ok and "missing" in found["sprites-betavae"].problem
    # the default falls back to a usable model
    assert default_entry(list(found.values())).id == "digits-ae-2d"


def test_a_file_changed_after_the_manifest_was_read_is_refused(zoo_copy):
    entry = by_id(load_manifest(zoo_copy))["digits-ae-2d"]
    (zoo_copy / "digits-ae-2d.safetensors").write_bytes(b"\x80\x04 not a checkpoint")
    with pytest.raises(ZooError, match="changed"):
        load_entry(entry)


def test_bad_entries_are_reported_one_by_one(zoo_copy):
    manifest = zoo_copy / "manifest.json"
    doc = json.loads(manifest.read_text())
    models = doc["models"]
    vae, ae = (next(i for i, m in enumerate(models) if m["id"] == name) for name in ("digits-vae-2d", "digits-ae-2d"))
    del models[ae]["sha256"]                                # a required key missing
    models[vae]["file"] = "../digits-vae-2d.safetensors"  # a path out of the folder
    models.append("not an object")
    models.append(dict(models[2]))               # a duplicate id
    manifest.write_text(json.dumps(doc))

    found = load_manifest(zoo_copy)
    problems = [e.problem for e in found]
    assert all(problems)
    assert "sha256" in problems[ae] and "inside the zoo folder" in problems[vae]
    assert "not a JSON object" in problems[-2] and "twice" in problems[-1]
    assert default_entry(found) is None


@pytest.mark.parametrize("text, match", [(None, "no model zoo manifest"), ("{not json", "not valid JSON"),
                                         ('{"models": 3}', "list of models")])
def test_an_unusable_manifest_is_one_zoo_error(tmp_path, text, match):
    if text is not None:
        (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(ZooError, match=match):
        load_manifest(tmp_path)
    assert issubclass(ZooError, ValueError)
