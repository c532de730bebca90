"""Stands in for ssh in the console's tests: `fake_ssh.py HOST CMD...` runs CMD here.

Like ssh, it joins the remote words with spaces and gives them to a shell.
"""

import subprocess
import sys

if __name__ == "__main__":
    sys.exit(subprocess.call(" ".join(sys.argv[2:]), shell=True))
