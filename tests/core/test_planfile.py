"""Plan files: TOML round trip (property-tested), validation (a test per rule), atomic writes."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lorplan.core.errors import BadInput
from lorplan.core.limits import (
    MAX_CUDA_CONTEXT_BYTES,
    MAX_EPOCHS,
    MAX_GRADIENT_ACCUMULATION,
    MAX_LEARNING_RATE,
    MAX_MICRO_BATCH,
    MAX_RANK,
    MAX_SEQ_LEN,
    MAX_STEPS,
)
from lorplan.core.plan import (
    DataSection,
    EstimateSection,
    HardwareSection,
    LoraSection,
    ModelSection,
    Plan,
    QuantizationSection,
    TrainingSection,
    dumps_plan,
    loads_plan,
    read_plan,
    write_plan,
)
from lorplan.core.plan import schema as ps
from lorplan.core.vocab import (
    FOUR_BIT_QUANTS,
    TORCH_DTYPE,
    Attention,
    DataSchema,
    DType,
    Kernels,
    LoraBias,
    LoraInit,
    Optimizer,
    Scheduler,
    Sharding,
    Task,
    TrainOn,
    spellings,
)

# ids and paths must not be blank (plan validation refuses "model.path: must not be empty"; "\r" was drawn)
# no NUL: a plan refuses one in any string (no path, model id or module name holds it; test_planfile_text.py)
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), min_size=1,
               max_size=20).filter(lambda s: s.strip())
# not lorplan's presets ("mlp", "attention"), which a plan refuses as module names
names = st.text("abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=12).filter(
    lambda s: s.strip() and s not in ("attention", "mlp"))
pos_int = st.integers(1, 2**40)
nonneg = st.integers(0, 2**50)
fraction = st.floats(0.0, 1.0, exclude_max=True, allow_nan=False)
pos_float = st.floats(1e-12, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def plans(draw) -> Plan:
    task = draw(st.sampled_from(Task.values()))
    if draw(st.booleans()):
        model = ModelSection(id=draw(text), revision=draw(text), trust_remote_code=draw(st.booleans()), task=task)
    else:
        model = ModelSection(path=draw(text), revision=draw(text), task=task)
    if task == "sequence-classification" and draw(st.booleans()):
        model = ModelSection(**{**model.__dict__, "num_labels": draw(st.integers(2, 1000))})
    if draw(st.booleans()):  # lorplan plan --rope-scaling
        model = ModelSection(**{**model.__dict__, "rope_scaling": draw(st.floats(1.0, 64.0, exclude_min=True))})
    bits = draw(st.sampled_from([(False, False), (True, False), (False, True)]))
    quant = QuantizationSection(
        load_in_4bit=bits[0],
        load_in_8bit=bits[1],
        bnb_4bit_quant_type=draw(st.sampled_from(spellings(FOUR_BIT_QUANTS))),
        bnb_4bit_use_double_quant=draw(st.booleans()),
        bnb_4bit_compute_dtype=draw(st.sampled_from(tuple(TORCH_DTYPE.values()))),
        prepare_kbit=draw(st.booleans()),
    )
    all_linear = draw(st.booleans())
    lora = LoraSection(
        r=draw(st.integers(1, MAX_RANK)),
        alpha=draw(st.one_of(pos_int, pos_float)),
        dropout=draw(fraction),
        target_modules=("all-linear",) if all_linear else tuple(draw(st.lists(names, min_size=1, max_size=7))),
        layers_to_transform=() if all_linear else tuple(draw(st.lists(st.integers(0, 200), max_size=5))),
        rank_pattern=draw(st.dictionaries(names, st.integers(1, MAX_RANK), max_size=3)),
        alpha_pattern=draw(st.dictionaries(names, st.one_of(pos_int, pos_float), max_size=3)),
        use_rslora=draw(st.booleans()),
        use_dora=draw(st.booleans()),
        init_lora_weights=draw(st.one_of(st.booleans(), st.sampled_from(LoraInit.values() + ("pissa_niter_4",)))),
        modules_to_save=tuple(draw(st.lists(names, max_size=3))),
        bias=draw(st.sampled_from(LoraBias.values())),
    )
    steps = draw(st.booleans())
    training = TrainingSection(
        learning_rate=draw(st.floats(1e-12, MAX_LEARNING_RATE)),
        lr_scheduler=draw(st.sampled_from(Scheduler.values())),
        warmup_ratio=draw(fraction),
        micro_batch=draw(st.integers(1, MAX_MICRO_BATCH)),
        gradient_accumulation=draw(st.integers(1, MAX_GRADIENT_ACCUMULATION)),
        epochs=None if steps else draw(st.floats(1e-12, MAX_EPOCHS)),
        max_steps=draw(st.integers(1, MAX_STEPS)) if steps else None,
        seq_len=draw(st.integers(1, MAX_SEQ_LEN)),
        packing=task == "causal-lm" and draw(st.booleans()),  # a classifier packs nothing (rules.py)
        gradient_checkpointing=draw(st.booleans()),
        optimizer=draw(st.sampled_from(Optimizer.values())),
        precision=draw(st.sampled_from(DType.values())),
        attention=draw(st.sampled_from(Attention.values())),
        seed=draw(st.integers(0, 2**31)),
        weight_decay=draw(st.floats(0, 10)),
        output_dir=draw(text).strip() or "out",
        save_steps=draw(st.integers(1, MAX_STEPS)),
        logging_steps=draw(st.integers(1, MAX_STEPS)),
    )
    data = DataSection(path=draw(text).strip() or "d", schema=draw(st.sampled_from(DataSchema.values())),
                       eval_split=draw(fraction),
                       # a classifier chooses no tokens: no train_on (None, not written)
                       train_on=draw(st.sampled_from(TrainOn.values())) if task == "causal-lm" else None)
    gpus = draw(st.integers(0, 64))
    hardware = HardwareSection(gpus=gpus, sharding="none" if gpus == 0 else draw(st.sampled_from(Sharding.values())))
    estimate = None
    if draw(st.booleans()):
        parts = draw(st.lists(nonneg, min_size=6, max_size=6))
        estimate = EstimateSection(
            lora.r, draw(nonneg), *parts, total_bytes=sum(parts),
            budget_bytes=draw(st.one_of(st.none(), nonneg)), fits=draw(st.one_of(st.none(), st.booleans())),
            lorplan_version=draw(text), details=draw(st.dictionaries(names, nonneg, max_size=4)),
            adapter_dtype=draw(st.one_of(st.none(), st.sampled_from(DType.values()))),
            autocast=draw(st.one_of(st.none(), st.booleans())),
            kernels=draw(st.one_of(st.none(), st.sampled_from(Kernels.values()))),
            foreach=draw(st.one_of(st.none(), st.booleans())),
            reserve_fraction=draw(st.one_of(st.none(), st.floats(0, 5))),
            cuda_context_bytes=draw(st.one_of(st.none(), st.integers(0, MAX_CUDA_CONTEXT_BYTES))),
            padding_mask=draw(st.one_of(st.none(), st.booleans())),
        )
    return Plan(model=model, quantization=quant, lora=lora, training=training, data=data, hardware=hardware,
                estimate=estimate)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_round_trip_is_identity(plan):
    assert loads_plan(dumps_plan(plan)) == plan


def good() -> Plan:
    return Plan(
        model=ModelSection(id="meta-llama/Llama-3.1-8B"),
        lora=LoraSection(r=16, alpha=32, target_modules=("q_proj", "v_proj")),
        training=TrainingSection(),
        data=DataSection(path="data/train.jsonl"),
    )


def problems(toml_text: str) -> list[str]:
    with pytest.raises(BadInput) as info:
        loads_plan(toml_text, "p.toml")
    lines = str(info.value).splitlines()
    assert lines == info.value.problems
    assert all(line.startswith("p.toml: ") for line in lines)
    return lines


def edit(old: str, new: str) -> str:
    base = dumps_plan(good())
    assert old in base, old
    return base.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # unknown tables and keys
        ('[data]', '[dataa]\nx = 1\n[data]', "p.toml: dataa: unknown table"),
        ('r = 16', 'r = 16\nrank = 8', "p.toml: lora.rank: unknown key"),
        # wrong types
        ('r = 16', 'r = "16"', "p.toml: lora.r: must be an integer, not a string"),
        # a float where a whole number goes: the line says the value ("must be an integer, not a number")
        ('r = 16', 'r = 16.0', "p.toml: lora.r: must be written as a whole number: 16, not 16.0"),
        ('micro_batch = 1', 'micro_batch = 1.5', "p.toml: training.micro_batch: must be a whole number, not 1.5"),
        ('version = 1', 'version = 1.5', "p.toml: version: must be a whole number, not 1.5"),
        # a float too large to name its digits exactly: the same words, without them ("must be an integer" was
        # the one line of the three in other words)
        ('r = 16', 'r = 1e300', "p.toml: lora.r: must be written as a whole number, not 1e+300"),
        ('packing = false', 'packing = 1', "p.toml: training.packing: must be true or false"),
        # a list with a wrong item names it ("must be a list of strings, not a list" did not)
        ('target_modules = [', 'target_modules = [1,',
         "p.toml: lora.target_modules: item 1 = 1: must be a string, not an integer"),
        ('layers_to_transform = []', 'layers_to_transform = [0, 1.5]',
         "p.toml: lora.layers_to_transform: item 2 = 1.5: must be a whole number"),
        ('layers_to_transform = []', 'layers_to_transform = 3',
         "p.toml: lora.layers_to_transform: must be a list of integers, not an integer"),
        ('learning_rate = 0.0002', 'learning_rate = "2e-4"', "p.toml: training.learning_rate: must be a number"),
        # missing required keys / tables
        ('r = 16\n', '', "p.toml: lora.r: missing (required)"),
        ('path = "data/train.jsonl"\n', '', "p.toml: data.path: missing (required)"),
        ('version = 1\n', '', "p.toml: version: missing"),
        ('id = "meta-llama/Llama-3.1-8B"\n', '', "p.toml: model: give exactly one of id"),
        ('epochs = 1.0\n', '', "p.toml: training: give exactly one of epochs or max_steps"),
        ('epochs = 1.0\n', 'epochs = 1.0\nmax_steps = 5\n', "p.toml: training: give exactly one of epochs"),
        # impossible values
        ('r = 16', 'r = 0', "p.toml: lora.r: rank must be at least 1 (got 0)"),
        ('alpha = 32', 'alpha = -1', "p.toml: lora.alpha: must be positive"),
        ('dropout = 0.0', 'dropout = 1.0', "p.toml: lora.dropout: must be in [0, 1) (got 1.0)"),
        ('dropout = 0.0', 'dropout = -0.1', "p.toml: lora.dropout: must be in [0, 1)"),
        ('learning_rate = 0.0002', 'learning_rate = 0.0', "p.toml: training.learning_rate: must be positive"),
        ('learning_rate = 0.0002', 'learning_rate = nan', "p.toml: training.learning_rate: must be a number, not nan"),
        ('learning_rate = 0.0002', 'learning_rate = -inf', "p.toml: training.learning_rate: must be a number, not -inf"),
        ('micro_batch = 1', 'micro_batch = 0', "p.toml: training.micro_batch: must be at least 1"),
        # beyond lorplan plan's bounds: the plan's key is named, where TrainingSetup named the flag --micro-batch
        ('micro_batch = 1', 'micro_batch = 100000000',
         "p.toml: training.micro_batch: must be at most 1,048,576 (got 100000000)"),
        ('seq_len = 2048', 'seq_len = 99999999999', "p.toml: training.seq_len: must be at most 16,777,216"),
        ('gpus = 1\nsharding = "none"', 'gpus = 70000\nsharding = "ddp"',
         "p.toml: hardware.gpus: must be at most 65,536 (got 70000)"),
        ('seq_len = 2048', 'seq_len = -5', "p.toml: training.seq_len: must be at least 1"),
        # lorplan.core.limits' bounds on how long a run trains: 9.2e18 steps and 1e308 epochs loaded and exported
        ('epochs = 1.0\n', 'max_steps = 9200000000000000000\n',
         "p.toml: training.max_steps: must be at most 1,000,000,000 (got 9200000000000000000)"),
        ('epochs = 1.0', 'epochs = 1e308', "p.toml: training.epochs: must be at most 10,000 (got 1e+308)"),
        ('save_steps = 100', 'save_steps = 1000000001', "p.toml: training.save_steps: must be at most 1,000,000,000"),
        ('logging_steps = 10', 'logging_steps = 1000000001',
         "p.toml: training.logging_steps: must be at most 1,000,000,000"),
        ('gradient_accumulation = 1', 'gradient_accumulation = 9200000000000000000',
         "p.toml: training.gradient_accumulation: must be at most 65,536 (got 9200000000000000000)"),
        # numpy's seeding (transformers.set_seed) takes 32 bits: lorplan train ended in a traceback
        ('seed = 42', 'seed = 4294967296', "p.toml: training.seed: must be at most 4,294,967,295 (got 4294967296)"),
        ('warmup_ratio = 0.03', 'warmup_ratio = 1.5', "p.toml: training.warmup_ratio: must be in [0, 1)"),
        ('eval_split = 0.0', 'eval_split = 1.0', "p.toml: data.eval_split: must be in [0, 1)"),
        ('train_on = "completion"', 'train_on = "prompts"', "p.toml: data.train_on: must be one of completion, all"),
        ('gpus = 1\nsharding = "none"', 'gpus = 0\nsharding = "fsdp"', "p.toml: hardware.sharding: fsdp needs GPUs"),
        ('gpus = 1', 'gpus = -1', "p.toml: hardware.gpus: must be ≥ 0"),
        ('optimizer = "adamw"', 'optimizer = "lion"', "p.toml: training.optimizer: must be one of adamw"),
        ('bias = "none"', 'bias = "some"', "p.toml: lora.bias: must be one of none, all, lora_only"),
        ('init_lora_weights = true', 'init_lora_weights = "magic"', "p.toml: lora.init_lora_weights: must be"),
        ('load_in_8bit = false', 'load_in_8bit = true\n', None),
        ('"q_proj",', '"attention",', "p.toml: lora.target_modules: \"attention\" is a lorplan preset"),
        ('"q_proj",', '"all-linear",', "p.toml: lora.target_modules: \"all-linear\" cannot be combined"),
        ('layers_to_transform = []', 'layers_to_transform = [-1]', "p.toml: lora.layers_to_transform: layer"),
        ('version = 1', 'version = 99', "p.toml: version: 99 was written by a newer lorplan"),
        ('task = "causal-lm"', 'task = "causal-lm"\nnum_labels = 3', "p.toml: model.num_labels: only applies"),
        ('task = "causal-lm"', 'task = "sequence-classification"\nnum_labels = 100000000',
         "p.toml: model.num_labels: must be at most 1,048,576 (got 100000000)"),
    ],
)
def test_each_rule(old, new, expected):
    text = edit(old, new)
    if expected is None:  # 4-bit and 8-bit together
        text = text.replace("load_in_4bit = false", "load_in_4bit = true")
        expected = "p.toml: quantization: load_in_4bit and load_in_8bit cannot both be true"
    lines = problems(text)
    assert any(line.startswith(expected) for line in lines), lines


def test_a_plan_without_train_on_trains_completions():
    """Plans written before data.train_on existed read as before: the loss on completions only."""
    text = edit('train_on = "completion"\n', "")
    assert "train_on" not in text
    assert loads_plan(text, "p.toml").data.train_on == "completion"
    assert loads_plan(edit('train_on = "completion"', 'train_on = "all"'), "p.toml").data.train_on == "all"


def _classifier(plan: Plan | None = None) -> Plan:
    plan = plan or good()
    return replace(plan, model=replace(plan.model, id="sentence-transformers/all-MiniLM-L6-v2",
                                       task="sequence-classification", num_labels=2),
                   lora=replace(plan.lora, target_modules=("all-linear",)))


def _estimate(loss: str) -> EstimateSection:
    return EstimateSection(16, 100, 1, 2, 3, 4, 5, 6, total_bytes=21, loss=loss)


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('train_on = "completion"', 'train_on = "all"', 'p.toml: data.train_on: "all" only applies to task = '
     '"causal-lm": a sequence classifier trains one label per example, there are no prompt tokens to train'),
    ("packing = false", "packing = true", 'p.toml: training.packing: only applies to task = "causal-lm": a '
     "sequence classifier trains one label per example"),
    ('loss = "standard"', 'loss = "fused-linear-ce"', 'p.toml: estimate.loss: fused-linear-ce only applies to task '
     '= "causal-lm": it fuses the output head\'s loss over the vocabulary, and a sequence classifier\'s loss is over '
     "its num_labels classes"),
    ('loss = "standard"', 'loss = "cut-ce"', 'p.toml: estimate.loss: cut-ce only applies to task = "causal-lm"'),
])
def test_a_classifier_plan_refuses_what_only_a_causal_lm_trains_by(old, new, expected):
    """train_on = "all", packing = true and a fused loss kernel were accepted in a classifier's plan, which lorplan
    train then ignored: each is now refused, named; the causal LM's plan keeps them."""
    old_style = dumps_plan(replace(_classifier(), data=replace(good().data, train_on="completion"),
                                   estimate=_estimate("standard")))
    assert old in old_style
    lines = problems(old_style.replace(old, new, 1))
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    causal = dumps_plan(replace(good(), estimate=_estimate("standard")))
    assert loads_plan(causal.replace(old, new, 1), "p.toml")  # a causal LM trains by them


