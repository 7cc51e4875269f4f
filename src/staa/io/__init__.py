"""Files staa reads and writes: output folders and their claims (``outputs``), paths from configuration
files (``paths``), resumable training state (``checkpoint``) and safetensors checkpoint folders (``weights``)."""
