"""Model families (not state-space ones) whose forward reads a linear module's `.weight` instead of calling the
module: a LoRA adapter there is accepted by peft and never run (peft's wrapper answers `.weight` with the base
layer's), so its B gets no gradient. Found by scanning the installed transformers (the last test):

- Gemma 3n: AltUp's correct step multiplies by a clamped copy of correction_coefs.weight when training;
- LongCat Flash: the MoE router multiplies by classifier.weight in float32;
- LayoutLM v2 / v3: the encoder indexes rel_pos_bias / rel_pos_x_bias / rel_pos_y_bias's weights as bias tables;
- Bloom with pretraining_tp > 1 and slow_but_exact: F.linear over slices of dense / dense_4h_to_h's weights.

Before, lorplan's presets adapted them (Gemma 3n's and LayoutLM v3's all-linear, LongCat Flash's all-linear and
mlp); now they are left out (core.lora.WEIGHT_BYPASSED) and naming one is planned with a note. WavLM's attention
hands q/k/v/out_proj's weights to F.multi_head_attention_forward the same way, but lorplan refuses audio models.

Real tiny models with random weights, real peft and transformers, one training step on CPU; every bypass here is on
every device (none of them is a CUDA-only kernel)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from tests.cli.test_input_edges import _run

pytestmark = pytest.mark.slow


def _config(family: str):
    import transformers as tf

    if family == "gemma3n_text":
        return tf.Gemma3nTextConfig(
            vocab_size=128, vocab_size_per_layer_input=128, hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16,
            hidden_size_per_layer_input=8, num_kv_shared_layers=0, laurel_rank=4, sliding_window=8,
            layer_types=["sliding_attention", "full_attention"], activation_sparsity_pattern=[0.0, 0.0])
    if family == "longcat_flash":
        return tf.LongcatFlashConfig(
            vocab_size=128, hidden_size=32, num_layers=2, num_attention_heads=2, ffn_hidden_size=64, q_lora_rank=16,
            kv_lora_rank=8, qk_nope_head_dim=8, qk_rope_head_dim=8, v_head_dim=8, head_dim=8, moe_topk=2,
            n_routed_experts=4, zero_expert_num=2, expert_ffn_hidden_size=16)
    if family == "layoutlmv3":
        return tf.LayoutLMv3Config(vocab_size=128, hidden_size=36, coordinate_size=6, shape_size=6,
                                   num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, input_size=32,
                                   patch_size=16, num_labels=2, visual_embed=False)
    if family in ("bloom", "bloom_exact"):
        return tf.BloomConfig(vocab_size=128, hidden_size=32, n_layer=2, n_head=2, pretraining_tp=2,
                              slow_but_exact=family == "bloom_exact")
    assert family == "wavlm", family
    return tf.WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(8, 8), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
                          num_conv_pos_embedding_groups=2, num_buckets=16, max_bucket_distance=32, num_labels=2)


def _model(family: str):
    import torch
    import transformers as tf

    torch.manual_seed(0)
    config = _config(family)
    if family == "layoutlmv3":
        return tf.LayoutLMv3ForSequenceClassification(config)
    if family == "wavlm":
        return tf.WavLMForSequenceClassification(config)
    return tf.AutoModelForCausalLM.from_config(config)


def _inputs(family: str) -> dict:
    import torch

    torch.manual_seed(1)
    if family == "wavlm":
        return {"input_values": torch.randn(2, 400), "labels": torch.tensor([0, 1])}
    ids = torch.randint(3, 100, (2, 16))
    if family == "layoutlmv3":
        return {"input_ids": ids, "bbox": torch.randint(0, 500, (2, 16, 4)).sort(-1).values,
                "labels": torch.tensor([0, 1])}
    return {"input_ids": ids, "labels": ids, "use_cache": False}


def _lora_b_gets_gradient(family: str, names: list[str]) -> dict[str, bool]:
    """For each leaf name, whether every adapter of that name got a gradient on its B in one training step."""
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(_model(family), LoraConfig(r=4, target_modules=names))
    peft_model.train()
    peft_model(**_inputs(family)).loss.backward()
    got: dict[str, bool] = {}
    for path, module in peft_model.named_modules():
        if hasattr(module, "lora_B") and "default" in module.lora_B:
            grad = module.lora_B["default"].weight.grad
            leaf = path.rsplit(".", 1)[-1]
            got[leaf] = got.get(leaf, True) and grad is not None and bool(grad.abs().sum() > 0)
    return got


# family -> (a module called as a module, the modules read as a raw weight)
_FAMILIES = {
    "gemma3n_text": ("q_proj", ("correction_coefs",)),
    "longcat_flash": ("q_a_proj", ("classifier",)),
    "layoutlmv3": ("query", ("rel_pos_bias", "rel_pos_x_bias", "rel_pos_y_bias")),
    "bloom_exact": ("query_key_value", ("dense", "dense_4h_to_h")),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("weight_bypassed")
    out = {}
    for family in (*_FAMILIES, "bloom", "wavlm"):
        _config(family).save_pretrained(root / family)
        out[family] = root / family
    return out


@pytest.mark.parametrize("family", list(_FAMILIES))
def test_the_adapter_of_a_module_read_as_a_weight_gets_no_gradient(family):
    called, read = _FAMILIES[family]
    assert _lora_b_gets_gradient(family, [called, *read]) == {called: True, **dict.fromkeys(read, False)}


@pytest.mark.parametrize("family", list(_FAMILIES))
def test_the_presets_leave_them_out(folders, family):
    """Before: all-linear adapted them (and LongCat Flash's mlp preset was its router alone)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from lorplan.core.lora import LoraTargets, model_path, peft_target_modules, resolve_targets
    from lorplan.core.model import load_spec

    called, read = _FAMILIES[family]
    spec = load_spec(str(folders[family]))
    assert set(read) <= {m.name for m in spec.linears}  # the premise: the model has them
    for preset in ("all-linear", "attention", "mlp"):
        try:
            adapted = {m.name for m in resolve_targets(spec, LoraTargets(modules=(preset,)))}
        except Exception:  # a preset that matches nothing here (LayoutLM v3 has no "mlp" role)
            continue
        assert not adapted & set(read), (preset, adapted)
    assert called in {m.name for m in resolve_targets(spec, LoraTargets())}
    target_modules = peft_target_modules(spec, LoraTargets())
    assert target_modules != "all-linear"  # peft's all-linear would adapt them
    torch.manual_seed(0)
    model = _model(family)
    task = "SEQ_CLS" if spec.task == "sequence-classification" else None
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=target_modules, task_type=task))
    wrapped = {model_path(n) for n, m in peft_model.named_modules() if hasattr(m, "lora_A")}
    assert not {p.rsplit(".", 1)[-1] for p in wrapped} & set(read), wrapped
    if family != "longcat_flash":  # there peft turns gate/up/down_proj into its fused experts (left alone here)
        assert wrapped == {m.path for m in resolve_targets(spec, LoraTargets())}


