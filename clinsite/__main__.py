"""`python -m clinsite` == `clinsite`."""

from clinsite.cli import main

if __name__ == "__main__":
    main()