def test_an_old_classifier_plan_with_train_on_completion_still_reads():
    """Every classifier plan written before said train_on = "completion" (one label per example: it chose
    nothing). It still loads, as no train_on; a plan written now leaves the key out, a causal LM's keeps it."""
    old_style = dumps_plan(replace(_classifier(), data=replace(good().data, train_on="completion")))
    assert 'train_on = "completion"' in old_style
    plan = loads_plan(old_style, "p.toml")
    assert plan.data.train_on is None and plan.training.packing is False
    assert "train_on" not in dumps_plan(plan)
    assert loads_plan(edit('train_on = "completion"\n', ""), "p.toml").data.train_on == "completion"


def test_rank_pattern_rules():
    base = edit("bias = \"none\"", "bias = \"none\"\nrank_pattern = { q_proj = 0, \"(\" = 4 }")
    base = base.replace("[lora.rank_pattern]\n", "")
    lines = problems(base)
    assert any(x.endswith("lora.rank_pattern: 'q_proj' = 0: a rank must be at least 1") for x in lines)
    assert any("lora.rank_pattern: '(' is not a valid regular expression" in x for x in lines)


def test_a_rank_pattern_rank_has_lora_rs_bound():
    """rank_pattern = { q_proj = 99999999999999999999 } was accepted (only ranks below 1 were refused) and exported,
    while lora.r that large is refused; each names its entry."""
    base = edit("bias = \"none\"", "bias = \"none\"\nrank_pattern = { q_proj = 99999999999999999999, v_proj = 65536 }")
    lines = problems(base.replace("[lora.rank_pattern]\n", ""))
    assert [x.split(": ", 1)[1] for x in lines] == [
        "lora.rank_pattern: 'q_proj' = 99999999999999999999: a rank must be at most 65,536"], lines