@pytest.mark.parametrize("family", list(_FAMILIES))
def test_naming_one_is_planned_with_a_note(folders, family, capsys):
    called, read = _FAMILIES[family]
    rc, out, err = _run(capsys, "plan", "--model", str(folders[family]), "--rank", "4", "--seq-len", "32",
                        "--targets", f"{called},{read[0]}", "--json")
    assert rc == 0, err
    notes = [n for n in json.loads(out)["notes"] if f"{read[0]}'s weight" in n]
    assert len(notes) == 1 and notes[0].startswith(f"--targets {read[0]}: ") and "never trains" in notes[0], notes


def test_bloom_reads_the_weight_only_under_slow_but_exact(folders):
    """pretraining_tp > 1 alone (bigscience/bloom's 4) calls the modules: their adapters train and all-linear keeps
    them."""
    from lorplan.core.lora import LoraTargets, peft_target_modules, resolve_targets
    from lorplan.core.model import load_spec

    assert _lora_b_gets_gradient("bloom", ["dense", "dense_4h_to_h"]) == {"dense": True, "dense_4h_to_h": True}
    spec = load_spec(str(folders["bloom"]))
    assert {"dense", "dense_4h_to_h"} <= {m.name for m in resolve_targets(spec, LoraTargets())}
    assert peft_target_modules(spec, LoraTargets()) == "all-linear"


