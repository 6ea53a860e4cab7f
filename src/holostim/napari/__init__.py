"""napari integration: a dock and a reader for choosing stimulation targets on napari layers."""
