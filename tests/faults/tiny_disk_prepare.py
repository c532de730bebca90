"""`redheart prepare` on a filesystem that fills up: run inside `unshare -rm`.

Mounts a small tmpfs (writes fail with a real ENOSPC) and prepares the
quickstart profile with its cache there, in three stages, printing one JSON
report: "store" (no room at all: the example store fails), "cache" (room for
the example stores, not for the encoder cache shard), "recover" (the filler
removed: a second prepare completes). Exit code 97: no tmpfs here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.faults.tiny_disk import fill  # noqa: E402

STORE_ROOM = 2 * 2**20
"""Free bytes for the "cache" stage: the example stores (~0.2 MiB) fit, a shard does not."""


def stage(name: str, cache: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "redheart", "prepare", str(ROOT / "profiles" / "quickstart.toml"),
         "--set", f'data.cache_dir="{cache}"'], cwd=ROOT, capture_output=True, text=True)
    files = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    return {"stage": name, "exit": done.returncode, "stderr": done.stderr.splitlines(),
            "files": files}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mount", type=Path, required=True)
    args = parser.parse_args()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40m", "tmpfs",
                              str(args.mount)], capture_output=True, text=True)
    if mounted.returncode != 0:
        print(json.dumps({"unavailable": mounted.stderr.strip()}))
        return 97
    cache, filler = args.mount / "cache", args.mount / "filler"
    fill(filler, 0)
    report = [stage("store", cache)]
    filler.unlink()
    fill(filler, STORE_ROOM)
    report.append(stage("cache", cache))
    filler.unlink()
    report.append(stage("recover", cache))
    from redheart.data.encode import EncoderCache

    states = next(cache.glob("states/*"))
    verified = EncoderCache(cache, "all-MiniLM-L6-v2", 128, verify_checksums=True)
    report[-1]["cached_texts"] = len(verified)
    report[-1]["shards"] = sorted(p.name for p in states.glob("shard-*"))
    report[-1]["free_mib"] = os.statvfs(args.mount).f_bavail * os.statvfs(args.mount).f_frsize \
        // 2**20
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
