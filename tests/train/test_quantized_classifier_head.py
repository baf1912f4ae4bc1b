"""A 4-bit (or 8-bit) sequence classifier: `lorplan train` loads its head (peft's SEQ_CLS modules_to_save, the
`classifier` or `score` module) unquantized. transformers 5 keeps out of bitsandbytes only the modules that
quantizers/base.py get_keys_to_not_convert names: the output embeddings and the module of the model's LAST
parameter with ".weight" stripped, so a head with a bias (BERT's classifier, RoBERTa's classifier.out_proj:
"classifier.bias" names no module) was loaded as Linear4bit, and peft's modules_to_save copy of it then asked
for gradients on its uint8 weight: "only Tensors of floating point dtype can require gradients" at
get_peft_model, every QLoRA run and probe of an encoder classifier on a GPU.

Real parts: bitsandbytes' own CPU backend quantizes here (lorplan train hides bitsandbytes on the CPU, so the
load below is transformers' with lorplan's quantization config, as `lorplan train` passes it on a GPU)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.core.plan import QuantizationSection, read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
SMALL = {"vocab_size": 64, "hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 128, "num_labels": 3}


def _plan(task: str, bits: int = 4):
    plan = read_plan(SAMPLES / ("minilm-classification.toml" if task == "sequence-classification"
                                else "smollm2-135m-cpu.toml"))
    q = (QuantizationSection(load_in_4bit=True, bnb_4bit_compute_dtype="bfloat16") if bits == 4
         else QuantizationSection(load_in_8bit=True))
    return replace(plan, quantization=q)


def test_a_classifiers_quantization_config_skips_its_head():
    from lorplan.train.model import _quantization_config

    assert _quantization_config(_plan("sequence-classification")).llm_int8_skip_modules == ["classifier", "score"]
    assert _quantization_config(_plan("sequence-classification", 8)).llm_int8_skip_modules == ["classifier", "score"]
    # a causal LM keeps transformers' own choice (its lm_head, the output embeddings)
    assert _quantization_config(_plan("causal-lm")).llm_int8_skip_modules is None


def test_the_peft_export_loads_it_so_too():
    """bnb_config.json, the BitsAndBytesConfig kwargs the peft export writes, skips the head as lorplan train does."""
    import transformers

    from lorplan.core.export import export_plan

    for task, skip in (("sequence-classification", ["classifier", "score"]), ("causal-lm", None)):
        kwargs = json.loads(export_plan(_plan(task), "peft").files["bnb_config.json"])
        assert transformers.BitsAndBytesConfig(**kwargs).llm_int8_skip_modules == skip, kwargs


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("model_type", ["bert", "roberta", "llama"])
def test_a_4bit_classifier_loads_its_head_unquantized_and_trains(model_type, tmp_path):
    pytest.importorskip("bitsandbytes")
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model

    from lorplan.train.model import _quantization_config

    cfg = transformers.AutoConfig.for_model(model_type, **SMALL, **({"pad_token_id": 0} if model_type == "llama"
                                                                     else {}))
    transformers.AutoModelForSequenceClassification.from_config(cfg).save_pretrained(tmp_path)
    try:
        model = transformers.AutoModelForSequenceClassification.from_pretrained(
            tmp_path, quantization_config=_quantization_config(_plan("sequence-classification")),
            dtype=torch.bfloat16, device_map={"": "cpu"})
    except Exception as exc:  # noqa: BLE001 - a bitsandbytes without a CPU backend
        pytest.skip(f"bitsandbytes does not quantize on this CPU: {exc}")
    head = {n: type(m).__name__ for n, m in model.named_modules()
            if n.split(".")[0] in ("classifier", "score") and not list(m.children()) and "Dropout" not in type(m).__name__}
    assert head and set(head.values()) == {"Linear"}, head  # the head in 16 bits
    assert any(type(m).__name__ == "Linear4bit" for m in model.modules())  # the rest quantized
    peft_model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4, target_modules="all-linear"))
    out = peft_model(input_ids=torch.randint(1, 64, (2, 8)), labels=torch.tensor([0, 2]))
    out.loss.backward()
    trained = [p for p in peft_model.parameters() if p.requires_grad]
    assert trained and all(p.grad is not None for p in trained)
