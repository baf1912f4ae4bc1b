"""Find a hub id's config.json in the local Hugging Face cache, without huggingface_hub.

Layout (huggingface_hub file_download): <hub cache>/models--ORG--NAME/refs/main holds a commit hash;
<hub cache>/models--ORG--NAME/snapshots/<hash>/config.json is the file. The hub cache is $HF_HUB_CACHE, else
$HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
"""

from __future__ import annotations

import os
from pathlib import Path

# lorplan reads models from disk only (local_files_only everywhere it loads one; a hub id is looked up in the local
# cache here): with these set before huggingface_hub is imported (it reads them once), the hub libraries ask the
# hub for nothing else either (transformers 5.25 with its `kernels` package and huggingface_hub 2.4 asked for
# kernel and agent registries while `lorplan train` loaded a local model)
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def hub_cache_dir() -> Path:
    """The hub cache folder huggingface_hub would use (from the environment)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "huggingface" / "hub"


def _holds(path: Path, test) -> bool:
    """test(path) (Path.is_dir, Path.is_file), False for a name longer than the system takes: a pasted model id
    or revision of 5,000 characters (ENAMETOOLONG) was an OSError traceback, not "unknown model". Any other
    error is raised: a cache lorplan may not read (EACCES) is that error, not "not in the local cache"."""
    import errno

    try:
        return test(path)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        return False


def find_snapshot(hub_id: str, files: tuple[str, ...], revision: str = "main",
                  require: tuple[tuple[str, ...], ...] = ()) -> Path | None:
    """The cached snapshot folder of `hub_id` ("org/name") holding at least one of `files` (and at least one
    file of each group in `require`), or None.

    The snapshot named by refs/<revision> wins; else the snapshot whose newest such file was modified last.
    A file is present when it can be read: a snapshot's links to blobs that were never downloaded do not count.
    """
    parts = hub_id.strip().strip("/").split("/")
    if not 1 <= len(parts) <= 2 or not all(parts):
        return None
    repo = hub_cache_dir() / ("models--" + "--".join(parts))
    snapshots = repo / "snapshots"
    if not _holds(snapshots, Path.is_dir):
        return None

    def present(snapshot: Path) -> list[Path]:
        found = [snapshot / name for name in files if (snapshot / name).is_file()]
        complete = all(any((snapshot / name).is_file() for name in group) for group in require)
        return found if complete else []

    ref = repo / "refs" / revision
    if _holds(ref, Path.is_file):
        snapshot = snapshots / ref.read_text(encoding="utf-8").strip()
        if present(snapshot):
            return snapshot
    found = {p: max(f.stat().st_mtime for f in present(p)) for p in snapshots.iterdir() if present(p)}
    return max(found, key=found.__getitem__) if found else None


def find_config(hub_id: str, revision: str = "main") -> Path | None:
    """The cached config.json of `hub_id` ("org/name"), or None (snapshot choice as in find_snapshot)."""
    snapshot = find_snapshot(hub_id, ("config.json",), revision)
    return snapshot / "config.json" if snapshot is not None else None


def repo_hub_id(folder_name: str) -> str | None:
    """The hub id a cache repo folder stands for ("models--ORG--NAME" -> "ORG/NAME"), or None for another name."""
    if not folder_name.startswith("models--"):
        return None
    return "/".join(folder_name.removeprefix("models--").split("--"))


def cached_models() -> list[str]:
    """Hub ids of the models in the cache that have a config.json (sorted)."""
    root = hub_cache_dir()
    if not root.is_dir():
        return []
    out = []
    for d in root.iterdir():
        hub_id = repo_hub_id(d.name)
        if hub_id is not None and find_config(hub_id) is not None:
            out.append(hub_id)
    return sorted(out)
