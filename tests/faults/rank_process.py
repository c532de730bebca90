"""One torchrun worker running the real `redheart` command line, observable from outside.

    torchrun ... tests/faults/rank_process.py OUT_DIR run PROFILE [args...]

Writes `OUT_DIR/pid.RANK` when it starts (so a test can kill a chosen rank)
and `OUT_DIR/exit.RANK` with its exit code when it ends by itself (a killed
rank writes none): torchrun reports the exit codes of failed workers only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    out, *args = sys.argv[1:]
    rank = os.environ.get("RANK", "0")
    (Path(out) / f"pid.{rank}").write_text(str(os.getpid()))
    code = 0
    try:
        from redheart.cli import main as redheart

        code = redheart(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        code = 1
        raise
    finally:
        (Path(out) / f"exit.{rank}").write_text(str(code))
    sys.exit(code)


if __name__ == "__main__":
    main()