def test_a_pattern_value_of_the_wrong_type_names_its_key():
    base = edit("bias = \"none\"", "bias = \"none\"\nrank_pattern = { q_proj = 8, v_proj = 2.5, k_proj = \"4\", "
                "o_proj = 8.0 }"
                "\nalpha_pattern = { q_proj = 0, v_proj = true }")
    base = base.replace("[lora.rank_pattern]\n", "").replace("[lora.alpha_pattern]\n", "")
    lines = problems(base)
    assert [x.split(": ", 1)[1] for x in lines] == [
        "lora.rank_pattern: 'v_proj' = 2.5: must be a whole number",
        "lora.rank_pattern: 'k_proj' = '4': must be an integer, not a string",
        "lora.rank_pattern: 'o_proj' = 8.0: must be written as a whole number: 8",
        "lora.alpha_pattern: 'v_proj' = True: must be a number, not a boolean",
    ]


def test_each_wrong_list_item_is_named_as_a_table_entry_is():
    """A list with wrong items said "must be a list of integers, not a list": each wrong item now gets the line a
    table's entry gets, its place in the list and its value."""
    lines = problems(edit("layers_to_transform = []", 'layers_to_transform = [0, 2.0, true, "3", 4]'))
    assert [x.split(": ", 1)[1] for x in lines] == [
        "lora.layers_to_transform: item 2 = 2.0: must be written as a whole number: 2",
        "lora.layers_to_transform: item 3 = True: must be an integer, not a boolean",
        "lora.layers_to_transform: item 4 = '3': must be an integer, not a string",
    ]


