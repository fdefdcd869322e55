"""SemanticNN toolchain: train, export and benchmark split CNNs for microcontrollers.

Importing it turns third-party logging off (:mod:`semanticnn.verbosity`): the converter's
native libraries read their log settings when they load, which must come after this.
"""

__version__ = "0.1.0"

from semanticnn.verbosity import silence_third_party  # noqa: E402

silence_third_party()
