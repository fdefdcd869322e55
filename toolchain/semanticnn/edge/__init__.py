"""edge: the receiving half. Packets of many devices in, class predictions out.

``model`` (``decoder.onnx`` + ``decoder.json`` on onnxruntime), ``assembler``
(frames by device and frame id, bad packets counted, timeouts), ``receiver``
(reassembly, erasure marking, batched decoding), ``link_quality`` (BER estimate
from an uplink's SNR), ``uplink`` (ChirpStack v4 and raw payloads), ``serve``
(``snn serve`` over MQTT), ``broker`` (a private mosquitto), ``loadtest`` (the serve benchmark).
"""

from semanticnn.edge.assembler import Counters, FrameAssembler
from semanticnn.edge.model import EdgeModel, load_edge_model
from semanticnn.edge.receiver import Prediction, Receiver, frame_symbols

__all__ = ["Counters", "FrameAssembler", "EdgeModel", "load_edge_model", "Prediction", "Receiver", "frame_symbols"]