def test_layers_to_transform_needs_explicit_targets():
    plan = good()
    text = dumps_plan(plan).replace('target_modules = [\n    "q_proj",\n    "v_proj",\n]',
                                    'target_modules = ["all-linear"]')
    text = text.replace("layers_to_transform = []", "layers_to_transform = [0, 1]")
    assert any("lora.layers_to_transform: needs explicit target_modules" in x for x in problems(text))


def test_estimate_rules():
    est = EstimateSection(16, 100, 1, 2, 3, 4, 5, 6, total_bytes=21)
    text = dumps_plan(Plan(**{**good().__dict__, "estimate": est}))
    assert loads_plan(text).estimate == est
    lines = problems(text.replace("total_bytes = 21", "total_bytes = 22").replace("rank = 16", "rank = 8"))
    assert any("estimate.total_bytes: is 22 but the components add up to 21" in x for x in lines)
    assert any("estimate.rank: is 8 but lora.r is 16" in x for x in lines)
    lines = problems(text.replace("weights_bytes = 1\n", "weights_bytes = 1\nkernels = \"tpu\"\n"
                                  "reserve_fraction = -1.0\n").replace("overhead_bytes = 6\n", ""))
    assert any("estimate.kernels: must be one of cuda, cpu" in x for x in lines)
    assert any("estimate.reserve_fraction: must be ≥ 0" in x for x in lines)
    assert any("estimate.overhead_bytes: missing (required)" in x for x in lines)


