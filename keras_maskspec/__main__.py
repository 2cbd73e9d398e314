"""`python -m keras_maskspec`: the `maskspec` command.

Examples:
>>> import subprocess, sys
>>> out = subprocess.run([sys.executable, "-m", "keras_maskspec", "--help"],
...                      capture_output=True, text=True)
>>> out.stdout.startswith("Usage: maskspec")
True
"""

import sys

from keras_maskspec.cli import main

if __name__ == "__main__":
    sys.exit(main())
