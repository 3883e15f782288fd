"""Identity stitching: identifiers seen together are joined into persons."""
