"""The axolotl export and OpenAI-style chat rows. axolotl's chat_template dataset maps roles through `roles` and
reads a per-message training field (src/axolotl/prompt_strategies/chat_template.py): the export maps developer to
system with lorplan's whole role table and reads OpenAI's weight as that field. Text parts it
joins as lorplan joins them (axolotl 0.21's _convert_content_parts) but with parts of any type, where lorplan skips
a row with an image or audio part: the export says so in one line, for chat data alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from lorplan.core.data.schema import CHAT_ROLES
from lorplan.core.export import export_plan
from lorplan.core.plan import read_plan

SAMPLES = Path(__file__).resolve().parents[2] / "sample_configs"
PARTS = "chat rows: axolotl joins a content of text parts into one string as lorplan does"


def _plan(schema: str):
    plan = read_plan(SAMPLES / "llama-3.1-8b-qlora-24gb.toml")  # a chat plan
    return replace(plan, data=replace(plan.data, schema=schema))


def _export(schema: str) -> tuple[dict, list[str], str]:
    result = export_plan(_plan(schema), "axolotl")
    (text,) = result.files.values()
    return yaml.safe_load(text)["datasets"][0], list(result.warnings), text


def test_developer_reads_as_system_with_lorplans_whole_role_table():
    entry, _, _ = _export("messages")
    roles = entry["roles"]
    # axolotl inverts {target: [sources]} into source -> target and replaces its default table with it
    as_axolotl_maps = {source: target for target, sources in roles.items() for source in sources}
    assert as_axolotl_maps["developer"] == "system"
    assert as_axolotl_maps == CHAT_ROLES  # every role lorplan reads, read alike
    assert entry["type"] == "chat_template" and entry["field_messages"] == "messages"


def test_weight_is_read_as_the_per_message_training_field():
    entry, _, _ = _export("messages")
    assert entry["message_field_training"] == "weight"


def test_text_parts_are_one_warning_line_in_the_file():
    _, warnings, text = _export("messages")
    (line,) = [w for w in warnings if w.startswith(PARTS)]
    assert "text parts" in line and "\n" not in line
    assert f"# lorplan: WARNING: {line}\n" in text


@pytest.mark.parametrize("schema", ["text", "prompt-completion", "alpaca", "tokenized", "auto"])
def test_other_schemas_get_neither_the_keys_nor_the_line(schema):
    entry, warnings, _ = _export(schema)
    assert "roles" not in entry and "message_field_training" not in entry
    assert not [w for w in warnings if w.startswith(PARTS)]


def test_axolotl_joins_text_parts_as_lorplan_does_and_reads_an_image_part_as_no_text():
    """What the line says, against axolotl's own code (runs where axolotl is installed)."""
    pytest.importorskip("axolotl")
    from axolotl.prompt_strategies.chat_template import ChatTemplateStrategy

    from lorplan.core.data.schema import _text_parts

    parts = [{"type": "text", "text": "Two "}, {"type": "input_text", "text": "parts."}]
    assert ChatTemplateStrategy._convert_content_parts(parts) == (_text_parts(parts, 0), None)
    image = [{"type": "image_url", "image_url": {"url": "x.png"}}, {"type": "text", "text": "and text"}]
    assert ChatTemplateStrategy._convert_content_parts(image) == ("and text", None)
    with pytest.raises(Exception, match="image_url"):
        _text_parts(image, 0)