def test_wavlm_attention_trains_nothing_and_lorplan_does_not_plan_wavlm(folders, capsys):
    """WavLM's attention hands q/k/v/out_proj's weights to F.multi_head_attention_forward (every device), so their
    adapters get no gradient, while the feed-forward's (called as modules) do. It is not in WEIGHT_BYPASSED because
    lorplan refuses to plan an audio model at all: if that changes, this fails and the table needs WavLM."""
    names = ["q_proj", "k_proj", "v_proj", "out_proj"]
    assert _lora_b_gets_gradient("wavlm", [*names, "intermediate_dense"]) == {
        **dict.fromkeys(names, False), "intermediate_dense": True}
    rc, out, err = _run(capsys, "plan", "--model", str(folders["wavlm"]), "--rank", "4", "--seq-len", "32")
    assert rc == 2 and out == "" and err.count("\n") == 1 and "audio" in err, (rc, out, err)


# module names the scan finds read as a weight, and why no adapter on them is lost in what lorplan plans
_NOT_LOST = {
    "data2vec-text": ({"kernel"}, "the x-vector head of data2vec-audio, whose modeling file shares the folder"),
    "deberta": ({"in_proj"}, "read only when DebertaModel.z_steps > 1, which no config sets (it is 0)"),
    "reformer": ({"query_key", "value"}, "read only when extending a cache of past buckets, in generation"),
    "mobilebert": ({"decoder", "dense"}, "the masked-LM head, which the planned sequence classifier lacks"),
    "gemma4_assistant": ({"lm_head"}, "the output head (use_ordered_embeddings), which no preset adapts"),
    "gemma4_unified_assistant": ({"lm_head"}, "the output head (use_ordered_embeddings), which no preset adapts"),
}
_STRINGS = re.compile(r"\"[^\"]*\"|'[^']*'")
_OTHER_WEIGHT = re.compile(r"\b(?!self\.weight\b|module\.)\w+(?:\.\w+)*\.weight\b(?!\.(?:device|dtype|shape))")


def _is_read(node: ast.AST, parent: dict[int, ast.AST]) -> bool:
    """Whether a `X.weight` node reads the weight's values: not its device, dtype or shape, not an in-place edit of
    its data (`.weight.data.clamp_(...)`, the module is called after), not an isinstance / hasattr test."""
    up = parent.get(id(node))
    if isinstance(up, ast.Attribute) and up.attr in ("device", "dtype", "shape"):
        return False
    if isinstance(up, ast.Attribute) and up.attr == "data":
        above = parent.get(id(up))
        if isinstance(above, ast.Attribute) and above.attr.endswith("_"):
            return False
    return not (isinstance(up, ast.Call) and ast.unparse(up.func) in ("isinstance", "getattr", "hasattr"))


def _linear_weight_reads(source: str) -> set[str]:
    """The nn.Linear modules whose `.weight` a class in `source` reads in a method other than its initialisers:
    `self.x.weight` directly, or `p.weight` in a method that a call `self.method(self.x)` hands it to."""
    tree = ast.parse(source)
    parent = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        linears = {ast.unparse(t).removeprefix("self.") for n in ast.walk(cls) if isinstance(n, ast.Assign)
                   and isinstance(n.value, ast.Call) and ast.unparse(n.value.func) in ("nn.Linear", "torch.nn.Linear")
                   for t in n.targets}
        methods = [n for n in cls.body if isinstance(n, ast.FunctionDef) and "init" not in n.name]
        takes: dict[str, set[tuple[int, str]]] = {}  # method -> (position, name) of the arguments it reads .weight of
        for fn in methods:
            params = [a.arg for a in fn.args.args][1:]
            for node in ast.walk(fn):
                if (isinstance(node, ast.Attribute) and node.attr == "weight" and isinstance(node.value, ast.Name)
                        and node.value.id in params and _is_read(node, parent)):
                    takes.setdefault(fn.name, set()).add((params.index(node.value.id), node.value.id))
        for fn in methods:
            for node in ast.walk(fn):
                if (isinstance(node, ast.Attribute) and node.attr == "weight" and isinstance(node.value, ast.Attribute)
                        and ast.unparse(node.value.value) == "self" and node.value.attr in linears
                        and _is_read(node, parent)):
                    found.add(node.value.attr)
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and ast.unparse(node.func.value) == "self" and node.func.attr in takes):
                    for i, name in takes[node.func.attr]:
                        given = node.args[i:i + 1] + [k.value for k in node.keywords if k.arg == name]
                        found.update(a.attr for a in given if isinstance(a, ast.Attribute)
                                     and ast.unparse(a.value) == "self" and a.attr in linears)
    return found