def test_all_problems_at_once():
    text = edit("r = 16", "r = 0").replace("dropout = 0.0", "dropout = 2.0").replace("seq_len = 2048", "seq_len = 0")
    text = text.replace('optimizer = "adamw"', 'optimizer = "adamw"\ncolor = "blue"')
    lines = problems(text)
    assert len(lines) == 4
    assert [line.split(": ")[1] for line in lines] == [
        "training.color", "lora.r", "lora.dropout", "training.seq_len"]


def test_not_toml_and_missing_file(tmp_path):
    with pytest.raises(BadInput, match=r"p.toml: not valid TOML"):
        loads_plan("version = = 1", "p.toml")
    with pytest.raises(BadInput, match=r"nope.toml: no such plan file"):
        read_plan(tmp_path / "nope.toml")


def test_write_is_atomic_and_never_overwrites(tmp_path):
    path = tmp_path / "sub" / "plan.toml"
    write_plan(good(), path)
    assert read_plan(path) == good()
    other = Plan(**{**good().__dict__, "lora": LoraSection(r=8, alpha=8, target_modules=("q_proj",))})
    with pytest.raises(BadInput, match="already exists; pass --force"):
        write_plan(other, path)
    assert read_plan(path) == good()  # the user's file is untouched
    write_plan(other, path, force=True)
    assert read_plan(path).lora.r == 8
    assert os.listdir(path.parent) == ["plan.toml"]  # no temporary files left behind


