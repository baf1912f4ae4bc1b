"""I-BERT (model_type "ibert") builds its attention and MLP from transformers' QuantLinear (I-BERT's integer-only
quantization), an nn.Module that is not an nn.Linear: peft's LoRA wraps none of them. Its "all-linear" finds no
module (get_peft_model: "No modules were targeted for adaptation") and it refuses one named ("Target module
(QuantLinear() ...) is not supported"). lorplan said "--targets all-linear: no module of ... matches, so nothing would
be trained", which did not say why; now every target is refused with one line naming the model and the module kind
(core.lora.PEFT_UNSUPPORTED_LAYERS). One fallback build (the folder's plan); peft's refusals on the meta device."""

from __future__ import annotations

import json

import pytest

from lorplan.core.errors import BadInput
from lorplan.core.lora import PEFT_UNSUPPORTED_LAYERS, LoraTargets, resolve_targets
from tests.cli.test_input_edges import _run

pytestmark = pytest.mark.slow

SIZES = {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
         "intermediate_size": 64, "max_position_embeddings": 66, "type_vocab_size": 1, "pad_token_id": 1}


def _meta_ibert():
    import torch
    import transformers

    config = transformers.IBertConfig(**SIZES, num_labels=2)
    with torch.device("meta"):
        return transformers.IBertForSequenceClassification(config)


def test_peft_adapts_no_layer_of_ibert():
    import peft
    import torch

    model = _meta_ibert()
    query = model.ibert.encoder.layer[0].attention.self.query
    assert type(query).__name__ == PEFT_UNSUPPORTED_LAYERS["ibert"][0] and not isinstance(query, torch.nn.Linear)
    with pytest.raises(ValueError, match="QuantLinear.*is not supported"):
        peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=["query"], task_type="SEQ_CLS"))
    with pytest.raises(ValueError, match="No modules were targeted"):
        peft.get_peft_model(_meta_ibert(), peft.LoraConfig(r=4, target_modules="all-linear", task_type="SEQ_CLS"))


@pytest.fixture(scope="module")
def ibert_spec(tmp_path_factory):
    from lorplan.core.model import load_spec

    folder = tmp_path_factory.mktemp("ibert") / "ibert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "ibert", "quant_mode": False, **SIZES,
                                                    "architectures": ["IBertForSequenceClassification"]}))
    return folder, load_spec(str(folder))


@pytest.mark.parametrize("targets", [("all-linear",), ("query", "value"), ("dense",), ("attention",)])
def test_lorplan_refuses_every_target_of_ibert_in_one_line(ibert_spec, targets):
    _, spec = ibert_spec
    with pytest.raises(BadInput) as refused:
        resolve_targets(spec, LoraTargets(modules=targets))
    line = str(refused.value)
    assert "\n" not in line and "IBertForSequenceClassification" in line and "QuantLinear" in line
    assert "peft" in line


def test_plan_refuses_ibert_in_one_line(ibert_spec, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder, _ = ibert_spec
    rc, out, err = _run(capsys, "plan", "--model", str(folder), "--rank", "4", "--seq-len", "32")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    # before: "--targets all-linear: no module of ... matches, so nothing would be trained"
    assert "QuantLinear" in err and "IBertForSequenceClassification" in err and "nothing would be trained" not in err


# ConvBERT with num_groups > 1 builds its MLP's intermediate.dense and output.dense as transformers'
# GroupedLinearLayer (its attention's query ... attention.output.dense stay nn.Linear). peft's all-linear passes them
# over (lorplan's too: 2,222 at rank 4 both) and peft refuses a name selecting one; lorplan priced --targets dense as
# attention.output.dense alone (1,378) and said of intermediate.dense "matches no module". One fallback build.
CONVBERT = {"model_type": "convbert", "architectures": ["ConvBertForSequenceClassification"], "vocab_size": 64,
            "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
            "max_position_embeddings": 64, "embedding_size": 32, "head_ratio": 2, "conv_kernel_size": 3,
            "num_groups": 2}


@pytest.fixture(scope="module")
def convbert_spec(tmp_path_factory):
    from lorplan.core.model import load_spec

    folder = tmp_path_factory.mktemp("convbert") / "convbert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONVBERT))
    return load_spec(str(folder))


def _meta_convbert(num_groups: int):
    import torch
    import transformers

    config = transformers.ConvBertConfig(**{k: v for k, v in CONVBERT.items() if k not in ("model_type",
                                                                                           "architectures")})
    config.num_groups = num_groups
    with torch.device("meta"):
        return transformers.ConvBertForSequenceClassification(config)


@pytest.mark.parametrize("targets", [("dense",), ("intermediate.dense",), ("output.dense", "query"), ("mlp",)])
def test_convbert_grouped_layers_are_refused_as_peft_refuses_them(convbert_spec, targets):
    import peft

    from lorplan.core.lora import trainable_params

    named = [t for t in targets if t != "mlp"]
    if named:  # peft refuses the same names
        with pytest.raises(ValueError, match="GroupedLinearLayer.*is not supported"):
            peft.get_peft_model(_meta_convbert(2), peft.LoraConfig(r=4, target_modules=named, task_type="SEQ_CLS"))
    with pytest.raises(BadInput) as refused:
        trainable_params(convbert_spec, LoraTargets(modules=targets), 4)
    line = str(refused.value)
    assert "\n" not in line and "GroupedLinearLayer" in line and "intermediate.dense, output.dense" in line
    hits = [t for t in named if t.endswith("dense")]  # the names that select a grouped layer ("query" does not)
    assert line.startswith(f"--targets {', '.join(hits)}: ") if hits else line.startswith(convbert_spec.id)


@pytest.mark.parametrize("targets", ["all-linear", ["query", "value", "conv_out_layer"], ["attention.output.dense"]])
def test_convbert_linears_are_priced_as_peft_trains_them(convbert_spec, targets):
    import peft

    from lorplan.core.lora import peft_unwrappable, trainable_params

    assert [p.split(".", 4)[-1] for p in peft_unwrappable(convbert_spec)] == ["intermediate.dense", "output.dense"]
    modules = (targets,) if isinstance(targets, str) else tuple(targets)
    wrapped = peft.get_peft_model(_meta_convbert(2), peft.LoraConfig(r=4, target_modules=targets, task_type="SEQ_CLS"))
    assert trainable_params(convbert_spec, LoraTargets(modules=modules), 4) == wrapped.get_nb_trainable_parameters()[0]
