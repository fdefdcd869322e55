"""Frames of real symbols from the shipped encoder, as a device sends them."""

import numpy as np
import torch

from semanticnn.channel.bits import to_codewords
from semanticnn.channel.packets import packetize
from semanticnn.channel.payload import PayloadLayout
from semanticnn.data import read_calibration
from semanticnn.model.checkpoint import load_encoder
from semanticnn.train.tensors import to_float


def encoder_symbols(encoder_path, n, start=0):
    """``(indices int64 [n, C, H, W] NCHW, labels [n])`` of shipped calibration images."""
    images, labels = read_calibration(limit=start + n)
    enc = load_encoder(encoder_path)
    with torch.no_grad():
        idx = enc(to_float(torch.from_numpy(images[start:]).permute(0, 3, 1, 2))).indices
    return idx.numpy(), labels[start:]


def frame_packets(indices_chw, frame_id, manifest):
    """Packets of one frame: NCHW symbols -> NHWC order -> code words -> payload -> packets."""
    nhwc = np.asarray(indices_chw).transpose(1, 2, 0).ravel()
    stream = PayloadLayout.from_manifest(manifest).pack(to_codewords(nhwc, manifest["mapping"] == "gray"))
    return packetize(stream, frame_id, manifest["mtu"])
