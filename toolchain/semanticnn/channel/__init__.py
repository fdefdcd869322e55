"""channel stage.

``bits`` (symbol <-> code word mapping, MSB-first packing), ``packets``
(packetiser, CRC-8 header), ``models`` (bit channels: i.i.d., Gilbert-Elliott;
the ``CHANNELS`` registry), ``noise`` (i.i.d. flips, the training entry points),
``erasure`` (packet loss), ``snr`` (BPSK/AWGN BER <-> Eb/N0), ``link``
(``transmit`` real packets, ``symbols_through_channel`` end to end).
"""
