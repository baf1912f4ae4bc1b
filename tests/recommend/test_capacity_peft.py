"""The prior's parameters per rank against real peft: MiniLM (a catalog config) built on the meta device."""

from __future__ import annotations

import copy
import warnings

import peft  # noqa: E402
import pytest
import torch  # noqa: E402
import transformers  # noqa: E402

from lorplan.core.lora import LoraTargets  # noqa: E402
from lorplan.core.model import catalog  # noqa: E402
from lorplan.core.model.sources import from_config  # noqa: E402
from lorplan.recommend.capacity import adapter_size  # noqa: E402

pytestmark = pytest.mark.slow
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def peft_trainable(cfg: dict, rank: int, target_modules) -> int:
    cfg = copy.deepcopy(cfg)
    config = transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = transformers.AutoModelForSequenceClassification.from_config(config)
        lora = peft.LoraConfig(r=rank, lora_alpha=32, target_modules=target_modules, task_type="SEQ_CLS")
        return peft.get_peft_model(model, lora).get_nb_trainable_parameters()[0]


@pytest.mark.parametrize("modules", [("all-linear",), ("query", "value")])
def test_params_per_rank_match_peft(modules):
    cfg = catalog.config(catalog.find(MINILM))
    spec = from_config(cfg, MINILM, "catalog", "test")
    size = adapter_size(spec, LoraTargets(modules=modules))
    target = "all-linear" if modules == ("all-linear",) else list(modules)
    counts = {rank: peft_trainable(cfg, rank, target) for rank in (1, 2, 8)}
    # peft's own counts are affine in r with the slope and intercept the prior uses
    assert counts[2] - counts[1] == size.per_rank
    assert 2 * counts[1] - counts[2] == size.fixed
    assert counts[8] == size.params(8)