def test_refuses_to_write_an_invalid_plan(tmp_path):
    bad = Plan(**{**good().__dict__, "lora": LoraSection(r=0, target_modules=("q_proj",))})
    with pytest.raises(BadInput, match="lora.r"):
        write_plan(bad, tmp_path / "p.toml")
    assert not (tmp_path / "p.toml").exists()


def test_plan_and_export_modules_import_no_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import lorplan.core.plan.tomlfile, lorplan.core.export, lorplan.core.export.peft, lorplan.core.export.axolotl\n"
        "import lorplan.core.export.llamafactory, lorplan.core.export.accelerate, lorplan.cli.export\n"
        "import lorplan.cli.train\n"
        "heavy = [m for m in ('torch', 'transformers', 'peft', 'textual') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unwritable_target_is_one_line_bad_input(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(BadInput, match=r"afile/plan.toml: cannot write there"):
        write_plan(good(), tmp_path / "afile" / "plan.toml")


def test_every_training_setup_field_is_kept_by_the_plan():
    """A new TrainingSetup field must be mapped into the plan (or its [estimate] assumptions), else a written
    estimate could not be recomputed from the file."""
    from dataclasses import fields

    from lorplan.core.memory import TrainingSetup

    mapped = {"targets", "quant", "double_quant", "base_dtype", "micro_batch", "seq_len", "grad_checkpointing",
              "optimizer", "attention", "lora_dropout", "gpus", "sharding", "rope_scaling", "prepare_kbit"}
    assert {f.name for f in fields(TrainingSetup)} <= mapped | set(ps.ASSUMPTIONS)
