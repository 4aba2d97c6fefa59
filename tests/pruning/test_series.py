"""mask_series: masks of a whole sparsity series from one ranking, bit for bit those of
separate compute_masks calls, nested, with exact counts; bad series rejected before any work."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import replace

import pytest
import torch

import junk_dna.pruning.masks as pruning
import junk_dna.pruning.selection as selection
from junk_dna.pruning.config import PruningConfig, parse_nm
from junk_dna.pruning.masks import compute_masks
from junk_dna.pruning.series import mask_series
from tests.pruning.test_masks import (
    VALUES,
    assert_masks_equal,
    n_pruned,
    ref_nm_rows,
    ref_unstructured,
    tied_weights,
)

SERIES = [0.0, 0.05, 0.3, 0.5, 0.77, 0.95, 0.999]


@pytest.fixture(params=["sort-candidates", "refine-to-ties"])
def final_pass(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both final passes (as tests/pruning/test_masks.py): bins small enough to sort their
    elements, and, with no candidate allowance, refinement down to single key values."""
    if request.param == "refine-to-ties":
        monkeypatch.setattr(selection, "_CANDIDATES_MIN", 0)
    return request.param


def separate(
    weights: Mapping[str, torch.Tensor],
    config: PruningConfig,
    levels: list,
    group_dims: Mapping[str, int] | None = None,
) -> list[dict[str, torch.Tensor]]:
    """The baseline: one compute_masks call per sparsity (or N:M)."""
    field = "nm" if config.pattern == "nm" else "sparsity"
    return [
        compute_masks(weights, replace(config, **{field: lv}), group_dims=group_dims)
        for lv in levels
    ]


