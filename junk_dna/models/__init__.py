"""Model loading: encoders for the fine-tuning half (encoders), causal LMs for the
zero-shot half (causal_lm), the name resolution they share (resolve) and a GGUF file's header
read without its tensors (gguf_header). Names are re-exported lazily.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "resolve": [
        "ResolvedModel", "resolve_folder_or_hub", "package_path", "EmbeddedModel",
        "resolve_embedded"
    ],
    "gguf_header": [
        "GGUF_MAGIC", "GGUF_VERSIONS", "CONFIG_KEYS", "gguf_metadata", "gguf_config"
    ],
    "encoders": [
        "HEADS", "ALIASES", "resolve_model", "check_head", "LoadedModel", "load_model"
    ],
    "causal_lm": [
        "PAPER_MODEL", "DTYPES", "CACHE_ENV", "QUANTIZED_CAVEAT", "CAUSAL_ALIASES",
        "resolve_causal_lm", "LoadedLM", "default_cache_root", "gguf_cache_key", "cached_build",
        "gguf_caveat", "load_causal_lm", "ensure_pad_token"
    ],
})
