"""--gpu values a user types that named no one GPU: "-1" (read as the number 1 once dashes were dropped) and
"100" (in V100, A100 and H100 alike) both chose V100-16GB's 16 GiB budget without a word."""

import pytest

from lorplan.core import gpu
from lorplan.core.errors import BadInput


def test_a_negative_device_index_is_refused_not_read_as_a_preset():
    with pytest.raises(BadInput, match=r"^--gpu -1: a device index is 0 or more"):
        gpu.resolve_gpu("-1")


@pytest.mark.parametrize("text", ["100", "4.0"])
def test_a_number_in_presets_of_different_sizes_names_them_all(text):
    assert gpu.find_preset(text) is None
    with pytest.raises(BadInput, match="matches several GPU presets") as caught:
        gpu.resolve_gpu(text)
    assert "\n" not in str(caught.value)
    names = [n for n, _ in gpu.preset_matches(text)]
    assert len(names) > 1 and all(n in str(caught.value) for n in names)


def test_a_number_in_presets_of_one_size_still_resolves():
    assert gpu.find_preset("6000") == ("RTX-A6000", gpu.PRESETS["RTX-A6000"])
    assert gpu.find_preset("4090") == ("RTX-4090", gpu.PRESETS["RTX-4090"])
    assert gpu.resolve_gpu("H100") == ("H100-80GB", gpu.PRESETS["H100-80GB"])


def test_the_cli_refuses_gpu_minus_one_with_exit_2(tmp_path):
    import json
    import subprocess
    import sys

    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 1000, "max_position_embeddings": 512,
        "architectures": ["LlamaForCausalLM"]}))
    done = subprocess.run([sys.executable, "-m", "lorplan", "plan", "--model", str(tmp_path), "--gpu", "-1"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout
    assert done.stderr.strip().splitlines() == [
        "lorplan plan: error: --gpu -1: a device index is 0 or more (lorplan gpus lists them), or give a preset name"]