def assert_series_equal(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert_masks_equal(g, w)


def assert_nested(series: list[dict[str, torch.Tensor]]) -> None:
    """Each mask keeps a subset of what the previous one keeps (series by rising sparsity)."""
    for lower, higher in zip(series, series[1:], strict=False):
        for name in lower:
            assert not bool((higher[name] & ~lower[name]).any()), name


def continuous_weights(seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "a": torch.randn(300, 70, generator=g) * 0.02,
        "b": (torch.randn(128, 64, generator=g) * 0.05).half(),
        "zeros": torch.zeros(10, 10),
        "c": torch.randn(50, 30, generator=g).double() * 0.01,
    }


# ---------------------------------------------------------------------------------------------
# unstructured


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("criterion", ["magnitude", "largest", "random"])
def test_series_equals_separate_compute_masks_with_ties(
    criterion: str, scope: str, final_pass: str
) -> None:
    for seed in range(3):
        for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
            weights = tied_weights(seed, dtype)
            config = PruningConfig(scope=scope, criterion=criterion, seed=seed + 5)
            series = mask_series(weights, config, SERIES)
            assert_series_equal(series, separate(weights, config, SERIES))
            assert_nested(series)
            total = sum(w.numel() for w in weights.values())
            for s, masks in zip(SERIES, series, strict=True):
                if scope == "global":
                    assert n_pruned(masks) == round(s * total)
                else:
                    for name, w in weights.items():
                        assert int((~masks[name]).sum()) == round(s * w.numel()), name


@pytest.mark.parametrize("criterion", ["magnitude", "largest"])
def test_series_matches_stable_argsort_reference(criterion: str, final_pass: str) -> None:
    """Independent of compute_masks: the first k of a stable argsort of the |w|."""
    for seed in range(3):
        weights = tied_weights(seed)
        total = sum(w.numel() for w in weights.values())
        config = PruningConfig(criterion=criterion)
        for s, masks in zip(SERIES, mask_series(weights, config, SERIES), strict=True):
            want = ref_unstructured(weights, round(s * total), criterion == "largest")
            assert_masks_equal(masks, want)


def test_series_many_equal_weights(final_pass: str) -> None:
    """Huge bins of ties (ones, zeros): refinement down to single key values, shared by
    sparsities whose k-th key falls in the same bin, then the in-order tie rule."""
    g = torch.Generator().manual_seed(2)
    weights = {
        "ones": torch.ones(60, 50),
        "zeros": torch.zeros(40, 40),
        "halves": torch.full((30, 20), -0.5),
        "few": torch.randn(7, 9, generator=g),
        "close": torch.full((20, 20), 1 + 2**-22),  # same top 16 bits as 1.0
    }
    levels = [0.1, 0.2, 0.2001, 0.35, 0.5, 0.6, 0.8, 0.81, 0.9, 0.99]
    for criterion in ("magnitude", "largest"):
        for scope in ("global", "layer"):
            config = PruningConfig(criterion=criterion, scope=scope)
            series = mask_series(weights, config, levels)
            assert_series_equal(series, separate(weights, config, levels))
            assert_nested(series)


@pytest.mark.parametrize("criterion", ["magnitude", "largest", "random"])
def test_series_with_small_chunks(
    monkeypatch: pytest.MonkeyPatch, criterion: str, final_pass: str
) -> None:
    """Tensors spanning several chunks and chunks holding several tensors."""
    monkeypatch.setattr(selection, "CHUNK", 61)
    weights = tied_weights(4, torch.float16)
    weights.update(continuous_weights(4))
    for scope in ("global", "layer"):
        config = PruningConfig(criterion=criterion, scope=scope, seed=3)
        series = mask_series(weights, config, SERIES)
        assert_series_equal(series, separate(weights, config, SERIES))
        assert_nested(series)


def test_series_continuous_mixed_dtypes(final_pass: str) -> None:
    weights = continuous_weights(1)
    for criterion in ("magnitude", "largest", "random"):
        config = PruningConfig(criterion=criterion, seed=9)
        series = mask_series(weights, config, SERIES)
        assert_series_equal(series, separate(weights, config, SERIES))
        assert_nested(series)


def test_series_any_order_and_repeats_get_their_own_tensors() -> None:
    weights = tied_weights(1)
    levels = [0.9, 0.1, 0.5, 0.1, 0.0, 0.0]
    config = PruningConfig()
    series = mask_series(weights, config, levels)
    assert_series_equal(series, separate(weights, config, levels))
    name = next(iter(weights))
    series[1][name].fill_(False)  # a repeat is not an alias
    series[4][name].fill_(False)
    assert_masks_equal(series[3], compute_masks(weights, replace(config, sparsity=0.1)))
    assert bool(series[5][name].all())


def test_series_empty_inputs_and_empty_tensors() -> None:
    assert mask_series({}, PruningConfig(), [0.1, 0.5]) == [{}, {}]
    assert mask_series({"w": torch.ones(3, 4)}, PruningConfig(), []) == []
    weights = {"empty": torch.empty(0, 8), "one": torch.tensor([[2.0]]), "w": torch.ones(2, 8)}
    for scope in ("global", "layer"):
        config = PruningConfig(scope=scope)
        series = mask_series(weights, config, [0.0, 0.4, 0.6])
        assert_series_equal(series, separate(weights, config, [0.0, 0.4, 0.6]))


def test_series_nan_raises_naming_tensor() -> None:
    weights = {"ok": torch.ones(4, 4), "bad.weight": torch.ones(4, 4)}
    weights["bad.weight"][1, 2] = float("nan")
    for config in (PruningConfig(), PruningConfig(scope="layer", criterion="largest")):
        with pytest.raises(ValueError, match="bad.weight"):
            mask_series(weights, config, [0.0, 0.5])
    with pytest.raises(ValueError, match="bad.weight"):
        mask_series(weights, PruningConfig(pattern="nm"), ["2:4"])
    # nothing to rank (k == 0): as compute_masks, no check
    assert all(bool(m.all()) for m in mask_series(weights, PruningConfig(), [0.0])[0].values())


def test_series_honours_a_re_registered_creator(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def keep_all(weights, config, group_dims):
        calls.append(config.sparsity)
        return {n: torch.ones(w.shape, dtype=torch.bool) for n, w in weights.items()}

    monkeypatch.setitem(pruning.MASK_CREATORS, ("unstructured", "magnitude"), keep_all)
    series = mask_series({"w": torch.randn(4, 4)}, PruningConfig(), [0.25, 0.5])
    assert calls == [0.25, 0.5]
    assert all(bool(m["w"].all()) for m in series)


def test_series_on_tiny_model_weights() -> None:
    from tests.pruning.test_masks import tiny_bert

    model = tiny_bert()
    params = pruning.select_prunable(model)
    config = PruningConfig()
    series = mask_series(params, config, [0.2, 0.4, 0.6, 0.8])
    assert_series_equal(series, separate(params, config, [0.2, 0.4, 0.6, 0.8]))
    assert not any(p.grad is not None for p in params.values())


# ---------------------------------------------------------------------------------------------
# N:M


@pytest.mark.parametrize("criterion", ["magnitude", "largest", "random"])
def test_nm_series_equals_separate_and_is_nested(criterion: str) -> None:
    from transformers.pytorch_utils import Conv1D

    g = torch.Generator().manual_seed(3)
    weights = {
        "lin": torch.randint(-3, 4, (6, 32), generator=g).float(),  # ties within groups
        "conv1d": VALUES[torch.randint(0, len(VALUES), (16, 6), generator=g)].half(),
        "kernel": torch.randn(4, 2, 2, 2, generator=g),
        "empty": torch.empty(0, 8),
    }
    dims = {"conv1d": pruning.nm_group_dim(Conv1D(nf=6, nx=16))}
    levels = ["4:8", "1:8", "7:8", (3, 8), "8:8", "4:8"]
    config = PruningConfig(pattern="nm", criterion=criterion, seed=4)
    series = mask_series(weights, config, levels, group_dims=dims)
    assert_series_equal(series, separate(weights, config, levels, dims))
    by_n = sorted(zip(levels, series, strict=True), key=lambda lm: -parse_nm(lm[0])[0])
    assert_nested([masks for _, masks in by_n])
    for level, masks in zip(levels, series, strict=True):
        n, _ = parse_nm(level)
        assert bool((masks["lin"].view(6, 4, 8).sum(-1) == n).all())
        assert bool((masks["conv1d"].view(2, 8, 6).sum(1) == n).all())
        if criterion != "random":
            want = ref_nm_rows(weights["lin"], n, 8, keep_largest=criterion == "magnitude")
            assert torch.equal(masks["lin"], want)


def test_nm_series_width_not_divisible_raises() -> None:
    with pytest.raises(ValueError, match=r"'odd'.*width 10.*M = 4"):
        mask_series({"odd": torch.randn(3, 10)}, PruningConfig(pattern="nm"), ["4:4", "2:4"])


# ---------------------------------------------------------------------------------------------
# bad series: ValueError naming the value and the allowed range, before any work


class Untouchable(Mapping):
    """Weights that fail the test if anything looks at them."""

    def __getitem__(self, key: str) -> torch.Tensor:
        raise AssertionError("weights read before the series was validated")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("weights read before the series was validated")

    def __len__(self) -> int:
        raise AssertionError("weights read before the series was validated")


@pytest.mark.parametrize(
    ("levels", "pattern"),
    [
        ([0.1, 1.0], r"sparsities\[1\] = 1\.0 is not a sparsity in \[0, 1\)"),
        ([-0.1], r"sparsities\[0\] = -0\.1 is not a sparsity in \[0, 1\)"),
        ([0.2, math.nan], r"sparsities\[1\] = nan is not a sparsity in \[0, 1\)"),
        ([True], r"sparsities\[0\] = True is not a sparsity in \[0, 1\)"),
        ([0.5, "0.5"], r"sparsities\[1\] = '0\.5' is not a sparsity in \[0, 1\)"),
        (0.5, r"sparsities 0\.5 is not a sequence of floats"),
        ("0.5", r"sparsities '0\.5' is not a sequence of floats"),
    ],
)
def test_bad_unstructured_series(levels: object, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        mask_series(Untouchable(), PruningConfig(), levels)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("levels", "pattern"),
    [
        (["2:4", "2:8"], r"sparsities\[1\] = '2:8' has M = 8.*sparsities\[0\] = '2:4' has M = 4"),
        (["5:4"], r"sparsities\[0\]: N:M '5:4' has N > M; need 1 <= N <= M"),
        (["2:4", "0:4"], r"sparsities\[1\]: N:M '0:4' has N = 0 < 1"),
        ([0.5], r"sparsities\[0\]: N:M 0\.5 is malformed"),
        ("2:4", r"sparsities '2:4' is not a sequence of N:M specs"),
    ],
)
def test_bad_nm_series(levels: object, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        mask_series(Untouchable(), PruningConfig(pattern="nm"), levels)  # type: ignore[arg-type]
