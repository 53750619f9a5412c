"""`python build.py [ARGS]` does exactly what `clinsite build [ARGS]` does."""

import sys

from clinsite.cli import main

if __name__ == "__main__":
    main(["build", *sys.argv[1:]], prog_name="build.py")
