"""firmware stage."""
