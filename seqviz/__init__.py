"""seqviz: see inside classic Keras sequence models.

Importing the package is cheap: TensorFlow is imported only by the architecture modules,
the training service and the store's loader, when a model is actually built.
"""
import os

# TensorFlow's C++ log lines are noise for users of a CLI with JSON on stdout.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from seqviz.errors import SeqvizError  # noqa: E402

__all__ = ["SeqvizError"]
__version__ = "0.1.0"
