"""Products derived from a mask for other tools: plain/RGB exports and masked imagery."""
