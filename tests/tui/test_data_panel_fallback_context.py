"""The Data tab profiled without the plan's spec: for a model outside the fast path whose config.json names no
context (DistilBERT without max_position_embeddings), the profile's limit came from config.json alone (none, no
limit), while the plan's spec has the built model's class default (512, fallback._class_context). Rows of 900-odd
tokens gave "suggested seq len 902" and a button "Use seq len 902 in the plan (it has 512)", a length the Plan tab
then refuses. The tab now hands the plan's spec to the profile, as `lorplan profile` and `recommend` do. Real
DistilBERT config built by the fallback's child, MiniLM's tokenizer."""

from __future__ import annotations

import json

import pytest
from model_builders import copy_tokenizer
from test_data_panel import SIZE, _data_tab, _profile

pytestmark = pytest.mark.anyio


@pytest.fixture
def distilbert(tmp_path, monkeypatch) -> str:
    from transformers import DistilBertConfig

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = copy_tokenizer(tmp_path / "distil")
    DistilBertConfig(vocab_size=30522, dim=32, n_layers=2, n_heads=4, hidden_dim=64).save_pretrained(folder)
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    del cfg["max_position_embeddings"]
    path.write_text(json.dumps(cfg))
    return str(folder)


async def test_the_suggestion_stays_within_the_plan_s_context(make_app, distilbert, tmp_path):
    data = tmp_path / "long.jsonl"
    data.write_text("".join(json.dumps({"text": "word " * 900, "label": i % 2}) + "\n" for i in range(40)))
    app = make_app(model=distilbert)
    async with app.run_test(size=SIZE) as pilot:
        panel = await _data_tab(pilot)
        assert app.main.plan.spec.max_position_embeddings == 512 and app.main.plan.setup.seq_len == 512
        await _profile(pilot, data)
        assert panel.profile.estimated is False  # the folder's own tokenizer counted the rows
        assert panel.profile.suggested_seq_len == 512  # 902 before: no limit
        assert not panel.query_one("#data-use-seq").display  # nothing to offer beyond what the plan has
