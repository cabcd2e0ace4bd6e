"""The one error type of seqviz: a human sentence saying what was wrong and what is expected.

Raised at every boundary (text, uploads, knobs, CLI flags, model names). Pages show it with
`st.error`, the CLI prints it on one line and exits 2. Anything else is a bug.
"""


class SeqvizError(ValueError):
    """Bad input or an impossible request, explained for a person."""
