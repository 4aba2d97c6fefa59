"""Data: fine-tuning tasks (glue_tasks: GLUE and multiple-choice fine-tuning tasks),
zero-shot QA tasks (qa_tasks), published human scores (human_scores), and the tokenization
cache of fine-tuning splits (encode_cache). Names are re-exported lazily.
"""

from junk_dna.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "glue_tasks": [
        "SUBSETS", "EMBEDDED_DATA_PACKAGE", "EMBEDDED_DATA_DIST", "TaskSpec", "TASKS", "get_task",
        "check_fraction", "TaskData", "embedded_data_root", "load_task", "select_fraction",
        "MC_CONVERTERS"
    ],
    "qa_tasks": [
        "SOURCES", "SELECTIONS", "CONTEXT_LENGTHS", "PAPER_TRIVIAQA_N", "TRIVIAQA_CONTEXT_CHARS",
        "MMLU_SUBJECTS", "MCQuestion", "FactoidQuestion", "Question", "QATaskSpec", "QA_TASKS",
        "MC_TASKS", "FACTOID_TASKS", "get_qa_task", "available_questions", "load_mc",
        "load_factoid", "triviaqa_answers", "triviaqa_context", "subsample_options",
        "kept_options", "Tokenizer", "PromptFormat", "PROMPT_FORMATS", "cut_context",
        "format_prompt", "mc_continuations", "split_pool", "select_shots", "fewshot_prompt"
    ],
    "human_scores": [
        "HumanScore", "HUMAN_SCORES", "base_task", "human_score", "human_scores_table"
    ],
    "encode_cache": [
        "MC_FIELDS", "encode", "feature_length", "ENCODE_CACHE_MAXSIZE", "ENCODE_CACHE_MAX_BYTES",
        "EncodeCacheInfo", "tokenizer_fingerprint", "encode_cache_key", "encode_cached",
        "encode_cache_info", "encode_cache_clear"
    ],
})
