"""`python -m hf_dna` is the same as the `hf-dna` console script."""

from .cli import main

main()
