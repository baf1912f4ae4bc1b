"""fallback.own_code_line takes the refusal's ending: lorplan export said its own ("which lorplan export does not
run") by str.replace over the line the fallback raised; it now catches NeedsOwnCode, which carries the config.json
path, and asks own_code_line for its ending. The line everyone else prints is unchanged."""

from __future__ import annotations

import json
import pickle

import pytest

from lorplan.core.errors import BadInput, own_code_refusal
from lorplan.core.model.fallback import NeedsOwnCode, check_own_code, own_code_line


def test_the_default_line_and_another_ending(tmp_path):
    path = tmp_path / "config.json"
    subject = f"config.json at {path}: the model needs its own Python code (auto_map in config.json)"
    assert own_code_line(path) == own_code_refusal(subject)
    assert own_code_line(path).endswith("--trust-remote-code on the command line, if you trust that code")
    assert own_code_line(path, ", which lorplan export does not run") == \
        f"{subject}, which lorplan export does not run"


def test_the_refusal_carries_its_config_path(tmp_path):
    path = tmp_path / "config.json"
    cfg = {"model_type": "lorplan-own-code-only", "auto_map": {"AutoConfig": "configuration_own.OwnConfig"}}
    path.write_text(json.dumps(cfg))
    with pytest.raises(NeedsOwnCode) as caught:
        check_own_code(path, cfg)
    assert isinstance(caught.value, BadInput) and caught.value.config_path == path
    assert str(caught.value) == own_code_line(path)
    again = pickle.loads(pickle.dumps(caught.value))
    assert (str(again), again.config_path) == (own_code_line(path), path)


def test_a_reworded_refusal_keeps_its_words_when_copied(tmp_path):
    """The planner rewords the refusal in place (tui.bridge.load_spec sets exc.args to consent_words'); a copy or
    pickle of it rebuilt the flag's line from the path, as no other BadInput does."""
    import copy

    caught = NeedsOwnCode(tmp_path / "config.json")
    caught.args = ("the planner's words",)
    for again in (pickle.loads(pickle.dumps(caught)), copy.copy(caught)):
        assert (type(again), str(again), again.config_path) == (NeedsOwnCode, "the planner's words", caught.config_path)
