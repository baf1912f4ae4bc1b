"""Percentiles, padding, suggestions, sampling with intervals, tokenizer resolution, progress, import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from data_formats import copy_tokenizer

from lorplan.core.data import profile_dataset
from lorplan.core.data.stats import lengths_of, padding, percentile, suggest_seq_len, suggest_split
from lorplan.core.data.tokenizer import resolve_tokenizer


def test_nearest_rank_percentiles():
    hist = {n: 1 for n in range(1, 101)}  # lengths 1..100
    assert [percentile(hist, q) for q in (50, 90, 95, 99)] == [50, 90, 95, 99]
    assert lengths_of({7: 3}).p50 == 7 and lengths_of({7: 3}).max == 7
    assert percentile({}, 50) == 0


def test_padding_and_packing_waste():
    pad = padding({10: 2, 30: 1}, 20)  # kept 10 + 10 + 20 = 40 tokens
    assert pad.pad_tokens == 3 * 20 - 40
    assert pad.packed_sequences == 2 and pad.packing_waste_tokens == 0
    assert pad.pad_fraction == round(20 / 60, 4)


def test_suggestions():
    lengths = lengths_of({100: 98, 300: 1, 1000: 1})
    assert lengths.p99 == 300
    assert suggest_seq_len(lengths, None) == 320
    assert suggest_seq_len(lengths, 256) == 256
    assert suggest_split(10).eval == 0
    assert suggest_split(1000).eval == 100 and suggest_split(1000).train == 900
    assert suggest_split(100_000).eval == 2000


def test_sample_scales_totals_with_an_interval_that_holds_the_truth(tmp_path, minilm_dir):
    path = tmp_path / "many.jsonl"
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    with open(path, "w") as fh:
        for i in range(3000):
            fh.write(json.dumps({"text": " ".join(words[: 1 + i % 10] * (1 + i % 7))}) + "\n")
    full = profile_dataset(path, tokenizer=str(minilm_dir), seq_len=32)
    a = profile_dataset(path, tokenizer=str(minilm_dir), seq_len=32, sample=300, seed=3)
    assert a.to_json() == profile_dataset(path, tokenizer=str(minilm_dir), seq_len=32, sample=300, seed=3).to_json()
    assert a.examples == full.examples == 3000  # counted exactly, only tokenization is sampled
    assert a.estimated is True and a.sample.size == 300
    lo, hi = a.sample.tokens_interval
    assert lo <= full.tokens <= hi and lo < a.tokens < hi
    assert abs(a.tokens - full.tokens) / full.tokens < 0.1
    lo, hi = a.sample.truncated_interval
    assert lo <= full.truncated_tokens <= hi
    assert a.duplicates == full.duplicates  # hashes cover every example, not only the sample
    assert abs(a.padding.pad_tokens - full.padding.pad_tokens) / full.padding.pad_tokens < 0.1
    whole = profile_dataset(path, tokenizer=str(minilm_dir), seq_len=32, sample=5000)
    assert whole.estimated is False and whole.tokens == full.tokens


def test_a_samples_packing_is_counted_from_the_scaled_tokens_not_its_own_last_sequence(tmp_path):
    path = tmp_path / "pc.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Question {i}: what is {i} plus {i}?",
                                        "completion": f" It is {2 * i}."}) + "\n" for i in range(30)))
    full = profile_dataset(path)
    a = profile_dataset(path, sample=10)
    assert a.sample.size == 10 and full.tokens < 2048  # the whole file fits in one 2048-token sequence
    assert full.padding.packed_sequences == a.padding.packed_sequences == 1
    assert a.padding.packing_waste_tokens == 2048 - a.tokens  # scaled kept tokens: the total, nothing truncated
    for seq_len in (64, 100, 2048):  # several sequences; and at_seq_len scales the same way
        pad = a.at_seq_len(seq_len).padding
        kept = pad.packed_sequences * seq_len - pad.packing_waste_tokens
        assert 0 <= pad.packing_waste_tokens < seq_len
        assert abs(kept - full.at_seq_len(seq_len).padding.packed_sequences * seq_len
                   + full.at_seq_len(seq_len).padding.packing_waste_tokens) <= 0.05 * kept


def test_progress_reaches_the_total_and_can_stop_the_profile(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(1000)))  # > 200 read ahead
    calls = []
    profile_dataset(path, progress=lambda done, total, unit: calls.append((done, total, unit)))
    assert calls[-1] == (path.stat().st_size, path.stat().st_size, "bytes")
    assert calls[0][0] < calls[0][1]  # reported while reading, not only at the end
    sampled = []
    profile_dataset(path, sample=10, progress=lambda done, total, unit: sampled.append(done))
    assert sampled[0] < sampled[-1] == path.stat().st_size  # reported while sampling too

    class Stop(Exception):
        pass

    def stop(done, total, unit):
        raise Stop

    with pytest.raises(Stop):
        profile_dataset(path, progress=stop)


def test_model_folder_hub_cache_and_missing_tokenizer(tmp_path, monkeypatch, minilm_dir):
    folder = copy_tokenizer(minilm_dir, tmp_path / "model")
    assert resolve_tokenizer(str(folder)).path == str(folder)
    assert resolve_tokenizer(str(folder / "tokenizer.json")).path == str(folder)
    bare = tmp_path / "bare"
    bare.mkdir()
    assert "no tokenizer files" in resolve_tokenizer(str(bare)).note
    hub = tmp_path / "hf" / "hub" / "models--acme--tiny"
    copy_tokenizer(minilm_dir, hub / "snapshots" / "abc123")
    (hub / "refs").mkdir()
    (hub / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    choice = resolve_tokenizer("acme/tiny")
    assert choice.path == str(hub / "snapshots" / "abc123") and not choice.estimated
    missing = resolve_tokenizer("acme/absent")
    assert missing.estimated and "not in the local HF cache" in missing.note
    assert resolve_tokenizer(None).estimated
    # A catalog id is found in the cache under its hub id or an alias.
    st = tmp_path / "hf" / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / "s1"
    copy_tokenizer(minilm_dir, st)
    assert resolve_tokenizer("all-MiniLM-L6-v2").path == str(st)
    qwen = resolve_tokenizer("Qwen/Qwen2.5-0.5B-Instruct")
    assert qwen.estimated and "Qwen/Qwen2.5-0.5B-Instruct is not in the local HF cache" in qwen.note
    assert "not a folder, catalog id or cached hub id" in resolve_tokenizer("no-such-model").note


def test_catalog_model_without_tokenizer_caps_seq_len_at_its_context(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": "word " * 3000}) + "\n")
    p = profile_dataset(path, model="gpt2")  # n_positions 1024, tokenizer not cached here
    assert p.estimated and p.seq_len == 1024 and p.suggested_seq_len == 1024
    assert p.truncated_tokens == p.tokens - 1024


def test_core_data_imports_no_heavy_library():
    code = (
        "import sys, lorplan.core.data, lorplan.core.data.profile, lorplan.cli.profile\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'datasets', 'pyarrow', 'textual') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_at_seq_len_equals_a_fresh_profile_at_that_length(tmp_path, minilm_dir):
    path = tmp_path / "cut.jsonl"
    path.write_text("".join(json.dumps({"text": "token " * (1 + i * 3)}) + "\n" for i in range(40)))
    wide = profile_dataset(path, tokenizer=str(minilm_dir), seq_len=64)
    assert wide.at_seq_len(16).to_json() == profile_dataset(path, tokenizer=str(minilm_dir), seq_len=16).to_json()


def test_limit_of_an_architecture_the_fast_path_does_not_know_is_its_configs(tmp_path, minilm_dir):
    """A model_type transformers knows and the fast path does not is read as the planner's fallback spec reads it
    (fallback.config_context), without building the model; a folder with tokenizer files only falls back to the
    tokenizer's model_max_length. (One transformers does not know is refused, as lorplan plan refuses it.)"""
    from lorplan.core.data.profile import model_limit

    folder = copy_tokenizer(minilm_dir, tmp_path / "mystery")
    (folder / "config.json").write_text(json.dumps({"model_type": "mpt", "max_seq_len": 96}))
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": "word " * 300}) + "\n")
    p = profile_dataset(path, model=str(folder))
    assert p.seq_len == 96 and p.suggested_seq_len == 96 and not p.estimated
    assert profile_dataset(path, model=str(folder), seq_len=97).notes[-1] == (
        "--seq-len 97 is beyond the model's maximum of 96 (max_seq_len of the model's config)")
    assert model_limit(str(folder), 2.0).tokens == 192
    tokenizer_only = copy_tokenizer(minilm_dir, tmp_path / "tok")
    assert profile_dataset(path, model=str(tokenizer_only)).seq_len == 512  # MiniLM's model_max_length
    assert model_limit(None) is None and model_limit("no-such-model-anywhere") is None


