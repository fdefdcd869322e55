"""SemanticNN toolchain: train, export and benchmark split CNNs for microcontrollers."""

__version__ = "0.1.0"
