"""Stands in for ssh in the console's tests: `fake_ssh.py HOST CMD...` runs CMD here.

Like ssh, it joins the remote words with spaces and gives them to a shell. Like
a closed ssh session, terminating it ends the remote command too (its own
process group), so a test never leaves a `redheart events --follow` running.
"""

import os
import signal
import subprocess
import sys

if __name__ == "__main__":
    child = subprocess.Popen(" ".join(sys.argv[2:]), shell=True, start_new_session=True)

    def hang_up(signum, _frame):
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, hang_up)
    signal.signal(signal.SIGINT, hang_up)
    sys.exit(child.wait())
