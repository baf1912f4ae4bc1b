"""User config: strict TOML schema, atomic writes, XDG location."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lorplan.tui.config import (
    ConfigLeftAsIs,
    UserConfig,
    default_config_path,
    load_config,
    parse_config,
    save_config,
)


def test_missing_file_is_the_default(tmp_path):
    config, problems = load_config(tmp_path / "nope.toml")
    assert config == UserConfig()
    assert problems == []


def test_round_trip(tmp_path):
    path = tmp_path / "lorplan" / "config.toml"
    config = UserConfig(theme="light", last_model="Qwen/Qwen3-8B", last_data="/data/train.jsonl",
                        keymap={"help": "f9", "export": "ctrl+x"})
    save_config(config, path)
    loaded, problems = load_config(path)
    assert problems == []
    assert loaded.theme == "light"
    assert loaded.last_model == "Qwen/Qwen3-8B" and loaded.last_data == "/data/train.jsonl"
    assert dict(loaded.keymap) == {"help": "f9", "export": "ctrl+x"}
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left behind


def test_save_replaces_atomically(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('theme = "dark"\n')
    inode_before = path.stat().st_ino
    save_config(UserConfig(theme="high-contrast"), path)
    assert 'theme = "high-contrast"' in path.read_text()
    assert path.stat().st_ino != inode_before  # a new file was renamed over the old one


def test_unknown_key_and_bad_types_are_reported_with_key_and_line():
    text = 'theme = 3\nfoo = "bar"\n[keymap]\nhelp = 5\nquit = "ctrl+q"\n'
    config, problems = parse_config(text, Path("/x/config.toml"))
    assert config.theme is None
    assert dict(config.keymap) == {"quit": "ctrl+q"}
    joined = "\n".join(problems)
    assert "/x/config.toml: theme (line 1)" in joined
    assert "foo (line 2): unknown setting" in joined
    assert "keymap.help (line 4)" in joined


def test_broken_toml_gives_defaults_and_one_problem(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("theme = \n")
    config, problems = load_config(path)
    assert config == UserConfig()
    assert len(problems) == 1 and "not valid TOML" in problems[0]
    assert "leaves the file as it is" in problems[0]


@pytest.mark.parametrize("broken", [
    'theme = "light"\n[keymap]\nhelp = "f9"\n[setup\n',  # a syntax error
    b'theme = "light"\n# caf\xe9\n',  # not UTF-8
])
def test_a_file_that_cannot_be_parsed_is_never_written_over(tmp_path, broken):
    path = tmp_path / "config.toml"
    path.write_bytes(broken if isinstance(broken, bytes) else broken.encode())
    before = path.read_bytes()
    config, problems = load_config(path)
    assert config == UserConfig() and len(problems) == 1
    with pytest.raises(ConfigLeftAsIs, match=r"config\.toml: .*settings not saved: fix the file"):
        save_config(config.with_last_model("openai-community/gpt2"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # no temp file either
    path.write_text('theme = "light"\n')  # fixed: saved again
    save_config(UserConfig(theme="dark"), path)
    assert load_config(path)[0].theme == "dark"


def test_default_path_follows_xdg_config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_config_path() == tmp_path / "xdg" / "lorplan" / "config.toml"


def test_setup_round_trip_and_bad_values_are_dropped_with_a_note(tmp_path):
    from lorplan.tui.panels.setup_form import FormValues, build_setup

    path = tmp_path / "config.toml"
    form = FormValues(quant="nf4", double_quant=True, micro_batch="4", seq_len="4,096", grad_checkpointing=True,
                      optimizer="paged-adamw-8bit", lora_dropout="0.05", custom_rank="12", gpus="2",
                      sharding="fsdp", targets=("q_proj",))
    assert build_setup(form).errors == {}
    save_config(UserConfig(setup=form), path)
    text = path.read_text()
    assert "seq_len = 4096" in text and 'quant = "nf4"' in text and "targets" not in text
    loaded, problems = load_config(path)
    assert problems == []
    assert loaded.setup == FormValues(quant="nf4", double_quant=True, micro_batch="4", seq_len="4096",
                                      grad_checkpointing=True, optimizer="paged-adamw-8bit", lora_dropout="0.05",
                                      custom_rank="12", gpus="2", sharding="fsdp")  # targets: the model's own
    every_module = FormValues(**{**form.__dict__, "targets": ("all-linear",)})
    assert build_setup(loaded.setup).setup == build_setup(every_module).setup

    bad = ('[setup]\nquant = "nf5"\nseq_len = 0\nmicro_batch = "two"\ndora = "yes"\ncolour = 1\n'
           'grad_checkpointing = true\n')
    config, problems = parse_config(bad, Path("/x/config.toml"))
    assert config.setup == FormValues(grad_checkpointing=True)  # the good field kept, the bad ones dropped
    joined = "\n".join(problems)
    assert "/x/config.toml: setup.quant (line 2): 'nf5' is not one of" in joined
    assert "setup.seq_len (line 3): Sequence length: 0 must be at least 1" in joined
    assert "setup.micro_batch (line 4)" in joined and "setup.dora (line 5)" in joined
    assert "setup.colour (line 6): unknown setup field" in joined
    assert all(p.endswith("ignored") for p in problems) and len(problems) == 5
    _, problems = parse_config("setup = 3\n", Path("/x/config.toml"))
    assert problems == ["/x/config.toml: setup (line 1): must be a table of setup fields; ignored"]


USER_TEXT = ('theme = 3\nfoo = "bar"\nlast_data = ""\n[keymap]\nhelp = 5\nquit = "ctrl+q"\nfly = "f8"\n'
             '[setup]\nseq_len = 4096\ncustom_rank = "abc"\nwhat = [1, 2]\n[extra]\nwhen = 1979-05-27\n')


def test_saving_keeps_what_lorplan_could_not_use(tmp_path):
    """A wrong type or an unknown key is reported, and the next save (a theme, a model) keeps it as written:
    lorplan updates only the keys it owns."""
    path = tmp_path / "config.toml"
    path.write_text(USER_TEXT)
    config, problems = load_config(path)
    assert len(problems) == 7  # theme, foo, last_data, keymap.help, setup.custom_rank, setup.what, extra
    save_config(config.with_last_model("openai-community/gpt2"), path)
    import tomllib

    saved = tomllib.loads(path.read_text())
    before = tomllib.loads(USER_TEXT)
    setup = saved.pop("setup")  # written whole: the form's every field (the defaults for those not given)
    assert saved == {k: v for k, v in before.items() if k != "setup"} | {"last_model": "openai-community/gpt2"}
    assert before["setup"].items() <= setup.items() and setup["quant"] == "none"
    save_config(config.with_theme("light"), path)  # a key lorplan owns replaces the bad value
    saved = tomllib.loads(path.read_text())
    assert saved["theme"] == "light" and saved["foo"] == "bar" and saved["keymap"]["help"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # atomic: no temp file left behind


def test_saving_the_setup_updates_its_fields_and_keeps_the_unreadable_ones(tmp_path):
    from lorplan.tui.panels.setup_form import FormValues

    path = tmp_path / "config.toml"
    path.write_text(USER_TEXT.replace('seq_len = 4096', 'seq_len = 4096\nmicro_batch = 8'))
    config, _ = load_config(path)
    assert config.setup.micro_batch == "8"
    save_config(config.with_setup(FormValues(quant="nf4", seq_len="1024")), path)
    import tomllib

    setup = tomllib.loads(path.read_text())["setup"]
    assert (setup["quant"], setup["seq_len"], setup["micro_batch"]) == ("nf4", 1024, 1)
    assert setup["custom_rank"] == "abc" and setup["what"] == [1, 2]  # not lorplan's to drop
    save_config(config.with_setup(FormValues(custom_rank="12")), path)
    assert tomllib.loads(path.read_text())["setup"]["custom_rank"] == 12
    save_config(config.with_setup(FormValues()), path)  # the custom rank cleared in the form
    assert "custom_rank" not in tomllib.loads(path.read_text())["setup"]


COMMENTED = '''\
# lorplan settings, edited by hand
theme = "dark"   # dark at night
colour = "blue"  # not a lorplan key: reported, and kept

[keymap]            # binding id -> keys
# F1 opens the help
help = "f1,question_mark"
export = "ctrl+e"  # export the plan

[setup]             # the last session
# 4-bit, for my 24 GB card
quant = "nf4"
custom_rank = 12  # my rank
seq_len = 4096

# my own table, below
[extra]
when = 1979-05-27
'''


def _in_order(lines: list[str], text: str) -> bool:
    """Whether every one of `lines` is a line of `text`, in this order (other lines may come between)."""
    rest = iter(text.splitlines())
    return all(line in rest for line in lines)


def test_saving_one_value_keeps_the_comments_layout_and_unknown_keys(tmp_path):
    import tomllib

    path = tmp_path / "config.toml"
    no_setup = COMMENTED.replace(COMMENTED[COMMENTED.index("[setup]"):COMMENTED.index("# my own")], "")
    path.write_text(no_setup)
    config, problems = load_config(path)
    assert len(problems) == 2  # colour and extra: unknown, and kept below
    save_config(config.with_theme("light"), path)
    # the one value changed, every other byte as the user wrote it (its inline comment too)
    assert path.read_text() == no_setup.replace('theme = "dark"', 'theme = "light"')
    assert tomllib.loads(path.read_text()) == tomllib.loads(no_setup) | {"theme": "light"}
    save_config(config.with_last_model("Qwen/Qwen3-8B"), path)  # a new key: after the last top-level key
    assert path.read_text().startswith('# lorplan settings, edited by hand\ntheme = "dark"   # dark at night\n'
                                       'colour = "blue"  # not a lorplan key: reported, and kept\n'
                                       'last_model = "Qwen/Qwen3-8B"\n\n[keymap]')

    path.write_text(COMMENTED)  # with a [setup]: the app saves the form whole (its defaults for the rest)
    config, _ = load_config(path)
    save_config(replace(config.with_theme("light"), keymap={**config.keymap, "quit": "ctrl+q"}), path)
    text = path.read_text()
    assert _in_order(COMMENTED.replace('theme = "dark"', 'theme = "light"').splitlines(), text)
    assert _in_order(['export = "ctrl+e"  # export the plan', 'quit = "ctrl+q"', "", "[setup]             # the "
                      "last session", "seq_len = 4096", 'optimizer = "adamw"', "lora_dropout = 0.0", "",
                      "# my own table, below", "[extra]"], text)
    saved = tomllib.loads(text)
    assert saved["theme"] == "light" and saved["colour"] == "blue" and saved["keymap"]["quit"] == "ctrl+q"
    assert tomllib.loads(COMMENTED)["setup"].items() <= saved["setup"].items()
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # atomic: no temp file left behind


def test_saving_the_setup_keeps_its_comments_and_removes_a_cleared_field(tmp_path):
    import tomllib

    from lorplan.tui.panels.setup_form import FormValues

    path = tmp_path / "config.toml"
    path.write_text(COMMENTED)
    config, _ = load_config(path)
    assert config.setup.custom_rank == "12"
    save_config(config.with_setup(FormValues(quant="nf4", seq_len="1024")).with_last_data("/d/t.jsonl"), path)
    text = path.read_text()
    saved = tomllib.loads(text)
    assert "custom_rank" not in text and "my rank" not in text  # cleared in the form: gone, with its comment
    assert saved["setup"]["seq_len"] == 1024 and saved["setup"]["quant"] == "nf4" and saved["setup"]["gpus"] == 1
    assert "custom_rank" not in saved["setup"] and load_config(path)[0].setup.custom_rank == ""
    assert saved["last_data"] == "/d/t.jsonl" and saved["extra"] == tomllib.loads(COMMENTED)["extra"]
    lines = text.splitlines()
    kept = [line for line in COMMENTED.splitlines() if "custom_rank" not in line and "seq_len" not in line]
    assert [line for line in lines if line in kept] == kept  # every other line, comments and blanks, in order
    assert "seq_len = 1024" in lines
    # the fields the form added sit with the others, above the blank line and comment that head [extra]
    assert lines[lines.index("lora_dropout = 0.0") + 1:][:3] == ["", "# my own table, below", "[extra]"]
    assert lines.index('[setup]             # the last session') < lines.index("gpus = 1")


def test_saving_keeps_comments_around_an_unknown_nan(tmp_path):
    """A value that is not equal to itself (nan) still reads back as what was saved: the file is edited in
    place, not written anew."""
    import math

    import tomllib

    path = tmp_path / "config.toml"
    path.write_text('# mine\nweight = nan  # a float lorplan does not know\ntheme = "dark"\n')
    save_config(UserConfig(theme="light"), path)
    assert path.read_text() == '# mine\nweight = nan  # a float lorplan does not know\ntheme = "light"\n'
    assert math.isnan(tomllib.loads(path.read_text())["weight"])


def test_the_toml_writers_load_only_when_saving():
    import subprocess
    import sys

    code = ("import sys, lorplan.tui.config, lorplan.tui.app\n"
            "print(sorted(m for m in ('tomlkit', 'tomli_w') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_a_tomlkit_that_cannot_insert_costs_the_comments_not_the_setting(tmp_path, monkeypatch):
    """The in-place edit uses tomlkit's private Container._insert_at; a release without it must still save."""
    import tomllib
    from tomlkit.container import Container

    path = tmp_path / "config.toml"
    path.write_text(COMMENTED)
    config, _ = load_config(path)
    monkeypatch.delattr(Container, "_insert_at")
    save_config(replace(config, keymap={**config.keymap, "quit": "ctrl+q"}), path)
    saved = tomllib.loads(path.read_text())
    assert saved["keymap"]["quit"] == "ctrl+q" and saved["colour"] == "blue"
