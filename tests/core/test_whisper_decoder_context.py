"""Whisper is planned as its decoder (transformers maps whisper to WhisperForCausalLM), whose learned position
embeddings hold max_target_positions (448) tokens: config.json names no max_position_embeddings, so lorplan read
no context and `lorplan plan --seq-len 512` was accepted (training would index past the embedding table). A real
WhisperConfig saved to a folder; the limit is read from it, not written here."""

from __future__ import annotations

import pytest

from tests.cli.test_input_edges import _refused, _run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def whisper(tmp_path_factory):
    from transformers import WhisperConfig

    folder = tmp_path_factory.mktemp("whisper")
    WhisperConfig(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                  encoder_ffn_dim=64, decoder_ffn_dim=64, num_mel_bins=16).save_pretrained(folder)
    return folder


def _limit(folder) -> int:
    import json

    cfg = json.loads((folder / "config.json").read_text())
    assert "max_position_embeddings" not in cfg  # the premise: only the decoder's own key says it
    return cfg["max_target_positions"]


def test_the_spec_reads_the_decoders_positions(whisper):
    from lorplan.core.model import load_spec

    spec = load_spec(str(whisper))
    assert spec.architecture == "WhisperForCausalLM"
    assert spec.max_position_embeddings == _limit(whisper) > 0


def test_plan_refuses_a_seq_len_past_the_decoder(whisper, capsys):
    limit = _limit(whisper)
    err = _refused(capsys, ["plan", "--model", str(whisper), "--rank", "4", "--seq-len", str(limit + 1)],
                   f"context of {limit} tokens")
    assert "max_target_positions" in err, err
    rc, out, err = _run(capsys, "plan", "--model", str(whisper), "--rank", "4", "--seq-len", str(limit))
    assert rc == 0 and f"seq-len {limit}," in out, (out, err)
    rc, out, err = _run(capsys, "plan", "--model", str(whisper), "--rank", "4")  # the default: the context
    assert rc == 0 and f"seq-len {limit}," in out, (out, err)
