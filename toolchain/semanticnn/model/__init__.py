"""model stage: layers (GDN, gates), quantizer, backbone, codec, checkpoint."""

from semanticnn.model.backbone import ResNet8, build_backbone
from semanticnn.model.checkpoint import load_decoder, load_encoder, save_decoder, save_encoder
from semanticnn.model.codec import SplitDecoder, SplitEncoder, decoder_config, encoder_config
from semanticnn.model.layers import GDN, IGDN, BerGate
from semanticnn.model.quantizer import SoftQuantizer

__all__ = [
    "ResNet8", "build_backbone", "SplitEncoder", "SplitDecoder", "encoder_config",
    "decoder_config", "GDN", "IGDN", "BerGate", "SoftQuantizer",
    "save_encoder", "save_decoder", "load_encoder", "load_decoder",
]