def test_a_context_only_in_text_config_is_read_as_the_memory_bounds_read_it(tmp_path, minilm_dir):
    """A multimodal config the fast path does not know keeps its context in text_config: the profile's limit is
    that context, under the key bounds.context_key names in messages and the figure the fallback spec prices
    (one reading, fallback.config_context_key), not the tokenizer's model_max_length."""
    from dataclasses import replace

    from lorplan.core.data.profile import model_limit
    from lorplan.core.memory.bounds import context_key
    from lorplan.core.model import load_spec
    from lorplan.core.model.fallback import config_context, config_context_key

    folder = copy_tokenizer(minilm_dir, tmp_path / "mystery-vl")
    cfg = {"model_type": "llava", "vision_config": {"hidden_size": 32, "num_attention_heads": 4, "image_size": 64},
           "text_config": {"model_type": "gpt2", "hidden_size": 32, "n_head": 4, "n_positions": 80}}
    (folder / "config.json").write_text(json.dumps(cfg))
    cfg = json.loads((folder / "config.json").read_text())
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"text": "word " * 300}) + "\n")
    p = profile_dataset(path, model=str(folder))
    assert p.seq_len == 80 and p.suggested_seq_len == 80  # not MiniLM's 512
    assert profile_dataset(path, model=str(folder), seq_len=81).notes[-1] == (
        "--seq-len 81 is beyond the model's maximum of 80 (n_positions of the model's config)")
    assert model_limit(str(folder)).tokens == 80
    assert config_context(cfg) == 80 and config_context_key(cfg) == "n_positions"
    assert context_key(replace(load_spec("gpt2"), config=cfg)) == "n_positions"
    assert config_context_key({"text_config": {}}) == "" and config_context({}) == 0
