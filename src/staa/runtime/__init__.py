"""How a run executes: torch.distributed ranks (``distributed``), progress lines (``progress``), seeds and
provenance (``reproducibility``) and the CPU thread setting (``threads``)."""