def test_the_scan_sees_a_weight_handed_to_a_helper_and_skips_metadata():
    source = (
        "class Encoder(nn.Module):\n"
        "    def __init__(self):\n"
        "        self.table = nn.Linear(2, 4)\n"
        "        self.coefs = nn.Linear(4, 4)\n"
        "        self.proj = nn.Linear(4, 4)\n"
        "    def lookup(self, positions, bias):\n"
        "        return bias.weight[:, positions]\n"
        "    def forward(self, h, positions):\n"
        "        self.coefs.weight.data.clamp_(-1, 1)\n"
        "        if isinstance(self.proj.weight, torch.Tensor) and self.proj.weight.dtype == h.dtype:\n"
        "            h = self.proj(h)\n"
        "        return self.coefs(h) + self.lookup(positions, self.table)\n"
    )
    assert _linear_weight_reads(source) == {"table"}
    assert _linear_weight_reads(source.replace("self.coefs(h)", "F.linear(h, self.coefs.weight)")) == {"table",
                                                                                                      "coefs"}


def test_the_weight_read_table_is_the_installed_transformers():
    """Every linear module that a causal LM or sequence classifier of the installed transformers reads as a weight
    is refused by peft, left out by lorplan (KERNEL_BYPASSED, WEIGHT_BYPASSED) or lost in no plan (_NOT_LOST, with
    the reason); every WEIGHT_BYPASSED entry is still read so. A transformers that adds such a read fails here."""
    import transformers
    from transformers.models.auto.configuration_auto import model_type_to_module_name
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES,
    )

    from lorplan.core.lora import KERNEL_BYPASSED, PEFT_MAMBA_REFUSED, PEFT_MAMBA_TYPES, WEIGHT_BYPASSED

    root = Path(transformers.__file__).parent / "models"
    found: dict[str, set[str]] = {}
    for model_type in set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) | set(MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES):
        for path in (root / model_type_to_module_name(model_type)).glob("modeling_*.py"):
            text = path.read_text()
            # parsed only where a line names another module's weight (parsing every file took ~20 s)
            if any(_OTHER_WEIGHT.search(_STRINGS.sub("", line)) for line in text.splitlines() if ".weight" in line):
                found.setdefault(model_type, set()).update(_linear_weight_reads(text))
    assert {"gemma3n", "longcat_flash", "layoutlmv3", "bloom", "mamba"} <= {k for k, v in found.items() if v}
    for model_type, names in found.items():
        allowed = set(KERNEL_BYPASSED.get(model_type, {})) | set(WEIGHT_BYPASSED.get(model_type, {}))
        allowed |= set(PEFT_MAMBA_REFUSED) if model_type in PEFT_MAMBA_TYPES else set()
        allowed |= _NOT_LOST.get(model_type, (set(), ""))[0]
        assert names <= allowed, (model_type, names - allowed)
    for model_type, names in WEIGHT_BYPASSED.items():
        assert set(names) <= found.get(model_type, set()), model_type


@pytest.mark.parametrize("family", list(_FAMILIES))
def test_all_linear_says_what_it_leaves_out(folders, family):
    """The plan's note for all-linear names the modules it leaves out and why, with the LoRA parameters peft's own
    all-linear adds there (before: no note, so LayoutLMv3's 784 apart from peft at rank 4 were unexplained)."""
    from peft import LoraConfig, get_peft_model

    from lorplan.core.lora import LoraTargets, preset_bypass_notes, trainable_params
    from lorplan.core.model import load_spec

    _, read = _FAMILIES[family]
    spec = load_spec(str(folders[family]))
    notes = preset_bypass_notes(spec, LoraTargets(), 4)
    assert len(notes) == 1 and notes[0].startswith("--targets all-linear leaves out ") and "never trains" in notes[0]
    assert all(name in notes[0] for name in read), notes
    assert preset_bypass_notes(spec, LoraTargets(modules=("query", "q_proj", "q_a_proj", "query_key_value")), 4) == []
    if family != "longcat_flash":  # there peft's all-linear also turns the experts into its fused ones
        task = "SEQ_CLS" if spec.task == "sequence-classification" else None
        peft_model = get_peft_model(_model(family), LoraConfig(r=4, target_modules="all-linear", task_type=task))
        extra = peft_model.get_nb_trainable_parameters()[0] - trainable_params(spec, LoraTargets(), 4)
        assert f"({extra:,} more LoRA parameters at rank 4)" in notes[0], (extra, notes)
