"""Pruning and compression of pre-trained weights (both halves of the paper).

config (settings, checked without torch), selection (the radix-selection engine), masks
(one-shot masks of encoder weights), series (masks of a sparsity series), transfer (transfer
modes during fine-tuning), calibration (Wanda/SparseGPT calibration windows), llm
(magnitude/Wanda/SparseGPT on causal LMs), quantization (RTN).
Names are re-exported lazily: junk_dna.pruning.config imports no torch.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "config": [
        "PATTERNS", "SCOPES", "CRITERIA", "POLICIES", "Mode", "MODES", "LLM_METHODS",
        "CALIBRATION_SOURCES", "GRANULARITIES", "MIN_BITS", "MAX_BITS", "parse_nm",
        "NM_WIDTH_KEYS", "check_nm_widths_from_config", "check_group_widths_from_config",
        "check_sparsity", "PruningConfig", "check_mode", "LLMPruningSpec", "check_llm_pruning",
        "check_quantization", "MASK_BITS_PER_WEIGHT", "pruned_storage_bits",
        "storage_matched_sparsity", "matched_sparsity"
    ],
    "selection": [
        "CHUNK", "check_floating", "check_no_nan", "Workspace", "select_smallest",
        "select_smallest_series"
    ],
    "masks": [
        "HEAD_SIDE_MODULES", "GUARD_TENSOR_SPARSITY", "GUARD_MAX_TARGET", "conv1d_type",
        "select_prunable", "head_side_names", "nm_group_dim", "nm_group_dims", "MaskCreator",
        "MASK_CREATORS", "register_mask_creator", "n_pruned", "unstructured_magnitude",
        "unstructured_largest", "unstructured_random", "nm_grouped", "nm_keep_order",
        "nm_magnitude", "nm_largest", "nm_random", "compute_masks", "BUILTIN_CREATORS",
        "apply_masks", "sparsity_report", "flag_tensors", "summarize"
    ],
    "series": [
        "mask_series"
    ],
    "transfer": [
        "MaskEnforcer"
    ],
    "calibration": [
        "EMBEDDED_BOOLQ_PATH", "C4_SHARD", "calibration_samples", "embedded_token_stream",
        "c4_shard_path"
    ],
    "llm": [
        "input_width", "weight_as_out_in", "set_weight_out_in", "find_decoder_blocks",
        "decoder_linears", "check_llm_widths", "llm_sparsity_report", "LayerStats", "wanda_scores",
        "prune_weight", "prune_causal_lm"
    ],
    "quantization": [
        "SCALE_BITS", "rtn_storage_bits", "rtn_quantize", "quantize_weight", "quantize_causal_lm"
    ],
})
