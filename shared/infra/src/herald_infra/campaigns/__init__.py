"""Campaign documents written by more than one service: the fan-out watermark."""
