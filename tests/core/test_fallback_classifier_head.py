"""The fallback child names a sequence classifier's output linear as its classifier: the `score` or `classifier`
module when it is a linear, else the one linear in that module with num_labels outputs (T5Gemma's score.out_proj,
RoBERTa's classifier.out_proj). It named the module, so the linear in it had the role "other": head_labels found no
head (the memory model priced 2 labels' logits). A 4-bit plan prices the head in 16 bits, as it does a decoder's
score; transformers 5 leaves a head in 16 bits only when it has no bias (quantizers/base.py get_keys_to_not_convert
names the model's last parameter, for a biased head its bias, which no module's name matches). Built by
transformers on the meta device in this process (the child's own report), tiny."""

from __future__ import annotations

import json

import pytest

from lorplan.core.memory.activations import head_labels as priced_labels
from lorplan.core.model import _fallback_child, fallback
from lorplan.core.model.head import head_labels, model_labels, with_labels

SMALL = {"vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 32}
PART = {**SMALL, "num_key_value_heads": 1, "head_dim": 8}


def _config(model_type: str, labels: int):
    import transformers

    if model_type == "t5gemma":  # the encoder-only classifier (is_encoder_decoder false)
        return transformers.T5GemmaConfig(encoder=PART, decoder=PART, vocab_size=64, is_encoder_decoder=False,
                                          num_labels=labels)
    return transformers.AutoConfig.for_model(model_type, **SMALL, num_labels=labels)


def _spec(model_type: str, labels: int, monkeypatch, capsys):
    """The child's report and the fallback's spec of the config's sequence classifier, and the module of its last
    parameter."""
    import torch
    import transformers

    config = _config(model_type, labels)
    with torch.device("meta"):
        model = transformers.AutoModelForSequenceClassification.from_config(config)
    monkeypatch.setattr(_fallback_child, "_build", lambda *_, **__: (config, model, "sequence-classification"))
    capsys.readouterr()
    assert _fallback_child.main(["config.json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cfg = {**config.to_dict(), "model_type": model_type}
    last = list(model.named_parameters())[-1][0].rpartition(".")[0]
    return report, fallback._spec(report, cfg, model_type, False, model_type), last


@pytest.mark.parametrize(("model_type", "head"), [("t5gemma", "score.out_proj"), ("roberta", "classifier.out_proj"),
                                                  ("llama", "score"), ("bert", "classifier")])
def test_the_classifier_is_the_heads_output_linear(model_type, head, monkeypatch, capsys):
    report, spec, last = _spec(model_type, 3, monkeypatch, capsys)
    assert report["classifier"] == head == last  # the head module's output linear, its last parameters
    assert [m.path for m in spec.linears if m.role == "head"] == [head]
    assert head_labels(spec) == model_labels(spec) == priced_labels(spec) == 3
    five = with_labels(spec, 5)
    assert [(m.path, m.out_features) for m in five.linears if m.role == "head"] == [(head, 5)]
    assert head_labels(five) == priced_labels(five) == 5


def test_a_one_output_head_in_a_module_is_known_and_resized(monkeypatch, capsys):
    """A cross-encoder's 1-output T5Gemma head: its own labels are 1 (a regression head), the plan's 2."""
    _, spec, _ = _spec("t5gemma", 1, monkeypatch, capsys)
    assert head_labels(spec) == model_labels(spec) == 1
    assert head_labels(with_labels(spec, 2)) == 2


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "bert", "roberta", "xlm-roberta", "t5gemma", "distilbert",
                                        "deberta-v2", "electra"])
def test_a_4bit_plan_leaves_in_16_bits_the_linears_lorplan_train_loads_so(model_type, monkeypatch, capsys):
    """The linears a 4-bit plan prices unquantized are those the bitsandbytes load of `lorplan train` leaves alone
    (quantizers/base.py get_modules_to_not_convert with core.lora.quantization_skip_modules, matched as
    integrations/bitsandbytes.py replace_with_bnb_linear matches them): a decoder's bias-less score, and a
    classifier's head with a bias (BERT's, RoBERTa's dense and out_proj, T5Gemma's out_proj), which transformers'
    own choice alone quantizes (get_keys_to_not_convert names the model's last parameter, a bias or, in
    XLM-RoBERTa, a LayerNorm's, which no module matches) and lorplan train skips (tests/train/
    test_quantized_classifier_head.py)."""
    import torch
    import transformers
    from transformers.pytorch_utils import Conv1D
    from transformers.quantizers.base import HfQuantizer
    from transformers.quantizers.quantizers_utils import should_convert_module

    from lorplan.core.lora import quantization_skip_modules
    from lorplan.core.memory import TrainingSetup
    from lorplan.core.memory.precision import unquantized_param_bytes
    from lorplan.core.memory.weights import weight_bytes

    _, spec, _ = _spec(model_type, 3, monkeypatch, capsys)
    with torch.device("meta"):
        model = transformers.AutoModelForSequenceClassification.from_config(_config(model_type, 3))
    keys = HfQuantizer.get_modules_to_not_convert(model, quantization_skip_modules(spec.task),
                                                  model._keep_in_fp32_modules)
    kept = {n for n, m in model.named_modules()
            if isinstance(m, (torch.nn.Linear, Conv1D)) and not should_convert_module(n, keys)}
    assert any(n.startswith(("classifier", "score")) for n in kept), sorted(kept)
    setup = TrainingSetup(quant="nf4")
    other = unquantized_param_bytes(setup)
    # bitsandbytes keeps every bias unquantized, and the weights of the linears it leaves alone
    want = sum(((m.in_features * m.out_features if m.path in kept else 0) + (m.out_features if m.bias else 0))
               for m in spec.linears) * other
    assert weight_bytes(spec, setup)["weights_linear"] == want, sorted(kept)


@pytest.mark.parametrize("preset", ["all-linear", "attention"])
def test_distilberts_pre_classifier_is_trained_in_full_as_peft_trains_it(preset, monkeypatch, capsys):
    """peft's modules_to_save matches a name as a suffix (peft.utils.other._set_trainable: key.endswith), so
    SEQ_CLS's "classifier" wraps DistilBERT's pre_classifier too, which a 4-bit load keeps in 16 bits alike
    (should_convert_module's suffix rule, test above). lorplan matched it at a module boundary: all-linear failed at
    get_peft_model ("modules_to_save cannot be applied to modules of type lora.Linear"), and the attention preset
    was priced without the pre_classifier's 272 parameters peft trains."""
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model

    from lorplan.core.lora import LoraTargets, peft_target_modules, trainable_params

    _, spec, _ = _spec("distilbert", 3, monkeypatch, capsys)
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_config(_config("distilbert", 3))
    targets = LoraTargets(modules=(preset,))
    peft_model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4,
                                                  target_modules=peft_target_modules(spec, targets)))
    saved = {n.removeprefix("base_model.model.") for n, m in peft_model.named_modules()
             if type(m).__name__ == "ModulesToSaveWrapper"}
    assert saved == {"pre_classifier", "classifier"}, saved
    assert peft_model.get_nb_trainable_parameters()[0] == trainable_params(spec, targets, 4)
